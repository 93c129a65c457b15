"""Cache and process pool: same findings however the run is done; warm runs parse nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lossguard.cli import main as cli
from lossguard.pipeline import batch
from lossguard.pipeline.batch import RunOptions, run
from lossguard.pipeline.cache import Cache
from lossguard.pipeline.config import Settings

ROOT = Path(__file__).resolve().parent.parent

LOSS = """import tensorflow as tf


def xent(y_true, y_pred):
    return -tf.reduce_sum(y_true * tf.math.log(y_pred))
"""


def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for source in (ROOT / "examples").glob("*.py"):
        shutil.copy(source, folder / source.name)
    for number in range(6):
        (folder / f"loss_{number}.py").write_text(LOSS.replace("xent", f"xent_{number}"))
    (folder / "plain.py").write_text("def add(a, b):\n    return a + b\n")
    return folder


def findings(result):
    return [f.to_json() | {"fix": f.fix} for f in result.findings]


def test_same_findings_any_jobs_and_cache(tmp_path):
    folder = tree(tmp_path)
    settings = Settings(select=["ALL"])
    plain = run([str(folder)], settings)
    assert plain.findings
    for jobs in (1, 2, 3):
        options = RunOptions(jobs=jobs, prefilter=False)
        assert findings(run([str(folder)], settings, options)) == findings(plain)
    cache = Cache(tmp_path / "cache")
    cold = run([str(folder)], settings, RunOptions(jobs=2, cache=cache))
    warm_cache = Cache(tmp_path / "cache")
    warm = run([str(folder)], settings, RunOptions(jobs=2, cache=warm_cache))
    assert findings(cold) == findings(warm) == findings(plain)
    assert warm_cache.misses == 0 and warm_cache.hits == cold.files


def test_warm_run_parses_nothing(tmp_path, monkeypatch):
    folder = tree(tmp_path)
    cache_dir = tmp_path / "cache"
    run([str(folder)], Settings(), RunOptions(cache=Cache(cache_dir)))

    def no_parse(*args, **kwargs):
        raise AssertionError("parsed on a warm run")

    monkeypatch.setattr(batch, "lint_data", no_parse)
    warm = run([str(folder)], Settings(), RunOptions(cache=Cache(cache_dir)))
    assert warm.findings and not warm.internal_errors


def test_change_invalidates(tmp_path):
    folder = tree(tmp_path)
    cache_dir = tmp_path / "cache"
    run([str(folder)], Settings(), RunOptions(cache=Cache(cache_dir)))
    guarded = LOSS.replace("tf.math.log(y_pred)", "tf.math.log(y_pred + 1e-7)")
    (folder / "loss_0.py").write_text(guarded)
    cache = Cache(cache_dir)
    after = run([str(folder)], Settings(), RunOptions(cache=cache))
    assert cache.misses == 1
    assert not [f for f in after.findings if f.path.endswith("loss_0.py")]
    # Other rules or options: a new key for every file.
    other = Cache(cache_dir)
    run([str(folder)], Settings(select=["LL101"]), RunOptions(cache=other))
    assert other.hits == 0
    other = Cache(cache_dir)
    run([str(folder)], Settings(loss_names=["*_thing"]), RunOptions(cache=other))
    assert other.hits == 0


def test_cache_paths_follow_the_file(tmp_path):
    folder = tree(tmp_path)
    cache_dir = tmp_path / "cache"
    run([str(folder)], Settings(), RunOptions(cache=Cache(cache_dir)))
    moved = tmp_path / "moved"
    folder.rename(moved)
    cache = Cache(cache_dir)
    result = run([str(moved)], Settings(), RunOptions(cache=cache))
    assert cache.misses == 0
    assert all(f.path.startswith(str(moved)) for f in result.findings)


def test_corrupt_entry_is_a_miss(tmp_path):
    folder = tree(tmp_path)
    cache_dir = tmp_path / "cache"
    first = run([str(folder)], Settings(), RunOptions(cache=Cache(cache_dir)))
    for entry in cache_dir.rglob("*.json"):
        entry.write_text("{not json")
    again = run([str(folder)], Settings(), RunOptions(cache=Cache(cache_dir)))
    assert findings(again) == findings(first)


def test_cli_options(tmp_path, monkeypatch, capsys):
    folder = tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main([str(folder), "--format", "json"]) == 1
    default = tmp_path / ".lossguard_cache"
    assert default.is_dir() and (default / ".gitignore").read_text().strip().endswith("*")
    first = json.loads(capsys.readouterr().out)
    custom = tmp_path / "elsewhere"
    assert cli.main([str(folder), "--format", "json", "--cache-dir", str(custom), "-j", "2"]) == 1
    assert json.loads(capsys.readouterr().out) == first and custom.is_dir()
    assert cli.main([str(folder), "--format", "json", "--no-cache", "--no-prefilter"]) == 1
    assert json.loads(capsys.readouterr().out) == first
    assert cli.main(["--clean-cache", "--cache-dir", str(custom)]) == 0
    assert not custom.exists()
    capsys.readouterr()
    assert cli.main([str(folder), "--statistics", "--no-cache", "-j", "2"]) == 1
    out = capsys.readouterr().out
    assert "time per rule" in out and "LL101" in out and "total" in out


def test_two_concurrent_runs_share_a_cache(tmp_path):
    folder = tree(tmp_path)
    cache_dir = tmp_path / "cache"
    command = [sys.executable, "-m", "lossguard", str(folder), "--format", "json",
               "--cache-dir", str(cache_dir), "-j", "2"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate()[0]) for p in runs]
    assert outs[0] == outs[1]
    assert not [p for p in cache_dir.rglob("*") if p.name.endswith(".tmp")]
    for entry in cache_dir.rglob("*.json"):
        json.loads(entry.read_text())
    cache = Cache(cache_dir)
    warm = run([str(folder)], Settings(), RunOptions(cache=cache))
    assert cache.misses == 0 and [f.to_json() for f in warm.findings] == outs[0]


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sigint_exits_130_and_leaves_no_partial_file(tmp_path):
    import signal
    import time

    folder = tmp_path / "src"
    folder.mkdir()
    body = LOSS + "".join(f"\n\ndef loss_{n}(y_true, y_pred):\n    return tf.math.log(y_pred)\n"
                          for n in range(300))
    for number in range(200):
        (folder / f"big_{number}.py").write_text(body)
    cache_dir = tmp_path / "cache"
    process = subprocess.Popen([sys.executable, "-m", "lossguard", str(folder), "-j", "2",
                                "--cache-dir", str(cache_dir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # interrupt mid-run: once the first results are cached (a fixed delay raced a fast machine)
    deadline = time.monotonic() + 60
    while not any(cache_dir.rglob("*.json")) and time.monotonic() < deadline and \
            process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    for entry in cache_dir.rglob("*.json"):
        json.loads(entry.read_text())


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_ctrl_c_during_a_cache_write_acts_once_the_file_is_whole(tmp_path, monkeypatch):
    """A SIGINT that arrives while an entry is written is delivered after `os.replace`: the
    entry is complete and no temporary file is left."""
    import signal

    from lossguard.pipeline.cache import write_atomic

    target = tmp_path / "entry.json"
    real_replace = os.replace

    def interrupted_replace(source, destination):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the write
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"[1, 2, 3]")
    monkeypatch.undo()
    assert json.loads(target.read_text()) == [1, 2, 3]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
