"""`[tool.lossguard]` in pyproject.toml: found by walking up from the linted path; CLI flags win."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .rule import Rule


class ConfigError(Exception):
    """A bad configuration: reported with exit code 2."""


@dataclass
class Settings:
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
            try:
                with path.open("rb") as handle:
                    data = tomllib.load(handle)
            except (OSError, tomllib.TOMLDecodeError):
                continue
            if "lossguard" in data.get("tool", {}):
                return path
    return None


def load(path: Path | None) -> Settings:
    """Settings from a pyproject.toml (defaults when None)."""
    if path is None:
        return Settings()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read configuration: {error}") from error
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
            for glob, codes in value.items():
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(f"{path}: per-file-ignores[{glob!r}] must be a list of codes")
        if key == "dynamic":
            from .dynamic.options import DynamicConfigError, check_table

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
    for code in codes:
        if code != "ALL" and not (code[:2] == "LL" and code[2:].isdigit() and len(code) <= 5):
            raise ConfigError(f"{where}: `{code}` is not a rule code or prefix "
                              "(LL1, LL10, LL101, ALL)")


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
    """ruff's rule: the most specific selector wins; without `select`, the defaults are on (and,
    with `escalation`, the info rules whose findings can be raised to warning)."""
    if select is None:
        chosen = 1 if rule.default_enabled() or (escalation and rule.escalates) else 0
    else:
        chosen = _matches(rule.code, select)
    chosen = max(chosen, _matches(rule.code, extend_select))
    ignored = _matches(rule.code, ignore)
    return chosen > 0 and chosen >= ignored if ignored else chosen > 0


def ignored_for(path: str, per_file_ignores: dict[str, list[str]]) -> list[str]:
    codes: list[str] = []
    for pattern, patterns_codes in per_file_ignores.items():
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(Path(path).name, pattern):
            codes.extend(patterns_codes)
    return codes
