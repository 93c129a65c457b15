"""The reduction and gradient-flow analyses (and the loss scope they read), asked directly on
small modules: what `Shapes`, `Definitions` and `GradientFlow` answer, independently of
the rules that report from those answers (the loss-code analysis is asked directly in
test_scope.py)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import libcst as cst
import pytest

from lossguard.analysis.definitions import Definitions
from lossguard.analysis.gradient_flow import GradientFlow
from lossguard.analysis.index import Function, ModuleIndex, build
from lossguard.analysis.losscode import LossScope, compute
from lossguard.analysis.reductions import Shapes, reduces_batch
from tests.helpers import codes


@dataclass
class Analysed:
    module: cst.Module
    index: ModuleIndex
    scope: LossScope
    shapes: Shapes
    flow: GradientFlow

    def function(self, qualname: str) -> Function:
        return next(f for f in self.index.functions if f.qualname == qualname)

    def node(self, text: str, kind: type[cst.CSTNode] = cst.BaseExpression) -> cst.CSTNode:
        """The first node of type `kind` whose source is exactly `text`."""
        for node in _walk(self.module):
            if isinstance(node, kind) and self.module.code_for_node(node).strip() == text:
                return node
        raise LookupError(text)


def _walk(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _walk(child)


def analyse(code: str, path: str = "train.py") -> Analysed:
    module = cst.parse_module(textwrap.dedent(code).lstrip("\n"))
    index = build(module)
    scope = compute(index, (), False, path)
    return Analysed(module, index, scope, Shapes(index), GradientFlow(index, scope))


# --- reductions -------------------------------------------------------------------------------
REDUCTIONS = """
import tensorflow as tf
import torch
import torch.nn as nn
import torch.nn.functional as F

none_mse = tf.keras.losses.MeanSquaredError(reduction="none")
mean_mse = tf.keras.losses.MeanSquaredError()
sum_mse = tf.keras.losses.MeanSquaredError(reduction="sum")

