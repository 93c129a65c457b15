"""Running the dynamic confirmation: plan, sandbox, collect (see the package's docstring).

`confirm(findings, options)` plans one probe per finding (`plan.py`), runs one
sandboxed worker process per module (`sandbox.py`, `worker.py`, `probes.py`), and
returns the findings with `.dynamic` set to a `Confirmation`: confirmed (with the
measured numbers), not_reproduced, or not_checked (and why). This package does
not import TensorFlow or NumPy; only the worker process does.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading

from ..engine.results import Confirmation, Finding
from .options import DEFAULT_MEMORY_MB, DynamicConfigError, DynamicOptions
from .plan import PROBES, plan

__all__ = ["confirm"]


class _Progress:
    """One bar over the probed functions on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled and total > 0
        self.lock = threading.Lock()
        self.draw()

    def advance(self, n: int = 1) -> None:
        with self.lock:
            self.done = min(self.total, self.done + n)
            self.draw()

    def draw(self) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * self.done / self.total)
        sys.stderr.write(f"\rlossguard --dynamic [{'#' * filled}{'.' * (width - filled)}] "
                         f"{self.done}/{self.total} findings")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def _confirmation(code: str, raw: dict) -> Confirmation:
    return Confirmation(
        status=raw.get("status", "not_checked"),
        probe=raw.get("probe") or PROBES.get(code, ""),
        summary=raw.get("summary", ""),
        evidence=dict(raw.get("evidence") or {}),
        reason=raw.get("reason", ""),
    )


def confirm(findings: list[Finding], options: DynamicOptions | None = None) -> list[Finding]:
    """Return `findings` (same order) with `.dynamic` set for each one."""
    options = options or DynamicOptions()
    from concurrent.futures import ThreadPoolExecutor  # not imported by a static run

    from .sandbox import run_job

    the_plan = plan(findings, options.overrides, verify=options.verify)
    statuses: dict[int, Confirmation] = {}
    for i, reason in the_plan.skipped.items():
        statuses[i] = Confirmation("not_checked", PROBES.get(findings[i].code, ""), "",
                                   {}, reason)
    total = sum(len(j.targets) for j in the_plan.jobs)
    show = sys.stderr.isatty() if options.progress is None else options.progress
    progress = _Progress(total, show)
    jobs = options.jobs or min(4, os.cpu_count() or 1)

    def run(job):  # type: ignore[no-untyped-def]
        return job, run_job(job, options.timeout, options.memory_mb, options.python,
                            progress.advance)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            outcomes = list(pool.map(run, the_plan.jobs))
    finally:
        progress.close()
    starved = [o for _, o in outcomes if o.start_failed_memory]
    if starved:
        raise DynamicConfigError(
            f"a memory limit of {options.memory_mb} MiB is too small to start the worker "
            f"({starved[0].missing_reason or 'it ran out of memory while starting'}); raise "
            f"`memory` in [tool.lossguard.dynamic] or --dynamic-memory (default "
            f"{DEFAULT_MEMORY_MB} MiB)")
    for job, outcome in outcomes:
        for target in job.targets:
            raw = outcome.results.get(target.index)
            if raw is None:
                raw = {"status": "not_checked", "probe": target.probe,
                       "reason": outcome.missing_reason or "the worker returned no result"}
            statuses[target.index] = _confirmation(target.code, raw)
    out = []
    for i, f in enumerate(findings):
        conf = statuses.get(i) or Confirmation("not_checked", "", "", {}, "not planned")
        out.append(dataclasses.replace(f, probe=f.probe or conf.probe or None, dynamic=conf))
    return out
