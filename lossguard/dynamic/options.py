"""Options of the dynamic pass (no TensorFlow here); defaults and validation live in
`pipeline/dynamic_settings.py`, where loading a configuration checks them."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ..pipeline.dynamic_settings import (  # noqa: F401 - re-exported
    DEFAULT_MEMORY_MB,
    DEFAULT_TIMEOUT_S,
    FUNCTION_KEYS,
    KINDS,
    MIN_MEMORY_MB,
    DynamicConfigError,
    check_function,
    check_memory,
    check_table,
    check_timeout,
)


@dataclass(frozen=True)
class DynamicOptions:
    """How `--dynamic` runs.

    `timeout` is seconds per module (one worker process per module, TensorFlow import
    included); `memory_mb` is the address-space limit of that process; `report_dir`, when
    set, receives `index.html`; `progress` None means "a bar on stderr when it is a
    terminal"; `overrides` maps a function name (`dice_loss`, `FocalLoss.call`, or
    `path::function`) to `{"shape": [...], "kind": "probabilities"|"logits"|...}`;
    `jobs` is how many workers run at once (None: up to the number of CPUs, at most 4).
    """

    timeout: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    report_dir: str | None = None
    progress: bool | None = None
    overrides: dict = field(default_factory=dict)
    jobs: int | None = None
    python: str = sys.executable
    # re-probing fixed code (`--fix --dynamic`): no node is patched, and a failure seen at
    # the finding's function is reported as still reproducing
    verify: bool = False
    # (before, after) for each finding `--fix --dynamic` fixed, shown in the report
    fixed: tuple = ()
