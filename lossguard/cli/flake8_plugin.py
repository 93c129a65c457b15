"""The flake8 adapter: `flake8 --select LL` reports what `lossguard` reports.

flake8 hands over the file's lines; lossguard parses them itself with libcst (the `ast` tree
flake8 built is not used). The plugin never raises: a flake8 run must not end because of
lossguard, so a file libcst cannot parse, or any internal error, becomes one LL001 finding (or
nothing when LL001 is ignored). flake8 applies its own `noqa`, `--per-file-ignores`,
`--extend-ignore`; rules that are off by default in lossguard (info severity) are added to
flake8's default ignore list, and run only when a flake8 `--select`/`--extend-select` names
them more specifically than `LL`. It never imports TensorFlow and never runs the dynamic pass.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any, ClassVar

from .. import __version__

Result = tuple[int, int, str, type]


def _codes(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [c.strip().upper() for c in value if c and c.strip()]


def _names(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [v.strip() for v in value if v and v.strip()]


class LossGuardChecker:
    """flake8 plugin entry point (`flake8.extension`: `LL`)."""

    name = "lossguard"
    version = __version__

    all_code: ClassVar[bool] = False
    loss_names: ClassVar[list[str]] = []
    selectors: ClassVar[list[str]] = []  # flake8 select/extend-select entries naming LL codes

    def __init__(self, tree: Any = None, lines: list[str] | None = None,
                 filename: str = "stdin") -> None:
        self.tree = tree
        self.lines = lines or []
        self.filename = filename

    # --- options --------------------------------------------------------------------------
    @classmethod
    def add_options(cls, parser: Any) -> None:
        parser.add_option("--lossguard-all-code", action="store_true", default=False,
                          parse_from_config=True,
                          help="lossguard: lint every function, not only loss code")
        parser.add_option("--lossguard-loss-names", default="", parse_from_config=True,
                          comma_separated_list=True,
                          help="lossguard: extra glob patterns of loss function names")
        try:
            parser.extend_default_ignore(_off_by_default())
        except Exception:  # noqa: BLE001 - an old flake8: the rules simply stay selectable
            pass

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        cls.all_code = bool(getattr(options, "lossguard_all_code", False))
        cls.loss_names = _names(getattr(options, "lossguard_loss_names", []))
        selectors = []
        for key in ("select", "extend_select", "enable_extensions"):
            selectors += [c for c in _codes(getattr(options, key, None))
                          if c.startswith("LL") and len(c) > 2]
        cls.selectors = selectors

    # --- checking -------------------------------------------------------------------------
    def run(self) -> Iterator[Result]:
        try:
            findings = list(self._findings())
        except Exception as error:  # noqa: BLE001 - a plugin exception aborts flake8
            findings = [(1, 0, f"LL001 lossguard internal error: {type(error).__name__}: "
                               f"{error}".replace("\n", " "), type(self))]
        yield from findings

    def _findings(self) -> Iterator[Result]:
        from ..pipeline.batch import fewer_collections
        from ..pipeline.config import Settings
        from ..pipeline.lint import lint_source
        from ..pipeline.prefilter import may_hold_loss

        source = "".join(self.lines)
        if not source.strip() or not may_hold_loss(source, tuple(self.loss_names),
                                                   self.all_code):
            return  # nothing a rule reads: not parsed, so the plugin costs a text scan
        settings = Settings(all_code=self.all_code, loss_names=list(self.loss_names))
        with fewer_collections():  # for this file only: flake8's own settings come back
            found = lint_source(source, self.filename, settings, _rules(self.selectors))
        for finding in found:
            message = finding.message.replace("\n", " ")
            yield (finding.line, max(finding.column - 1, 0), f"{finding.code} {message}",
                   type(self))


def _off_by_default() -> list[str]:
    from ..rules import all_rules

    return [rule.code for rule in all_rules() if not rule.default_enabled()]


_RULES: dict[tuple[str, ...], list] = {}


def _rules(selectors: list[str]) -> list:
    """The default rules plus the off-by-default ones a specific selector names."""
    key = tuple(selectors)
    if key not in _RULES:
        from ..rules import all_rules

        _RULES[key] = [rule for rule in all_rules() if rule.default_enabled()
                       or any(rule.code.startswith(s) for s in selectors)]
    return _RULES[key]
