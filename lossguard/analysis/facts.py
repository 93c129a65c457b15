"""The sign/range domain: what can be proven about the value of an expression.

A `Fact` is an interval `[lo, hi]` (each end open or closed) plus the *reasons* the value can
reach a bad point: exactly 0 (`zero`), below 0 (`negative`), or without upper bound (`unbounded`),
and tags that say where it came from (`softmax`, `sigmoid`, a cancelling `difference`, an
`error` magnitude). Rules never look at syntax to decide safety; they ask for a fact.

Convention: an unknown *input* (a tensor parameter of loss code) is taken to be `>= 0` and
unbounded above: labels, masks and probabilities are, and `log(y_pred + 1e-7)` is the idiom
people use. A value that the facts show can go negative (a difference, a negation, `tanh`)
carries a `negative` reason, so an offset does not guard it. An opaque value (the result of a
call the table does not know) has no reasons at all: lossguard never guesses.

Constants are folded in float32, so `1 + 1e-10` is exactly 1 and guards nothing.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import NamedTuple

from ..knowledge.kinds import Kind
from ..knowledge.ops import EPSILON

INF = math.inf
FLOAT32_MAX_EXP = 88.72  # exp(x) overflows float32 above this
FLOAT32_MIN_EXP = -103.9  # exp(x) underflows to exactly 0 below this


def f32(value: float) -> float:
    """Round a Python float to the nearest float32 (inf when it overflows)."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(INF, value)


class Reason(NamedTuple):
    """Why a value can reach a bad point: a sentence about the expression `node`."""

    node: object
    why: str  # e.g. "is an input and can be 0"; rendered as "`<code of node>` <why>"


class Fact(NamedTuple):
    """What is proven about a value: the interval `[lo, hi]` and why it can reach a bad point."""

    lo: float = -INF
    hi: float = INF
    lo_open: bool = False  # True: value > lo; False: value >= lo
    hi_open: bool = False
    zero: Reason | None = None  # can be exactly 0 (structurally)
    negative: Reason | None = None  # can be < 0
    unbounded: Reason | None = None  # no upper bound (for exp overflow)
    tags: frozenset[str] = frozenset()
    const: float | None = None  # folded float32 value when the expression is a constant

    # --- questions rules ask -------------------------------------------------------------
    @property
    def positive(self) -> bool:
        """Proven > 0."""
        return self.lo > 0 or (self.lo == 0 and self.lo_open)

    @property
    def nonneg(self) -> bool:
        return self.lo >= 0

    @property
    def nonzero(self) -> bool:
        return self.positive or self.hi < 0 or (self.hi == 0 and self.hi_open) or \
            "nonzero" in self.tags  # (`d[d == 0] = eps`: patched where it was 0)

    def log_hazard(self) -> Reason | None:
        """Why `log(value)` can be -inf or NaN, or None when it cannot (or nothing is known)."""
        if self.positive:
            return None
        return self.negative if self.lo < 0 and self.negative else self.zero

    def division_hazard(self) -> Reason | None:
        """Why `x / value` can divide by exactly 0 (structural zero), or None. An `exp` that
        underflows only for exponents below -103 is no structural zero."""
        if self.nonzero or "underflow" in self.tags:
            return None
        return self.zero


UNKNOWN = Fact()
NON_NEGATIVE = Fact(0.0, INF)  # nothing known but the sign (a count, a temperature)


def constant(value: float) -> Fact:
    v = f32(value)
    return Fact(lo=v, hi=v, const=v)


# --- arithmetic ---------------------------------------------------------------------------

def _add_bound(a: float, b: float) -> float:
    if math.isinf(a) and math.isinf(b) and a != b:
        return -INF  # conservative: only reached for lower bounds of opposite infinities
    return a + b


