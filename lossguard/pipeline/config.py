"""`[tool.lossguard]` in pyproject.toml: found by walking up from the linted path; CLI flags win.

Paths in `exclude` and `per-file-ignores` are resolved against the folder of the pyproject.toml
that sets them (as ruff does): a pattern with a `/` is anchored there, one without matches a
file or folder name anywhere. Where the path was spelled (from a subfolder, absolute, or an
editor's `--stdin-filename /abs/path`) does not matter.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..api import Rule
from .dynamic_settings import DynamicConfigError, check_table


class ConfigError(Exception):
    """A bad configuration: reported with exit code 2."""


@dataclass
class Settings:
    """The `[tool.lossguard]` configuration, with the command line's options applied."""

    select: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    extend_select: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    all_code: bool = False
    loss_names: list[str] = field(default_factory=list)
    dynamic: dict[str, dict] = field(default_factory=dict)
    root: Path | None = None  # folder of the pyproject.toml the settings came from


_KEYS = {
    "select": list, "ignore": list, "extend-select": list, "per-file-ignores": dict,
    "exclude": list, "all-code": bool, "loss-names": list, "dynamic": dict,
}


def find_pyproject(start: Path) -> Path | None:
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, *folder.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            data = read_toml(path)
            if "lossguard" in data.get("tool", {}):
                return path
    return None


def read_toml(path: Path) -> dict:
    """A pyproject.toml's data; a file that is not valid TOML is an error naming its position
    (never skipped: the search would silently go on to a parent folder's settings)."""
    import tomllib  # only where a pyproject.toml is found: a one-file run may have none

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from error
    except OSError as error:
        raise ConfigError(f"{path}: cannot read configuration: "
                          f"{error.strerror or error}") from error


def load(path: Path | None) -> Settings:
    """Settings from a pyproject.toml (defaults when None)."""
    if path is None:
        return Settings()
    data = read_toml(path)
    table = data.get("tool", {}).get("lossguard", {})
    settings = Settings(root=path.parent)
    for key, value in table.items():
        expected = _KEYS.get(key)
        if expected is None:
            raise ConfigError(f"{path}: unknown key `{key}` in [tool.lossguard] "
                              f"(known: {', '.join(sorted(_KEYS))})")
        if not isinstance(value, expected):
            raise ConfigError(f"{path}: `{key}` must be a {expected.__name__}, "
                              f"not {type(value).__name__}")
        if expected is list and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{path}: `{key}` must be a list of strings")
        if key == "per-file-ignores":
            for pattern, codes in value.items():
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(
                        f"{path}: per-file-ignores[{pattern!r}] must be a list of codes")
                check_codes(codes, f"{path}: per-file-ignores[{pattern!r}]")
            value = {resolve_pattern(p, path.parent): [c.upper() for c in codes]
                     for p, codes in value.items()}
        elif key == "exclude":
            value = [resolve_pattern(p, path.parent) for p in value]
        elif key == "dynamic":
            try:
                check_table(value, f"{path}: [tool.lossguard.dynamic]")
            except DynamicConfigError as error:
                raise ConfigError(str(error)) from error
        setattr(settings, key.replace("-", "_"), value)
    for key in ("select", "ignore", "extend_select"):
        codes = getattr(settings, key)
        if codes:
            check_codes(codes, f"{path}: `{key.replace('_', '-')}`")
    return settings


def check_codes(codes: list[str], where: str) -> None:
    """Every code must be ALL, a rule's code, or a prefix of at least one rule's code:
    `LL999` or `LL5` would select (or ignore) nothing, silently."""
    from ..rules import all_rules

    known = [rule.code for rule in all_rules()]
    for code in codes:
        if code.upper() == "ALL":
            continue
        if not (code[:2].upper() == "LL" and code[2:].isdigit() and len(code) <= 5):
            raise ConfigError(f"{where}: `{code}` is not a rule code or prefix "
                              "(LL1, LL10, LL101, ALL)")
        if not any(k.startswith(code.upper()) for k in known):
            raise ConfigError(f"{where}: `{code}` matches no rule (see `lossguard --list-rules`)")


def resolve_pattern(pattern: str, base: Path) -> str:
    """A pattern with a `/` anchored at `base` (an absolute glob); a bare name stays a name."""
    if "/" not in pattern.strip("/") and not pattern.startswith("/"):
        return pattern.rstrip("/")
    if os.path.isabs(pattern):
        return pattern.rstrip("/")
    import glob  # deferred for start-up time: only anchored patterns need it

    pattern = pattern[2:] if pattern.startswith("./") else pattern
    return f"{glob.escape(os.path.abspath(base))}/{pattern.rstrip('/')}"


def path_matches(path: str | os.PathLike, pattern: str) -> bool:
    """`path` (relative to the working folder, or absolute) against a resolved pattern: a bare
    name matches the path's last part; an anchored pattern matches the absolute path, or a
    folder above it."""
    absolute = os.path.abspath(path)
    if "/" not in pattern:
        return fnmatch.fnmatchcase(os.path.basename(absolute), pattern)
    if not os.path.isabs(pattern):  # settings made in code, not loaded: the working folder
        pattern = resolve_pattern(pattern, Path.cwd())
    if fnmatch.fnmatchcase(absolute, pattern):
        return True
    parent = os.path.dirname(absolute)
    while parent and parent != os.path.dirname(parent):
        if fnmatch.fnmatchcase(parent, pattern):
            return True
        parent = os.path.dirname(parent)
    return False


def _matches(code: str, selectors: list[str]) -> int:
    """Length of the longest selector that matches `code` (0 for none; ALL counts as 1)."""
    best = 0
    for selector in selectors:
        if selector == "ALL":
            best = max(best, 1)
        elif code.startswith(selector):
            best = max(best, len(selector) + 1)
    return best


def enabled(rule: type[Rule], select: list[str] | None, ignore: list[str],
            extend_select: list[str], *, escalation: bool = True) -> bool:
    """ruff's rule: the most specific selector wins, `ignore` at equal specificity; without
    `select`, the defaults are on (and,
    with `escalation`, the info rules whose findings can be raised to warning)."""
    if select is None:
        chosen = 1 if rule.default_enabled() or (escalation and rule.escalates) else 0
    else:
        chosen = _matches(rule.code, select)
    chosen = max(chosen, _matches(rule.code, extend_select))
    ignored = _matches(rule.code, ignore)
    return chosen > ignored  # at equal specificity, ignore wins (as in ruff)


def ignored_for(path: str, per_file_ignores: dict[str, list[str]]) -> list[str]:
    """The codes `per-file-ignores` (resolved patterns, see `resolve_pattern`) ignores in
    `path`."""
    codes: list[str] = []
    for pattern, patterns_codes in per_file_ignores.items():
        if path_matches(path, pattern):
            codes.extend(patterns_codes)
    return codes
