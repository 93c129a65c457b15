"""Tests of the dynamic pass (`lossguard --dynamic`).

Fast tests (planning, patches, rendering, isolation of the static path) need no
TensorFlow. Tests marked `slow` start worker processes that import TensorFlow; they
skip where TensorFlow is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lossguard.cli.dynamic import failing
from lossguard.dynamic import DynamicOptions, confirm
from lossguard.dynamic.patch import patch_source
from lossguard.dynamic.plan import PROBES, import_root, plan
from lossguard.engine.results import Confirmation, Finding
from lossguard.report.confirmation import text_line

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "dynamic"
CORPUS = Path(os.environ.get("LOSSGUARD_DEV_CORPUS", "/work/shared/corpus/dev/buggy"))


def finding_at(path: Path, needle: str, code: str = "LL101", function: str = "log_loss",
               occurrence: int = 1) -> Finding:
    """A finding on the `needle` text of `path` (as the static pass would report it)."""
    lines = path.read_text().splitlines()
    seen = 0
    for n, text in enumerate(lines, 1):
        if needle in text:
            seen += 1
            if seen == occurrence:
                col = text.index(needle) + 1
                return Finding(path=str(path), line=n, column=col, end_line=n,
                               end_column=col + len(needle), code=code, name=code,
                               severity="error", message="", function=function)
    raise AssertionError(f"{needle!r} not in {path}")


# ----------------------------------------------------------------------------- fast


def test_static_path_does_not_import_tensorflow() -> None:
    code = ("import sys, lossguard.dynamic, lossguard.cli.dynamic, lossguard.dynamic.plan; "
            "import lossguard.report.html, lossguard.report.confirmation, "
            "lossguard.dynamic.options, lossguard.pipeline.config; "
            "bad = [m for m in ('tensorflow', 'numpy', 'keras', 'matplotlib', 'torch') "
            "if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_guard_patch_keeps_lines(tmp_path: Path) -> None:
    source = ("import tensorflow as tf\n\ndef f(y_true, y_pred):\n"
              "    return tf.reduce_mean(tf.math.log(y_pred) - tf.math.log(y_true))\n")
    col = source.splitlines()[3].index("tf.math.log(y_true)") + 1
    out = patch_source(source, "LL101", 4, col, None, "guard")
    assert out is not None
    assert out.splitlines()[3] == ("    return tf.reduce_mean(tf.math.log(y_pred) - "
                                   "tf.math.log(__ll_guard_pos__(y_true)))")
    div = "def g(a, b):\n    return (a * b) / (a + b)\n"
    out = patch_source(div, "LL102", 2, 12, None, "guard")
    assert out is not None and "/ __ll_guard_den__(a + b)" in out
    assert out.count("\n") == div.count("\n")


def test_tap_patch_on_assignment_and_gradient_path() -> None:
    source = "def f(y_true, y_pred):\n    grad = g(y_true - y_pred)\n    return h(y_pred)\n"
    out = patch_source(source, "LL201", 2, 5, None, "tap")
    assert out is not None and "grad = __ll_tap_out__(g(y_true - y_pred))" in out
    out = patch_source(source, "LL203", 3, 12, None, "tap")
    assert out is not None and "__ll_tap_out__(h(__ll_tap_in__(y_pred)))" in out


def test_plan_reasons(tmp_path: Path) -> None:
    jax_mod = tmp_path / "j.py"
    jax_mod.write_text("import jax.numpy as jnp\n\ndef l(pred, target):\n"
                       "    return jnp.log(pred)\n")
    torch_mod = tmp_path / "t.py"
    torch_mod.write_text("import torch\n\ndef l(pred, target):\n    return torch.log(pred)\n")
    tf_mod = tmp_path / "m.py"
    tf_mod.write_text(
        "import tensorflow as tf\n\n"
        "def loss(y_true, y_pred):\n    return tf.math.log(y_pred)\n\n"
        "def weighted_error(truth, forecast, weights):\n"
        "    return tf.math.log(forecast) * weights\n\n"
        "@tf.custom_gradient\ndef f(x):\n    def grad(dy):\n        return x\n    return x, grad\n")
    findings = [
        finding_at(jax_mod, "jnp.log(pred)", function="l"),
        finding_at(tf_mod, "tf.math.log(y_pred)", function="loss"),
        finding_at(tf_mod, "tf.math.log(forecast)", function="weighted_error"),
        finding_at(tf_mod, "def grad", code="LL202", function="f.grad"),
        finding_at(tf_mod, "tf.math.log(y_pred)", code="LL401", function="loss"),
        finding_at(torch_mod, "torch.log(pred)", function="l"),
    ]
    p = plan(findings)
    assert "JAX" in p.skipped[0]
    assert "no dynamic probe" in p.skipped[4]
    jobs = {Path(job.path).name: job for job in p.jobs}
    assert jobs["m.py"].framework == "tf" and jobs["t.py"].framework == "torch"
    targets = {t.index: t for job in p.jobs for t in job.targets}
    assert targets[1].kind == "loss" and targets[1].patched is not None
    # a loss that is not (y_true, y_pred) is called with made-up arguments, by role
    assert targets[2].kind == "loss"
    assert [a["role"] for a in targets[2].args] == ["labels", "embeddings", "weights"]
    assert targets[2].expression == "(tf.math.log(forecast))"
    assert targets[3].kind == "custom_gradient"
    # the probe that runs is the one the rule declares
    assert targets[1].probe == "zero-operand" and targets[3].probe == "finite-differences"
    assert [a["role"] for a in targets[5].args] == ["predictions", "labels"]


def test_import_root_is_pytest_like(tmp_path: Path) -> None:
    pkg = tmp_path / "proj" / "pkg" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "proj" / "pkg" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "losses.py").write_text("")
    assert import_root(str(pkg / "losses.py")) == (str(tmp_path / "proj"), "pkg.sub.losses")


def test_text_line_and_fail_on() -> None:
    conf = Confirmation("confirmed", "zero-operand", "loss = -inf when y_pred = 0 (Log at line 9)")
    assert text_line(conf) == "confirmed: loss = -inf when y_pred = 0 (Log at line 9)"
    skipped = Confirmation("not_checked", "training", "", {}, "PyTorch code")
    assert text_line(skipped) == "not checked: PyTorch code"
    f = Finding("a.py", 1, 1, 1, 2, "LL101", "x", "error", "m")

    class Args:
        fail_on = "confirmed"

    assert failing([f], Args())  # no dynamic pass ran: every finding counts
    import dataclasses

    assert not failing([dataclasses.replace(f, dynamic=skipped)], Args())
    assert failing([dataclasses.replace(f, dynamic=conf)], Args())


# ----------------------------------------------------------------------------- slow


@pytest.fixture(scope="module")
def tensorflow() -> None:
    """Skip where TensorFlow is not installed (without importing it here: the workers do)."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("TensorFlow is not installed (pip install '.[tf]')")


