"""Text for a finding's dynamic result (the line under a finding; no TensorFlow here)."""

from __future__ import annotations

from ..engine.results import Confirmation

LABELS = {"confirmed": "confirmed", "not_reproduced": "not reproduced",
          "not_checked": "not checked"}


def text_line(conf: Confirmation) -> str:
    """`confirmed: loss = -inf when ... (Log at line 9)` or `not checked: <reason>`."""
    label = LABELS.get(conf.status, conf.status)
    if conf.status == "confirmed":
        return f"{label}: {conf.summary}"
    return f"{label}: {conf.reason or conf.summary}"
