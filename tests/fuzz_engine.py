"""Fuzz the engine entry point, `lossguard.pipeline.lint.lint_source`, with hypothesis.

    python -m tests.fuzz_engine --seconds 60      # CI (.ci/run)
    python -m tests.fuzz_engine --seconds 600     # before a release

Inputs are arbitrary text, real loss code from `examples/` with random edits (characters
deleted, inserted, lines swapped), and code assembled from the tokens loss code is made of.
The property: `lint_source` returns a list of findings for any text, never raises and never
takes the process down. A failing input is written to `tests/fuzz_regressions/`, where
`tests/test_fuzz.py` replays it on every test run.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from lossguard.engine.results import Finding
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = Path(__file__).resolve().parent / "fuzz_regressions"
SETTINGS = (Settings(select=["ALL"]), Settings(select=["ALL"], all_code=True))
SEEDS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.py"))] or [
    "import tensorflow as tf\n\ndef loss(y_true, y_pred):\n    return tf.math.log(y_pred)\n"]

TOKENS = [
    "import tensorflow as tf\n", "import torch\n", "import jax.numpy as jnp\n",
    "from keras import ops\n", "import numpy as np\n",
    "from tensorflow.keras import backend as K\n", "def loss(y_true, y_pred):\n",
    "def dice_loss(a, b, eps=1e-7):\n", "class L(tf.keras.losses.Loss):\n",
    "    def call(self, y_true, y_pred):\n", "    return ", "        return ", "    x = ", "    ",
    "tf.math.log(", "torch.log(", "K.log(", "ops.log(", "jnp.log(", "np.log(", "tf.sqrt(",
    "tf.exp(", "tf.reduce_sum(", "tf.reduce_mean(", ".mean()", ".sum(dim=1)", ".log()",
    "tf.nn.softmax(", "tf.where(", "tf.maximum(", "tf.clip_by_value(", "tf.pow(", "**",
    "y_true", "y_pred", "x", "1e-7", "0", "1", "-", "+", "*", "/", "(", ")", ",", ", axis=-1",
    ")", "\n", "with tf.GradientTape() as tape:\n", "    g = tape.gradient(x, y)\n",
    "model.compile(loss=loss)\n", "lambda a, b: ", "[", "]", ":", "@tf.custom_gradient\n",
    "# noqa: LL101\n", "if ", "else ", " for i in x", "await ", "yield ", "\t", "\r\n", "'''",
]


def _mutate(data: st.DataObject, text: str) -> str:
    for _ in range(data.draw(st.integers(0, 6))):
        if not text:
            break
        where = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "token", "dup", "cut"]))
        if action == "delete":
            text = text[:where] + text[where + data.draw(st.integers(1, 20)):]
        elif action == "insert":
            text = text[:where] + data.draw(st.text(max_size=10)) + text[where:]
        elif action == "token":
            text = text[:where] + data.draw(st.sampled_from(TOKENS)) + text[where:]
        elif action == "dup":
            end = min(len(text), where + data.draw(st.integers(1, 200)))
            text = text[:end] + text[where:end] + text[end:]
        else:
            text = text[:where]
    return text


@st.composite
def sources(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["text", "mutated", "tokens", "tokens", "mutated"]))
    if kind == "text":
        return draw(st.text(max_size=300))
    if kind == "tokens":
        return "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=60)))
    data = draw(st.data())
    return _mutate(data, draw(st.sampled_from(SEEDS)))


class Counter:
    inputs = 0


def check(text: str, settings_index: int = 0) -> None:
    Counter.inputs += 1
    try:
        findings = lint_source(text, "fuzz.py", SETTINGS[settings_index])
    except BaseException:
        save(text)
        raise
    assert isinstance(findings, list)
    assert all(isinstance(f, Finding) and f.line >= 1 and f.column >= 1 for f in findings)


def save(text: str) -> Path:
    REGRESSIONS.mkdir(exist_ok=True)
    name = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    path = REGRESSIONS / f"crash_{name}.txt"
    path.write_text(text, encoding="utf-8", errors="surrogatepass", newline="")
    return path


def fuzz(seconds: float, batch: int = 200) -> int:
    """Run batches of `batch` examples with fresh seeds until `seconds` have passed; the number
    of inputs tried."""
    deadline = time.monotonic() + seconds
    round_ = 0
    while time.monotonic() < deadline:
        @seed(round_)
        @settings(max_examples=batch, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(sources(), st.integers(0, len(SETTINGS) - 1))
        def one(text: str, which: int) -> None:
            if time.monotonic() < deadline or Counter.inputs == 0:  # one input, however slow
                check(text, which)

        one()
        round_ += 1
    return Counter.inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    inputs = fuzz(args.seconds)
    print(f"fuzz_engine: {inputs} inputs in {time.monotonic() - started:.0f} s, no crash",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    raise SystemExit(main())
