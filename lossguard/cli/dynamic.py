"""The `--dynamic` options of the command line, kept here so `cli/main.py` stays small."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING, Any

from ..engine.results import Finding
from ..pipeline.config import ConfigError
from ..pipeline.dynamic_settings import (
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    DynamicConfigError,
    check_memory,
    check_table,
    check_timeout,
)
from ..report.confirmation import verification_line

if TYPE_CHECKING:
    from ..dynamic.options import DynamicOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--dynamic`, `--dynamic-timeout`, `--dynamic-memory`, `--dynamic-report`, `--fail-on`."""
    group = parser.add_argument_group("dynamic confirmation (runs the code under test)")
    group.add_argument("--dynamic", action="store_true",
                       help="run each finding's probe under TensorFlow or PyTorch in a "
                            "sandboxed worker")
    group.add_argument("--dynamic-timeout", type=float, default=None, metavar="SECONDS",
                       help=f"time limit per module (default {DEFAULT_TIMEOUT_S:g})")
    group.add_argument("--dynamic-memory", type=int, default=None, metavar="MIB",
                       help=f"address-space limit of a worker (default {DEFAULT_MEMORY_MB})")
    group.add_argument("--dynamic-report", metavar="DIR", default=None,
                       help="write a self-contained HTML report to DIR/index.html")
    group.add_argument("--fail-on", choices=["any", "confirmed"], default="any",
                       help="exit 1 on any finding (default) or only on confirmed ones")


def options_from(args: argparse.Namespace, config: dict | None = None) -> DynamicOptions:
    """Options from the command line, then `[tool.lossguard.dynamic]`, then defaults.

    In the config table, `timeout` and `memory` are numbers; every other key whose
    value is a table (or the tables under `functions`) overrides a function's probe
    inputs: `shape = [8, 32, 32, 1]`, `kind = "probabilities" | "logits" | "regression"`.
    Raises `DynamicConfigError` for a bad value (the CLI reports it with exit code 2).
    """
    from ..dynamic.options import DynamicOptions  # a static run does not load the dynamic pass

    timeout, memory, overrides = check_table(dict(config or {}),
                                             "[tool.lossguard.dynamic]")
    if args.dynamic_timeout is not None:
        timeout = check_timeout(args.dynamic_timeout, "--dynamic-timeout")
    if args.dynamic_memory is not None:
        memory = check_memory(args.dynamic_memory, "--dynamic-memory")
    return DynamicOptions(timeout=DEFAULT_TIMEOUT_S if timeout is None else timeout,
                          memory_mb=DEFAULT_MEMORY_MB if memory is None else memory,
                          report_dir=args.dynamic_report, overrides=overrides)


def run(findings: list[Finding], args: argparse.Namespace, config: dict | None = None
        ) -> list[Finding]:
    """The findings with `.dynamic` set when `--dynamic` (or `--dynamic-report`) is given.

    A bad option, or a memory limit too small to start a worker, raises `ConfigError`
    (exit code 2). `cli/main.py` prints the report's path on stderr.
    """
    if not (args.dynamic or args.dynamic_report):
        return findings
    from ..dynamic import confirm

    try:
        options = dataclasses.replace(options_from(args, config),
                                      fixed=tuple(getattr(args, "dynamic_fixed", ())))
        out = confirm(findings, options)
    except DynamicConfigError as error:
        raise ConfigError(str(error)) from error
    if options.report_dir:
        from ..report.html import write_report

        write_report(out, options.report_dir, list(options.fixed))
    return out


def failing(findings: list[Finding], args: argparse.Namespace) -> bool:
    """Whether the findings make the run fail, with `--fail-on` (which needs `--dynamic`:
    without a dynamic pass every finding counts)."""
    ran = any(f.dynamic is not None for f in findings)
    if getattr(args, "fail_on", "any") == "confirmed" and ran:
        return any(f.dynamic is not None and f.dynamic.status == "confirmed" for f in findings)
    return bool(findings)


def before_fix(args: argparse.Namespace, groups: list, settings_for: Any,
               config: dict | None = None) -> list[Finding]:
    """With `--fix --dynamic`: the fixable findings, each probed before its fix is written
    (empty otherwise)."""
    if not (getattr(args, "fix", False) and args.dynamic) or args.diff or args.add_noqa:
        return []
    from ..dynamic import confirm
    from ..pipeline import batch, fix

    fixable: list[Finding] = []
    for start, paths in groups:
        paths = [p for p in paths if p != "-"]
        if not paths:
            continue
        settings = settings_for(args, start)
        part = batch.run(paths, settings, batch.options_from(args, settings))
        fixable += fix.applicable(part.findings, args.unsafe_fixes)
    if not fixable:
        return []
    try:
        return confirm(fixable, options_from(args, config))
    except DynamicConfigError as error:
        raise ConfigError(str(error)) from error


def after_fix(before: list[Finding], args: argparse.Namespace, config: dict | None = None
              ) -> list[tuple[Finding, Finding]]:
    """Re-run each fixed finding's probe on the fixed file (same function, same place) and
    say on stderr whether the failure still reproduces: [(before, after)]."""
    if not before:
        return []
    from ..dynamic import confirm

    again = [dataclasses.replace(f, fix=None, dynamic=None) for f in before]
    options = dataclasses.replace(options_from(args, config), verify=True, report_dir=None)
    after = confirm(again, options)
    pairs = list(zip(before, after, strict=True))
    args.dynamic_fixed = pairs  # for the report of the run that follows
    for old, new in pairs:
        print(f"lossguard: fixed {old.path}:{old.line}:{old.column}: {old.code}: "
              f"{verification_line(old, new)}", file=sys.stderr)
    return pairs

