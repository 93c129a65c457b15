"""From paths to sources: discovery (.gitignore, excludes), reading and decoding."""

from __future__ import annotations

import codecs
import fnmatch
import io
import os
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", ".env", "env", "__pycache__", "build", "dist",
    ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules",
    "site-packages", ".eggs", ".lossguard_cache", ".ipynb_checkpoints", ".hypothesis",
}
SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")


class SourceError(Exception):
    """A file that cannot be read or decoded; becomes an LL001 finding."""


@dataclass
class GitIgnore:
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


def _excluded(path: Path, excludes: list[str]) -> bool:
    text = path.as_posix()
    return any(fnmatch.fnmatch(text, g) or fnmatch.fnmatch(path.name, g)
               or fnmatch.fnmatch(text, f"*/{g}") for g in excludes)


def discover(paths: list[str], excludes: list[str] = ()) -> Iterator[Path]:
    """Source files under `paths`: files named directly are always yielded (unless excluded),
    folders are walked honouring .gitignore and skipping virtual environments and caches."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _walk(path, excludes, []):
                resolved = Path(os.path.realpath(found))  # never raises on a symlink loop
                if resolved not in seen:
                    seen.add(resolved)
                    yield found
        else:
            if not _excluded(path, excludes):
                yield path


def _walk(folder: Path, excludes: list[str], ignores: list[GitIgnore]) -> Iterator[Path]:
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
            if entry.name.endswith(SOURCE_SUFFIXES) and not _excluded(path, excludes):
                yield path
            continue
        if _excluded(path, excludes) or _git_ignored(path, is_dir, ignores):
            continue
        if is_dir:
            if entry.name in SKIP_DIRS or entry.name.endswith(".egg-info") or \
                    (path / "pyvenv.cfg").exists() or entry.is_symlink():
                continue
            yield from _walk(path, excludes, ignores)
        elif entry.name.endswith(SOURCE_SUFFIXES):
            yield path


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