def _two_valued(a: Fact, b: Fact, combine: Callable[[float, float], float],
                node: object) -> Fact | None:
    """A value that is exactly one of two numbers (a comparison, 0 or 1) combined with a
    constant is still one of two numbers: `(x >= 0) * 2 - 1` is -1 or 1, never 0."""
    for x, y, swapped in ((a, b, False), (b, a, True)):
        if "two_valued" not in x.tags or y.const is None:
            continue
        ends = sorted(f32(combine(y.const, end) if swapped else combine(end, y.const))
                      for end in (x.lo, x.hi))
        zero = (x.zero or Reason(node, "is 0 for some elements")) if 0.0 in ends else None
        negative = (x.negative or Reason(node, "is negative for some elements")) \
            if ends[0] < 0 else None
        tags = frozenset({"two_valued"})
        if "holds_one" in x.tags and ends == [0.0, 1.0]:
            tags = ONE_HOT.tags  # `1 - one_hot`: a 1 in every row (of two classes or more)
        return Fact(ends[0], ends[1], zero=zero, negative=negative, tags=tags)
    return None


# A 0/1 mask with a 1 in every row (`one_hot(labels)`, `eye(n)`), and its complement over two
# or more columns (`1 - one_hot`, `~eye(n)`: every row keeps the others).
ONE_HOT = Fact(0.0, 1.0, tags=frozenset({"two_valued", "holds_one"}))


def complement(a: Fact, node: object) -> Fact:
    """`~m`, `m == 0`, `m < 1` of a 0/1 mask: the other elements, still one per row when `m`
    has one per row."""
    tags = a.tags & ONE_HOT.tags if {"two_valued", "holds_one"} <= a.tags else frozenset(
        {"two_valued"})
    return Fact(0.0, 1.0, zero=Reason(node, "is 0 for some elements"), tags=tags)


def masked(value: Fact, mask: Fact, node: object) -> Fact | None:
    """`value * mask` (or `where(mask, value, 0)`) of a positive value and a mask with a 1 in
    every row: every row keeps a positive element, so a sum along it is > 0."""
    if {"two_valued", "holds_one"} <= mask.tags and value.lo >= 0 and (
            value.positive or "underflow" in value.tags or "exp" in value.tags):
        return Fact(0.0, value.hi, zero=Reason(node, "is 0 where the mask is"),
                    unbounded=value.unbounded, tags=frozenset({"holds_positive"}))
    return None


def add(a: Fact, b: Fact, node: object) -> Fact:
    if a.const is not None and b.const is not None:
        return constant(f32(a.const + b.const))
    two = _two_valued(a, b, lambda x, y: x + y, node)
    if two is not None:
        return two
    lo = _add_bound(a.lo, b.lo)
    hi = -_add_bound(-a.hi, -b.hi)
    zero = None
    if a.zero and (b.zero or b.const == 0):
        zero = a.zero if b.const == 0 else Reason(node, "is 0 when both terms are 0")
    elif b.zero and a.const == 0:
        zero = b.zero
    negative = None
    if lo < 0:
        negative = a.negative or b.negative
    unbounded = (a.unbounded or b.unbounded) if hi == INF else None
    tags = (a.tags | b.tags) & {"error", "difference"}
    hi_open = a.hi_open or b.hi_open
    for bounded, shift in ((a, b), (b, a)):
        below = _rounded_top(bounded, shift)
        if below is not None:  # `u + 1e-12` of a uniform `u < 1` stays < 1 in float32
            hi, hi_open = below, False
    return Fact(lo, hi, a.lo_open or b.lo_open, hi_open, zero, negative, unbounded, tags)


def _rounded_top(bounded: Fact, shift: Fact) -> float | None:
    """The largest float32 `bounded + shift` reaches when `bounded` stays below its upper bound
    (`hi_open`) and the constant `shift` is too small to carry its largest float32 across it;
    None when rounding changes nothing."""
    if not (bounded.hi_open and 0 < bounded.hi < INF and shift.const is not None and
            shift.const >= 0):
        return None
    top = f32(bounded.hi)
    bits = struct.unpack("I", struct.pack("f", top))[0]
    below = struct.unpack("f", struct.pack("I", bits - 1))[0]  # the float32 just below `top`
    reached = f32(below + shift.const)
    return reached if reached < top else None


