"""Run one worker process per module, with a time and a memory limit.

The child runs `python -m lossguard.dynamic.worker` in a fresh temporary directory
(its working directory, HOME, TMPDIR, Keras and Matplotlib homes all point there,
so nothing the user module writes lands outside it), in its own session (so a
timeout kills its children too), with `RLIMIT_AS` set before exec, stdin closed,
and stdout/stderr captured to files. Results come back in a separate JSON-lines
file, never on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .plan import ModuleJob

# TensorFlow's own import is not the user's time: the per-module limit starts when the
# worker begins importing the user's module; starting the worker may take this much more.
STARTUP_S = 120.0
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class WorkerOutcome:
    """What one worker produced: results by finding index, and why the rest are missing."""

    results: dict[int, dict] = field(default_factory=dict)
    missing_reason: str = ""
    seconds: float = 0.0
    tensorflow_seconds: float | None = None
    versions: dict = field(default_factory=dict)
    vm_peak_kb: int | None = None
    # the worker could not start its framework because of the memory limit
    start_failed_memory: bool = False
    frameworks_loaded: list[str] = field(default_factory=list)


def _limits(memory_mb: int) -> Callable[[], None]:
    def apply() -> None:
        limit = int(memory_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024 * 1024, 256 * 1024 * 1024))

    return apply


def _env(tmp: str, legacy_keras: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KERAS_"))}
    pythonpath = [_PACKAGE_PARENT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env.update({
        "PYTHONPATH": os.pathsep.join(pythonpath),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "HOME": tmp,
        "TMPDIR": tmp,
        "KERAS_HOME": os.path.join(tmp, ".keras"),
        "MPLCONFIGDIR": os.path.join(tmp, ".matplotlib"),
        "MPLBACKEND": "Agg",
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "KERAS_BACKEND": "tensorflow",
        "MALLOC_ARENA_MAX": "2",
        "OMP_NUM_THREADS": "1",
    })
    if legacy_keras:
        env["TF_USE_LEGACY_KERAS"] = "1"
    return env


def _read_lines(path: str) -> list[dict]:
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        pass
    return out


def _tail(path: str, n: int = 3) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [ln.strip() for ln in fh.read().splitlines() if ln.strip()]
    except OSError:
        return ""
    lines = [ln for ln in lines if not ln.startswith(("WARNING: All log", "I0000", "W0000"))]
    return " | ".join(lines[-n:])[-300:]


def run_job(job: ModuleJob, timeout: float, memory_mb: int, python: str,
            on_progress: Callable[[int], None] | None = None) -> WorkerOutcome:
    """Run the worker for one module; never raises for anything the user code does."""
    tmp = tempfile.mkdtemp(prefix="lossguard-dynamic-")
    outcome = WorkerOutcome()
    started = time.monotonic()
    try:
        job_path = os.path.join(tmp, ".lossguard-job.json")
        results_path = os.path.join(tmp, ".lossguard-results.jsonl")
        with open(job_path, "w", encoding="utf-8") as fh:
            json.dump(job.to_json(), fh)
        work = os.path.join(tmp, "cwd")
        os.mkdir(work)
        with open(os.path.join(tmp, ".stdout"), "wb") as out, \
                open(os.path.join(tmp, ".stderr"), "wb") as err:
            proc = subprocess.Popen(
                [python, "-m", "lossguard.dynamic.worker", job_path, results_path],
                cwd=work, env=_env(work, job.legacy_keras), stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, preexec_fn=_limits(memory_mb), start_new_session=True,
            )
            timed_out = False
            reported = 0
            user_clock: float | None = None
            while True:
                try:
                    proc.wait(timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    pass
                events = _read_lines(results_path)
                if user_clock is None and any(e.get("phase") == "import" for e in events):
                    user_clock = time.monotonic()
                if on_progress is not None:
                    done = sum(1 for e in events if e.get("event") == "result")
                    if done > reported:
                        on_progress(done - reported)
                        reported = done
                now = time.monotonic()
                if (user_clock is not None and now - user_clock > timeout) or (
                        user_clock is None and now - started > timeout + STARTUP_S):
                    timed_out = True
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait()
                    break
        events = _read_lines(results_path)
        phase = "starting"
        phase_function = None
        finished = False
        for e in events:
            kind = e.get("event")
            if kind == "phase":
                phase, phase_function = e.get("phase", phase), e.get("function")
            elif kind == "framework":
                outcome.tensorflow_seconds = e.get("seconds")
                outcome.versions = {e.get("framework"): e.get("version"), "keras": e.get("keras")}
            elif kind == "start_failed":
                outcome.missing_reason = e.get("reason", "the worker could not start")
                outcome.start_failed_memory = bool(e.get("memory"))
                finished = True
            elif kind == "import_failed":
                outcome.missing_reason = e.get("reason", "importing the module failed")
                finished = True
            elif kind == "result":
                outcome.results[int(e["index"])] = e
            elif kind == "done":
                finished = True
                outcome.vm_peak_kb = e.get("vm_peak_kb")
                outcome.frameworks_loaded = list(e.get("frameworks_loaded") or [])
        if on_progress is not None:
            done = len(outcome.results)
            if done > reported:
                on_progress(done - reported)
        if not finished and not outcome.missing_reason:
            where = {
                "starting": "while starting",
                "framework": "while importing "
                + ("PyTorch" if job.framework == "torch" else "TensorFlow"),
                "import": "while importing the module",
                "probe": f"while probing `{phase_function}`" if phase_function else "in a probe",
            }.get(phase, f"during {phase}")
            if timed_out:
                limit = timeout if user_clock is not None else timeout + STARTUP_S
                outcome.missing_reason = f"timed out after {limit:g} s {where}"
            else:
                code = proc.returncode
                if code is not None and code < 0:
                    name = signal.Signals(-code).name
                    hint = " (likely the memory limit)" if name in {"SIGABRT", "SIGSEGV",
                                                                      "SIGBUS", "SIGKILL"} else ""
                    outcome.start_failed_memory = bool(hint) and phase in {"starting",
                                                                            "framework"}
                    outcome.missing_reason = (
                        f"the worker was killed by {name} {where}{hint}; memory limit "
                        f"{memory_mb} MiB")
                else:
                    tail = _tail(os.path.join(tmp, ".stderr"))
                    outcome.start_failed_memory = phase in {"starting", "framework"} and any(
                        m in tail for m in ("MemoryError", "failed to map segment",
                                            "Cannot allocate memory"))
                    outcome.missing_reason = f"the worker exited with code {code} {where}" + (
                        f": {tail}" if tail and "MemoryError" in tail else "")
        outcome.seconds = round(time.monotonic() - started, 2)
        return outcome
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
