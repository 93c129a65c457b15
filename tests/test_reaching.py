"""Order-aware reaching definitions shared by the model reader, the reduction analysis and the
gradient flow: the value a read sees is the one defined before it, not the last one of the
function."""

from __future__ import annotations

import textwrap

import libcst as cst

from lossguard.analysis.definitions import Definitions
from lossguard.analysis.gradient_flow import GradientFlow
from lossguard.analysis.index import build
from lossguard.analysis.losscode import compute
from lossguard.analysis.tree import walk

from .helpers import lint


def _logs(source: str) -> dict[str, bool]:
    """`carries_gradient` of every `log(...)` call, by its source text."""
    module = cst.parse_module(textwrap.dedent(source))
    index = build(module)
    flow = GradientFlow(index, compute(index, (), False))
    found = {}
    for function in index.functions:
        for node in walk(function.node.body):
            op = index.op_of(node) if isinstance(node, cst.Call) else None
            if op is not None and op.kind == "log" and index.function_of.get(
                    id(function.node)) is function:
                found.setdefault(module.code_for_node(node), flow.carries_gradient(node, function))
    return found


def test_carries_gradient_separates_labels_from_predictions():
    found = _logs("""
        import tensorflow as tf
        def masked_loss(targets, y_pred):
            safe = tf.where(targets == 0, tf.zeros_like(targets), tf.math.log(targets))
            return tf.reduce_mean(safe * tf.math.log(y_pred + 1e-7))
        def train_step(model, x, y):
            out = model(x)
            return tf.math.log(out), tf.math.log(tf.stop_gradient(out)), tf.math.log(y)
        """)
    assert found == {"tf.math.log(targets)": False, "tf.math.log(y_pred + 1e-7)": True,
                     "tf.math.log(out)": True, "tf.math.log(tf.stop_gradient(out))": False,
                     "tf.math.log(y)": False}


def test_carries_gradient_is_unsure_of_a_closure_over_a_prediction():
    found = _logs("""
        import tensorflow as tf
        def make_loss(y_pred):
            def loss(mask):
                return tf.math.log(y_pred * mask)
            return loss
        """)
    assert found == {"tf.math.log(y_pred * mask)": True}


def test_unpacking_replaces_an_earlier_definition():
    assert [f for f in lint("""
        import torch
        import torch.nn.functional as F
        def evaluate(model, x, target):
            scores = torch.sigmoid(model(x))
            scores, features = model(x)
            return F.binary_cross_entropy_with_logits(scores, target)
        """) if f.code == "LL401"] == []


def test_augmented_assignment_keeps_the_unreduced_part():
    found = [f for f in lint("""
        import torch.nn.functional as F
        def train_step(model, optimizer, x, y):
            loss = F.mse_loss(model(x), y)
            loss += F.l1_loss(model(x), y, reduction="none")
            loss.backward()
            optimizer.step()
        """) if f.code == "LL301"]
    assert [f.line for f in found] == [5]


def test_unapplied_tape_gradients_hint_at_apply_gradients():
    found = [f for f in lint("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(y - model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            return loss
        """) if f.code == "LL201"]
    assert len(found) == 1 and "apply_gradients(zip(grads" in found[0].hint


def test_the_differentiated_loss_is_the_one_that_reaches_the_tape_not_a_later_rebinding():
    # The tape differentiates the reduced `loss`; the later `loss = tf.square(...)` is
    # returned, never differentiated: LL301 has nothing to say.
    assert [f for f in lint("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss = tf.square(model(x) - y)
            return loss
        """) if f.code == "LL301"] == []


def test_an_unreduced_differentiated_loss_is_flagged_though_reduced_later():
    # The mirror case: the tape differentiates the element-wise `loss`; reducing it afterwards
    # for the log does not reduce what was differentiated.
    found = [f for f in lint("""
        import tensorflow as tf
        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                loss = tf.square(model(x) - y)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            loss = tf.reduce_mean(loss)
            return loss
        """) if f.code == "LL301"]
    assert [f.line for f in found] == [5]
    assert "`tf.square(model(x) - y)`" in found[0].message


# --- the service itself --------------------------------------------------------------------------
def _service(source: str):
    module = cst.parse_module(textwrap.dedent(source))
    index = build(module)
    return module, index, Definitions(index)


def _reads(module: cst.Module, name: str) -> list[cst.Name]:
    """The reads of `name` on the right of a `use(...)` call, in source order."""
    return [call.args[0].value for call in walk(module) if isinstance(call, cst.Call)
            and isinstance(call.func, cst.Name) and call.func.value == "use"
            and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == name]


def _text(module: cst.Module, node: cst.CSTNode | None) -> str | None:
    return None if node is None else module.code_for_node(node)