def negate(a: Fact, node: object) -> Fact:
    if a.const is not None:
        return constant(-a.const)
    if not _known(a):
        return Fact(-a.hi, -a.lo, a.hi_open, a.lo_open)  # opaque: lossguard never guesses
    negative = None
    if -a.hi < 0:
        # (a difference can be negative either way round; anything else is negative where its
        # operand is positive, whatever makes the operand negative)
        negative = a.negative if "difference" in a.tags and a.lo < 0 and a.negative else \
            Reason(node, "is a negation, negative wherever its operand is positive")
    unbounded = a.negative if a.lo == -INF else None
    if unbounded is None and "input" in a.tags and a.unbounded is not None:
        # A raw prediction is taken to be >= 0 for `log`, but it has no sign: `exp(-d)` of one
        # overflows as soon as `d` is very negative.
        unbounded = Reason(node, "is a negated raw prediction, unbounded when it is negative")
        return Fact(-INF, INF, False, False, a.zero, negative, unbounded,
                    a.tags & {"difference"})
    return Fact(-a.hi, -a.lo, a.hi_open, a.lo_open, a.zero, negative, unbounded,
                a.tags & {"difference"})


def excluding(value: float) -> str:
    """The tag of a value a test has shown is not `value` (the `else` of `if t == 1.0:`)."""
    return f"excludes:{f32(value)!r}"


def _excludes(a: Fact, b: Fact) -> bool:
    """Whether one side is a constant the other is known not to equal: `1 - t` where `t != 1`."""
    return a.const is not None and excluding(a.const) in b.tags or \
        b.const is not None and excluding(b.const) in a.tags


def subtract(a: Fact, b: Fact, node: object) -> Fact:
    if a.const is not None and b.const is not None:
        return constant(f32(a.const - b.const))
    two = _two_valued(a, b, lambda x, y: x - y, node)
    if two is not None:
        return two
    lo = -_add_bound(-a.lo, b.hi) if not (a.lo == -INF or b.hi == INF) else -INF
    hi = _add_bound(a.hi, -b.lo) if not (a.hi == INF or b.lo == -INF) else INF
    lo_open = a.lo_open or b.hi_open
    zero = None
    if not (_known(a) or _known(b)):
        return Fact(lo, hi, lo_open, a.hi_open or b.lo_open)  # opaque: lossguard never guesses
    # A difference cancels when both sides can take the same value.
    if lo <= 0 <= hi and not (lo == 0 and lo_open) and not (hi == 0 and (a.hi_open or b.lo_open)):
        if a.const is None and b.const is None:
            zero = Reason(node, "is 0 when both sides are equal")
        elif a.zero and b.const == 0:
            zero = a.zero
        elif b.const is not None or a.const is not None:
            known = b if a.const is not None else a
            if known.tags & {"sigmoid", "softmax", "probability"}:
                zero = Reason(node, "is 0 when the probability saturates to 1")
            elif known.zero or known.unbounded or known.tags & {"input", "nonzero"}:
                zero = Reason(node, "can be 0")
    excluded = _excludes(a, b)
    if excluded:
        zero = None  # `1 - t` where a test showed `t != 1`
    if a.const == 1 and ("input" in b.tags and "logits" not in b.tags or "ratio" in b.tags) \
            and not excluded:
        # `1 - p` of an input: the code treats `p` as a probability (the two-sided cross-entropy
        # `(1 - y) * log(1 - p + eps)`), so the complement is in [0, 1] and 0 when `p` is 1.
        # So it does for a score that is a ratio of non-negative values (`1 - dice`).
        return Fact(0.0, 1.0, zero=Reason(node, "is 0 when the probability is 1"),
                    tags=frozenset({"probability"}))
    negative = None
    if lo < 0 and (_known(b) or a.negative):
        negative = Reason(node, "is a difference and can be negative")
    unbounded = (a.unbounded or b.negative) if hi == INF else None
    if "log_prob" in a.tags and "log_prob" in b.tags:
        # the log-ratio of two policies' probabilities (PPO's `exp(logp - logp_old)`): training
        # keeps the two close, and the ratio is clipped after its `exp`
        unbounded = None
    tags = frozenset({"difference"}) if a.const is None and b.const is None else frozenset()
    if a.const == 1 and b.tags & {"model_output"}:
        tags = tags | {"model_output"}  # `1 - model(x)`: the complement of a probability head
    if a.const == 1 and b.tags & {"sigmoid"}:
        tags = tags | {"one_minus_sigmoid", "probability"}
    elif a.const == 1 and b.tags & {"probability", "softmax"}:
        tags = tags | {"probability"}
    return Fact(lo, hi, lo_open, a.hi_open or b.lo_open, zero, negative, unbounded, tags)


