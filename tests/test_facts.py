"""The sign/range domain itself, independent of any rule."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from lossguard.analysis import facts
from lossguard.analysis.facts import INF, Fact, Reason
from lossguard.api import Rule
from lossguard.engine.walk import Linter

from .helpers import lint


def test_constants_fold_in_float32():
    assert facts.f32(1.0 + 1e-10) == 1.0
    one_plus_eps = facts.add(facts.constant(1.0), facts.constant(1e-10), None)
    assert one_plus_eps.const == 1.0
    assert facts.add(facts.constant(1.0), facts.constant(1e-7), None).const > 1.0


def test_nonnegative_plus_positive_is_positive():
    x = Fact(0.0, INF, zero=Reason(None, "is an input"))
    guarded = facts.add(x, facts.constant(1e-7), None)
    assert guarded.positive and guarded.log_hazard() is None and guarded.zero is None


def test_difference_of_inputs_can_be_negative_and_zero():
    x = Fact(0.0, INF, zero=Reason(None, "is an input"), tags=frozenset({"input"}))
    difference = facts.subtract(x, x, "d")
    assert difference.lo == -INF and difference.negative and difference.zero
    shifted = facts.add(difference, facts.constant(1.0), None)
    assert shifted.zero is None, "adding a nonzero constant removes the structural zero"
    assert shifted.log_hazard() is not None, "but the offset does not guard a negative value"


def test_opaque_values_carry_no_reasons():
    difference = facts.subtract(facts.UNKNOWN, facts.UNKNOWN, None)
    assert difference.zero is None and difference.negative is None
    logarithm = facts.unary("log", facts.UNKNOWN, None)  # `math.log(num_classes)`
    assert logarithm.zero is None and logarithm.negative is None


def test_sigmoid_is_in_unit_interval_and_may_underflow():
    p = facts.unary("sigmoid", facts.UNKNOWN, "p")
    assert (p.lo, p.hi) == (0.0, 1.0) and p.zero is not None
    one_minus = facts.subtract(facts.constant(1.0), p, None)
    assert 0.0 <= one_minus.lo and one_minus.hi <= 1.0 and "one_minus_sigmoid" in one_minus.tags


def test_clip_and_maximum_bound_from_below():
    x = Fact(0.0, INF, zero=Reason(None, "input"))
    clipped = facts.clip(x, facts.constant(1e-7), facts.constant(1.0))
    assert clipped.positive and clipped.hi == 1.0
    assert facts.maximum(x, facts.constant(1e-6)).positive


def test_exp_bounds_follow_the_exponent():
    bounded = facts.unary("exp", facts.minimum(facts.UNKNOWN, facts.constant(50.0)), None)
    assert bounded.hi < INF
    log_probability = facts.unary("log_softmax", facts.UNKNOWN, None)
    assert facts.unary("exp", log_probability, None).hi == 1.0


def test_square_and_abs_are_nonnegative_and_keep_the_zero():
    x = Fact(-INF, INF, zero=Reason(None, "z"), negative=Reason(None, "n"))
    for kind in ("square", "abs"):
        result = facts.unary(kind, x, None)
        assert result.lo == 0 and result.zero is not None and result.negative is None


class _Probe(Rule):
    """Records the fact of the operand of every `probe(...)` call."""

    code = "LL999"
    name = "probe"
    scope = "all"
    seen: list[Fact] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            type(self).seen.append(self.ctx.fact(node.args[0].value))


def fact_of_probe(code: str) -> Fact:
    _Probe.seen = []
    source = textwrap.dedent(code)
    Linter([_Probe]).lint("t.py", source)
    assert len(_Probe.seen) == 1
    return _Probe.seen[0]


@pytest.mark.parametrize(("code", "positive"), [
    ("""
     import tensorflow as tf
     def f_loss(y_true, y_pred):
         denom = tf.reduce_sum(y_true) + tf.reduce_sum(y_pred) + 1.0
         probe(denom)
     """, True),
    ("""
     from tensorflow.keras import backend as K
     def f_loss(y_true, y_pred):
         probe(K.clip(y_pred, K.epsilon(), None))
     """, True),
    ("""
     SMOOTH = 1.0
     def f_loss(y_true, y_pred, smooth=SMOOTH):
         probe(smooth)
     """, True),
    ("""
     import torch
     class L(torch.nn.Module):
         def __init__(self, eps=1e-8):
             self.eps = eps
         def forward(self, x):
             probe(self.eps)
     """, True),
    ("""
     import tensorflow as tf
     def f_loss(y_true, y_pred):
         y_pred = tf.nn.sigmoid(y_pred)
         probe(y_pred)
     """, False),
])
def test_facts_flow_through_assignments_defaults_and_attributes(code, positive):
    assert fact_of_probe(code).positive is positive


def test_reassignment_is_flow_sensitive():
    fact = fact_of_probe("""
        import tensorflow as tf
        def f_loss(y_true, y_pred):
            y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0)
            probe(y_pred)
        """)
    assert fact.positive and fact.hi == 1.0


class _ReportsEarlierStatement(Rule):
    """Reports, while visiting a later statement, a node of an earlier one."""

    code = "LL998"
    name = "earlier"
    scope = "all"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.first = None

    def visit_Call(self, node: cst.Call) -> None:
        if self.first is None:
            self.first = node
        else:
            self.report(self.first, "the first call")


def test_a_node_of_another_statement_gets_its_own_position():
    findings = Linter([_ReportsEarlierStatement]).lint("t.py", "a = f(1)\n\nb = g(2)\n")
    assert [(f.line, f.column, f.end_column) for f in findings] == [(1, 5, 9)]


def test_self_is_the_enclosing_class_not_another_with_the_same_attribute():
    source = (
        "import torch\n"
        "class First(torch.nn.Module):\n"
        "    def __init__(self, gamma=0.75):\n"
        "        super().__init__()\n"
        "        self.gamma = gamma\n"
        "class Second(torch.nn.Module):\n"
        "    def __init__(self, gamma=0.3):\n"
        "        super().__init__()\n"
        "        self.gamma = gamma\n"
        "    def forward(self, pred, target):\n"
        "        return (-torch.log(torch.clamp(pred, 1e-6))) ** self.gamma\n"
    )
    messages = [f.message for f in lint(source, select=["LL105"])]
    assert messages and "power 0.3" in messages[0]


def test_a_union_is_at_least_its_larger_area():
    """`a + b - inter`: the intersection is at most each area, so the union is 0 only when
    both areas are; one positive area (a predicted box of `exp(t) * anchors`) makes it positive."""
    positive = Fact(0.0, INF, lo_open=True)
    maybe_empty = Fact(0.0, INF, zero=Reason(None, "is an input and can be 0"))
    shared = Fact(0.0, INF, zero=Reason(None, "no overlap"))
    assert facts.union(positive, maybe_empty, shared, "u").positive
    assert facts.union(maybe_empty, positive, shared, "u").positive
    both = facts.union(maybe_empty, maybe_empty, shared, "u")
    assert both.zero is not None and both.zero.why == "is 0 when both areas are 0"
    assert both.negative is None
    signed = Fact(-INF, INF, zero=Reason(None, "a difference"), negative=Reason(None, "neg"))
    assert facts.union(signed, positive, shared, "u").negative is not None  # raw corners
    opaque = facts.UNKNOWN  # a placeholder's boxes: an area all the same
    assert facts.union(opaque, positive, shared, "u").positive


def test_machine_epsilons_are_the_dtype_constants():
    """`torch.finfo(x.dtype).eps` is float32's where the dtype is not written out; a Python
    `float` is a double. Values are float32, as the tensors they guard: float64's `tiny` is 0
    there, no guard at all."""
    source = textwrap.dedent("""\
        import numpy as np
        import torch
        def loss(pred, target):
            a = torch.finfo(pred.dtype).eps
            b = np.finfo(np.float64).tiny
            c = np.finfo(float).eps
            d = torch.finfo(torch.float).eps
            return a + b + c + d
        """)
    assert _assigned_constants(source) == {"a": 1.1920928955078125e-07,
                                           "b": 0.0,
                                           "c": 2.220446049250313e-16,
                                           "d": 1.1920928955078125e-07}


def _assigned_constants(source: str) -> dict[str, float | None]:
    found: dict[str, float | None] = {}

    class Record(Rule):
        code, name, scope = "LL999", "record", "loss"

        def visit_Assign(self, node: cst.Assign) -> None:
            found[node.targets[0].target.value] = self.ctx.fact(node.value).const

    Linter([Record]).lint("m.py", source)
    return found


def test_a_product_of_non_negative_matrices_is_non_negative():
    probabilities = Fact(0.0, 1.0, zero=Reason(None, "a softmax output"))
    clipped = Fact(0.0, INF, zero=Reason(None, "a relu output"))
    product = facts.linear(clipped, probabilities, "p")
    assert product.negative is None and product.zero is not None
    data = Fact(0.0, INF, zero=Reason(None, "an input"), tags=frozenset({"input"}))
    assert facts.linear(data, data, "p").negative is not None  # weights have no sign


def test_a_tiny_epsilon_keeps_a_uniform_sample_below_one_in_float32():
    """`u + 1e-12` of a uniform `u < 1` rounds back below 1 (float32 has no number between
    its largest sample and 1 + 1e-12); a larger shift can cross 1."""
    uniform = Fact(0.0, 1.0, False, True)
    tiny = facts.add(uniform, facts.constant(1e-12), None)
    assert tiny.hi < 1.0
    assert facts.unary("log", tiny, None).hi < 0  # so `-log(u + eps)` is > 0
    assert facts.add(uniform, facts.constant(1e-3), None).hi > 1.0


def test_gumbel_noise_needs_its_epsilon_below_float32_resolution():
    source = """
    import torch
    def gumbel_loss(logits, target):
        u = torch.rand_like(logits)
        gumbel = -torch.log(-torch.log(u + 1e-3))
        return torch.mean((torch.softmax(logits + gumbel, -1) - target) ** 2)
    """
    found = [f for f in lint(source) if f.code == "LL101"]
    assert [f.line for f in found] == [4]  # (the snippet loses its first, empty line)
    assert "negative wherever its operand is positive" in found[0].message


@pytest.mark.parametrize(("name", "data"), [
    ("y_true", True), ("pred", True), ("probs", True), ("mask", True), ("dist_ap", True),
    ("emb", True), ("sigma", True), ("logvar", True), ("x", True), ("a", True),
    ("args", True), ("normalizer", False), ("discount", False), ("area", False),
    ("cov_p", False), ("denominator", False), ("D", False),
])
def test_only_data_is_a_structural_zero(name, data):
    """A parameter named as data can hold a 0; one named as nothing a loss computes on, in a
    function the module never calls, is its caller's to keep in range."""
    source = f"""
    import torch
    def weighted_loss(out_a, out_b, {name}):
        return ((out_a - out_b) ** 2).sum() / {name}
    """
    assert bool([f for f in lint(source) if f.code == "LL102"]) == data


