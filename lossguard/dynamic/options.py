"""Options of the dynamic pass and their defaults (no TensorFlow here)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

# Measured (README, "Dynamic confirmation"): a worker that imports TensorFlow 2.21 and
# Keras 3.15, runs the probes and two 30-epoch fits peaks at about 2.6 GB of address
# space (VmPeak) with one intra-op thread; tf_keras about 2.5 GB. RLIMIT_AS counts
# address space, not resident memory, so the default leaves room above that peak.
DEFAULT_MEMORY_MB = 4096
DEFAULT_TIMEOUT_S = 60.0


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