def per_sample(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

def step(model, x, y):
    err = tf.square(y - model(x))
    per = tf.reduce_mean(err, axis=-1)
    total = tf.reduce_mean(per)
    helper = per_sample(y, model(x))
    a = none_mse(y, model(x))
    b = mean_mse(y, model(x))
    c = sum_mse(y, model(x))
    d = tf.keras.losses.mean_squared_error(y, model(x))
    s = tf.reduce_sum(per)
    return total

def torch_step(model, x, y):
    m = F.mse_loss(model(x), y)
    n = F.mse_loss(model(x), y, reduction="none")
    o = nn.MSELoss(reduction="sum")(model(x), y)
    p = nn.MSELoss(reduce=False)(model(x), y)
    q = nn.MSELoss(size_average=False)(model(x), y)
    r = ((model(x) - y) ** 2).sum()
    return m
"""


@pytest.fixture(scope="module")
def reductions():
    return analyse(REDUCTIONS)


@pytest.mark.parametrize(("name", "expected"), [
    ("err", "elementwise"), ("per", "per_sample"), ("total", "scalar"),
    ("helper", "per_sample"),  # through the same-module helper's return
    ("a", "per_sample"), ("b", "scalar"), ("c", "scalar"), ("d", "per_sample"),
])
def test_how_reduced_a_local_is(reductions, name, expected):
    step = reductions.function("step")
    assign = next(a for a in _walk(step.node) if isinstance(a, cst.Assign)
                  and reductions.module.code_for_node(a.targets[0].target) == name)
    assert reductions.shapes.reduction(assign.value, step) == expected


def test_a_name_read_follows_its_assignment(reductions):
    step = reductions.function("step")
    assert reductions.shapes.returned(step) == "scalar"  # `return total`
    assert reductions.shapes.returned(reductions.function("per_sample")) == "per_sample"


@pytest.mark.parametrize(("call", "expected"), [
    ("none_mse(y, model(x))", "none"),
    ("mean_mse(y, model(x))", "mean"),
    ("sum_mse(y, model(x))", "sum"),
    ("tf.keras.losses.mean_squared_error(y, model(x))", "none"),  # Keras functions: per sample
    ("F.mse_loss(model(x), y)", "mean"),  # PyTorch's default
    ('F.mse_loss(model(x), y, reduction="none")', "none"),
    ('nn.MSELoss(reduction="sum")(model(x), y)', "sum"),
    ("nn.MSELoss(reduce=False)(model(x), y)", "none"),  # the legacy arguments
    ("nn.MSELoss(size_average=False)(model(x), y)", "sum"),
    ("tf.square(y - model(x))", None),  # not a framework loss
])
def test_how_a_framework_loss_reduces(reductions, call, expected):
    node = reductions.node(call, cst.Call)
    function = reductions.function("torch_step" if "F." in call or "nn." in call else "step")
    assert reductions.shapes.loss_reduction(node, function) == expected


@pytest.mark.parametrize(("call", "expected"), [
    ("tf.reduce_sum(per)", "sum"),  # a per-sample value summed over the batch
    ("tf.reduce_mean(per)", "mean"),
    ("tf.reduce_mean(err, axis=-1)", None),  # over the feature axis only
    ("((model(x) - y) ** 2).sum()", "sum"),
    ("mean_mse(y, model(x))", "mean"),  # a Keras loss object's default reduction
    ("none_mse(y, model(x))", None),
])
def test_batch_reductions(reductions, call, expected):
    node = reductions.node(call, cst.Call)
    function = reductions.function("torch_step" if ".sum()" in call else "step")
    assert reductions.shapes.batch_reduction(node, function) == expected


@pytest.mark.parametrize(("axis", "expected"), [
    (None, True), ("0", True), ("-1", False), ("1", False), ("[0, 1]", True), ("(1, 2)", False),
])
def test_which_axes_reduce_the_batch(axis, expected):
    node = None if axis is None else cst.parse_expression(axis)
    assert reduces_batch(node) is expected


TRAINING = """
import tensorflow as tf

def train_step(model, optimizer, x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(y - model(x)))
    grads = tape.gradient(loss, model.trainable_variables)
    saliency = tape.gradient(loss, x)
    optimizer.minimize(loss, model.trainable_variables)
    loss.backward()
    return grads, saliency

def aligned(y_true, y_pred):
    y_true = tf.reshape(y_true, tf.shape(y_pred))
    return tf.square(y_true - y_pred)

def checked(y_true, y_pred):
    assert y_true.shape == y_pred.shape
    return tf.square(y_true - y_pred)

def unaligned(y_true, y_pred):
    labels = tf.cast(y_true, tf.float32) * 2.0
    return tf.square(labels - y_pred)
"""


def test_the_value_a_training_call_differentiates():
    a = analyse(TRAINING)
    objective = a.shapes.objective
    assert a.module.code_for_node(
        objective(a.node("tape.gradient(loss, model.trainable_variables)", cst.Call))) == "loss"
    # A gradient with respect to an input is taken for inspection, not for training.
    assert objective(a.node("tape.gradient(loss, x)", cst.Call)) is None
    assert a.module.code_for_node(
        objective(a.node("optimizer.minimize(loss, model.trainable_variables)", cst.Call))) \
        == "loss"
    assert a.module.code_for_node(objective(a.node("loss.backward()", cst.Call))) == "loss"
    assert objective(a.node("tf.square(y - model(x))", cst.Call)) is None


def test_shape_alignment_and_derivation():
    a = analyse(TRAINING)
    assert a.shapes.aligns_shapes(a.function("aligned"))
    assert a.shapes.aligns_shapes(a.function("checked"))  # an assert on `.shape` counts
    assert not a.shapes.aligns_shapes(a.function("unaligned"))
    unaligned = a.function("unaligned")
    labels = a.node("labels - y_pred", cst.BinaryOperation).left
    # `labels` is a cast of `y_true` times a constant: it keeps `y_true`'s shape.
    assert a.shapes.derives_from(labels, "y_true", unaligned)
    assert not a.shapes.derives_from(labels, "y_pred", unaligned)


def test_reaching_definitions_see_the_last_binding_before_the_read():
    code = textwrap.dedent("""
        pred = model(x)
        first = pred
        pred = sigmoid(pred)
        second = pred
        for pred in batches:
            third = pred
        """)
    module = cst.parse_module(code)
    flow = Definitions(build(module)).body(None)
    reads = [n for n in _walk(module) if isinstance(n, cst.Assign)
             and isinstance(n.value, cst.Name) and n.value.value == "pred"]
    first, second, third = (r.value for r in reads)
    assert module.code_for_node(flow.value(first)) == "model(x)"
    # The read inside `sigmoid(pred)` sees the first binding: no loop through itself.
    inner = next(n for n in _walk(module) if isinstance(n, cst.Call)
                 and module.code_for_node(n) == "sigmoid(pred)").args[0].value
    assert module.code_for_node(flow.value(inner)) == "model(x)"
    assert module.code_for_node(flow.value(second)) == "sigmoid(pred)"
    assert flow.value(third) is None  # bound by the `for`: no plain value
    assert isinstance(flow.binding(third), cst.Name)
    # A read outside the body sees the body's last binding.
    assert isinstance(flow.binding(cst.Name("pred")), cst.Name)
    unbound = next(n for n in _walk(module) if isinstance(n, cst.Name) and n.value == "x")
    assert flow.binding(unbound) is None  # never bound in the body (a global)


# --- gradient flow -----------------------------------------------------------------------------
GRADIENTS = """
import tensorflow as tf
import torch

def accuracy_loss(y_true, y_pred):
    hits = tf.cast(tf.equal(tf.argmax(y_true, -1), tf.argmax(y_pred, -1)), tf.float32)
    return 1.0 - tf.reduce_mean(hits)

def detached_loss(pred, target):
    return ((pred.detach() - target) ** 2).mean()

def straight_through_loss(y_true, y_pred):
    hard = y_pred + tf.stop_gradient(tf.round(y_pred) - y_pred)
    return tf.reduce_mean(tf.square(y_true - hard))

def masked_loss(y_true, y_pred, mask):
    weights = tf.cast(mask > 0, tf.float32)
    return tf.reduce_mean(weights * tf.square(y_true - y_pred))

def nograd_loss(pred, target):
    with torch.no_grad():
        scale = pred.abs().mean()
    return ((pred - target) ** 2).mean() / scale

@tf.custom_gradient
def round_ste(x):
    def grad(dy):
        return dy
    return tf.round(x), grad

def step(model, optimizer, x, y):
    loss = ((model(x).argmax(1).float() - y) ** 2).mean()
    loss.backward()
"""


@pytest.fixture(scope="module")
def gradients():
    return analyse(GRADIENTS)


def test_blocked_paths_are_reported_at_their_first_blocking_node(gradients):
    blocked = {gradients.function(b.root.qualname).name: b
               for found in gradients.flow.blocked().values() for b in found}
    assert set(blocked) == {"accuracy_loss", "detached_loss", "step"}
    accuracy = blocked["accuracy_loss"]
    assert gradients.module.code_for_node(accuracy.node) == "tf.argmax(y_pred, -1)"
    assert accuracy.kind == "non-differentiable"
    assert accuracy.sources == ("y_pred",)
    assert accuracy.target == "the loss `accuracy_loss` returns"
    detached = blocked["detached_loss"]
    assert gradients.module.code_for_node(detached.node) == "pred.detach()"
    assert detached.kind == "stopped"
    assert blocked["step"].target == "the target of `.backward()`"
    assert gradients.module.code_for_node(blocked["step"].node) == "model(x).argmax(1)"


def test_predictions_leave_out_labels_and_masks(gradients):
    assert gradients.flow.predictions(gradients.function("masked_loss")) == ("y_pred",)
    assert gradients.flow.predictions(gradients.function("detached_loss")) == ("pred",)


def test_what_carries_a_gradient(gradients):
    masked = gradients.function("masked_loss")
    weights = gradients.node("tf.cast(mask > 0, tf.float32)", cst.Call)
    assert not gradients.flow.carries_gradient(weights, masked)  # built from the mask alone
    error = gradients.node("tf.square(y_true - y_pred)", cst.Call)
    assert gradients.flow.carries_gradient(error, masked)
    nograd = gradients.function("nograd_loss")
    assert not gradients.flow.carries_gradient(gradients.node("pred.abs().mean()", cst.Call),
                                               nograd)  # under torch.no_grad()
    assert gradients.flow.carries_gradient(gradients.node("x", cst.Name), None)  # module level


def test_depends_follows_assignments(gradients):
    masked = gradients.function("masked_loss")
    body = gradients.flow.body(masked)
    ret = next(r for r, _ in body.returns)
    ordinal = body.ordinal_of(ret.value)
    assert gradients.flow.depends(ret.value, masked, ordinal, ["mask"])  # through `weights`
    assert not gradients.flow.depends(ret.value, masked, ordinal, ["unrelated"])


def test_custom_gradients_and_loss_functions(gradients):
    flow = gradients.flow
    assert flow.is_custom_gradient(gradients.function("round_ste"))
    assert flow.straight_through(gradients.function("round_ste.grad"))  # nested in it
    assert not flow.is_custom_gradient(gradients.function("accuracy_loss"))
    assert flow.returns_loss(gradients.function("accuracy_loss"))
    assert not flow.returns_loss(gradients.function("step"))
    loss_functions = {f.qualname for f in gradients.index.functions
                      if id(f.node) in flow.loss_functions()}
    assert "accuracy_loss" in loss_functions and "step" not in loss_functions
    targets = flow.targets(gradients.function("step"))
    assert [(gradients.module.code_for_node(e), label) for e, _, label in targets] == [
        ("loss", "the target of `.backward()`")]


def test_an_abstract_method_is_no_known_callee():
    # What `self._pairwise_loss(...)` returns is up to the subclasses: the flow must not read
    # the abstract body (it only raises) as "no gradient comes back".
    analysed = analyse("""
    import abc
    import tensorflow as tf

    class PairwiseLoss(abc.ABC):
        @abc.abstractmethod
        def _pairwise_loss(self, pairwise_logits):
            raise NotImplementedError

        def _unfinished(self, pairwise_logits):
            raise NotImplementedError

        def _hinge(self, pairwise_logits):
            return tf.nn.relu(1.0 - pairwise_logits)

        def compute(self, labels, logits):
            d = logits[:, None] - logits[None, :]
            return self._pairwise_loss(d) + self._unfinished(d) + self._hinge(d)
    """)
    compute = analysed.index.classes["PairwiseLoss"].methods["compute"]
    calls = {analysed.module.code_for_node(c.func): c for c in _walk(compute.node)
             if isinstance(c, cst.Call)}
    flow = analysed.flow
    assert flow.module_function(compute, calls["self._pairwise_loss"]) is None
    assert flow.module_function(compute, calls["self._unfinished"]) is None
    assert flow.module_function(compute, calls["self._hinge"]).name == "_hinge"


# --- the loss scope the analyses read ----------------------------------------------------------
def test_a_function_handed_to_keras_is_a_keras_loss_and_loss_code():
    a = analyse("""
        import tensorflow as tf
        def weighted(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        def scale(x):
            return x * 2.0
        def build(model):
            model.compile(optimizer="adam", loss=weighted)
        """)
    weighted, scale = a.function("weighted"), a.function("scale")
    assert a.scope.contains(weighted) and id(weighted.node) in a.scope.keras_losses
    assert not a.scope.contains(scale)
    assert id(scale.node) not in a.scope.keras_losses


def test_a_where_hides_its_branch_whatever_came_before_it():
    # What a `where` hides is decided where the `where` is, not with the facts of the function
    # that first asked (an earlier loss flagged for `log(pred)` must not change the later one).
    code = """
    import torch

    def poisson_loss(pred, y):
        return (pred - y * torch.log(pred)).mean()

    def masked_log_loss(x):
        return torch.where(x > 0, torch.log(x), torch.zeros_like(x)).mean()
    """
    assert codes(code) == [(4, "LL101"), (7, "LL109")]


def _detached(call: cst.Call) -> bool:
    return isinstance(call.func, cst.Attribute) and call.func.attr.value in ("item", "detach")


def _unreached_texts(code: str) -> set[str]:
    """The statements of the one function in `code` whose values never reach its objective
    (`.item()` and `.detach()` detach)."""
    from lossguard.analysis.objective import unreached

    module = cst.parse_module(textwrap.dedent(code))
    index = build(module)
    function = index.functions[0]
    dead = unreached(function.node, Definitions(index).body(function), _detached)
    return {module.code_for_node(line).strip() for line in function.node.body.body
            if isinstance(line, cst.SimpleStatementLine) and id(line.body[0]) in dead}


def test_a_rebinding_between_definition_and_use_hides_the_first_definition():
    """`best` is read as the comparison it is rebound to, not as the IoU it first held."""
    dead = _unreached_texts("""
    def loss(pred, boxes, thresh):
        ious = box_iou(pred, boxes)
        best = ious.max(1)
        best = best > thresh
        mask = ~best
        return (mask * pred).mean()
    """)
    assert {"ious = box_iou(pred, boxes)", "best = ious.max(1)"} <= dead


def test_a_rebinding_in_one_branch_or_after_the_use_hides_nothing():
    dead = _unreached_texts("""
    def loss(pred, boxes, thresh, hard):
        ious = box_iou(pred, boxes)
        best = ious.max(1)
        if hard:
            best = best > thresh
        weight = best
        for step in range(3):
            total = weight * pred
            weight = ious.min(1)
        return total.mean()
    """)
    assert not {"ious = box_iou(pred, boxes)", "best = ious.max(1)", "weight = best"} & dead


def test_a_function_that_returns_only_detached_values_reports():
    """`return loss.data, err`: nothing the optimiser sees leaves the function, so what only
    feeds those values reaches no objective; a `backward()` of its own acts on the loss."""
    dead = _unreached_texts("""
    def sample_eval(model, x, y):
        mean_out = F.softmax(model(x), dim=2).mean(dim=0)
        loss = F.nll_loss(torch.log(mean_out), y)
        err = mean_out.argmax(1).ne(y).sum()
        return loss.data, err.item()
    """)
    assert {"mean_out = F.softmax(model(x), dim=2).mean(dim=0)",
            "loss = F.nll_loss(torch.log(mean_out), y)"} <= dead
    trained = _unreached_texts("""
    def train_step(model, x, y):
        mean_out = F.softmax(model(x), dim=2).mean(dim=0)
        loss = F.nll_loss(torch.log(mean_out), y)
        loss.backward()
        return loss.data
    """)
    assert not {"mean_out = F.softmax(model(x), dim=2).mean(dim=0)",
                "loss = F.nll_loss(torch.log(mean_out), y)"} & trained
