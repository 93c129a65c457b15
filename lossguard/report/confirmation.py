"""Text for a finding's dynamic result (the line under a finding; no TensorFlow here)."""

from __future__ import annotations

from ..engine.results import Confirmation, Finding

LABELS = {"confirmed": "confirmed", "not_reproduced": "not reproduced",
          "not_checked": "not checked"}


def text_line(conf: Confirmation) -> str:
    """`confirmed: loss = -inf when ... (Log at line 9)` or `not checked: <reason>`."""
    label = LABELS.get(conf.status, conf.status)
    if conf.status == "confirmed":
        return f"{label}: {conf.summary}"
    return f"{label}: {conf.reason or conf.summary}"


def verification_line(before: Finding, after: Finding) -> str:
    """`before the fix: confirmed: ...; after: no longer reproduces: ...`."""
    old, new = before.dynamic, after.dynamic
    assert old is not None and new is not None
    first = f"before the fix: {text_line(old)}"
    if new.status == "confirmed":
        return f"{first}; after the fix the same probe still fails: {new.summary}"
    if new.status == "not_reproduced":
        return f"{first}; after the fix: no longer reproduces with the same probe ({new.reason})"
    return f"{first}; after the fix: not checked: {new.reason}"
