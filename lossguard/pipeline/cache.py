"""`.lossguard_cache/`: the findings of a file, keyed by everything that decides them.

The key is a hash of the file's bytes, the lossguard version, the enabled rule codes, the options
that change results (`all-code`, `loss-names`, the per-file ignores that apply to the file,
the prefilter and size limit) and the layout of `Finding`. The path is not part of the key: a
hit gets the current path. One JSON file per key, written to a temporary file in the same
folder and moved into place with `os.replace`, so a reader sees a whole entry or none, and two
runs writing the same entry at once both succeed. An unreadable entry is a miss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from .. import __version__
from ..engine.results import Confirmation, Edit, Finding, Fix
from .files import CACHE_DIRNAME

DIRNAME = CACHE_DIRNAME
_LAYOUT = ",".join(f.name for f in dataclasses.fields(Finding))


def default_dir(root: Path | None) -> Path:
    """Next to the configuration that applies (its folder), else in the working folder."""
    return (root or Path.cwd()) / DIRNAME


class Cache:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0
        self._ready = False

    # --- keys ---------------------------------------------------------------------------------
    @staticmethod
    def salt(rule_codes: list[str], options: dict) -> str:
        """What every key of one run shares: version, rules, options, the layout of findings,
        and the size and time of lossguard's own source files (an edited rule in an editable
        install invalidates the cache as a new version does)."""
        text = json.dumps([__version__, _LAYOUT, sorted(rule_codes), options, code_stamp()],
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @staticmethod
    def key(salt: str, data: bytes, extra: str = "") -> str:
        digest = hashlib.sha256(salt.encode())
        digest.update(extra.encode())
        digest.update(b"\0")
        digest.update(data)
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    # --- entries ------------------------------------------------------------------------------
    def get(self, key: str, path: str) -> list[Finding] | None:
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                rows = json.load(handle)
            findings = [_load(row, path) for row in rows]
        except (OSError, ValueError, TypeError, KeyError):
            self.misses += 1
            return None
        self.hits += 1
        return findings

    def put(self, key: str, findings: list[Finding]) -> None:
        """Store atomically; a cache that cannot be written is silently skipped."""
        target = self._path(key)
        try:
            self._prepare()
            target.parent.mkdir(exist_ok=True)
            text = json.dumps([_dump(f) for f in findings], separators=(",", ":"))
        except (OSError, TypeError, ValueError):
            return
        write_atomic(target, text.encode("utf-8"))

    def _prepare(self) -> None:
        if self._ready:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():
            write_atomic(ignore, b"# Created by lossguard.\n*\n")
        self._ready = True

    def clean(self) -> bool:
        """Remove the cache folder; True when there was one."""
        if not self.folder.exists():
            return False
        shutil.rmtree(self.folder, ignore_errors=True)
        return True


@lru_cache(maxsize=1)
def code_stamp() -> str:
    from .. import rules

    digest = hashlib.sha256()
    for package in (Path(__file__).parents[1], *map(Path, rules.__path__)):
        for source in sorted(package.rglob("*.py")):
            try:
                stat = source.stat()
            except OSError:
                continue
            digest.update(f"{source.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def write_atomic(target: Path, data: bytes) -> bool:
    """Write `data` to `target` through a temporary file in the same folder and `os.replace`.
    Never leaves a partial file, even when interrupted: Ctrl-C is held back while the file is
    written (a SIGINT inside `mkstemp` left its file behind) and acts right after."""
    with _sigint_deferred():
        return _write_atomic(target, data)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while the block runs and deliver it right after (in the main thread;
    elsewhere, or where signals cannot be set, the block runs as it is)."""
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if received:
            signal.raise_signal(signal.SIGINT)


def _write_atomic(target: Path, data: bytes) -> bool:
    import tempfile  # only a run that writes the cache needs it

    handle, temporary = None, None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                             dir=target.parent)
        with os.fdopen(handle, "wb") as stream:
            handle = None
            stream.write(data)
        os.replace(temporary, target)
        temporary = None
        return True
    except OSError:
        return False
    finally:
        if handle is not None:
            os.close(handle)
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _dump(finding: Finding) -> dict:
    row = dataclasses.asdict(finding)
    row.pop("path", None)
    return row


def _load(row: dict, path: str) -> Finding:
    fix = row.get("fix")
    if fix is not None:
        row["fix"] = Fix(fix["description"],
                         tuple(Edit(tuple(e["start"]), tuple(e["end"]), e["replacement"])
                               for e in fix["edits"]), fix.get("safe", True))
    dynamic = row.get("dynamic")
    if dynamic is not None:
        row["dynamic"] = Confirmation(**dynamic)
    return Finding(path=path, **row)
