"""Speed of lossguard against its floor (libcst parse-only) and its peers, as ratios from one run.

    .venv/bin/python benchmarks/bench.py                  # the installed keras sources
    .venv/bin/python benchmarks/bench.py --tensorflow     # keras plus tensorflow
    .venv/bin/python benchmarks/bench.py PATH... [--quick]

Every measurement is a fresh process over the same file list (discovered as lossguard does),
timed by wall clock, with the peak resident memory of the process tree. lossguard runs from
bytecode, as installed. The floors and the two cold runs are repeated `--repeat` times,
interleaved, and the fastest of each is kept: on a shared machine the noise only ever adds
time, and interleaving exposes each command to the same conditions. Ratios:

- cold, one process, prefilter off (every file parsed) / libcst parse-only, and / the same
  parse with lossguard's garbage-collector threshold (the engine's cost apart from that);
  fastest / fastest, and the median of the ratios within each repeat;
- cold, `--jobs` default, prefilter on / libcst parse-only;
- warm (cache filled, nothing changed) / cold;
- `flake8 --select LL` / `flake8` with its default plugins (both `-j auto`);
- the time the lossguard plugin adds to flake8 (flake8 with every installed plugin, minus
  flake8 with lossguard's hidden) / the single-process parse of the files the plugin parses,
  in wall clock and in CPU seconds over all processes;
- lossguard cold `--jobs` default / `ruff check` and / `flake8`;
- seconds per 1,000 lines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SITE = Path(__import__("sysconfig").get_paths()["purelib"])
sys.path.insert(0, str(ROOT))  # lossguard's own modules: discovery, prefilter, GC threshold

PARSE_ONLY = """
import sys
import libcst
for path in sys.argv[1:]:
    try:
        libcst.parse_module(open(path, "rb").read().decode("utf-8-sig"))
    except Exception:
        pass
