"""The `--dynamic` options of the command line, kept here so `cli/main.py` stays small."""

from __future__ import annotations

import argparse

from ..dynamic.options import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, DynamicOptions
from ..engine.results import Finding


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--dynamic`, `--dynamic-timeout`, `--dynamic-memory`, `--dynamic-report`, `--fail-on`."""
    group = parser.add_argument_group("dynamic confirmation (runs the code under test)")
    group.add_argument("--dynamic", action="store_true",
                       help="run each finding's probe under TensorFlow in a sandboxed worker")
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
    """
    config = dict(config or {})
    overrides: dict = {}
    for key, value in config.items():
        if key == "functions" and isinstance(value, dict):
            overrides.update({k: v for k, v in value.items() if isinstance(v, dict)})
        elif isinstance(value, dict):
            overrides[key] = value
    timeout = args.dynamic_timeout if args.dynamic_timeout is not None else config.get(
        "timeout", DEFAULT_TIMEOUT_S)
    memory = args.dynamic_memory if args.dynamic_memory is not None else config.get(
        "memory", DEFAULT_MEMORY_MB)
    return DynamicOptions(timeout=float(timeout), memory_mb=int(memory),
                          report_dir=args.dynamic_report, overrides=overrides)


def run(findings: list[Finding], args: argparse.Namespace, config: dict | None = None
        ) -> list[Finding]:
    """The findings with `.dynamic` set when `--dynamic` (or `--dynamic-report`) is given."""
    if not (args.dynamic or args.dynamic_report):
        return findings
    from ..dynamic import confirm

    options = options_from(args, config)
    confirmed = confirm(findings, options)
    if options.report_dir:
        from ..report.html import write_report

        write_report(confirmed, options.report_dir)
    return confirmed


def failing(findings: list[Finding], args: argparse.Namespace) -> bool:
    """Whether the findings make the run fail, with `--fail-on` (which needs `--dynamic`:
    without a dynamic pass every finding counts)."""
    ran = any(f.dynamic is not None for f in findings)
    if getattr(args, "fail_on", "any") == "confirmed" and ran:
        return any(f.dynamic is not None and f.dynamic.status == "confirmed" for f in findings)
    return bool(findings)