def test_a_definition_in_the_other_branch_does_not_reach_the_read():
    module, index, service = _service("""
        def loss(p, hard):
            x = p
            if hard:
                x = p * 2
                use(x)
            else:
                use(x)
            use(x)
        """)
    body = service.body(index.functions[0])
    in_if, in_else, after = _reads(module, "x")
    assert _text(module, body.value(in_if)) == "p * 2"
    assert _text(module, body.value(in_else)) == "p"  # `x = p * 2` cannot reach the else
    defs, entry = body.reaching("x", body.ordinal_of(after))
    assert [_text(module, d.value) for d in defs] == ["p", "p * 2"] and not entry


def test_a_loop_carries_a_definition_round_to_the_other_branch():
    module, index, service = _service("""
        def loss(p, steps):
            x = p
            for step in steps:
                if step:
                    x = p * 2
                else:
                    use(x)
        """)
    body = service.body(index.functions[0])
    (read,) = _reads(module, "x")
    defs, _ = body.reaching("x", body.ordinal_of(read))
    assert [_text(module, d.value) for d in defs] == ["p", "p * 2"]


def test_augmented_and_in_place_definitions_keep_the_earlier_value():
    module, index, service = _service("""
        def loss(p, q):
            total = p
            total += q
            parts = []
            parts.append(q)
            use(total)
            use(parts)
        """)
    body = service.body(index.functions[0])
    total, parts = _reads(module, "total")[0], _reads(module, "parts")[0]
    defs, _ = body.reaching("total", body.ordinal_of(total))
    assert [d.kind for d in defs] == ["assign", "aug"]
    assert isinstance(body.binding(total), cst.AugAssign)  # the closest: it says how
    assert body.value(total) is None  # no plain value: `p + q`
    assert [d.kind for d in body.reaching("parts", body.ordinal_of(parts))[0]] == ["assign", "aug"]


def test_unpacked_names_know_their_position_and_hold_no_plain_value():
    module, index, service = _service("""
        def loss(batch):
            x, y = batch
            use(y)
        """)
    body = service.body(index.functions[0])
    (read,) = _reads(module, "y")
    found = body.closest(read)
    assert found is not None and found.position == 1 and found.direct is False
    assert body.value(read) is None


def test_scopes_parameters_and_attributes_set_in_init():
    module, index, service = _service("""
        import torch
        scale = 2.0
        class Loss(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.act = torch.nn.Softmax(dim=1)
            def forward(self, z, scale):
                use(self.act)
                use(scale)
        def outer(p):
            eps = 1e-7
            def inner(q):
                use(eps)
                use(scale)
            return inner
        """)
    forward = next(f for f in index.functions if f.name == "forward")
    inner = next(f for f in index.functions if f.name == "inner")
    act = next(c.args[0].value for c in walk(module) if isinstance(c, cst.Call)
               and isinstance(c.func, cst.Name) and c.func.value == "use"
               and isinstance(c.args[0].value, cst.Attribute))
    assert _text(module, service.value(act, forward)) == "torch.nn.Softmax(dim=1)"
    shadowed, eps, module_scale = (*_reads(module, "scale")[:1], *_reads(module, "eps"),
                                   _reads(module, "scale")[1])
    assert service.value(shadowed, forward) is None  # the parameter hides the module's name
    assert _text(module, service.value(eps, inner)) == "1e-7"  # the enclosing function's
    assert _text(module, service.value(module_scale, inner)) == "2.0"  # the module's


def test_a_sequential_model_built_step_by_step():
    module, index, service = _service("""
        from tensorflow import keras
        model = keras.Sequential()
        model.add(keras.layers.Dense(8))
        model.add(keras.layers.Dense(1, activation="sigmoid"))
        use(model)
        model = keras.Sequential()
        """)
    (read,) = _reads(module, "model")
    value, adds = service.value_at("model", read, None)
    assert _text(module, value) == "keras.Sequential()"
    assert [_text(module, a) for a in adds] == ["keras.layers.Dense(8)",
                                                 'keras.layers.Dense(1, activation="sigmoid")']


def test_an_attribute_of_self_assigned_in_the_method_is_read_back():
    found = [f.code for f in lint("""
        import tensorflow as tf
        class VAE:
            def build_model(self):
                self.inputs = tf.placeholder(tf.float32, [64, 784])
                self.out = tf.clip_by_value(self.decoder(self.inputs), 1e-8, 1 - 1e-8)
                nll = -tf.reduce_sum(self.inputs * tf.log(self.out)
                                     + (1 - self.inputs) * tf.log(1 - self.out), 1)
                self.loss = tf.reduce_mean(nll)
                self.optim = tf.train.AdamOptimizer(1e-3).minimize(self.loss)
        """)]
    assert found == ["LL106"]  # `1 - 1e-8` is 1.0 in float32: the clip does not guard
