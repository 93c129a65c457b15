"""From paths to sources: discovery (.gitignore, excludes), reading and decoding."""

from __future__ import annotations

import codecs
import fnmatch
import io
import os
import stat
import tokenize
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from .config import path_matches

CACHE_DIRNAME = ".lossguard_cache"  # the result cache's folder (`cache.py`)
NOTEBOOK_SUFFIX = ".ipynb"
# Folders that never hold the project's own code: version control, caches and build output.
# A folder named `env`, `.env` or `venv` is skipped only when it is a virtual environment
# (`pyvenv.cfg`, or `conda-meta` for a conda one): a package may have that name.
SKIP_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", "build", "dist",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules",
    "site-packages", ".eggs", CACHE_DIRNAME, ".ipynb_checkpoints", ".hypothesis",
}
SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
Skipped = Callable[[Path, str], None]  # told each path discovery skips, and why


class SourceError(Exception):
    """A file that cannot be read or decoded; becomes an LL001 finding."""


class GitIgnore(NamedTuple):
    """The patterns of one folder's `.gitignore`."""

    base: Path
    patterns: list[tuple[str, bool, bool]]  # (pattern, negated, directory only)

    @classmethod
    def read(cls, folder: Path) -> GitIgnore | None:
        path = folder / ".gitignore"
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return None
        patterns = []
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            line = line.lstrip("!")
            directory = line.endswith("/")
            patterns.append((line.strip("/") if "/" in line.strip("/") else line.rstrip("/"),
                             negated, directory))
        return cls(folder, patterns)

    def ignores(self, path: Path, is_dir: bool) -> bool | None:
        relative = path.relative_to(self.base).as_posix()
        verdict = None
        for pattern, negated, directory in self.patterns:
            if directory and not is_dir:
                continue
            anchored = "/" in pattern
            target = relative if anchored else path.name
            if fnmatch.fnmatch(target, pattern.lstrip("/")):
                verdict = not negated
        return verdict


def excluded(path: Path, excludes: list[str]) -> bool:
    """`excludes` are resolved patterns (`config.resolve_pattern`)."""
    return any(path_matches(path, g) for g in excludes)


def say_nothing(path: Path, reason: str) -> None:
    pass


def skip_reason(folder: Path, name: str) -> str | None:
    """Why discovery does not enter `folder` (None: it does)."""
    if name in SKIP_DIRS or name.endswith(".egg-info"):
        return "cache or build folder"
    if (folder / "pyvenv.cfg").exists() or (folder / "conda-meta").is_dir():
        return "virtual environment"
    return None


def not_regular(path: Path) -> bool:
    """A FIFO, socket or device: reading one could block for ever."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # reported as unreadable when read
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def discover(paths: list[str], excludes: list[str] = (), skipped: Skipped = say_nothing
             ) -> Iterator[Path]:
    """Source files under `paths`: files named directly are always yielded (unless excluded),
    folders are walked honouring .gitignore and skipping virtual environments and caches.
    Anything that is not a regular file (a FIFO named `x.py`) is skipped; `skipped` is told
    each path left out and why."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _walk(path, excludes, [], skipped):
                resolved = Path(os.path.realpath(found))  # never raises on a symlink loop
                if resolved not in seen:
                    seen.add(resolved)
                    yield found
        elif excluded(path, excludes):
            skipped(path, "excluded")
        elif not_regular(path):
            skipped(path, "not a regular file")
        else:
            yield path


def _walk(folder: Path, excludes: list[str], ignores: list[GitIgnore],
          skipped: Skipped = say_nothing) -> Iterator[Path]:
    own = GitIgnore.read(folder)
    if own is not None:
        ignores = [*ignores, own]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
        except OSError:  # a symlink loop: a source file is reported as unreadable
            if entry.name.endswith(SOURCE_SUFFIXES) and not excluded(path, excludes):
                yield path
            continue
        if excluded(path, excludes):
            skipped(path, "excluded")
            continue
        if _git_ignored(path, is_dir, ignores):
            if is_dir or entry.name.endswith(SOURCE_SUFFIXES):
                skipped(path, "ignored by .gitignore")
            continue
        if is_dir:
            reason = "symbolic link to a folder" if entry.is_symlink() else \
                skip_reason(path, entry.name)
            if reason is not None:
                skipped(path, reason)
                continue
            yield from _walk(path, excludes, ignores, skipped)
        elif entry.name.endswith(SOURCE_SUFFIXES):
            if not_regular(path):
                skipped(path, "not a regular file")
            elif apple_double(path):
                skipped(path, "macOS metadata (AppleDouble), not source")
            else:  # an unreadable file is reported when read
                yield path


APPLE_DOUBLE_MAGIC = b"\x00\x05\x16\x07"


def apple_double(path: Path) -> bool:
    """`._losses.py`: the resource fork a macOS archive leaves beside `losses.py` (its name
    starts `._` and its bytes with the AppleDouble magic number); binary, never Python."""
    if not path.name.startswith("._"):
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(4) == APPLE_DOUBLE_MAGIC
    except OSError:
        return False


def _git_ignored(path: Path, is_dir: bool, ignores: list[GitIgnore]) -> bool:
    verdict = False
    for ignore in ignores:
        result = ignore.ignores(path, is_dir)
        if result is not None:
            verdict = result
    return verdict


def decode(data: bytes, name: str = "<source>") -> str:
    """Decode Python source bytes as the interpreter would (BOM, coding cookie, else UTF-8)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise SourceError(f"cannot decode: {error.msg}") from error
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise SourceError(f"cannot decode as {encoding}: {error}") from error
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        raise SourceError("source contains a NUL byte (binary file?)")
    return text


def encoding_of(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return "utf-8"
    return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else encoding


def read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError as error:
        raise SourceError("is a directory") from error
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}") from error
    return decode(data, str(path))


def is_notebook(path: Path | str) -> bool:
    return str(path).endswith(NOTEBOOK_SUFFIX)