@pytest.mark.slow
def test_hostile_modules_end_not_checked(tensorflow: None, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = {p.name for p in FIXTURES.iterdir()}
    needle = "tf.math.log(y_pred)"
    findings = [finding_at(FIXTURES / f"{name}.py", needle) for name in
                ("hostile_loop", "hostile_exit", "hostile_alloc", "hostile_raise",
                 "hostile_writes", "noisy")]
    out = confirm(findings, DynamicOptions(timeout=10, progress=False))
    got = {Path(f.path).stem: f.dynamic for f in out}
    for name in ("hostile_loop", "hostile_exit", "hostile_alloc", "hostile_raise",
                 "hostile_writes"):
        assert got[name] is not None and got[name].status == "not_checked", (name, got[name])
    assert "timed out after 10 s while importing the module" in got["hostile_loop"].reason
    assert "exited with code 3 while importing the module" in got["hostile_exit"].reason
    assert "MemoryError" in got["hostile_alloc"].reason
    assert "RuntimeError: this module refuses to be imported" in got["hostile_raise"].reason
    assert "sys.exit(1)" in got["hostile_writes"].reason
    # prints (even JSON-looking ones) do not corrupt the results
    assert got["noisy"].status == "confirmed", got["noisy"]
    # nothing written outside a temporary folder
    assert list(tmp_path.iterdir()) == []
    assert {p.name for p in FIXTURES.iterdir()} == before
    assert not (Path.home() / "written_to_home.txt").exists()
    assert not (ROOT / "written_at_import.txt").exists()


@pytest.fixture(scope="module")
def corpus_run(tensorflow: None) -> list[Finding]:
    if not CORPUS.is_dir():
        pytest.skip(f"dev corpus not found at {CORPUS} (set LOSSGUARD_DEV_CORPUS)")
    sys.path.insert(0, str(ROOT / "tests"))
    from dynamic_labels import findings_from_labels

    findings = []
    for path in sorted(CORPUS.glob("*.py")):
        findings += findings_from_labels(str(path))
    return confirm(findings, DynamicOptions(progress=False))


@pytest.mark.slow
def test_dev_corpus_confirmation_rate(corpus_run: list[Finding]) -> None:
    tf_findings = [f for f in corpus_run if "torch" not in Path(f.path).read_text()]
    confirmed = [f for f in tf_findings if f.dynamic and f.dynamic.status == "confirmed"]
    assert len(confirmed) >= 0.7 * len(tf_findings), [
        (f.path, f.line, f.code, f.dynamic) for f in tf_findings if f not in confirmed]
    for f in corpus_run:
        assert f.dynamic is not None
        if f.dynamic.status == "confirmed":
            assert f.dynamic.summary and f.dynamic.evidence
        else:
            assert f.dynamic.reason
    json.dumps([f.to_json() for f in corpus_run], allow_nan=False)
    torch_probed = [f for f in corpus_run if "torch" in Path(f.path).read_text()
                    and f.code != "LL401"]  # LL401 has no probe
    assert torch_probed and all(f.dynamic.status == "confirmed" for f in torch_probed), [
        (f.line, f.code, f.dynamic) for f in torch_probed]


@pytest.mark.slow
def test_report_renders_in_chromium(corpus_run: list[Finding], tmp_path: Path) -> None:
    import shutil

    from lossguard.report.html import write_report

    page = Path(write_report(corpus_run, str(tmp_path / "report")))
    text = page.read_text()
    confirmed = [f for f in corpus_run if f.dynamic and f.dynamic.status == "confirmed"]
    assert text.count('<section class="finding"') == len(confirmed)
    assert "http://" not in text and "https://" not in text
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)
    if browser is None:
        pytest.skip("Chromium is not installed (.ci/run installs it with apt-get)")
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  const sections = document.querySelectorAll('section.finding').length;
  document.body.setAttribute('data-check',
    `images=${imgs.length} loaded=${ok} sections=${sections}`);
});
</script></body>"""))
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    import re

    m = re.search(r'data-check="images=(\d+) loaded=(\d+) sections=(\d+)"', proc.stdout)
    assert m, proc.stderr[-2000:]
    images, loaded, sections = map(int, m.groups())
    assert sections == len(confirmed)
    with_plots = sum(1 for f in confirmed if f.dynamic and "plot" in f.dynamic.evidence)
    assert images >= with_plots > 0 and loaded == images


@pytest.mark.slow
def test_examples_cli_and_determinism(tensorflow: None, tmp_path: Path) -> None:
    runs = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "lossguard", "--dynamic", "--format", "json",
             str(ROOT / "examples")], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 1, proc.stderr[-2000:]
        data = json.loads(proc.stdout)
        runs.append(data if isinstance(data, list) else data["findings"])
    first, second = runs
    strip = [[(f["code"], f["line"], f["dynamic"]) for f in run] for run in runs]
    assert strip[0] == strip[1]  # same statuses, same numbers
    by_code = {(Path(f["path"]).name, f["code"]): f for f in first}
    ll108 = by_code[("seed_examples.py", "LL108")]["dynamic"]
    assert ll108["status"] == "confirmed", ll108
    ev = ll108["evidence"]
    assert ev["ratio"] >= 10 and abs(ev["bias"] - 2.0) > 0.5
    ll201 = by_code[("seed_examples.py", "LL201")]["dynamic"]
    assert ll201["status"] in {"confirmed", "not_checked"}
    assert not [f for f in first if f["function"] == "huber_loss"]


# ----------------------------------------------------------------------------- configuration

BAD_CONFIG = [
    ('timeout = "fast"', "the timeout must be a number of seconds, not 'fast'"),
    ('memory = "lots"', "the memory limit must be a whole number of MiB, not 'lots'"),
    ("timeout = -5", "the timeout must be above 0 seconds"),
    ("speed = 3", "unknown key `speed`"),
    ("memory = 16", "a memory limit of 16 MiB is too small to start the worker"),
    ("[tool.lossguard.dynamic.functions.dice]\nshape = [8, 0]", "`shape` of `dice`"),
    ('[tool.lossguard.dynamic.dice]\nkind = "odds"', "`kind` of `dice` must be one of"),
]


@pytest.mark.parametrize(("setting", "message"), BAD_CONFIG)
def test_bad_dynamic_configuration_is_exit_2(tmp_path: Path, setting: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.lossguard.dynamic]\n{setting}\n")
    (tmp_path / "loss.py").write_text("import tensorflow as tf\n\ndef loss(y_true, y_pred):\n"
                                      "    return tf.math.log(y_pred)\n")
    proc = subprocess.run([sys.executable, "-m", "lossguard", "--dynamic", "loss.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "pyproject.toml" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("flags", "message"), [
    (["--dynamic-timeout", "-1"], "--dynamic-timeout: the timeout must be above 0"),
    (["--dynamic-timeout", "fast"], "invalid float value: 'fast'"),
    (["--dynamic-memory", "lots"], "invalid int value: 'lots'"),
    (["--dynamic-memory", "8"], "--dynamic-memory: a memory limit of 8 MiB is too small"),
])
def test_bad_dynamic_flags_are_exit_2(tmp_path: Path, flags: list[str], message: str) -> None:
    (tmp_path / "loss.py").write_text("import tensorflow as tf\n\ndef loss(y_true, y_pred):\n"
                                      "    return tf.math.log(y_pred)\n")
    proc = subprocess.run([sys.executable, "-m", "lossguard", "--dynamic", *flags, "loss.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_parameter_roles_come_from_the_names_vocabulary() -> None:
    from lossguard.knowledge.names import parameter_role

    assert [parameter_role(n) for n in ("y_true", "labels", "truth", "y_pred", "logits",
                                        "embeddings", "mask", "sample_weights",
                                        "class_weights", "num_classes", "margin")] == [
        "labels", "labels", "labels", "predictions", "logits", "embeddings", "mask",
        "weights", "class_weights", "class_count", "hyperparameter"]


def test_training_step_roles_and_logits_names_come_from_the_vocabulary() -> None:
    from lossguard.dynamic import plan
    from lossguard.knowledge.names import TRAIN_STEP_ROLES, may_hold_logits

    assert [TRAIN_STEP_ROLES[n] for n in ("net", "opt", "images", "y_batch")] == [
        "model", "optimizer", "x", "y"]
    assert may_hold_logits("raw_scores") and may_hold_logits("outputs")
    assert not may_hold_logits("y_pred") and not may_hold_logits("probs")
    # the plan reads the prediction's kind from the same words
    assert plan.TRAIN_STEP_ROLES is TRAIN_STEP_ROLES


def test_every_declared_probe_is_dispatched() -> None:
    from lossguard.rules import all_rules

    from lossguard.dynamic.plan import PROBES
    from lossguard.dynamic.worker import _dispatch

    declared = {cls.probe for cls in all_rules() if cls.probe}
    assert declared == set(PROBES.values()) == set(_dispatch())


# --------------------------------------------------------------- probes, both frameworks

# (file, line, code) -> the status its declared probe gives; the static pass's own findings on
# the fixtures (one loss per probe the rules declare, with the bug its rule flags).
PROBE_EXPECTED = {
    ("probes_tf.py", 7, "LL101"): "confirmed",  # zero-operand
    ("probes_tf.py", 12, "LL102"): "confirmed",  # zero-denominator
    ("probes_tf.py", 16, "LL103"): "confirmed",  # zero-operand-gradient
    ("probes_tf.py", 20, "LL104"): "confirmed",  # saturated-logits
    ("probes_tf.py", 32, "LL402"): "confirmed",  # argument-order
    ("probes_tf.py", 37, "LL203"): "confirmed",  # gradient-independence
    ("probes_tf.py", 42, "LL202"): "confirmed",  # finite-differences (tf.custom_gradient)
    ("probes_tf.py", 50, "LL301"): "confirmed",  # output-rank (a training step)
    ("probes_torch.py", 8, "LL101"): "confirmed",
    ("probes_torch.py", 18, "LL102"): "confirmed",  # a method of an nn.Module
    ("probes_torch.py", 22, "LL103"): "confirmed",
    ("probes_torch.py", 26, "LL104"): "confirmed",
    ("probes_torch.py", 41, "LL202"): "confirmed",  # gradcheck on an autograd.Function
    ("probes_torch.py", 59, "LL102"): "confirmed",  # a loss built by a method of a class
}


@pytest.mark.slow
def test_declared_probes_in_tensorflow_and_pytorch(tensorflow: None, tmp_path: Path) -> None:
    import shutil

    for name in ("probes_tf.py", "probes_torch.py"):  # outside tests/: linted as loss code
        shutil.copy(FIXTURES / name, tmp_path / name)
    proc = subprocess.run(
        [sys.executable, "-m", "lossguard", "--select", "ALL", "--dynamic", "--format", "json",
         "probes_tf.py", "probes_torch.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    found = {(Path(f["path"]).name, f["line"], f["code"]): f
             for f in (data if isinstance(data, list) else data["findings"])}
    for key, status in PROBE_EXPECTED.items():
        assert key in found, (key, sorted(found))
        dyn = found[key]["dynamic"]
        assert dyn["status"] == status, (key, dyn)
        assert dyn["probe"] == found[key]["probe"]  # the probe the rule declares is the one run
    torch_ll102 = found[("probes_torch.py", 18, "LL102")]["dynamic"]
    assert "div at line 18" in torch_ll102["summary"]  # the op that failed, found by PyTorch


def _run_alone(path: Path, needle: str, function: str) -> tuple[list[str], dict]:
    from lossguard.dynamic.plan import plan
    from lossguard.dynamic.sandbox import run_job

    p = plan([finding_at(path, needle, function=function)])
    (job,) = p.jobs
    outcome = run_job(job, 120, 4096, sys.executable)
    return outcome.frameworks_loaded, outcome.results[0]


@pytest.mark.slow
def test_each_framework_stays_out_of_the_others_run(tensorflow: None) -> None:
    loaded, res = _run_alone(FIXTURES / "probes_torch.py", "torch.log(y_pred)", "log_loss")
    assert loaded == ["torch"] and res["status"] == "confirmed", res
    loaded, res = _run_alone(FIXTURES / "probes_tf.py", "tf.math.log(y_pred)", "log_loss")
    assert loaded == ["tensorflow"] and res["status"] == "confirmed", res


@pytest.mark.slow
def test_keras2_backend_code_runs_as_keras2(tensorflow: None, tmp_path: Path) -> None:
    module = tmp_path / "k2.py"
    module.write_text("from keras import backend as K\n\n\n"
                      "def weighted_xent(truth, forecast, weights):\n"
                      "    return -K.mean(truth * K.log(forecast) * weights)\n")
    findings = [finding_at(module, "K.log(forecast)", function="weighted_xent")]
    (out,) = confirm(findings, DynamicOptions(progress=False))
    assert out.dynamic is not None and out.dynamic.status == "confirmed", out.dynamic
    assert "Log at line 5" in out.dynamic.summary


@pytest.mark.slow
def test_memory_too_small_to_start_the_worker_is_exit_2(tensorflow: None,
                                                         tmp_path: Path) -> None:
    (tmp_path / "loss.py").write_text("import tensorflow as tf\n\ndef loss(y_true, y_pred):\n"
                                      "    return tf.math.log(y_pred)\n")
    proc = subprocess.run([sys.executable, "-m", "lossguard", "--dynamic", "--dynamic-memory",
                           "400", "loss.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "a memory limit of 400 MiB is too small to start the worker" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_fix_dynamic_shows_the_failure_is_gone(tensorflow: None, tmp_path: Path) -> None:
    module = tmp_path / "xent.py"
    module.write_text("import tensorflow as tf\n\n\ndef xent(y_true, y_pred):\n"
                      "    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)\n")
    proc = subprocess.run([sys.executable, "-m", "lossguard", "--fix", "--unsafe-fixes",
                           "--dynamic", "--dynamic-report", "rep", "xent.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert "tf.maximum(y_pred" in module.read_text()
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "<h2>Fixed findings</h2>" in page and "no longer reproduces" in page
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("lossguard: fixed xent"))
    assert "before the fix: confirmed: loss = inf" in line
    assert "after the fix: no longer reproduces with the same probe" in line


@pytest.mark.slow
def test_report_path_is_printed(tensorflow: None, tmp_path: Path) -> None:
    import shutil

    shutil.copy(FIXTURES / "probes_torch.py", tmp_path / "probes_torch.py")
    proc = subprocess.run([sys.executable, "-m", "lossguard", "--dynamic-report",
                           str(tmp_path / "rep"), "probes_torch.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert f"dynamic report written to {tmp_path / 'rep' / 'index.html'}" in proc.stderr
    assert (tmp_path / "rep" / "index.html").is_file()


# Probes the fixtures' findings above do not reach, on findings placed by hand: (file, text
# the finding points at, code, function) -> status.
HAND_PLACED = [
    ("probes_tf.py", "tf.math.log(y_pred + 1e-10)", "LL106", "tiny_eps_loss", "confirmed"),
    ("probes_tf.py", "tf.reduce_sum(tf.square(y_true - y_pred))", "LL303", "sum_loss",
     "confirmed"),
    ("probes_tf.py", "tf.reduce_mean(tf.square(y_true - y_pred))", "LL302", "batch_mean_loss",
     "confirmed"),
    ("probes_tf.py", "tf.reduce_mean(tf.square(y_true - y_pred))", "LL304", "batch_mean_loss",
     "confirmed"),
    ("probes_tf.py", "(y_true - y_pred).numpy()", "LL204", "numpy_loss", "confirmed"),
    ("probes_torch.py", "((pred - target) ** 2).sum()", "LL303", "batch_sum_loss", "confirmed"),
    ("probes_torch.py", "torch.log(pred + 1e-10)", "LL106", "half_precision_loss", "confirmed"),
]


@pytest.mark.slow
def test_hand_placed_findings_run_their_declared_probe(tensorflow: None) -> None:
    findings = [finding_at(FIXTURES / name, text, code=code, function=function)
                for name, text, code, function, _ in HAND_PLACED]
    out = confirm(findings, DynamicOptions(progress=False))
    for f, (_, _, code, _, status) in zip(out, HAND_PLACED, strict=True):
        assert f.dynamic is not None and f.dynamic.status == status, (code, f.dynamic)
        assert f.dynamic.probe == PROBES[code]


def test_every_declared_probe_has_a_test() -> None:
    from lossguard.dynamic.plan import PROBES as DECLARED

    tested = {DECLARED[code] for (_, _, code) in PROBE_EXPECTED}
    tested |= {DECLARED[code] for (_, _, code, _, _) in HAND_PLACED}
    tested |= {"training-run"}  # LL108 on the bundled examples (test_examples_cli...)
    assert set(DECLARED.values()) <= tested, set(DECLARED.values()) - tested


def test_roles_from_use_when_names_say_nothing(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import tensorflow as tf\n\n"
        "def weighted_dice(cw):\n"
        "    w = tf.constant(cw)\n"
        "    def loss(y_true, y_pred):\n"
        "        return tf.reduce_sum(w * y_true * y_pred) / tf.reduce_sum(y_pred)\n"
        "    return loss\n\n"
        "def sparse_xent(y_true, y_pred, k):\n"
        "    onehot = tf.one_hot(y_true, depth=k)\n"
        "    return -tf.reduce_sum(onehot * tf.math.log(y_pred))\n")
    findings = [finding_at(module, "tf.reduce_sum(w * y_true * y_pred) / tf.reduce_sum(y_pred)",
                           code="LL102", function="weighted_dice.loss"),
                finding_at(module, "tf.math.log(y_pred)", function="sparse_xent")]
    targets = {t.index: t for job in plan(findings).jobs for t in job.targets}
    assert targets[0].kind == "factory"
    assert targets[0].factory_args == [{"name": "cw", "role": "class_weights"}]
    assert [a["role"] for a in targets[1].args] == ["labels", "predictions", "class_count"]


@pytest.mark.slow
def test_pytorch_module_with_random_weights_repeats_exactly(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        pytest.skip("PyTorch is not installed (pip install '.[torch]')")
    module = tmp_path / "head.py"
    module.write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "class ProjectedLoss(nn.Module):\n"
        "    def __init__(self, in_features, out_features):\n"
        "        super().__init__()\n"
        "        self.proj = nn.Linear(in_features, out_features)\n\n"
        "    def forward(self, embeddings, labels):\n"
        "        scores = self.proj(embeddings)\n"
        "        return -(labels * torch.log(torch.sigmoid(scores))).mean()\n")
    finding = finding_at(module, "torch.log(torch.sigmoid(scores))",
                         function="ProjectedLoss.forward")
    runs = [confirm([finding], DynamicOptions(progress=False))[0].dynamic for _ in range(2)]
    assert runs[0] is not None and runs[0].status != "not_checked", runs[0]
    assert runs[0] == runs[1] and runs[0].evidence == runs[1].evidence