def test_a_parameter_takes_what_every_call_in_the_module_passes():
    """A helper's parameter holds what every call of it in the module passes: guarded when
    each value is nonzero; one call that passes the caller's data (which can be 0) keeps the
    finding, and names that value."""
    from .helpers import codes

    guarded = """
    import torch
    def nll(x, sigma):
        return torch.log(sigma) + x ** 2 / sigma
    def loss(pred, target, s):
        return nll(pred - target, s * s + 1e-6).mean() + nll(pred, torch.abs(s) + 1.0).mean()
    """
    assert codes(guarded) == []
    one_unguarded = guarded.replace("nll(pred, torch.abs(s) + 1.0)", "nll(pred, target)")
    assert sorted(code for _, code in codes(one_unguarded)) == ["LL101", "LL102"]
    configured = guarded.replace("nll(pred, torch.abs(s) + 1.0)", "nll(pred, s)")
    assert codes(configured) == []  # `s` comes after the loss's pair: the caller's setting


def test_a_callers_guard_inside_the_branch_that_holds_the_call_counts():
    """The caller's assignments that run on every path to the call, in the branch that holds
    it too, give the argument its fact; one in another branch does not."""
    from .helpers import codes

    guarded = """
    import torch
    import torch.nn.functional as F
    def kl_cost(mu_q, sig_q):
        return (torch.log(1.0 / sig_q) + (mu_q / sig_q) ** 2).sum()
    class BayesLinear(torch.nn.Module):
        def forward(self, x, sample=False):
            if not sample:
                return x @ self.w_mu, 0
            else:
                std_w = 1e-6 + F.softplus(self.w_rho)
                out = x @ self.w_mu + torch.randn_like(x @ self.w_mu) * ((x ** 2) @ std_w ** 2)
                return out, kl_cost(self.w_mu, std_w)
    """
    assert [code for _, code in codes(guarded) if code == "LL102"] == []
    elsewhere = guarded.replace(
        "            else:\n                std_w = 1e-6 + F.softplus(self.w_rho)\n",
        "                std_w = 1e-6 + F.softplus(self.w_rho)\n            else:\n"
        "                std_w = F.relu(self.w_rho)\n")
    assert [code for _, code in codes(elsewhere) if code == "LL102"] == ["LL102", "LL102"]
