"""Dynamic confirmation (`lossguard --dynamic`): run the user's loss under TensorFlow or PyTorch.

`confirm(findings, options)` plans one probe per finding (`plan.py`), runs one
sandboxed worker process per module (`sandbox.py`, `worker.py`, `probes.py`), and
returns the findings with `.dynamic` set to a `Confirmation`: confirmed (with the
measured numbers), not_reproduced, or not_checked (and why). This package does
not import TensorFlow or NumPy; only the worker process does.

The package loads its parts on first use: a static run that only reads the dynamic options
(`options.py`) does not pay for the planner.
"""

from __future__ import annotations

from typing import Any

from .options import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, DynamicConfigError, DynamicOptions

__all__ = ["DEFAULT_MEMORY_MB", "DEFAULT_TIMEOUT_S", "DynamicConfigError", "DynamicOptions",
           "confirm", "PROBES"]


def __getattr__(name: str) -> Any:
    if name == "confirm":
        from .run import confirm
        return confirm
    if name == "PROBES":
        from .plan import PROBES
        return PROBES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
