"""What an editor waits for: the language server's re-lint latency, and a one-file CLI run.

    .venv/bin/python benchmarks/bench_server.py [--repeat N] [--lines 300]

1. Re-lint latency: `lossguard server` is started as an editor starts it (stdio, a real
   LSP client), a generated loss module of about 300 lines is opened, then changed N times
   (one line each time, as typing does). Each latency is the wall time from sending
   `textDocument/didChange` to receiving the `publishDiagnostics` of that version, with the
   debounce delay set to 0 so only the work is measured (an editor adds the debounce, 150 ms
   by default). Target: median < 100 ms.
2. One-file CLI run: `lossguard --no-cache FILE` (a fresh process, as an editor that runs the
   linter per save does) against `python -c "import libcst; libcst.parse_module(...)"` on the
   same file. Both are fresh processes, interleaved, repeated; the fastest of each is kept (on
   a shared machine noise only adds time) and the median of the per-round ratios is given
   too. lossguard runs from bytecode, as installed. Target: <= 1.15x.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import libcst  # noqa: E402
from bench import compile_lossguard  # noqa: E402

from tests.lsp_client import Client  # noqa: E402

HEADER = textwrap.dedent('''\
    """Losses for a segmentation model."""

    import tensorflow as tf

    EPSILON = 1e-7

    ''')
TEMPLATE = textwrap.dedent('''\

    def dice_loss_{n}(y_true, y_pred, smooth=1.0):
        """Soft dice over the spatial axes, variant {n}."""
        y_true = tf.cast(y_true, tf.float32)
        inter = tf.reduce_sum(y_true * y_pred, axis=[1, 2])
        union = tf.reduce_sum(y_true, axis=[1, 2]) + tf.reduce_sum(y_pred, axis=[1, 2])
        dice = (2.0 * inter + smooth) / (union + smooth)
        return 1.0 - tf.reduce_mean(dice)


    def focal_loss_{n}(y_true, logits, gamma=2.0):
        probs = tf.nn.softmax(logits)
        weight = tf.pow(1.0 - probs, gamma)
        ce = -y_true * tf.math.log(tf.nn.softmax(logits))
        return tf.reduce_mean(tf.reduce_sum(weight * ce, axis=-1))


    def ratio_loss_{n}(y_true, y_pred):
        ratio = y_true / y_pred
        return tf.reduce_mean(tf.math.log(ratio + EPSILON))

    ''')


def buffer(lines: int) -> str:
    """A loss module of about `lines` lines, with findings in it (LL102, LL107)."""
    text, n = HEADER, 0
    while text.count("\n") + TEMPLATE.count("\n") <= lines:
        text += TEMPLATE.format(n=n)
        n += 1
    return text


def relint_latency(source: str, repeat: int) -> list[float]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / "losses.py"
        path.write_text(source)
        client = Client("--debounce-ms", "0", cwd=root)
        try:
            client.initialize(root)
            document = client.open(path, source)
            client.diagnostics(document, version=1, timeout=60)
            lines = source.split("\n")
            target = next(i for i, line in enumerate(lines) if "smooth) / (union" in line)
            original = lines[target]
            expected = [d["code"] for d in client.diagnostics(document, version=1)]
            seconds = []
            for version in range(2, repeat + 2):
                lines[target] = original.replace("(union + smooth)", f"(union + {version}.0)")
                mark = len(client.notifications)
                started = time.perf_counter()
                client.change(document, "\n".join(lines), version)
                found = client.diagnostics(document, version=version, after=mark, timeout=60)
                seconds.append(time.perf_counter() - started)
                assert [d["code"] for d in found] == expected, found  # the same findings
        finally:
            client.close()
    return seconds


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def cli_ratio(source: str, repeat: int) -> tuple[float, float, float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "losses.py"
        path.write_text(source)
        parse = [sys.executable, "-c",
                 f"import libcst; libcst.parse_module(open({str(path)!r}).read())"]
        cli = [sys.executable, "-m", "lossguard", "--no-cache", str(path)]
        wall(parse), wall(cli)  # warm the file system cache
        floors, runs = [], []
        for _ in range(repeat):
            floors.append(wall(parse))
            runs.append(wall(cli))
    ratios = [r / f for r, f in zip(runs, floors, strict=True)]
    return min(floors), min(runs), statistics.median(ratios), ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="changes (and CLI rounds / 2)")
    parser.add_argument("--lines", type=int, default=300)
    args = parser.parse_args(argv)
    compile_lossguard()
    source = buffer(args.lines)
    print(f"buffer: {source.count(chr(10))} lines")

    seconds = relint_latency(source, args.repeat)
    ms = sorted(s * 1000 for s in seconds)
    median = statistics.median(ms)
    print(f"server re-lint after a change ({len(ms)} changes): median {median:.1f} ms, "
          f"min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms  (target < 100 ms: "
          f"{'met' if median < 100 else 'NOT met'})")

    started = time.perf_counter()
    for _ in range(5):
        libcst.parse_module(source)
    print(f"  (for scale: libcst parses this buffer in {(time.perf_counter() - started) * 200:.1f}"
          " ms in this process)")

    rounds = max(3, args.repeat // 2)
    small = (ROOT / "examples" / "seed_examples.py").read_text()
    for label, text in ((f"the {source.count(chr(10))}-line buffer", source),
                        (f"examples/seed_examples.py ({small.count(chr(10))} lines)", small)):
        floor, run, median_ratio, ratios = cli_ratio(text, rounds)
        ratio = run / floor
        print(f"one-file CLI run on {label}, {rounds} rounds, fastest: lossguard --no-cache "
              f"{run:.3f} s, libcst import+parse {floor:.3f} s")
        print(f"  ratio {ratio:.2f}x (median of the per-round ratios {median_ratio:.2f}x; each: "
              f"{', '.join(f'{r:.2f}' for r in ratios)})  (target <= 1.15x: "
              f"{'met' if ratio <= 1.15 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