def union(a: Fact, b: Fact, shared: Fact, node: object) -> Fact:
    """`a + b - shared` where `shared` is what `a` and `b` have in common (the intersection of
    two boxes' areas, at most the smaller one): at least the larger of `a` and `b`, so it is 0
    only when both are. Areas that can be negative (corners from raw predictions) leave a plain
    difference; an area nothing is known of (a placeholder's) is an area, at least 0."""
    a, b, shared = (Fact(0.0, INF) if x.lo == -INF and not _known(x) else x
                    for x in (a, b, shared))
    if a.lo < 0 or b.lo < 0 or shared.lo < 0:
        return subtract(add(a, b, node), shared, node)
    larger = a if (a.lo, a.lo_open) > (b.lo, b.lo_open) else b  # open at 0 is positive
    positive = larger.lo > 0 or larger.lo_open
    zero = None if positive else Reason(node, "is 0 when both areas are 0")
    hi = -_add_bound(-a.hi, -b.hi)
    return Fact(larger.lo, hi, larger.lo_open, False, zero, None, a.unbounded or b.unbounded,
                frozenset({"union"}))


def linear(a: Fact, b: Fact, node: object) -> Fact:
    """`a @ b`, `einsum("ab,bc->ac", a, b)`: a signed, unbounded linear output, unless both
    operands are shown non-negative (a clipped affinity matrix times probabilities; an input
    is only taken to be, for `log`)."""
    if a.lo >= 0 and b.lo >= 0 and not (a.tags | b.tags) & {"input"}:
        return Fact(0.0, INF, zero=Reason(node, "is a product of non-negative values and can "
                                                 "be 0"), unbounded=a.unbounded or b.unbounded)
    return unary("linear", a, node)


def _known(a: Fact) -> bool:
    """Whether anything is known about a non-constant value (an opaque call result is not)."""
    return a.const is None and bool(a.zero or a.negative or a.unbounded or
                                    a.tags - {"nonzero"})


def _opaque(a: Fact) -> bool:
    """A value nothing is known of: not a constant, and no reason, bound or tag."""
    return a == UNKNOWN


def _mul_bounds(a: Fact, b: Fact) -> tuple[float, float]:
    products = []
    for x in (a.lo, a.hi):
        for y in (b.lo, b.hi):
            if (x == 0 and math.isinf(y)) or (y == 0 and math.isinf(x)):
                products.append(0.0)
            else:
                products.append(x * y)
    return min(products), max(products)


def multiply(a: Fact, b: Fact, node: object) -> Fact:
    if a.const is not None and b.const is not None:
        return constant(f32(a.const * b.const))
    two = _two_valued(a, b, lambda x, y: x * y, node)
    if two is not None:
        return two
    kept = masked(a, b, node) or masked(b, a, node)
    if kept is not None:
        return kept
    lo, hi = _mul_bounds(a, b)
    zero = a.zero or b.zero
    if a.const == 0 or b.const == 0:
        zero = Reason(node, "is 0")
    lo_open = lo == 0 and a.positive and b.positive
    negative = (a.negative or b.negative) if lo < 0 else None
    # A factor that can be negative without bound makes the product unbounded above when the
    # other factor is known to reach below 0 too; a bounded factor (a cosine) never does.
    unbounded = (a.unbounded or b.unbounded
                 or (a.negative if a.lo == -INF and _known(b) else None)
                 or (b.negative if b.lo == -INF and _known(a) else None)) if hi == INF else None
    if hi < INF:
        # A raw prediction is taken to be >= 0 for `log`, but it has no sign: scaled by a
        # factor that can be negative (`-target * pred`), the product is unbounded above too.
        for x, y in ((a, b), (b, a)):
            if "input" in x.tags and x.unbounded is not None and y.lo < 0:
                hi, unbounded = INF, x.unbounded
    tags = frozenset()
    if "error" in a.tags and b.positive or "error" in b.tags and a.positive:
        tags = frozenset({"error"})
    if unbounded is not None and "input" in a.tags | b.tags:
        # `y_true * y_pred` (a margin) is as signless as the raw prediction it scales: its
        # negation is unbounded too (`log(1 + exp(-y * f))`).
        tags |= {"input"}
    return Fact(lo, hi, lo_open, False, zero, negative, unbounded, tags)


