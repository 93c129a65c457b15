"""Skip before parsing: a cheap text scan deciding whether a file can hold anything a rule reads.

Parsing is most of a run's cost, and most files of a big repository hold no loss code. A file
passes when its text names any of:

- a tensor framework (`ops.FRAMEWORK_ROOTS`: the framework-API rules read all code that uses
  one, so a file that imports one always passes);
- a loss word (`scope.LOSS_WORDS`, `cross`+`entropy`, `kl_div`, a training-step name), since a
  function so named is loss code even with tensors that come from elsewhere;
- a gradient computation or Keras hand-off (`GradientTape`, `gradient`, `backward`, `minimize`,
  `compile`, `add_loss`, `custom_gradient`);
- a suppression or rule code (`# noqa: LL...`, `lossguard`), so unused-noqa findings stay
  visible;
- a literal fragment of a user `loss-names` glob.

The scan is case-insensitive and matches substrings: a false pass costs one parse, a miss costs a
finding. `--all-code` makes every function loss code, so it turns the prefilter off.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..knowledge import ops
from ..knowledge.names import LOSS_WORDS, TRAINING_NAMES

_EXTRA_WORDS = (
    "entropy", "kl_div", "kldiv", "gradient", "backward", "minimize", "compile", "add_loss",
    "lossguard", "criterion",
)


_RULE_CODE = re.compile(r"ll\d")  # a rule code in a suppression comment (unused-noqa)


def _words(loss_names: tuple[str, ...]) -> list[str]:
    words = {*ops.FRAMEWORK_ROOTS, *LOSS_WORDS, *TRAINING_NAMES, *_EXTRA_WORDS}
    for pattern in loss_names:
        fragment = _literal_fragment(pattern)
        if fragment is None:
            return []  # a glob with no literal part (`*`) matches every name: no prefilter
        words.add(fragment)
    return sorted(words)


def _literal_fragment(pattern: str) -> str | None:
    """The longest run of literal characters in a glob (`*_objective` -> `_objective`)."""
    pieces = re.split(r"\*|\?|\[[^\]]*\]", pattern)
    best = max(pieces, key=len, default="")
    return best.lower() if best else None


@lru_cache(maxsize=64)
def _needles(loss_names: tuple[str, ...]) -> tuple[str, ...] | None:
    words = _words(loss_names)
    if not words:
        return None
    # Most files that pass name one of these; test them first.
    first = [w for w in ("loss", "tensorflow", "keras", "torch", "numpy", "jax") if w in words]
    return (*first, *(w for w in words if w not in first))


def may_hold_loss(text: str, loss_names: tuple[str, ...] = (), all_code: bool = False) -> bool:
    """False only when no rule can report anything in `text` (it is then not parsed)."""
    if all_code:
        return True
    needles = _needles(tuple(loss_names))
    if needles is None:
        return True
    low = text.lower()
    return any(word in low for word in needles) or _RULE_CODE.search(low) is not None
