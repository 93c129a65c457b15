"""`pre-commit try-repo` with this checkout: a bad loss file fails, the fixed one passes, a
repository with no Python files passes.

The hook repository is a snapshot of this working copy (tracked and untracked files that git
does not ignore), committed with a fixed author and date: the same content gives the same
revision, so pre-commit's environment for it is built once and then reused from its cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
GIT_ENV = {"GIT_AUTHOR_NAME": "lossguard tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
           "GIT_COMMITTER_NAME": "lossguard tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
           "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
           "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000"}

BAD = """\
import tensorflow as tf


def xent(y_true, y_pred):
    return -tf.reduce_sum(y_true * tf.math.log(y_pred), axis=-1)
"""
FIXED = BAD.replace("tf.math.log(y_pred)", "tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1.0))")

pytestmark = [
    pytest.mark.skipif(
        not Path(PRE_COMMIT).exists() or shutil.which("git") is None,
        reason="pre-commit (pip install pre-commit) and git are needed for the hook test"),
    # Each try-repo builds a fresh environment (about a minute): run in CI, or on request.
    pytest.mark.skipif(
        not (os.environ.get("CI") or os.environ.get("LOSSGUARD_SLOW_TESTS")),
        reason="slow (pre-commit builds an environment per run): set CI=1 or "
               "LOSSGUARD_SLOW_TESTS=1 to run it"),
]


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """This working copy, committed in a temporary repository."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    repo = tmp_path_factory.mktemp("hooks")
    for name in sorted(set(filter(None, listed.split("\0")))):
        source = ROOT / name
        if source.is_file() and not name.startswith("tests/"):
            target = repo / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "snapshot", cwd=repo)
    return repo


def try_repo(hook_repo: Path, project: Path) -> subprocess.CompletedProcess:
    """Both hooks (`lossguard`, `lossguard-fix`) on every file of `project` (one environment
    build per call: try-repo always uses a fresh store)."""
    return subprocess.run([PRE_COMMIT, "try-repo", str(hook_repo), "--all-files"],
                          cwd=project, capture_output=True, text=True, timeout=900)


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    git("init", "-q", cwd=path)
    for name, text in files.items():
        (path / name).write_text(text)
    git("add", "-A", cwd=path)
    return path


def hook_lines(result: subprocess.CompletedProcess) -> dict[str, str]:
    """`lossguard....Failed` -> {"lossguard": "Failed"}."""
    found = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^(\S.*?)\.{3,}(?:\(no files to check\))?(Passed|Failed|Skipped)$", line)
        if match:
            found[match.group(1).strip()] = match.group(2)
    return found


def test_bad_file_fails(hook_repo, tmp_path):
    result = try_repo(hook_repo, project(tmp_path, {"losses.py": BAD}))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "losses.py:5:36: LL101" in result.stdout
    assert hook_lines(result) == {"lossguard": "Failed", "lossguard (fix)": "Failed"}


def test_fixed_file_passes(hook_repo, tmp_path):
    result = try_repo(hook_repo, project(tmp_path, {"losses.py": FIXED}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert hook_lines(result) == {"lossguard": "Passed", "lossguard (fix)": "Passed"}


def test_no_python_files_passes(hook_repo, tmp_path):
    result = try_repo(hook_repo, project(tmp_path, {"README.md": "# nothing to lint\n"}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no files to check" in result.stdout