def divide(a: Fact, b: Fact, node: object) -> Fact:
    if a.const is not None and b.const is not None and b.const != 0:
        return constant(f32(a.const / b.const))
    if b.positive and a.nonneg:
        lo = 0.0 if b.hi == INF else a.lo / b.hi
        hi = INF if b.lo == 0 else a.hi / b.lo
        return Fact(lo, hi, a.lo_open, False, a.zero, None,
                    a.unbounded if hi == INF else None, a.tags & {"error"} | {"ratio"})
    if b.lo > 0:  # a divisor bounded away from 0 scales the range
        quotients = [x / y for x in (a.lo, a.hi) for y in (b.lo, b.hi)
                     if not (math.isinf(x) and math.isinf(y))]
        if b.hi == INF:
            quotients.append(0.0)
        lo, hi = min(quotients), max(quotients)
        return Fact(lo, hi, zero=a.zero, negative=a.negative if lo < 0 else None,
                    unbounded=(a.unbounded or a.negative) if hi == INF else None)
    if b.positive:
        return Fact(zero=a.zero, negative=a.negative, unbounded=a.unbounded or a.negative)
    return Fact(zero=a.zero, negative=a.negative or b.negative)


def power(a: Fact, exponent: float | None, node: object) -> Fact:
    if exponent is None:
        return UNKNOWN
    if a.const is not None:
        try:
            return constant(f32(a.const**exponent))
        except (OverflowError, ValueError, ZeroDivisionError):
            return UNKNOWN
    even = float(exponent).is_integer() and int(exponent) % 2 == 0
    if even or a.nonneg:
        if exponent > 0:
            tags = a.tags & {"error", "gradient"} | (
                {"error"} if "difference" in a.tags else set())
            magnitudes = (abs(a.lo), abs(a.hi))
            if a.lo <= 0 <= a.hi:
                lo = 0.0
            else:
                lo = f32(min(magnitudes) ** exponent)
            hi = INF if INF in magnitudes else f32(max(magnitudes) ** exponent)
            return Fact(lo, hi, a.positive, False, a.zero, None,
                        (a.unbounded or a.negative) if hi == INF else None, frozenset(tags))
        return Fact(0.0, INF, True, unbounded=Reason(node, "has no upper bound"))
    return Fact(zero=a.zero, negative=a.negative)


# What a value is, which a choice between it and a probability-valued constant keeps
# (`where(y == 1, y_pred, 1)` is still the prediction, taken as a probability).
_KIND_TAGS = frozenset({"input", "probability", "sigmoid", "softmax"})


def join(a: Fact, b: Fact) -> Fact:
    """The fact of a value that is either `a` or `b`."""
    tags = a.tags & b.tags
    for x, y in ((a, b), (b, a)):
        if y.const is not None and 0 <= y.const <= 1:
            tags |= x.tags & _KIND_TAGS
    if "nonzero" in a.tags | b.tags and a.nonzero and b.nonzero:
        tags |= {"nonzero"}  # (a value patched where it was 0, or the patch)
    return Fact(
        min(a.lo, b.lo),
        max(a.hi, b.hi),
        a.lo_open and b.lo_open if a.lo == b.lo else (a.lo_open if a.lo < b.lo else b.lo_open),
        a.hi_open and b.hi_open,
        a.zero or b.zero,
        a.negative or b.negative,
        a.unbounded or b.unbounded,
        tags,
        a.const if a.const == b.const else None,
    )


