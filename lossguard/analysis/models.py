"""The model reader: what a model's output is, and what a loss expects of it.

LL401, LL404 and LL405 compare a model's output (the size of its last axis and its final
activation) with the loss it is compiled with, or with the operation applied to it. This module
reads both from the same file: `Sequential([...])` lists and `model.add(...)` calls, functional
chains (`out = Dense(10, activation="softmax")(x)`, `Model(inputs, out)`), a model returned by a
builder function of the module, torch `nn.Linear` / `nn.Sequential` layers set in `__init__`,
`compile(loss=...)` values (strings, loss functions, loss objects and their `from_logits`) and
loss calls (`F.nll_loss(...)`, `criterion(out, y)`, `cce(y, p)`). What it cannot read stays
unknown (None): rules fire only on what was read. Framework names come from the tables in
`ops.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import libcst as cst

from ..knowledge import ops
from ..knowledge.names import name_tokens
from .index import Function
from .tree import argument, dotted, keyword, positional, string, walk, walk_own

if TYPE_CHECKING:
    from .module import ModuleAnalyses as FileContext

PROBABILITY_KINDS = ("softmax", "sigmoid")
_DEPTH = 12


class Output(NamedTuple):
    """The output of a model or layer: size of the last axis and final activation."""

    units: int | None  # None: unknown
    activation: str | None  # "linear", "softmax", "sigmoid", "log_softmax", "relu", ...; None
    layer: cst.CSTNode | None  # the node that sets the activation
    units_layer: cst.CSTNode | None  # the node that sets the units


class LossSpec(NamedTuple):
    """A Keras loss as given to `compile(loss=...)`."""

    family: str  # ops.KERAS_LOSSES value: "categorical", "binary", "regression", ...
    name: str  # "categorical_crossentropy", "CategoricalCrossentropy", ...
    from_logits: bool | None  # None: not a literal
    node: cst.CSTNode


class LossUse(NamedTuple):
    """A call that computes a cross-entropy on a prediction."""

    name: str  # how the loss is spelled at the call
    via: str | None  # the constructor of a loss object called by name (`nn.BCELoss()`)
    expects: str | None  # "logits", "probs" or "log_probs"; None: unknown (`from_logits=flag`)
    prediction: cst.BaseExpression
    kind: str  # op kind ("torch_nll", "softmax_xent_logits", ...) or Keras family


# --- names and scopes -------------------------------------------------------------------------
def uses_keras(ctx: FileContext) -> bool:
    """The module uses Keras, which calls a loss as `loss(y_true, y_pred)`: it imports it, names
    `tf.keras`, or compiles a model. A TensorFlow library with losses of its own (`tflearn`)
    may put the prediction first."""
    roots = {ops.normalize(q).split(".")[0] for q in ctx.index.imports.values()}
    if roots & {"keras", "tf_keras"} or ctx.index.compile_calls:
        return True
    return any(type(node) is cst.Attribute and node.attr.value == "keras"
               for node in walk(ctx.index.module))


def keras_context(ctx: FileContext) -> bool:
    """The module uses TensorFlow/Keras and neither PyTorch nor JAX (which put predictions
    first)."""
    roots = {ops.normalize(q).split(".")[0] for q in ctx.index.imports.values()}
    return bool(roots & {"tensorflow", "keras"}) and not roots & {"torch", "jax", "flax"}


def _value(ctx: FileContext, node: cst.CSTNode, function: Function | None
           ) -> cst.BaseExpression | None:
    return ctx.definitions.value(node, function)


def _literal_int(ctx: FileContext, node: cst.CSTNode | None) -> int | None:
    if isinstance(node, cst.Name):
        node = ctx.index.constants.get(node.value)
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    return None


def literal_bool(node: cst.CSTNode | None, default: bool | None = False) -> bool | None:
    """True/False for those literals, `default` for a missing argument, None otherwise."""
    if node is None:
        return default
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


# --- layers and model outputs -------------------------------------------------------------------
# The calls that build a layer or a model (`Dense(...)`, `Sequential(...)`, `model.add(...)`).
LAYER_CALLS = frozenset({*ops.KERAS_LAYERS, *ops.TORCH_LAYERS, "add",
                         *(name.rpartition(".")[2] for name in ops.MODEL_CONSTRUCTORS)})


def layer_of(ctx: FileContext, node: cst.CSTNode) -> tuple[str, str, str] | None:
    """(framework, class, kind) of a layer constructor call."""
    if type(node) is not cst.Call:
        return None
    qualified = ctx.resolve(node.func)
    return ops.layer(qualified) if qualified else None


def _activation_name(ctx: FileContext, node: cst.CSTNode | None) -> str | None:
    if node is None or (isinstance(node, cst.Name) and node.value == "None"):
        return "linear"
    text = string(node)
    if text is not None:
        return text.lower()
    qualified = ctx.resolve(node)
    if qualified is None:
        return None
    op = ops.lookup(qualified)
    return op.kind if op else qualified.rpartition(".")[2].lower()


def layer_output(ctx: FileContext, call: cst.Call) -> Output | None:
    """The units and activation a layer constructor call sets (None: not a known layer)."""
    info = layer_of(ctx, call)
    if info is None:
        return None
    framework, name, kind = info
    if kind == "dense":
        position, word = ops.LAYER_UNITS.get((framework, name), (0, "filters"))
        units = _literal_int(ctx, keyword(call, word) or positional(call, position))
        if framework == "torch":
            activation: str | None = "linear"
        else:
            given = keyword(call, "activation")
            if given is None and name == "Dense":
                given = positional(call, 1)
            activation = _activation_name(ctx, given)
        return Output(units, activation, call, call)
    if kind == "activation":
        return Output(None, _activation_name(ctx, positional(call, 0) or
                                             keyword(call, "activation")), call, None)
    if kind in ("softmax", "sigmoid", "log_softmax"):
        return Output(None, kind, call, None)
    return Output(None, None, None, None)  # passthrough


def _passes_through(kind: str, out: Output) -> bool:
    """A layer that hands on the activation below it: dropout, reshaping, and an identity
    `Activation("linear")` (the float32 cast a mixed-precision model ends with)."""
    return kind == "passthrough" or kind == "activation" and out.activation == "linear"


def _combine(top: Output, below: Output | None) -> Output:
    """An activation layer `top` applied to `below`: the activation of top, the units below."""
    if below is None:
        return top
    return Output(below.units, top.activation, top.layer, below.units_layer)


def chain_output(ctx: FileContext, layers: list[cst.BaseExpression],
                 function: Function | None, at: cst.CSTNode) -> Output | None:
    """The output of a stack of layers (a `Sequential` list, `model.add` calls)."""
    for position in range(len(layers) - 1, -1, -1):
        layer = layers[position]
        if not isinstance(layer, cst.Call):
            layer = _value(ctx, layer, function) or layer
        if not isinstance(layer, cst.Call):
            return None
        out = layer_output(ctx, layer)
        if out is None:
            return None
        kind = layer_of(ctx, layer)[2]  # type: ignore[index]
        if _passes_through(kind, out):
            continue
        if kind == "dense":
            return out
        return _combine(out, chain_output(ctx, layers[:position], function, at))
    return None


def model_output(ctx: FileContext, model: cst.BaseExpression, function: Function | None,
                 at: cst.CSTNode, depth: int = 0) -> Output | None:
    """The output of the model `model` (a name, `self.net`, a constructor call) as seen at
    `at`."""
    if depth > _DEPTH:
        return None
    adds: list[cst.BaseExpression] = []
    value: cst.BaseExpression | None = model
    if isinstance(model, cst.Name):
        value, adds = ctx.definitions.value_at(model.value, at, function)
    elif isinstance(model, cst.Attribute):
        value = ctx.definitions.value(model, function)
    base = _constructed(ctx, value, function, at, depth) if value is not None else None
    if adds:
        top = chain_output(ctx, adds, function, at)
        if top is not None and top.units is None and top.activation is not None and base:
            return _combine(top, base)
        return top
    return base


def compiled_for_inference(ctx: FileContext, model: cst.BaseExpression,
                           function: Function | None) -> bool:
    """Whether a compiled model is only run, never trained with its loss: a script that trains
    models (`d.train_on_batch(...)`) compiles `g` only to call `g.predict` or load weights,
    and no call in the module trains `g`, nor does `function` return it (a caller may train
    what a builder returns)."""
    name = dotted(model)
    trained = ctx.index.trained_models
    if name is None or not trained or name in trained:
        return False
    if function is not None and any(
            n.value == name for r, _ in ctx.definitions.body(function).returns
            if r.value is not None for n in walk(r.value) if isinstance(n, cst.Name)):
        return False
    return True


def _constructed(ctx: FileContext, value: cst.BaseExpression, function: Function | None,
                 at: cst.CSTNode, depth: int) -> Output | None:
    if not isinstance(value, cst.Call):
        return None
    kind = ops.MODEL_CONSTRUCTORS.get(ctx.resolve(value.func) or "")
    if kind == "sequential":
        first = positional(value, 0)
        if isinstance(first, (cst.List, cst.Tuple)):
            layers = [e.value for e in first.elements]
        elif isinstance(keyword(value, "layers"), (cst.List, cst.Tuple)):
            layers = [e.value for e in keyword(value, "layers").elements]  # type: ignore[union-attr]
        else:
            layers = [a.value for a in value.args if a.keyword is None and not a.star]
            if first is not None and layer_of(ctx, first) is None:
                return None
        return chain_output(ctx, layers, function, value)
    if kind == "functional":
        outputs = keyword(value, "outputs") or positional(value, 1)
        if outputs is None:
            return None
        return tensor_output(ctx, outputs, function, value, depth + 1)
    # A model built by a function of this module: `model = build_model()`.
    if isinstance(value.func, cst.Name):
        found: list[Output | None] = []
        for callee in ctx.index.by_name.get(value.func.value, []):
            if callee.cls is not None or callee.parent is not None:
                continue
            for node in walk_own(callee.node.body):
                if isinstance(node, cst.Return) and node.value is not None:
                    found.append(model_output(ctx, node.value, callee, node, depth + 1))
        if found and all(f == found[0] for f in found):
            return found[0]
    return None


def tensor_output(ctx: FileContext, tensor: cst.BaseExpression, function: Function | None,
                  at: cst.CSTNode, depth: int = 0) -> Output | None:
    """The layer output a tensor value is: `Dense(10, activation="softmax")(x)`, `self.fc(x)`,
    `tf.nn.softmax(h)` with `h` a layer output, through local assignments."""
    if depth > _DEPTH:
        return None
    if isinstance(tensor, cst.Name):
        value = ctx.definitions.value_at(tensor.value, at, function)[0]
        if value is None:
            return None
        return tensor_output(ctx, value, function, value, depth + 1)
    if not isinstance(tensor, cst.Call):
        return None
    op = ctx.op(tensor)
    if op is not None and op.kind in ("softmax", "sigmoid", "log_softmax"):
        operand = ctx.operand(tensor)
        below = tensor_output(ctx, operand, function, tensor, depth + 1) if operand else None
        return _combine(Output(None, op.kind, tensor, None), below)
    if op is not None and op.kind in ("identity",) and op.framework == "tensor":
        return tensor_output(ctx, tensor.func.value, function, tensor,  # type: ignore[attr-defined]
                             depth + 1)
    callee = tensor.func
    if not isinstance(callee, cst.Call):
        callee = _value(ctx, callee, function) or callee  # `dense(x)`, `self.fc(x)`
    if not isinstance(callee, cst.Call):
        return None
    out = layer_output(ctx, callee)
    if out is None:
        if ops.MODEL_CONSTRUCTORS.get(ctx.resolve(callee.func) or ""):
            return model_output(ctx, callee, function, tensor, depth + 1)
        return _module_class_output(ctx, callee, depth)
    return _layer_tensor_output(ctx, tensor, callee, out, function, depth)


def _module_class_output(ctx: FileContext, construction: cst.Call, depth: int
                         ) -> Output | None:
    """`model(x)` with `model = Net()`, a class of this module: what its `forward` (or Keras
    `call`) returns, when that is one expression."""
    if not isinstance(construction.func, cst.Name):
        return None
    method = ctx.index.forward_of(construction.func.value)
    if method is None:
        return None
    returns = [n.value for n in walk_own(method.node.body)
               if isinstance(n, cst.Return) and n.value is not None]
    if len(returns) != 1:
        return None
    return tensor_output(ctx, returns[0], method, returns[0], depth + 1)


def _layer_tensor_output(ctx: FileContext, tensor: cst.Call, callee: cst.Call, out: Output,
                         function: Function | None, depth: int) -> Output | None:
    """The output of a layer call `layer(x)`: a dense layer's own, else combined with what
    the layer is applied to."""
    kind = layer_of(ctx, callee)[2]  # type: ignore[index]
    if kind == "dense":
        return out
    arg = positional(tensor, 0) or keyword(tensor, "inputs") or keyword(tensor, "input")
    below = tensor_output(ctx, arg, function, tensor, depth + 1) if arg is not None else None
    if _passes_through(kind, out):
        return below
    return _combine(out, below)


# --- losses ---------------------------------------------------------------------------------------
def compile_loss(call: cst.Call) -> cst.BaseExpression | None:
    """The `loss` argument of `model.compile(...)`."""
    return keyword(call, "loss") or positional(call, 1)


def loss_spec(ctx: FileContext, node: cst.BaseExpression, function: Function | None,
              at: cst.CSTNode, depth: int = 0) -> LossSpec | None:
    """A Keras built-in loss given as a string, a function or a loss object."""
    if depth > _DEPTH:
        return None
    text = string(node)
    if text is not None:
        family = ops.KERAS_LOSSES.get(text)
        return LossSpec(family, text, False, node) if family else None
    if isinstance(node, (cst.Name, cst.Attribute)):
        qualified = ctx.resolve(node)
        if qualified is not None and qualified.startswith(ops.KERAS_LOSSES_MODULE):
            name = qualified.rpartition(".")[2]
            family = ops.KERAS_LOSSES.get(name)
            if family and name[0].islower():
                return LossSpec(family, name, False, node)
            return None
        value = _value(ctx, node, function)
        return loss_spec(ctx, value, function, value, depth + 1) if value is not None else None
    if isinstance(node, cst.Call):
        qualified = ctx.resolve(node.func) or ""
        name = qualified.rpartition(".")[2]
        family = ops.KERAS_LOSSES.get(name)
        if qualified.startswith(ops.KERAS_LOSSES_MODULE) and family and name[0].isupper():
            return LossSpec(family, name, literal_bool(keyword(node, "from_logits")), node)
    return None


_TORCH_EXPECTS = {"torch_cross_entropy": "logits", "torch_bce_logits": "logits",
                  "torch_nll": "log_probs", "torch_kl_div": "log_probs", "torch_bce": "probs"}


def _keras_expects(from_logits: bool | None) -> str | None:
    return None if from_logits is None else ("logits" if from_logits else "probs")


LOSS_OP_KINDS = {"softmax_xent_logits", "sigmoid_xent_logits", "binary_xent", "categorical_xent",
                 *_TORCH_EXPECTS}
# What a module must call for `loss_use` or `compile_loss` to find anything: a cross-entropy
# function, a loss class (called to build the loss object), or `compile`.
LOSS_CALLS = ops.names_of(LOSS_OP_KINDS) | {
    name for name, family in ops.KERAS_LOSSES.items()
    if family in ops.KERAS_PROBABILITY_LOSSES} | {"compile"}


def loss_use(ctx: FileContext, call: cst.Call) -> LossUse | None:
    """What a cross-entropy call expects, and the prediction it is given."""
    op = ctx.op(call)
    function = ctx.function
    if op is not None:
        kind = op.kind
        if kind not in LOSS_OP_KINDS:
            return None
        short = ctx.text(call.func)
        slot = ops.xent_prediction(op)
        pred = argument(call, slot[0], *slot[1]) if slot is not None else None
        if kind in ("softmax_xent_logits", "sigmoid_xent_logits"):
            return LossUse(short, None, "logits", pred, kind) if pred is not None else None
        if kind in ("binary_xent", "categorical_xent"):
            from_logits = literal_bool(keyword(call, "from_logits") or positional(call, 2))
            return LossUse(short, None, _keras_expects(from_logits), pred, kind) \
                if pred else None
        if kind in _TORCH_EXPECTS and op.name.rpartition(".")[2][0].islower():
            pred = keyword(call, "input") or positional(call, 0)
            return LossUse(short, None, _TORCH_EXPECTS[kind], pred, kind) if pred else None
        return None
    qualified = ctx.resolve(call.func) or ""
    if qualified.startswith(ops.KERAS_LOSSES_MODULE):
        name = qualified.rpartition(".")[2]
        family = ops.KERAS_LOSSES.get(name)
        if family in ops.KERAS_PROBABILITY_LOSSES and name[0].islower():
            pred = keyword(call, "y_pred") or positional(call, 1)
            expects = _keras_expects(literal_bool(keyword(call, "from_logits")))
            return LossUse(ctx.text(call.func), None, expects, pred, family) if pred else None
        return None
    func = call.func
    if type(func) is cst.Name and func.value not in _loss_objects(ctx):
        return None  # never assigned a loss object: no definition to search for
    constructor = func if type(func) is cst.Call else _value(ctx, func, function)
    if type(constructor) is not cst.Call:
        return None
    op = ctx.op(constructor)
    if op is not None and op.kind in _TORCH_EXPECTS:
        pred = keyword(call, "input") or positional(call, 0)
        expects, family = _TORCH_EXPECTS[op.kind], op.kind
    else:
        spec = loss_spec(ctx, constructor, function, call)
        if spec is None or spec.family not in ops.KERAS_PROBABILITY_LOSSES:
            return None
        pred = keyword(call, "y_pred") or positional(call, 1)
        expects, family = _keras_expects(spec.from_logits), spec.family
    if pred is None:
        return None
    via = None if constructor is call.func else ctx.text(constructor)
    return LossUse(ctx.text(call.func), via, expects, pred, family)


def _loss_objects(ctx: FileContext) -> set[str]:
    """Names the module ever assigns a loss object (`bce = nn.BCELoss()`): a call of any other
    name is not a loss call, with no search for its definition (a search per call is
    quadratic)."""
    names = ctx.memo.get("loss_objects")
    if names is None:
        names = {name for name, value in ctx.index.call_bindings if _builds_loss(ctx, value)}
        ctx.memo["loss_objects"] = names
    return names


def _builds_loss(ctx: FileContext, call: cst.Call) -> bool:
    if ctx.resolve(call.func) is None:
        return False  # a loss class is imported: its name resolves
    op = ctx.op(call)
    if op is not None:
        return op.kind in _TORCH_EXPECTS
    spec = loss_spec(ctx, call, None, call)
    return spec is not None and spec.family in ops.KERAS_PROBABILITY_LOSSES


# --- what a prediction is -------------------------------------------------------------------------
def _named_logits(node: cst.CSTNode) -> bool:
    name = dotted(node)
    if name is None:
        return False
    return bool({"logit", "logits"} & set(name_tokens(name.rpartition(".")[2])))


def prediction_kind(ctx: FileContext, node: cst.BaseExpression, depth: int = 0
                    ) -> tuple[str | None, str]:
    """"softmax", "sigmoid" (probabilities), "logits" or None, and why, as a phrase about
    `node` ("is a softmax output", "is the output of `nn.Linear(64, 1)`, ...").

    Facts first (they follow local assignments in loss code); then the definition of a name
    (outside loss code too); then the layer that produced the value (a linear `Dense`/`Linear`
    output is logits); then the name itself (`logits`, `outputs.logits`)."""
    tags = ctx.fact(node).tags
    for kind in PROBABILITY_KINDS:
        if kind in tags:
            return kind, f"is a {kind} output"
    if "logits" in tags:
        return "logits", "are logits"
    if depth < _DEPTH and isinstance(node, cst.Name):
        value = ctx.value_of(node)
        if value is not node:
            kind, why = prediction_kind(ctx, value, depth + 1)  # type: ignore[arg-type]
            if kind is not None:
                return kind, f"(`{_short(ctx.text(value))}`) {why}"
    if isinstance(node, cst.Call):
        out = tensor_output(ctx, node, ctx.function, node)
        layer = _short(ctx.text(out.layer)) if out is not None and out.layer else ""
        if out is not None and out.activation in PROBABILITY_KINDS:
            return out.activation, f"is the {out.activation} output of `{layer}`"
        if out is not None and out.activation == "linear":
            return "logits", f"is the output of `{layer}`, which has no activation (logits)"
    if _named_logits(node):
        return "logits", "are logits"
    return None, ""


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
