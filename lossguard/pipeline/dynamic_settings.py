"""The `[tool.lossguard.dynamic]` table and the `--dynamic-*` limits: defaults and validation.

Kept in the pipeline so that loading a configuration checks the table without importing
the dynamic package (which sits above the pipeline); `lossguard.dynamic.options` re-exports it.
"""

from __future__ import annotations

import math

# Measured (README, "Dynamic confirmation"): a worker that imports TensorFlow 2.21 and
# Keras 3.15, runs the probes and two 30-epoch fits peaks at about 2.6 GB of address
# space (VmPeak) with one intra-op thread; tf_keras about 2.5 GB. RLIMIT_AS counts
# address space, not resident memory, so the default leaves room above that peak.
DEFAULT_MEMORY_MB = 4096
DEFAULT_TIMEOUT_S = 60.0
# Below this no worker can start (the Python interpreter and NumPy alone need about this
# much address space); a limit above it that is still too small for the framework is
# found when the worker starts (`confirm` then raises `DynamicConfigError`).
MIN_MEMORY_MB = 256
KINDS = ("probabilities", "logits", "regression")
FUNCTION_KEYS = ("shape", "kind")


class DynamicConfigError(ValueError):
    """A bad `--dynamic-*` option or `[tool.lossguard.dynamic]` setting (exit code 2)."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_timeout(value: object, where: str) -> float:
    """Seconds per module: a finite number above 0."""
    if not _is_number(value) or not math.isfinite(float(value)):  # type: ignore[arg-type]
        raise DynamicConfigError(f"{where}: the timeout must be a number of seconds, "
                                 f"not {value!r}")
    if float(value) <= 0:  # type: ignore[arg-type]
        raise DynamicConfigError(f"{where}: the timeout must be above 0 seconds, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def check_memory(value: object, where: str) -> int:
    """MiB of address space: a whole number of at least MIN_MEMORY_MB."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise DynamicConfigError(f"{where}: the memory limit must be a whole number of MiB, "
                                 f"not {value!r}")
    if value < MIN_MEMORY_MB:
        raise DynamicConfigError(f"{where}: a memory limit of {value} MiB is too small to start "
                                 f"the worker (at least {MIN_MEMORY_MB} MiB; default "
                                 f"{DEFAULT_MEMORY_MB})")
    return value


def check_function(name: str, table: dict, where: str) -> dict:
    """One function's probe inputs: `shape = [8, 4]`, `kind = "logits"`."""
    for key, value in table.items():
        if key not in FUNCTION_KEYS:
            raise DynamicConfigError(f"{where}: unknown key `{key}` for function `{name}` "
                                     f"(known: {', '.join(FUNCTION_KEYS)})")
        if key == "shape" and not (isinstance(value, list) and value and all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)):
            raise DynamicConfigError(f"{where}: `shape` of `{name}` must be a list of positive "
                                     f"whole numbers, not {value!r}")
        if key == "kind" and value not in KINDS:
            raise DynamicConfigError(f"{where}: `kind` of `{name}` must be one of "
                                     f"{', '.join(KINDS)}, not {value!r}")
    return dict(table)


def check_table(table: object, where: str) -> tuple[float | None, int | None, dict]:
    """Validate `[tool.lossguard.dynamic]`: (timeout, memory, per-function overrides).

    Keys: `timeout` (seconds), `memory` (MiB), `functions` (a table of function tables),
    and any other key whose value is a table is one function's override.
    """
    if not isinstance(table, dict):
        raise DynamicConfigError(f"{where}: must be a table, not {type(table).__name__}")
    timeout = memory = None
    overrides: dict = {}
    for key, value in table.items():
        if key == "timeout":
            timeout = check_timeout(value, f"{where}: `timeout`")
        elif key == "memory":
            memory = check_memory(value, f"{where}: `memory`")
        elif key == "functions" and isinstance(value, dict):
            for name, sub in value.items():
                if not isinstance(sub, dict):
                    raise DynamicConfigError(f"{where}: `functions.{name}` must be a table")
                overrides[name] = check_function(name, sub, where)
        elif isinstance(value, dict):
            overrides[key] = check_function(key, value, where)
        else:
            raise DynamicConfigError(f"{where}: unknown key `{key}` (known: timeout, memory, "
                                     "functions, or a table per function)")
    return timeout, memory, overrides