def maximum(a: Fact, b: Fact) -> Fact:
    """`maximum(a, b)`. A side nothing is known of (`maximum(l2_norm_clip, norms)`, a
    configured floor) is the author's floor, as in `clip`: whether it is above 0 is unknown,
    so the result has no zero or negative reason (lossguard never guesses)."""
    floor = _opaque(a) or _opaque(b)
    lo = max(a.lo, b.lo)
    lo_open = a.lo_open if a.lo > b.lo else b.lo_open if b.lo > a.lo else a.lo_open or b.lo_open
    hi = max(a.hi, b.hi)
    result = Fact(lo, hi, lo_open, False,
                  None if floor or lo > 0 or (lo == 0 and lo_open) else (a.zero or b.zero),
                  (a.negative and b.negative) if lo < 0 and not floor else None,
                  (a.unbounded or b.unbounded) if hi == INF else None)
    return result


def minimum(a: Fact, b: Fact) -> Fact:
    hi = min(a.hi, b.hi)
    lo = min(a.lo, b.lo)
    return Fact(lo, hi, a.lo_open and b.lo_open, False,
                (a.zero or b.zero) if lo <= 0 <= hi else None,
                (a.negative or b.negative) if lo < 0 else None,
                (a.unbounded and b.unbounded) if hi == INF else None)


def clip(a: Fact, low: Fact | None, high: Fact | None) -> Fact:
    """`clip(a, low, high)`. A lower bound nothing is known of (`clip(p, _eps(dtype), 1)`, a
    helper the module cannot read) is the author's floor: whether it is above 0 is unknown,
    so the result has no zero or negative reason left (lossguard never guesses)."""
    result = a
    if low is not None and low.const is not None:
        result = maximum(result, low)
    elif low is not None and not _known(low):
        result = result._replace(lo=-INF, lo_open=False, zero=None, negative=None,
                         tags=result.tags - {"sigmoid", "softmax"})
    if high is not None and high.const is not None:
        result = minimum(result, high)
    return result


# `p * log(p)` of a probability: in [-1/e, 0]. Their sum is minus an entropy, at least
# -log(n) for a distribution over n outcomes; n below 2**31 elements along an axis.
ENTROPY_TERM = Fact(-1 / math.e, 0.0, tags=frozenset({"entropy"}))
NEGATIVE_ENTROPY = Fact(-math.log(2.0 ** 31), 0.0, tags=frozenset({"entropy"}))


def _reduced_zero(a: Fact, node: object) -> Reason | None:
    """A reduction of values that can all be 0: say why in the terms of what it reduces."""
    if a.zero is None:
        return None
    if a.tags & {"difference", "error", "gradient", "underflow"}:
        return a.zero
    return Reason(node, "is 0 when every element is 0 (an empty mask or no positive labels)")


# --- unary operations by kind: the transfer functions -------------------------------------

