"""Many files: one by one, or fast (prefilter, cache, size limit and a process pool) around
`lint.lint_source`.

The parent discovers and reads every file, answers what it can from the cache, and hands the
rest out in chunks (the largest files first, so the tail is short) to a pool of worker
processes. Workers get rule codes and settings, never rule instances, and return findings; only
the parent writes the cache, so an interrupted run (SIGINT) kills workers that hold no open file
and exits 130 with nothing half-written. Findings come back in any order and are sorted by
path, cell, line and column.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..api import Rule
from ..engine import walk as engine
from ..engine.results import Finding
from ..rules import all_rules
from . import files, guard, prefilter
from .config import Settings, ignored_for
from .lint import error_finding, lint_source, selected_rules

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from .cache import Cache


@dataclass
class RunOptions:
    """How to run, as opposed to what to report (that is `Settings`)."""

    jobs: int = 1
    prefilter: bool = True
    cache: Cache | None = None
    max_bytes: int = guard.MAX_BYTES
    timings: dict[str, float] | None = None  # per-rule seconds, filled when asked for
    skipped: files.Skipped = files.say_nothing  # told what discovery skips, and why


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("speed")
    group.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                       help="worker processes (default: the CPU count; 1: no pool)")
    group.add_argument("--no-prefilter", action="store_true",
                       help="parse every file, also those with no framework or loss word")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    group.add_argument("--cache-dir", type=Path, metavar="DIR",
                       help=f"cache folder (default: {files.CACHE_DIRNAME} next to the "
                            "configuration, else in the working folder)")
    group.add_argument("--clean-cache", action="store_true",
                       help="remove the cache folder first (alone: remove it and exit)")
    group.add_argument("--max-file-size", type=float, default=guard.MAX_BYTES / guard.MB,
                       metavar="MB",
                       help=f"report files larger than MB megabytes (10^6 bytes; default "
                            f"{guard.MAX_BYTES / guard.MB:g}) as not checked (0: no limit; a "
                            "file that needs more memory than there is is never parsed)")


def options_from(args: argparse.Namespace, settings: Settings) -> RunOptions:
    jobs = args.jobs if getattr(args, "jobs", None) else (os.cpu_count() or 1)
    cache = None
    if not getattr(args, "no_cache", False):
        from .cache import Cache, default_dir  # not imported by a run without the cache

        cache = Cache(args.cache_dir or default_dir(settings.root))
    timings: dict[str, float] | None = {} if getattr(args, "statistics", False) else None
    return RunOptions(jobs=max(1, jobs), prefilter=not getattr(args, "no_prefilter", False),
                      cache=cache, max_bytes=int(getattr(args, "max_file_size", 10) * guard.MB),
                      timings=timings)


def lint_data(data: bytes, path: str, settings: Settings, rules: list[type[Rule]],
              use_prefilter: bool = True) -> list[Finding]:
    """Lint one file's bytes: decode, prefilter, then `lint.lint_source` (or the notebook's
    cells). A file that cannot be decoded is one LL001 finding."""
    want_ll001 = any(r.code == "LL001" for r in rules)
    if files.is_notebook(path):
        from . import notebook  # imported by the runs that meet a notebook only

        if use_prefilter:
            try:  # a notebook that is not JSON is reported whatever its text
                cells = notebook.code_cells(notebook.load(data))
            except notebook.NotebookError:
                cells = None
            if cells is not None and not prefilter.may_hold_loss(
                    "".join(c.source for c in cells), tuple(settings.loss_names),
                    settings.all_code):
                return []
        return notebook.lint_notebook(path, data, settings, rules)
    try:
        source = files.decode(data, path)
    except files.SourceError as error:
        return [error_finding(path, str(error))] if want_ll001 else []
    if use_prefilter and not prefilter.may_hold_loss(source, tuple(settings.loss_names),
                                                     settings.all_code):
        return []
    return lint_source(source, path, settings, rules)


def _run_pooled(paths: list[str], settings: Settings, options: RunOptions
                ) -> tuple[list[Finding], int, list[str]]:
    """Findings (sorted), the number of files, internal errors."""
    rules = selected_rules(settings)
    codes = [r.code for r in rules]
    want_ll001 = "LL001" in codes
    salt = options.cache.salt(codes, {"all_code": settings.all_code,
                                      "loss_names": list(settings.loss_names),
                                      "prefilter": options.prefilter,
                                      "max_bytes": options.max_bytes}) if options.cache else ""
    found: list[Finding] = []
    errors: list[str] = []
    todo: list[tuple[str, bytes, str | None]] = []  # path, bytes, cache key
    count = 0
    for path in files.discover(paths, settings.exclude, options.skipped):
        count += 1
        name = str(path)
        data, problem = _read(path, options.max_bytes)
        if problem is not None:
            if want_ll001:
                found.append(error_finding(name, problem))
            continue
        key = None
        if options.cache is not None:
            extra = ",".join(sorted(ignored_for(name, settings.per_file_ignores)))
            key = options.cache.key(salt, data, extra)
            cached = options.cache.get(key, name)
            if cached is not None:
                found.extend(cached)
                continue
        todo.append((name, data, key))
    results = _lint_all(todo, settings, codes, options)
    try:
        for _name, findings, key, error in results:
            if error is not None:
                errors.append(error)
                print(f"lossguard: {error}", file=sys.stderr)
                continue
            found.extend(findings)
            if key is not None and options.cache is not None:
                options.cache.put(key, findings)
    finally:
        # Ctrl-C while this loop writes the cache: end the pool now, not when (with collections
        # made rare) the suspended generator happens to be collected, at exit, after the pool's
        # exit hook has waited for every worker to finish its chunk.
        results.close()
    found.sort(key=lambda f: f.sort_key)
    return found, count, errors


@dataclass
class RunResult:
    """What a run found: the findings (sorted), how many files, and the internal errors."""


    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    internal_errors: list[str] = field(default_factory=list)


def lint_path(path: Path, settings: Settings,
              rules: list[type[Rule]] | None = None) -> list[Finding]:
    if files.is_notebook(path):
        from . import notebook

        try:
            return notebook.read_and_lint(path, settings, rules)
        except files.SourceError as error:
            return [error_finding(str(path), str(error))]
    try:
        source = files.read(path)
    except files.SourceError as error:
        return [error_finding(str(path), str(error))]
    return lint_source(source, str(path), settings, rules)


def run(paths: list[str], settings: Settings, options: RunOptions | None = None) -> RunResult:
    """Lint every file under `paths`: one by one, or with `options` (prefilter, cache, pool)."""
    if options is not None:
        findings, count, errors = _run_pooled(paths, settings, options)
        return RunResult(findings, count, errors)
    result = RunResult()
    rules = selected_rules(settings)
    for path in files.discover(paths, settings.exclude):
        result.files += 1
        try:
            result.findings.extend(lint_path(path, settings, rules))
        except Exception as error:  # noqa: BLE001 - one file's crash must not end the run
            result.internal_errors.append(
                f"{path}: internal error: {type(error).__name__}: {error}")
            print(f"lossguard: {path}: internal error: {type(error).__name__}: {error}",
                  file=sys.stderr)
    result.findings.sort(key=lambda f: f.sort_key)
    return result


def _read(path: Path, max_bytes: int) -> tuple[bytes, str | None]:
    try:
        size = path.stat().st_size
    except OSError as error:
        return b"", f"cannot read: {error.strerror or error}"
    message = guard.too_large(size, max_bytes)
    if message is not None:
        return b"", message
    try:
        return path.read_bytes(), None
    except IsADirectoryError:
        return b"", "is a directory"
    except OSError as error:
        return b"", f"cannot read: {error.strerror or error}"


Result = tuple[str, list[Finding], str | None, str | None]  # path, findings, key, error


def _lint_all(todo: list[tuple[str, bytes, str | None]], settings: Settings, codes: list[str],
              options: RunOptions) -> Generator[Result, None, None]:
    if options.jobs <= 1 or len(todo) <= 1:
        rules = _rules(codes)
        yield from _lint_chunk(todo, settings, rules, options.prefilter, options.timings)
        return
    yield from _pool(todo, settings, codes, options)


def _rules(codes: list[str]) -> list[type[Rule]]:
    wanted = set(codes)
    return [r for r in all_rules() if r.code in wanted]


def _lint_chunk(chunk: list[tuple[str, bytes, str | None]], settings: Settings,
                rules: list[type[Rule]], use_prefilter: bool,
                timings: dict[str, float] | None) -> Iterator[Result]:
    previous = engine.RULE_TIMES
    engine.RULE_TIMES = timings
    try:
        for name, data, key in chunk:
            started = time.perf_counter() if timings is not None else 0.0
            try:
                findings = lint_data(data, name, settings, rules, use_prefilter)
            except Exception as error:  # noqa: BLE001 - one file's crash must not end the run
                yield name, [], None, f"{name}: internal error: {type(error).__name__}: {error}"
                continue
            finally:
                if timings is not None:
                    timings[TOTAL] = timings.get(TOTAL, 0.0) + time.perf_counter() - started
            yield name, findings, key, None
    finally:
        engine.RULE_TIMES = previous


TOTAL = "(all)"  # timings key: the whole time spent linting files, rules included


# A parse makes a few hundred thousand objects that live until the file is linted and are then
# freed by reference counting (trees, index and reports hold no reference cycle: tested). At
# the collector's default threshold (700 new objects) it traces each tree many times over for
# nothing: 3.9 s of a 40 s run on the keras sources, 0.3 s with this threshold. A run raises
# it (as mypy does); the rare cyclic garbage is still collected, every 200,000 new objects.
GC_THRESHOLD = (200_000, 30, 30)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the garbage collector's thresholds for a run, and restore them after."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    gc.set_threshold(*GC_THRESHOLD)  # inherited under fork; set again for spawn


def _worker(chunk: list[tuple[str, bytes, str | None]], settings: Settings, codes: list[str],
            use_prefilter: bool, timed: bool) -> tuple[list[Result], dict[str, float] | None]:
    timings: dict[str, float] | None = {} if timed else None
    results = list(_lint_chunk(chunk, settings, _rules(codes), use_prefilter, timings))
    return results, timings


def _chunks(todo: list[tuple[str, bytes, str | None]], jobs: int
            ) -> list[list[tuple[str, bytes, str | None]]]:
    """Largest files first; each chunk about 1/(8 jobs) of the bytes, at most 64 files."""
    ordered = sorted(todo, key=lambda item: len(item[1]), reverse=True)
    target = max(1, sum(len(item[1]) for item in ordered) // (jobs * 8))
    chunks: list[list[tuple[str, bytes, str | None]]] = []
    current: list[tuple[str, bytes, str | None]] = []
    size = 0
    for item in ordered:
        current.append(item)
        size += len(item[1])
        if size >= target or len(current) >= 64:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def _pool(todo: list[tuple[str, bytes, str | None]], settings: Settings, codes: list[str],
          options: RunOptions) -> Iterator[Result]:
    import multiprocessing  # only a run with a pool pays for these imports
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    chunks = _chunks(todo, options.jobs)
    jobs = min(options.jobs, len(chunks))
    context = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init)
    pending: dict[Future, list[tuple[str, bytes, str | None]]] = {}
    try:
        for chunk in chunks:
            future = executor.submit(_worker, chunk, settings, codes, options.prefilter,
                                     options.timings is not None)
            pending[future] = chunk
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = pending.pop(future)
                try:
                    results, timings = future.result()
                except BrokenProcessPool:
                    for name, _, _ in chunk:
                        yield name, [], None, f"{name}: internal error: a worker process died"
                    continue
                if timings and options.timings is not None:
                    for code, seconds in timings.items():
                        options.timings[code] = options.timings.get(code, 0.0) + seconds
                yield from results
        executor.shutdown()
    except BaseException:
        _kill(executor)
        raise


def _kill(executor: ProcessPoolExecutor) -> None:
    """Stop at once: cancel what has not started and end the workers (they write nothing)."""
    processes = list(getattr(executor, "_processes", {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=1)
    # The pool's threads may now wait forever: the manager thread for the rest of a message a
    # killed worker was sending, the queue's feeder thread to write a chunk no worker reads.
    # The interpreter's exit hooks would wait for them, so the process must not exit normally.
    _killed.append(executor)


_killed: list[object] = []  # pools an interrupted run ended


def must_exit_at_once() -> bool:
    """Whether an interrupted run killed a pool whose threads a normal exit would wait for
    forever: the caller should end the process with `os._exit` once its output is flushed."""
    return bool(_killed)


def render_timings(timings: dict[str, float]) -> str:
    """`--statistics`: seconds per rule (time in its visitors), slowest first, then the rest of
    the engine (reading, parsing, indexing, scope)."""
    total = timings.get(TOTAL, 0.0)
    rules = {code: seconds for code, seconds in timings.items() if code != TOTAL}
    out = ["time per rule (seconds in its visitors):"]
    for code, seconds in sorted(rules.items(), key=lambda item: -item[1]):
        share = f"{100 * seconds / total:5.1f}%" if total else ""
        out.append(f"{seconds:9.3f}s {share}  {code}")
    if total:
        rest = max(0.0, total - sum(rules.values()))
        out.append(f"{rest:9.3f}s {100 * rest / total:5.1f}%  parse, index, scope, report")
        out.append(f"{total:9.3f}s 100.0%  total (all workers)")
    return "\n".join(out) + "\n"