"""


# flake8 with every installed plugin but lossguard's: it loads plugins from the installed
# distributions' entry points, so this hides the lossguard distribution from it.
FLAKE8_BARE = """
import importlib.metadata as metadata
import sys
found = metadata.distributions
metadata.distributions = lambda **kw: (d for d in found(**kw) if d.metadata["Name"] != "lossguard")
from flake8.main.cli import main
sys.exit(main(sys.argv[1:]))
"""


def parse_only_collecting_like_lossguard() -> str:
    """The floor with lossguard's garbage-collector threshold (`batch.GC_THRESHOLD`), to show
    what the engine costs apart from what that setting saves."""
    from lossguard.pipeline.batch import GC_THRESHOLD

    return f"import gc\ngc.set_threshold{GC_THRESHOLD}\n{PARSE_ONLY}"


def large_module(functions: int) -> str:
    """One generated module with `functions` per-sample losses `(y_true, y_pred)` and a training
    step that calls them: a rule that compares every loss function with every other one (LL304
    did) shows up here as time growing faster than the module."""
    out = ["import tensorflow as tf", ""]
    for i in range(functions):
        out += [f"def loss_{i}(y_true, y_pred):",
                f"    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) * {i % 7 + 1}",
                ""]
    step = max(1, functions // 8)
    calls = " + ".join(f"loss_{i}(y, model(x))" for i in range(0, functions, step))
    out += ["def train_step(model, optimizer, x, y):",
            "    with tf.GradientTape() as tape:",
            f"        loss = tf.reduce_mean({calls})",
            "    grads = tape.gradient(loss, model.trainable_variables)",
            "    optimizer.apply_gradients(zip(grads, model.trainable_variables))", ""]
    return "\n".join(out)


def default_paths(tensorflow: bool) -> list[str]:
    paths = [SITE / "keras"] if (SITE / "keras").is_dir() else [ROOT]
    if tensorflow and (SITE / "tensorflow").is_dir():
        paths.append(SITE / "tensorflow")
    return [str(p) for p in paths]


def discover(paths: list[str]) -> list[str]:
    from lossguard.pipeline import files

    return [str(p) for p in files.discover(paths) if str(p).endswith(".py")]


def compile_lossguard() -> None:
    """Run lossguard from bytecode, as a regular install does: pip compiles a package's modules
    when it installs it, but an editable install compiles them at first import, and under
    PYTHONDONTWRITEBYTECODE at every start (the floor's libcst is installed compiled)."""
    import compileall

    for folder in ("lossguard", "rules"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


def prefiltered(sources: list[str]) -> list[str]:
    """The files the prefilter lets through with default settings (the ones the flake8
    plugin parses)."""
    from lossguard.pipeline import files, prefilter

    kept = []
    for source in sources:
        try:
            if prefilter.may_hold_loss(files.read(Path(source))):
                kept.append(source)
        except files.SourceError:
            pass
    return kept


def measure(command: list[str], env: dict | None = None) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS of the process tree in MB, exit code, CPU seconds of the
    process tree (worker processes included)."""
    wrapper = ("import resource, subprocess, sys, json, time\n"
               "t = time.perf_counter()\n"
               "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
               "t = time.perf_counter() - t\n"
               "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               "print(json.dumps([t, u.ru_maxrss, rc, u.ru_utime + u.ru_stime]))")
    done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True,
                          text=True, env=env, check=True)
    seconds, rss_kb, rc, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, rss_kb / 1024, rc, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--tensorflow", action="store_true", help="add the installed tensorflow")
    parser.add_argument("--quick", action="store_true", help="skip flake8 and ruff")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="runs of the floor and the cold runs (the fastest counts)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--large-module", type=int, default=0, metavar="FUNCTIONS",
                        help="add one generated module with this many loss functions (10000: "
                             "the size that showed LL304 was quadratic)")
    args = parser.parse_args(argv)
    paths = args.paths or default_paths(args.tensorflow)
    if args.large_module:
        generated = Path(tempfile.mkdtemp(prefix="lossguard-large-")) / "large_losses.py"
        generated.write_text(large_module(args.large_module))
        paths = [*paths, str(generated)]
    sources = discover(paths)
    lines = 0
    for source in sources:
        with open(source, "rb") as handle:
            lines += handle.read().count(b"\n")
    cpus = os.cpu_count() or 1
    print(f"{len(sources)} files, {lines} lines, from {', '.join(paths)}")
    print(f"machine: {platform.machine()}, {cpus} CPUs, {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.platform()}")
    compile_lossguard()
    parse_only_gc = parse_only_collecting_like_lossguard()
    lossguard = [str(BIN / "lossguard")]
    cache = Path(tempfile.mkdtemp(prefix="lossguard-bench-"))
    results: dict[str, tuple[float, float, int]] = {}
    times: dict[str, list[float]] = {}  # every run, in order
    cpu: dict[str, float] = {}  # the least CPU time of each command

    def run(name: str, command: list[str]) -> None:
        seconds, rss, rc, used = measure(command)
        print(f"  {name:42} {seconds:8.2f} s  {rss:7.0f} MB  (exit {rc})  CPU {used:.2f} s",
              flush=True)
        times.setdefault(name, []).append(seconds)
        cpu[name] = min(used, cpu.get(name, used))
        if name in results:  # a repeat: keep the fastest time and the largest memory
            seconds, rss = min(seconds, results[name][0]), max(rss, results[name][1])
        results[name] = seconds, rss, rc

    parsed = prefiltered(sources)  # what the flake8 plugin parses
    try:
        for _ in range(max(1, args.repeat)):
            shutil.rmtree(cache, ignore_errors=True)
            run("libcst parse-only, 1 process", [sys.executable, "-c", PARSE_ONLY, *sources])
            run("  the same, lossguard's GC threshold",
                [sys.executable, "-c", parse_only_gc, *sources])
            run("lossguard cold, -j 1, no prefilter",
                [*lossguard, "-j", "1", "--no-prefilter", "--no-cache", *sources])
            run(f"lossguard cold, -j {cpus}, prefilter",
                [*lossguard, "--cache-dir", str(cache), *sources])
            if not args.quick:  # what the flake8 plugin adds: the difference of two runs
                run("flake8 (default plugins, -j auto)",
                    [str(BIN / "flake8"), "--extend-ignore", "LL", *sources])
                run("flake8 without the lossguard plugin",
                    [sys.executable, "-c", FLAKE8_BARE, *sources])
                if len(parsed) < len(sources):
                    run("libcst parse-only, the files the plugin parses",
                        [sys.executable, "-c", PARSE_ONLY, *parsed])
        run("lossguard warm", [*lossguard, "--cache-dir", str(cache), *sources])
        if not args.quick:
            run("flake8 --select LL (-j auto)", [str(BIN / "flake8"), "--select", "LL", *sources])
            run("ruff check", [str(BIN / "ruff"), "check", "--isolated", "--no-cache",
                               "--exit-zero", *sources])
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    def ratio(a: str, b: str) -> str:
        if a not in results or b not in results:
            return "n/a"
        return f"{results[a][0] / results[b][0]:.2f}x"

    def paired(a: str, b: str) -> str:
        """The median, over the repeats, of the ratio of `a` to `b` within one repeat (the
        fastest/fastest ratio can pair a run that had the machine to itself with one that
        did not)."""
        pairs = [x / y for x, y in zip(times.get(a, []), times.get(b, []), strict=True)]
        if not pairs:
            return "n/a"
        each = ", ".join(f"{p:.2f}" for p in pairs)
        return f"{statistics.median(pairs):.2f}x (each repeat: {each})"

    def plugin_cost(measure: str) -> str:
        """What the lossguard plugin adds to a flake8 `-j auto` run (the fastest runs with and
        without it), against the single-process parse of the files its prefilter lets
        through: in wall clock, as every other ratio here, or in CPU seconds summed over
        flake8's processes."""
        table = {name: value[0] for name, value in results.items()} if measure == "wall" \
            else cpu
        floor = table.get("libcst parse-only, the files the plugin parses",
                          table.get("libcst parse-only, 1 process"))
        if floor is None or "flake8 without the lossguard plugin" not in table:
            return "n/a"
        added = table["flake8 (default plugins, -j auto)"] - \
            table["flake8 without the lossguard plugin"]
        return f"{added / floor:.2f}x ({added:.1f} s against {floor:.1f} s)"

    parse = "libcst parse-only, 1 process"
    single = "lossguard cold, -j 1, no prefilter"
    cold = f"lossguard cold, -j {cpus}, prefilter"
    print("kept (the fastest of the repeats):")
    for name, (seconds, rss, _) in results.items():
        print(f"  {name:42} {seconds:8.2f} s  {rss:7.0f} MB")
    print("ratios:")
    rows = {
        "cold -j 1 no prefilter / parse-only (target <= 1.2)": ratio(single, parse),
        "  the same / parse-only with lossguard's GC threshold": ratio(
            single, "  the same, lossguard's GC threshold"),
        "  median, repeat by repeat / parse-only": paired(single, parse),
        "  median, repeat by repeat / parse-only, GC threshold": paired(
            single, "  the same, lossguard's GC threshold"),
        f"cold -j {cpus} prefilter / parse-only": ratio(cold, parse),
        "warm / cold (target <= 0.1)": ratio("lossguard warm", cold),
        "flake8 --select LL / flake8 default": ratio("flake8 --select LL (-j auto)",
                                                     "flake8 (default plugins, -j auto)"),
        "flake8 plugin: time it adds / parse of the files it parses (target <= 1)":
            plugin_cost("wall"),
        "  the same in CPU seconds over all of flake8's processes": plugin_cost("cpu"),
        f"lossguard cold -j {cpus} / ruff check": ratio(cold, "ruff check"),
        f"lossguard cold -j {cpus} / flake8 default": ratio(cold,
                                                           "flake8 (default plugins, -j auto)"),
    }
    for label, value in rows.items():
        print(f"  {label:52} {value}")
    per_kline = {name: 1000 * value[0] / max(lines, 1) for name, value in results.items()}
    print("seconds per 1,000 lines:")
    for name, value in per_kline.items():
        print(f"  {name:42} {value:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"files": len(sources), "lines": lines, "cpus": cpus,
                                         "results": results, "times": times, "cpu": cpu,
                                         "ratios": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