def unary(kind: Kind | str, a: Fact, node: object) -> Fact:
    """The fact of `kind(a)` for a unary operation of the table in `ops.py`."""
    if kind in {"identity", "reshape", "cast"}:
        return a
    if kind == "int_cast" and "two_valued" in a.tags:  # `(t > 0).long()`: still a 0/1 mask
        return a
    if kind in {"square"}:
        return power(a, 2, node)
    if kind == "l2_loss":
        return unary("sum", power(a, 2, node), node)  # (halved: the same zeros and signs)
    if kind == "abs":
        if a.const is not None:
            return constant(abs(a.const))
        hi = max(abs(a.lo), abs(a.hi))
        tags = (frozenset({"error"}) if "difference" in a.tags else frozenset()) | (
            a.tags & {"gradient"})
        return Fact(0.0 if a.lo <= 0 <= a.hi else min(abs(a.lo), abs(a.hi)), hi,
                    a.positive or a.hi < 0, False, a.zero, None,
                    (a.unbounded or a.negative) if hi == INF else None, tags)
    if kind in {"sum", "mean"} and "entropy" in a.tags:
        return NEGATIVE_ENTROPY if kind == "sum" else a
    if kind == "sum" and "holds_one" in a.tags:
        return Fact(1.0, INF)  # a sum of values in [0, 1] of which one is 1
    if kind == "mean" and "holds_one" in a.tags:
        return Fact(0.0, 1.0, lo_open=True)  # their mean: at least 1/n
    if kind == "sum" and "holds_positive" in a.tags:
        return Fact(0.0, INF, lo_open=True, unbounded=a.unbounded)  # one positive per row
    if kind in {"sum", "prod"}:
        lo = 0.0 if a.lo >= 0 else -INF
        return Fact(lo if not a.positive else a.lo, INF if a.hi > 0 else a.hi, a.positive,
                    False, _reduced_zero(a, node), a.negative, a.unbounded,
                    a.tags & {"error", "difference", "gradient", "underflow"})
    if kind in {"mean", "max", "min"}:
        return a._replace(const=None, zero=_reduced_zero(a, node),
                       tags=a.tags & {"error", "difference", "probability", "softmax", "sigmoid"})
    if kind == "fft":
        if not _known(a):
            return Fact()
        return Fact(zero=Reason(node, "is a Fourier transform, 0 in every bin of a silent "
                                      "(all-zero) signal"),
                    negative=Reason(node, "is a Fourier transform and can be negative"),
                    unbounded=a.unbounded)
    if kind == "filterbank":  # triangular mel filters: weights >= 0
        return Fact(0.0, INF)
    if kind in {"std", "stddev"}:
        return Fact(0.0, INF, zero=Reason(node, "is 0 when all values are equal"))
    if kind in {"norm", "torch_norm"} and "holds_one" in a.tags and a.lo >= 0:
        return Fact(1.0, INF)  # `norm(eye(k))`, `norm(one_hot(y))`: a 1 in every row
    if kind in {"norm", "torch_norm"}:
        return Fact(0.0, INF, zero=a.zero, unbounded=a.unbounded or a.negative,
                    tags=a.tags & {"error"} | ({"error"} if "difference" in a.tags else set()))
    if kind == "sqrt":
        return Fact(0.0 if a.lo <= 0 else math.sqrt(a.lo), INF if a.hi == INF else
                    math.sqrt(max(a.hi, 0.0)), a.positive, False, a.zero, None, a.unbounded,
                    a.tags & {"error"})
    if kind == "rsqrt":
        return Fact(0.0, INF, True)
    if kind == "exp":
        if a.const is not None:
            try:
                return constant(math.exp(a.const))
            except OverflowError:
                return constant(INF)
        underflow = a.lo < FLOAT32_MIN_EXP
        hi = math.exp(a.hi) if a.hi <= FLOAT32_MAX_EXP else INF
        # exp(x - max(x)): every element <= 1 and the largest is exactly 1.
        tags = frozenset({"exp", "holds_one"} if "max_shifted" in a.tags else {"exp"})
        if underflow:
            tags = tags | {"underflow"}
        return Fact(0.0, hi, not underflow, False,
                    Reason(node, "underflows to exactly 0 in float32") if underflow else None,
                    None, (a.unbounded or Reason(node, "has no upper bound"))
                    if hi == INF else None, tags)
    if kind == "expm1":
        grown = unary("exp", a, node)
        return Fact(max(-1.0, math.expm1(max(a.lo, -100.0))), grown.hi if grown.hi == INF
                    else math.expm1(a.hi), a.lo > 0, False, a.zero,
                    a.negative, grown.unbounded)
    if kind in {"sigmoid", "softmax"}:
        return Fact(0.0, 1.0, False, False,
                    Reason(node, f"is a {kind} output, which underflows to exactly 0"), None,
                    None, frozenset({kind, "probability"}))
    if kind in {"log_softmax", "log_sigmoid"}:
        return Fact(-INF, 0.0, False, False, None, Reason(node, "is a log-probability"), None)
    if kind == "softplus":
        return Fact(0.0, INF, False, False, Reason(node, "underflows to exactly 0"), None,
                    a.unbounded)
    if kind == "relu":
        return Fact(0.0, max(a.hi, 0.0), False, False,
                    Reason(node, "is 0 for every negative input"), None, a.unbounded)
    if kind in {"gradients", "tape_gradient"}:
        return Fact(zero=Reason(node, "is a gradient, exactly 0 wherever the loss is flat"),
                    negative=Reason(node, "is a gradient and can be negative"),
                    tags=frozenset({"gradient"}))
    if kind in {"linear", "inner"}:
        return Fact(negative=Reason(node, "is a linear output (no activation) and can be "
                                          "negative"),
                    unbounded=Reason(node, "is a linear output with no upper bound"))
    if kind == "cosine":
        return Fact(-1.0, 1.0, False, False, Reason(node, "is a cosine and can be 0"),
                    Reason(node, "is a cosine and can be negative"), tags=frozenset({"cosine"}))
    if kind == "cos" and 0 <= a.lo and a.hi < math.pi / 2:
        # an angle in [0, pi/2) (`min(theta, pi/4)` of an `acos`): its cosine is > 0
        return Fact(f32(math.cos(a.hi)), f32(math.cos(a.lo)), True, False)
    if kind == "acos":
        return Fact(0.0, math.pi, zero=Reason(node, "is an angle and can be 0"))
    if kind == "atanh":
        return Fact(zero=a.zero, negative=a.negative)
    if kind == "reciprocal":
        return divide(constant(1.0), a, node)
    if kind in {"tanh", "sin", "cos"}:
        return Fact(-1.0, 1.0, False, False, Reason(node, f"is a {kind} output and can be 0"),
                    Reason(node, f"is a {kind} output and can be negative"),
                    tags=frozenset({"tanh"}) if kind == "tanh" else frozenset())
    if kind == "cosh":
        return Fact(1.0, INF, unbounded=a.unbounded or a.negative)
    if kind in {"log", "logsumexp"}:
        if a.const is not None and a.const > 0:
            return constant(math.log(a.const))
        if kind == "log" and a.lo >= 1:  # `log2(1 + rank)` with rank >= 1 is > 0
            return Fact(math.log(a.lo), INF, a.lo > 1 or a.lo_open, False,
                        None if a.lo > 1 or a.lo_open else Reason(node, "is 0 where its operand "
                                                                        "is 1"),
                        None, a.unbounded)
        if kind == "log" and 0 <= a.lo and 0 < a.hi < INF:  # a bounded non-negative operand
            lo = math.log(a.lo) if a.lo > 0 else -INF
            hi = math.log(a.hi)
            reaches_one = a.lo <= 1 and (a.hi > 1 or (a.hi == 1 and not a.hi_open))
            return Fact(lo, hi, False, a.hi_open and a.hi == 1,
                        Reason(node, "is 0 where its operand is 1") if reaches_one else None,
                        Reason(node, "is a logarithm and can be negative") if lo < 0 else None)
        if not _known(a) and a.lo <= 0 and a.hi == INF:
            # `math.log(num_classes)`, `log(decay_factor)`: nothing but a sign is known of the
            # operand (configuration), and lossguard never guesses
            return Fact()
        return Fact(negative=Reason(node, "is a logarithm and can be negative"),
                    zero=Reason(node, "is a logarithm and can be 0"),
                    unbounded=a.unbounded)
    if kind == "log1p":
        return Fact(0.0 if a.nonneg else -INF, INF, zero=a.zero, unbounded=a.unbounded)
    if kind in {"shape", "size"}:
        return Fact(1.0, INF)
    if kind == "arange":
        return Fact(0.0, INF, zero=Reason(node, "starts at 0"))
    if kind == "ones_like" or kind == "ones":
        return constant(1.0)
    if kind == "zeros_like" or kind == "zeros":
        return Fact(0.0, 0.0, zero=Reason(node, "is all zeros"), const=0.0)
    if kind == "epsilon":
        return constant(float(EPSILON))
    if kind == "normalize":
        return Fact(-1.0, 1.0, zero=a.zero, negative=a.negative,
                    tags=frozenset({"normalized"}))
    if kind == "one_hot":  # every row holds one 1: a sum over the classes is >= 1
        return Fact(0.0, 1.0, zero=Reason(node, "is 0 for most entries"), tags=ONE_HOT.tags)
    if kind in ("compare", "any"):
        return Fact(0.0, 1.0, zero=Reason(node, "is 0 for most entries"),
                    tags=frozenset({"two_valued"}))
    if kind == "negative":
        return negate(a, node)
    return UNKNOWN


def replace_const(a: Fact) -> Fact:
    """The fact of a part of a value (`x[i]`): the same range, no longer a folded constant."""
    return a._replace(const=None) if a.const is not None else a
