"""The expression evaluator: from a libcst expression and an environment to a `Fact`.

Names are looked up in the environment the engine keeps while it walks loss code (the facts of
local assignments so far, parameters, hyperparameter defaults, `self.x` set in `__init__`,
module constants); calls are looked up in the operation table and mapped to transfer functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import libcst as cst

from ..knowledge import ops
from ..knowledge.names import (
    LABEL_NAMES,
    TEMPERATURE_FLOOR,
    is_action_name,
    is_anchor_name,
    is_architecture_count,
    is_cosine_name,
    is_data_name,
    is_distance_name,
    is_intersection_name,
    is_label_name,
    is_log_prob_name,
    is_log_scale_name,
    is_logit_name,
    is_mask_name,
    is_model_name,
    is_non_negative_setting,
    is_scale_name,
    is_shape_name,
    is_size_name,
    is_temperature_name,
    pred_like,
)
from . import facts
from .definitions import Definitions, self_attribute
from .facts import INF, NON_NEGATIVE, UNKNOWN, Fact, Reason
from .index import Function, ModuleIndex
from .losscode import call_arguments, inputs_of, is_test_function
from .tree import (
    argument,
    assigned_names,
    children,
    code,
    comparison_operator,
    dotted,
    keyword,
    number,
    positional,
    string,
    walk,
)

# Operations that keep the values of their operand (a shift by `x.max(1)[0].repeat(...)` is
# still a shift by the maximum).
_SAME_VALUES = frozenset({"stop_gradient", "identity", "reshape"})
_MAXIMA = ("max", "maximum", "logsumexp")  # what `x - m` with `m` one of them keeps <= 0
_MINIMA = ("min", "minimum")  # ... and >= 0
_HELPER_DEPTH = 2

NORMAL_REACH = 10.0  # standard deviations a float32 normal sample stays within, with margin


class Env:
    """Facts (and defining expressions) of names, innermost scope first."""

    def __init__(self, parent: Env | None = None, cls: str | None = None,
                 shadows: frozenset[str] | set[str] = frozenset()) -> None:
        self.parent = parent
        # the locals of a function whose assignments are not followed (no loss code): they
        # hide the module's names of the same spelling, whose values they are not
        self.shadows = shadows
        self.cls = cls  # the class whose method this scope is: what `self` is
        self.facts: dict[str, Fact] = {}
        self.values: dict[str, cst.BaseExpression] = {}
        # names some statement before binds on some paths only (`straight_line_env`): their
        # unknown fact hides a value the module may know
        self.unsettled: set[str] = set()
        # names holding a caller's data, or values computed from it (`_caller_params`)
        self.data: set[str] = set()

    def bind(self, name: str, fact: Fact, value: cst.BaseExpression | None = None) -> None:
        self.facts[name] = fact
        if value is not None:
            self.values[name] = value
        else:
            self.values.pop(name, None)

    def lookup(self, name: str) -> Fact | None:
        env: Env | None = self
        while env is not None:
            if name in env.facts:
                return env.facts[name]
            env = env.parent
        return None

    def shadowed(self, name: str) -> bool:
        """Whether an enclosing function, not followed, assigns `name` (a local of its own)."""
        env: Env | None = self
        while env is not None:
            if name in env.shadows:
                return True
            env = env.parent
        return False

    def owner(self) -> str | None:
        """The class of the innermost enclosing method, if any."""
        env: Env | None = self
        while env is not None:
            if env.cls is not None:
                return env.cls
            env = env.parent
        return None

    def holds_data(self, name: str) -> bool:
        env: Env | None = self
        while env is not None:
            if name in env.facts:
                return name in env.data
            env = env.parent
        return False

    def value(self, name: str) -> cst.BaseExpression | None:
        env: Env | None = self
        while env is not None:
            if name in env.facts:
                return env.values.get(name)
            env = env.parent
        return None


def named_fact(name: str, fact: Fact, target: cst.CSTNode) -> Fact:
    """What a name adds to the fact of the value it is given: a value kept on a log scale
    (`log_var`, `log_sigma`) is meant to go through `exp`, so its lack of an upper bound is no
    overflow hazard (as for a parameter of that name); a mask built by code the module cannot
    read (`mask = length_to_mask(lengths)`) holds 0s and 1s, and can be all 0; the sizes a
    model is given (`image_shape = inputs[0]`) are >= 1, as a shape is."""
    if is_log_prob_name(name):
        if "input" in fact.tags:
            return log_prob_fact(target)
        if fact.hi <= 0 or fact == UNKNOWN:  # (what an opaque call returns stays unknown)
            return fact._replace(tags=fact.tags | {"log_prob"})
    if fact.unbounded is not None and is_log_scale_name(name):
        return fact._replace(unbounded=None)
    if "input" in fact.tags and is_shape_name(name):
        return Fact(1.0, INF)  # `image_shape = cast(inputs[0], "float32")`: sizes, as `x.shape`
    if fact == UNKNOWN and is_mask_name(name) and not is_size_name(name):
        # (`num_mask = mask.sum() + eps` is a count of one, not a mask)
        return Fact(0.0, 1.0, zero=Reason(target, "is a mask and can be all 0"))
    return fact


def log_prob_fact(node: cst.CSTNode) -> Fact:
    """A log-probability: at most 0 (its `exp` cannot overflow), unbounded below (the `exp` of
    a difference of two, a probability ratio, can)."""
    return Fact(-INF, 0.0, zero=Reason(node, "is a log-probability and can be 0"),
                negative=Reason(node, "is a log-probability, unbounded below"),
                tags=frozenset({"input", "log_prob"}))


def unread_fact(name: str, node: cst.CSTNode) -> Fact:
    """What a name alone says of a value the module never shows (a constructor argument, a
    global of another module): anchor boxes (`self.anchors`, `priors`) are positive sizes; a
    temperature an object is built with (`self.tau`, a registered `temperature` buffer) is at
    least `TEMPERATURE_FLOOR`. (A function's temperature parameter stays >= 0 only: it divides
    logits as often as cosines, and what bounds them is the caller's.)"""
    if is_anchor_name(name):
        return Fact(0.0, INF, lo_open=True, tags=frozenset({"anchor"}))
    if is_temperature_name(name):
        return Fact(TEMPERATURE_FLOOR, INF)
    return UNKNOWN


def input_fact(name: str, node: cst.CSTNode, *, activation: bool = False,
               called_here: bool = True) -> Fact:
    """The fact of a tensor parameter of loss code. In model code (`activation`: a layer's
    forward pass) a parameter is an activation of a trained model: it can be 0, but nothing
    says it grows without bound (`exp(t) * w_anchor` decodes a box size, `exp(s)` a scale);
    only logits are unbounded scores there too."""
    lowered = name.lower()
    if is_cosine_name(name):
        return facts.unary("cosine", UNKNOWN, node)
    if is_log_prob_name(name):
        return log_prob_fact(node)
    if is_logit_name(name):
        return Fact(-INF, INF, zero=Reason(node, "is an input and can be 0"),
                    negative=Reason(node, "are logits and can be negative"),
                    unbounded=Reason(node, "are logits with no upper bound"),
                    tags=frozenset({"input", "logits"}))
    # A distance (`dists`) has a sign, it is >= 0: `exp(-relu(raw) * dists)` stays <= 1.
    signed = frozenset() if is_distance_name(name) else frozenset({"input"})
    # Labels, masks and weights (`y_true`, `mask_mat`, `target_boxes`) are bounded data; a
    # log-scale parameter (`log_var`) is meant to go through `exp`.
    labels = lowered in LABEL_NAMES or is_label_name(name) and not pred_like(name)
    unbounded = None if labels or is_log_scale_name(name) or activation \
        else Reason(node, "is a raw prediction with no upper bound")
    # Only data is a structural zero: a parameter nothing names as data (`normalizer`,
    # `discount`, `area`) of a function the module never calls is its callers' to keep in
    # range, as a hyperparameter is (where the module calls it, what it passes can be 0).
    zero = Reason(node, "is an input and can be 0") \
        if called_here or is_data_name(name) else None
    return Fact(0.0, INF, zero=zero, unbounded=unbounded, tags=signed)


def _settled_reads(value: cst.BaseExpression, caller: Function, env: Env) -> bool:
    """Whether `env` (`caller`'s parameters and its straight-line facts at the call) settles
    what `value` reads: no `*args`, no local bound on some paths only (or after the call), and
    no global named as data the module does not show."""
    parameters = caller.node.params
    stars = {star.name.value for star in (parameters.star_arg, parameters.star_kwarg)
             if isinstance(star, cst.Param)}
    params = {p.name.value for p in caller.params}
    for read in read_values(value):
        root = _root(read)
        if root in stars or root in env.unsettled or \
                root in caller.assigned and env.lookup(root) is None or \
                root == read and root not in caller.assigned | params and is_data_name(root):
            return False
    return True


def _reads_data(value: cst.BaseExpression, env: Env) -> bool:
    """Whether `value` reads a name `env` holds a caller's data in (`max_pool(feats)`)."""
    return any(env.holds_data(_root(read)) for read in read_values(value))


def _root(read: str) -> str:
    """The name a read value starts from: `self` of `self.w[0]`, `mask` of `mask[:, 1:]`."""
    return read.split(".")[0].split("[")[0]


def _locals(function: Function | None) -> frozenset[str]:
    if function is None:
        return frozenset()
    return frozenset(function.assigned | {p.name.value for p in function.params})


def _read_text(node: cst.CSTNode) -> str | None:
    """How `read_values` names a value read: `z_std`, `self.log_std`, `y_pred[..., 2:4]`."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        return dotted(node)
    if isinstance(node, cst.Subscript) and dotted(node.value) is not None:
        return code(node)
    return None


def read_values(expr: cst.CSTNode) -> set[str]:
    """The names, attribute chains and slices an expression reads as values (`z_std`,
    `self.log_std`, `y_pred[..., 2:4]`), not the functions it calls."""
    found: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        text = _read_text(node)
        if text is not None:
            found.add(text)
            continue
        if isinstance(node, cst.Call):
            stack.extend(arg.value for arg in node.args)
            if isinstance(node.func, cst.Attribute):  # `x.exp()`: the receiver is read
                stack.append(node.func.value)
            continue
        stack.extend(children(node))
    return found


def _shared_part(total: cst.BaseExpression, part: cst.BaseExpression) -> bool:
    """`a + b - inter`: a sum of two terms less a value named as what they share (the
    intersection of two boxes, `intersect_areas`, `overlap`)."""
    if not (isinstance(total, cst.BinaryOperation) and isinstance(total.operator, cst.Add)):
        return False
    while isinstance(part, cst.Subscript):
        part = part.value
    name = dotted(part)
    return name is not None and is_intersection_name(name)


def _calls_a_model(func: cst.BaseExpression) -> bool:
    """`model(x)`, `self.net(x)`, `discriminator(fake)`: a call of an object named like a model
    that this module does not define; `self(x)`, a model's forward pass in its `train_step`."""
    name = func.value if isinstance(func, cst.Name) else \
        func.attr.value if isinstance(func, cst.Attribute) else None
    return name is not None and (name == "self" or is_model_name(name))


def _model_output(node: cst.Call) -> Fact:
    """What a model the module does not define returns: a prediction, as a loss's `y_pred`."""
    return Fact(0.0, INF, zero=Reason(node, "is a model output and can be 0"),
                unbounded=Reason(node, "is a model output with no upper bound"),
                tags=frozenset({"input", "model_output"}))


class Evaluator:
    def __init__(self, index: ModuleIndex, depth: int = 0,
                 definitions: Definitions | None = None) -> None:
        self.index = index
        self.definitions = definitions if definitions is not None else Definitions(index)
        self.depth = depth  # helpers evaluated inside helpers, at most _HELPER_DEPTH deep
        self.module_env = Env()
        self._memo: dict[int, Fact] = {}
        # module constants and `__init__` attributes being evaluated (a value that reads
        # itself, `self.queue = normalize(self.queue)`, is not followed round)
        self._constants_in_progress: set[str] = set()
        self._log_scales: frozenset[str] | None = None

    # --- environments ----------------------------------------------------------------------
    def function_env(self, function: Function, inputs: set[str], parent: Env | None, *,
                     model: bool = False, data: bool = False) -> Env:
        """The facts of a function's parameters: its inputs (activations in `model` code),
        hyperparameter defaults, and nothing for the rest. With `data` (a caller, as what it
        passes on is read) its inputs are data that can be 0 whatever their names, marked as
        the caller's data (`Env.data`)."""
        env = Env(parent or self.module_env, function.cls.name if function.cls else None)
        called_here = data or bool(self.index.call_sites.get(function.name))
        passed = self._passed_by_callers(function, inputs) if called_here else {}
        if data:
            env.data.update(inputs)
        for param in function.params:
            name = param.name.value
            if name in ("self", "cls", "ctx"):
                continue
            if name in passed:
                env.bind(name, passed[name])
            elif name in inputs:
                env.bind(name, input_fact(name, param.name, activation=model,
                                          called_here=called_here))
            elif param.default is not None:
                env.bind(name, self.fact(param.default, self.module_env), param.default)
            elif is_non_negative_setting(name):
                env.bind(name, NON_NEGATIVE)  # `beta`, `temperature`: >= 0 by convention
            else:
                env.bind(name, UNKNOWN)
        return env

    def _passed_by_callers(self, function: Function, inputs: set[str]) -> dict[str, Fact]:
        """The inputs that every call of `function` in the module fills with a value this
        module settles, with the join of those values' facts: what the callers pass is what
        the parameter holds (`gaussian_nll(x, mu, s * s + 1e-6)` gets a positive scale,
        `l2_norm(self.kernel)` a weight nothing is known of, `mape(y_true, y_pred)` the
        caller's own input). A value is read in the caller's straight-line facts before the
        call, its parameters given their own facts; one that reads `*args`, or a local the
        caller binds on some paths only, is not settled, and the parameter stays an input
        (unless every caller's value is nonzero whatever it reads). Read from the module's own
        functions only, and not inside a helper's evaluation."""
        sites = call_arguments(self.index, function) if self.depth == 0 else None
        if not sites or any(caller is None or is_test_function(caller) for _, caller in sites):
            return {}  # a test's or a script's call shows an example, not the contract
        # its own memo (these are no facts in place), and no helper followed from it
        blank = Evaluator(self.index, _HELPER_DEPTH, self.definitions)
        envs: dict[int, Env] = {}
        passed: dict[str, Fact] = {}
        for name in inputs:
            joined: Fact | None = None
            for arguments, caller in sites:
                value = arguments.get(name)
                if value is None or caller is None:
                    break
                key = id(value)
                if key not in envs:
                    envs[key] = blank.straight_line_env(caller, value,
                                                        blank._caller_params(caller))
                fact = blank.fact(value, envs[key])
                env = envs[key]
                if not (fact.nonzero or _settled_reads(value, caller, env) and not (
                        fact == UNKNOWN and _reads_data(value, env))):
                    break  # (an opaque value computed from the caller's data stays data)
                joined = fact if joined is None else facts.join(joined, fact)
            else:
                if joined is not None:
                    passed[name] = joined
        return passed

    def _caller_params(self, caller: Function) -> Env:
        """What a caller's parameters hold, as what it passes on is read: its tensor inputs and
        optional tensors (`mask=None`) are data that can be 0, whatever their names; a setting
        holds its default; the rest (configuration after the loss's pair) is unknown."""
        optional = {p.name.value for p in caller.params
                    if isinstance(p.default, cst.Name) and p.default.value == "None"}
        return self.function_env(caller, inputs_of(caller, index=self.index) | optional, None,
                                 data=True)

    def straight_line_env(self, function: Function, node: cst.CSTNode,
                          params: Env | None = None) -> Env:
        """The facts of `function`'s names where its statement holding `node` runs, from the
        plain assignments that run on every path to it, in order (`s = preds[:, 2:];
        s = s * s + 1e-6`, also inside the branch that holds the call); a name any other
        statement before it binds (another branch, a loop target, an unpacking) is unknown
        and unsettled, and so is one computed from it; its parameters hold what `params` says
        (`_caller_params`), or nothing."""
        env = Env(params or self.module_env, function.cls.name if function.cls else None,
                  shadows=_locals(function))
        body = self.definitions.body(function)
        at = body.ordinal_of(node)
        for ordinal in range(1, min(at, body.count + 1)):
            statement = body.statements[ordinal]
            if body.dominates(ordinal, at) and isinstance(statement, cst.Assign) and \
                    len(statement.targets) == 1:
                target = statement.targets[0].target
                if isinstance(target, cst.Name):
                    settled = _settled_reads(statement.value, function, env)
                    data = _reads_data(statement.value, env)
                    env.bind(target.value, named_fact(
                        target.value, self.fact(statement.value, env), target))
                    (env.data.add if data else env.data.discard)(target.value)
                    if not settled:  # (`n = mask.sum()` of a parameter)
                        env.unsettled.add(target.value)
                    else:
                        env.unsettled.discard(target.value)
                    continue
                # `normalizer[normalizer == 0] = 1` before the call
                written = self.written_part(target, statement.value,
                                            self.fact(statement.value, env), env)
                if written is not None:
                    env.bind(*written)
                    continue
            for sub in walk(statement):
                targets = [t.target for t in sub.targets] if isinstance(sub, cst.Assign) else \
                    [sub.target] if isinstance(sub, (cst.AugAssign, cst.AnnAssign, cst.For)) \
                    else []
                for target in targets:
                    for bound in assigned_names(target):
                        env.bind(bound, UNKNOWN)
                        env.unsettled.add(bound)
        return env

    def written_part(self, target: cst.BaseExpression, value: cst.BaseExpression | None,
                     fact: Fact, env: Env) -> tuple[str, Fact] | None:
        """`x[i] = v` changes part of `x`: it holds its old values or `v` (the name and its
        new fact; None for another target); after `x[i] += v` (no `value`) nothing is known
        of it. Where `i` tests `x` itself (`x[x == 0] = 1`), the old values left are those the
        test rejects."""
        base = target
        while isinstance(base, cst.Subscript):
            base = base.value
        if base is target or not isinstance(base, cst.Name):
            return None
        known = env.lookup(base.value)
        selector = _selector(target)
        if known is not None and selector is not None:
            known = self.refined(selector, base, env, holds=False)
        part = fact if fact.const != 0 or fact.zero is not None else fact._replace(
            zero=Reason(target, "is set to 0"))
        return base.value, facts.join(known, part) if value is not None and \
            known is not None else Fact()

    # --- evaluation ------------------------------------------------------------------------
    def fact(self, node: cst.CSTNode, env: Env) -> Fact:
        key = id(node)
        cached = self._memo.get(key)
        if cached is None:
            cached = self._fact(node, env)
            self._memo[key] = cached
        return cached

    def reads_log_scale(self, expr: cst.CSTNode) -> bool:
        """Whether `expr` reads a value the module uses as a log-scale (`log_scales`)."""
        return not read_values(expr).isdisjoint(self.log_scales())

    def log_scales(self) -> frozenset[str]:
        """What the module uses as a log-scale: a value whose `exp` scales Gaussian noise (the
        reparameterisation `z = mu + exp(0.5 * z_log_sd) * eps`, also through `std = exp(...)`
        and `eps = randn(...)` names) or an anchor box (the box parametrisation
        `exp(t_wh) * anchors`), or a name the module hands to a function's log-scale parameter
        (`sample_z(z_mu, z_var)` with `def sample_z(mu, log_var)`). Its `exp` is the intended
        way back, as for a name like `log_var`, so it is no overflow hazard. Structural, found
        once per module."""
        if self._log_scales is None:
            assigned: dict[str, cst.BaseExpression] = {}
            for node in walk(self.index.module):
                if isinstance(node, cst.Assign) and len(node.targets) == 1 and \
                        isinstance(node.targets[0].target, cst.Name):
                    assigned[node.targets[0].target.value] = node.value

            def resolved(side: cst.BaseExpression) -> cst.BaseExpression:
                return assigned.get(side.value, side) if isinstance(side, cst.Name) else side

            def kind(node: cst.BaseExpression) -> str | None:
                op = self.index.op_of(node) if isinstance(node, cst.Call) else None
                return op.kind if op is not None else None

            found: set[str] = set()
            for node in walk(self.index.module):
                for scale in self._scale_exps(node):
                    inner = self.operand(scale)
                    if inner is not None:
                        found |= read_values(inner)
                if isinstance(node, cst.Call):  # `sample_z(z_mu, z_var)` into `log_var`
                    found.update(value.value for name, value in self._arguments(node)
                                 if is_log_scale_name(name) and isinstance(value, cst.Name))
                if not (isinstance(node, cst.BinaryOperation) and
                        isinstance(node.operator, cst.Multiply)):
                    continue
                for scale, other in ((node.left, node.right), (node.right, node.left)):
                    scale = resolved(scale)
                    if kind(scale) != "exp":
                        continue
                    if kind(resolved(other)) == "normal" or any(
                            is_anchor_name(value) for value in read_values(other)):
                        inner = self.operand(scale)  # type: ignore[arg-type]
                        if inner is not None:
                            found |= read_values(inner)
            self._log_scales = frozenset(found)
        return self._log_scales

    def _scale_exps(self, node: cst.CSTNode) -> list[cst.Call]:
        """The `exp` calls a statement or call hands to a scale (`sigma = exp(s)`,
        `Normal(mu, scale=exp(s))`, `nll(out, y, out[:, 1:].exp())` with `nll(x, y, sigma)`
        a function of the module)."""
        pairs: list[tuple[str, cst.BaseExpression]] = []
        if isinstance(node, cst.Assign) and len(node.targets) == 1:
            target = node.targets[0].target
            name = target.value if isinstance(target, cst.Name) else \
                target.attr.value if isinstance(target, cst.Attribute) else ""
            pairs.append((name, node.value))
        elif isinstance(node, cst.Call):
            pairs = self._arguments(node)
        return [value for name, value in pairs if is_scale_name(name) and
                isinstance(value, cst.Call) and (op := self.index.op_of(value)) is not None
                and op.kind == "exp"]

    def _arguments(self, call: cst.Call) -> list[tuple[str, cst.BaseExpression]]:
        """The arguments of a call by the name of the parameter each fills: its keyword, or
        the module function's parameter at its position (see `_parameters`)."""
        params = self._parameters(call)
        pairs = []
        for position, arg in enumerate(call.args):
            if arg.keyword is not None:
                pairs.append((arg.keyword.value, arg.value))
            elif not arg.star and position < len(params):
                pairs.append((params[position], arg.value))
        return pairs

    def _parameters(self, call: cst.Call) -> list[str]:
        """The positional parameter names of the module function a call runs (`f(...)`, or
        `self.f(...)` with `self.f = f` set in `__init__`)."""
        func: cst.BaseExpression = call.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self":
            for cls in self.index.classes.values():
                bound = cls.init_values.get(func.attr.value)
                if isinstance(bound, cst.Name):
                    func = bound
                    break
        if not isinstance(func, cst.Name):
            return []
        found = [f for f in self.index.by_name.get(func.value, ()) if f.cls is None]
        if len(found) != 1:
            return []
        return [p.name.value for p in found[0].node.params.params]

    def _fact(self, node: cst.CSTNode, env: Env) -> Fact:
        value = number(node)
        if value is not None:
            return facts.constant(value)
        if isinstance(node, cst.Name):
            return self._name(node, env)
        if isinstance(node, cst.UnaryOperation):
            inner = self.fact(node.expression, env)
            if isinstance(node.operator, cst.Minus):
                return facts.negate(inner, node)
            if isinstance(node.operator, cst.BitInvert) and "two_valued" in inner.tags:
                return facts.complement(inner, node)  # `~torch.eye(n, dtype=torch.bool)`
            return inner if isinstance(node.operator, cst.Plus) else UNKNOWN
        if isinstance(node, cst.BinaryOperation):
            return self._binary(node, env)
        if isinstance(node, cst.Call):
            return self._call(node, env)
        if isinstance(node, cst.Subscript):
            return self._subscript(node, env)
        if isinstance(node, cst.Attribute):
            return self._attribute(node, env)
        if isinstance(node, cst.Comparison):  # `targets == 1`: a mask of 0s and 1s
            return self._comparison_mask(node, env)
        if isinstance(node, cst.IfExp):
            # `sigmoid(v) if sigmoid else v` with `sigmoid=True` bound: the branch it takes
            test = self.fact(node.test, env).const if isinstance(node.test, cst.Name) else None
            if test is not None:
                return self.fact(node.body if test else node.orelse, env)
            return facts.join(self.fact(node.body, env), self.fact(node.orelse, env))
        if isinstance(node, (cst.List, cst.Tuple)) and node.elements and not any(
                isinstance(e, cst.StarredElement) for e in node.elements):
            # the tensors `cat`/`stack` put together: what holds for each holds for all
            joined = self.fact(node.elements[0].value, env)
            for element in node.elements[1:]:
                joined = facts.join(joined, self.fact(element.value, env))
            return joined
        return UNKNOWN

    def _name(self, node: cst.Name, env: Env) -> Fact:
        if node.value in ("True", "False"):
            return facts.constant(1.0 if node.value == "True" else 0.0)
        known = env.lookup(node.value)
        if known is not None:
            return known
        if env.shadowed(node.value):
            return UNKNOWN  # a local of code not followed, not the module's name
        expr = self.index.constants.get(node.value)
        if expr is not None and node.value not in self._constants_in_progress:
            self._constants_in_progress.add(node.value)
            try:
                result = self.fact(expr, self.module_env)
            finally:
                self._constants_in_progress.discard(node.value)
            return result
        return unread_fact(node.value, node)

    def _attribute(self, node: cst.Attribute, env: Env) -> Fact:
        if isinstance(node.value, cst.Name) and node.value.value == "self":
            assigned = env.lookup(self_attribute(node))  # set earlier in this method
            if assigned is not None:
                return assigned
            lineage = self._lineage(env.owner())
            for cls in self.index.classes.values():
                if lineage is not None and cls.name not in lineage:
                    continue  # `self` is the enclosing method's object, not another class's
                expr = cls.init_values.get(node.attr.value)
                key = f"{cls.name}.{node.attr.value}"
                if expr is None or key in self._constants_in_progress:
                    continue  # `self.queue = normalize(self.queue)` reads what it sets
                init = cls.methods.get("__init__")
                if isinstance(expr, cst.Name) and init is not None:
                    for param in init.params:
                        if param.name.value == expr.value and param.default is not None:
                            return self.fact(param.default, self.module_env)
                    return unread_fact(node.attr.value, node)
                self._constants_in_progress.add(key)
                try:
                    return self.fact(expr, self.module_env)
                finally:
                    self._constants_in_progress.discard(key)
        resolved = self.index.resolve(node)
        if resolved is not None and resolved.endswith(".epsilon"):
            return facts.constant(float(ops.EPSILON))
        if resolved in ops.CONSTANTS:
            return facts.constant(ops.CONSTANTS[resolved])
        machine = self._finfo(node)
        if machine is not None:
            return facts.constant(machine)
        if node.attr.value in ("shape", "size", "ndim"):
            return Fact(1.0, INF)
        if node.attr.value in ("T", "mT", "real", "imag", "data"):
            # a transpose keeps the values, a spectrum's parts are 0 where it is, and
            # PyTorch's `x.data` is `x`'s values (detached)
            return self.fact(node.value, env)
        return unread_fact(node.attr.value, node)

    def _finfo(self, node: cst.Attribute) -> float | None:
        """`torch.finfo(x.dtype).eps`, `np.finfo(np.float64).tiny`: the constant of the dtype
        written, float32's where it is not (`x.dtype`)."""
        call = node.value
        field = {"resolution": "eps", "smallest_normal": "tiny"}.get(node.attr.value,
                                                                      node.attr.value)
        if not (isinstance(call, cst.Call) and field in ("eps", "tiny") and
                self.index.resolve(call.func) in ops.FINFO_CALLS):
            return None
        dtype = argument(call, 0, "type")
        name = (dotted(dtype) or string(dtype) or "") if dtype is not None else ""
        last = name.rpartition(".")[2]
        name = "float64" if name == "float" else ops.FINFO_ALIASES.get(last, last)  # Python's
        return ops.FINFO.get(name, ops.FINFO["float32"])[field]

    # --- helpers of the same module --------------------------------------------------------
    def _helper(self, func: cst.BaseExpression, env: Env) -> Function | None:
        """The function a call reaches, when exactly one is defined in the module: a module
        function (`_probs(z)`), a method of the enclosing class (`self._probs(z)`), or the
        `forward`/`call` of a module class instance (`model = Net(); model(x)`)."""
        candidates: list[Function] = []
        if isinstance(func, cst.Name) and env.lookup(func.value) is not None:
            # `model(x)` where `model = Net()` (a module class): its `forward` / `call`
            bound = env.value(func.value)
            if isinstance(bound, cst.Call) and isinstance(bound.func, cst.Name):
                forward = self.index.forward_of(bound.func.value)
                candidates = [forward] if forward is not None else []
        elif isinstance(func, cst.Name):
            candidates = [f for f in self.index.by_name.get(func.value, ())
                          if f.cls is None and f.parent is None]
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self" and env.owner() is not None:
            cls = self.index.classes.get(env.owner() or "")
            method = cls.methods.get(func.attr.value) if cls is not None else None
            candidates = [method] if method is not None else []
        return candidates[0] if len(candidates) == 1 else None

    def _returned(self, helper: Function, call: cst.Call, env: Env,
                  element: int | None = None) -> Fact:
        """The fact of what a straight-line helper returns (element `element` of the tuple it
        returns, when given), its parameters bound to the facts of the call's arguments.
        Evaluated with an evaluator of its own: the helper's nodes keep their own facts for
        when the walk reaches them."""
        body = helper.node.body
        if self.depth >= _HELPER_DEPTH or not isinstance(body, cst.IndentedBlock):
            return UNKNOWN
        inner = Evaluator(self.index, self.depth + 1, self.definitions)
        scope = Env(inner.module_env, helper.cls.name if helper.cls else None)
        params = [p for p in helper.params if p.name.value not in ("self", "cls")]
        positional_args = [a for a in call.args if a.keyword is None and not a.star]
        for position, param in enumerate(params):
            arg = next((a for a in call.args if a.keyword is not None
                        and a.keyword.value == param.name.value), None)
            if arg is None and position < len(positional_args):
                arg = positional_args[position]
            if arg is not None:
                scope.bind(param.name.value, self.fact(arg.value, env))
            elif param.default is not None:
                scope.bind(param.name.value, inner.fact(param.default, inner.module_env))
            else:
                scope.bind(param.name.value, UNKNOWN)
        for statement in _straight_line(body.body):
            if statement is None:
                return UNKNOWN  # a branch or a loop: more than one value may come back
            for small in statement.body:
                if isinstance(small, cst.Return):
                    value = small.value
                    if element is not None:  # `return probs, value`
                        value = value.elements[element].value if isinstance(
                            value, (cst.Tuple, cst.List)) and element < len(
                            value.elements) else None
                    return inner.fact(value, scope) if value is not None else UNKNOWN
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and \
                        isinstance(small.targets[0].target, cst.Name):
                    name = small.targets[0].target.value
                    scope.bind(name, inner.fact(small.value, scope), small.value)
                elif isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                    # (`outputs, state = dynamic_rnn(...)`, `n += 1`): what they bind is
                    # not followed, so it is unknown from here on
                    targets = [t.target for t in small.targets] if isinstance(
                        small, cst.Assign) else [small.target]
                    for target in targets:
                        for name in assigned_names(target):
                            scope.bind(name, UNKNOWN)
        return UNKNOWN

    def _lineage(self, name: str | None) -> set[str] | None:
        """A module class and its module base classes (None when `self` is not known)."""
        if name is None:
            return None
        found: set[str] = set()
        pending = [name]
        while pending:
            current = pending.pop()
            cls = self.index.classes.get(current)
            if current in found or cls is None:
                continue
            found.add(current)
            pending.extend(base.rpartition(".")[2] for base in cls.bases)
        return found

    def _binary(self, node: cst.BinaryOperation, env: Env) -> Fact:
        op = node.operator
        left = self.fact(node.left, env)
        if isinstance(op, cst.Power):
            return facts.power(left, self.fact(node.right, env).const, node)
        right = self.fact(node.right, env)
        forward = self._straight_through(node)
        if forward is not None:
            return self.fact(forward, env)
        if isinstance(op, (cst.Add, cst.Subtract)):
            bernoulli = self._bernoulli(node, env)
            if bernoulli is not None:
                return bernoulli
        if isinstance(op, cst.Add):
            shifted = self._max_shifted_exps(node, env)
            if shifted is not None:
                return shifted
            if self._exp_pair(node.left, node.right):  # `exp(x) + exp(-x)` = 2 cosh(x) >= 2
                return Fact(2.0, INF, unbounded=left.unbounded or right.unbounded)
            mixed = self._convex_mix(node, env)
            if mixed is not None:
                return mixed
            for value, patch, fact in ((node.left, node.right, left),
                                       (node.right, node.left, right)):
                if self._patches_zeros(patch, value, env):
                    # `d + (d == 0) * 1e-16`, `n + (n == 0)`: the epsilon lands exactly
                    # where `d` is 0
                    return fact._replace(zero=None, lo_open=fact.lo >= 0, const=None)
            return facts.add(left, right, node)
        if isinstance(op, cst.Subtract):
            if _shared_part(node.left, node.right):  # `area_a + area_b - inter`: a union
                return facts.union(self.fact(node.left.left, env),  # type: ignore[attr-defined]
                                   self.fact(node.left.right, env),  # type: ignore[attr-defined]
                                   right, node)
            return self._difference(node, node.left, node.right, left, right, env)
        if isinstance(op, cst.Multiply):
            if self._entropy_term(node.left, node.right) or \
                    self._entropy_term(node.right, node.left):
                return facts.ENTROPY_TERM
            if self._cosine(left, right):  # summed along the feature axis, a cosine
                return Fact(-1.0, 1.0, tags=frozenset({"unit_product"}))
            if isinstance(node.left, (cst.Name, cst.Attribute, cst.Subscript)) and \
                    code(node.left) == code(node.right):
                return facts.power(left, 2, node)  # `s * s`: a square
            return facts.multiply(left, right, node)
        if isinstance(op, cst.MatrixMultiply):
            if self._cosine(left, right):
                return facts.unary("cosine", left, node)
            return facts.linear(left, right, node)
        if isinstance(op, (cst.Divide, cst.FloorDivide)):
            if self._cosine_ratio(node.left, node.right, env):
                return facts.unary("cosine", left, node)
            return facts.divide(left, right, node)
        return UNKNOWN

    def _straight_through(self, node: cst.BinaryOperation) -> cst.BaseExpression | None:
        """The value a straight-through estimator has in the forward pass: `b` of
        `a + stop_gradient(b - a)`, `a + (b - a).detach()` or `a - stop_gradient(a - b)`
        (a quantizer's one-hot, a rounded value), whose gradient is `a`'s."""
        adding = isinstance(node.operator, cst.Add)
        if not adding and not isinstance(node.operator, cst.Subtract):
            return None
        pairs = ((node.left, node.right), (node.right, node.left)) if adding else \
            ((node.left, node.right),)
        for kept, stopped in pairs:
            op = self.index.op_of(stopped) if isinstance(stopped, cst.Call) else None
            inner = self.operand(stopped, 0) if op is not None and \
                op.kind == "stop_gradient" else None  # type: ignore[arg-type]
            if not (isinstance(inner, cst.BinaryOperation) and
                    isinstance(inner.operator, cst.Subtract)):
                continue
            base, value = (inner.right, inner.left) if adding else (inner.left, inner.right)
            if _bare(base) == _bare(kept):
                return value
        return None

    def _scatter(self, node: cst.Call, into: Fact, env: Env) -> Fact:
        """`x.scatter(1, labels.view(-1, 1), v)`: `x` with `v` written once per row. Into zeros
        a 1 makes a one-hot mask; into ones a 0 makes its complement (the other classes)."""
        written = self.operand(node, 3, "value")
        if written is None:
            written = keyword(node, "src")
        value = self.fact(written, env) if written is not None else UNKNOWN
        if into.const == 0 and value.const == 1:
            return facts.unary("one_hot", UNKNOWN, node)
        if into.const == 1 and value.const == 0:
            return facts.complement(facts.unary("one_hot", UNKNOWN, node), node)
        return facts.join(into, value)

    def _comparison_mask(self, node: cst.Comparison, env: Env) -> Fact:
        """A comparison is a 0/1 mask; of a 0/1 mask `m`, `m > 0` and `m == 1` are `m` again
        and `m < 1`, `m == 0` its complement (`one_hot < 1`: the other classes)."""
        compared = self.fact(node.left, env)
        if len(node.comparisons) == 1 and "two_valued" in compared.tags and \
                compared.lo == 0 and compared.hi == 1:
            target = node.comparisons[0]
            bound = number(target.comparator)
            operator = comparison_operator(target)
            if (operator, bound) in ((">", 0), ("==", 1), (">=", 1), ("!=", 0)):
                return compared
            if (operator, bound) in (("<", 1), ("==", 0), ("<=", 0), ("!=", 1)):
                return facts.complement(compared, node)
        return facts.unary("compare", UNKNOWN, node)

    def _cosine_ratio(self, numerator: cst.BaseExpression, denominator: cst.BaseExpression,
                      env: Env) -> bool:
        """`sum(a * b) / (norm(a) * norm(b))`, an epsilon added or clamped into the
        denominator or not: a cosine by Cauchy-Schwarz, in [-1, 1] and reaching +-1."""
        def resolved(node: cst.BaseExpression) -> cst.BaseExpression:
            for _ in range(4):
                if not isinstance(node, cst.Name) or env.value(node.value) is None:
                    break
                node = env.value(node.value)  # type: ignore[assignment]
            return node

        def pair(node: cst.BaseExpression) -> set[str] | None:
            if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
                return {code(resolved(node.left)), code(resolved(node.right))}
            return None

        summed = resolved(numerator)
        op = self.index.op_of(summed) if isinstance(summed, cst.Call) else None
        if op is None or op.kind != "sum":
            return False
        inner = self.operand(summed, 0)
        products = pair(resolved(inner)) if inner is not None else None
        norms = resolved(denominator)
        for _ in range(3):  # `n + eps`, `maximum(n, eps)`, `n.clamp(min=eps)`
            if isinstance(norms, cst.BinaryOperation) and isinstance(norms.operator, cst.Add):
                norms = norms.left if number(norms.right) is not None else norms.right
            elif isinstance(norms, cst.Call) and self.index.op_of(norms) is not None and \
                    self.index.op_of(norms).kind in ("maximum", "clip", "clamp_min"):
                norms = self.operand(norms, 0) or norms
            norms = resolved(norms)
        if not (isinstance(norms, cst.BinaryOperation) and
                isinstance(norms.operator, cst.Multiply)):
            return False
        normed: set[str] = set()
        for factor in (resolved(norms.left), resolved(norms.right)):
            factor_op = self.index.op_of(factor) if isinstance(factor, cst.Call) else None
            if factor_op is None or factor_op.kind not in ("norm", "torch_norm"):
                return False
            operand = self.operand(factor, 0)
            normed.add(code(resolved(operand)) if operand is not None else "")
        return products is not None and products == normed

    def _difference(self, node: cst.CSTNode, minuend: cst.BaseExpression,
                    subtrahend: cst.BaseExpression, left: Fact, right: Fact, env: Env) -> Fact:
        """`minuend - subtrahend`, also when one is an extreme of the other: `x - max(x)` (the
        stable softmax shift) and `min(x) - x` are <= 0, `x - min(x)` and `max(x) - x` >= 0."""
        if self._is_extreme_of(subtrahend, minuend, env, _MAXIMA):
            return Fact(-INF, 0.0, negative=Reason(node, "is shifted by its maximum"),
                        tags=frozenset({"difference", "max_shifted"}))
        if type(minuend) is cst.BinaryOperation and type(minuend.operator) is cst.Subtract and \
                self._is_extreme_of(subtrahend, minuend.left, env, _MAXIMA):
            # `x - d - max(x)` is `(x - max(x)) - d`: the shift, less `d`
            shifted = Fact(-INF, 0.0, negative=Reason(node, "is shifted by its maximum"))
            return facts.subtract(shifted, self.fact(minuend.right, env), node)
        if self._log_likelihood(minuend, subtrahend, env):
            return Fact(-INF, 0.0, negative=Reason(node, "is a Bernoulli log-likelihood"),
                        tags=frozenset({"difference"}))
        shift = env.value(subtrahend.value) or subtrahend if isinstance(
            subtrahend, cst.Name) else subtrahend
        if type(shift) is cst.BinaryOperation and type(shift.operator) is cst.Subtract and \
                self._is_extreme_of(shift.left, minuend, env, _MAXIMA):
            # `x - (logsumexp(x) - log(n))` is `(x - logsumexp(x)) + log(n)`
            shifted = Fact(-INF, 0.0, negative=Reason(node, "is shifted by its maximum"))
            return facts.add(shifted, self.fact(shift.right, env), node)
        if left.const is not None and type(shift) is cst.BinaryOperation and \
                type(shift.operator) is cst.Subtract and number(shift.left) == left.const:
            return self.fact(shift.right, env)  # `1 - dice_loss` of `dice_loss = 1 - dice`
        if self._is_extreme_of(minuend, subtrahend, env, _MINIMA):
            return Fact(-INF, 0.0, negative=Reason(node, "is at most 0"),
                        tags=frozenset({"difference"}))
        if self._is_extreme_of(subtrahend, minuend, env, _MINIMA) or \
                self._is_extreme_of(minuend, subtrahend, env, _MAXIMA):
            return Fact(0.0, INF, zero=Reason(node, "is 0 at the extreme element"),
                        unbounded=left.unbounded, tags=frozenset({"difference"}))
        return facts.subtract(left, right, node)

    def _log_likelihood(self, minuend: cst.BaseExpression, subtrahend: cst.BaseExpression,
                        env: Env) -> bool:
        """`c * t * z - c * softplus(z)` with `t` in [0, 1] and `c >= 0`: `c` times the log of
        the probability a sigmoid gives label `t` (RetinaNet's stable focal modulator), at most
        0, since `softplus(z) >= max(0, z) >= t * z`."""
        taken = _factors(subtrahend)
        softplus = [f for f in taken if isinstance(f, cst.Call) and
                    (op := self.index.op_of(f)) is not None and op.kind == "softplus"]
        if len(softplus) != 1 or (operand := self.operand(softplus[0], 0)) is None:
            return False
        scale = sorted(_bare(f) for f in taken if f is not softplus[0])
        given = [_bare(f) for f in _factors(minuend)]
        if _bare(operand) not in given:
            return False
        given.remove(_bare(operand))
        for factor in scale:
            if factor not in given:
                return False
            given.remove(factor)
        labels = [f for f in _factors(minuend) if _bare(f) in given]
        coefficients = [f for f in taken if f is not softplus[0]]
        if len(labels) != 1:
            return False
        label = self.fact(labels[0], env)  # a sigmoid's targets: in [0, 1] by its contract
        return label.lo >= 0 and (label.hi <= 1 or isinstance(labels[0], cst.Name) and
                                  is_label_name(labels[0].value)) and \
            all(self.fact(f, env).lo >= 0 for f in coefficients)

    def _bernoulli(self, node: cst.BinaryOperation, env: Env) -> Fact | None:
        """`t * log(p + e) + (1 - t) * log(1 - p + e)` with `t` in [0, 1] (labels): the
        two-sided cross-entropy treats `p` as a probability, so both logs are at most
        `log(1 + e)` and so is the log-likelihood; negated (`-t * log(p + e) - (1 - t) *
        log(1 - p + e)`), the cross-entropy is at least `-log(1 + e)`: `exp(-ce)` (focal
        loss's `p_t`) cannot overflow."""
        terms = _signed_terms(node, 1, self._log_operand)
        if len(terms) != 2 or terms[0][0] != terms[1][0]:
            return None
        parts = []
        for _, weight, logged in terms:
            if weight is None or logged is None:
                return None
            shift = 0.0
            if type(logged) is cst.BinaryOperation and type(logged.operator) is cst.Add:
                added = self.fact(logged.right, env).const
                if added is None or added < 0:
                    return None
                logged, shift = logged.left, added
            parts.append((weight, logged, shift))
        for (w, p_arg, e1), (v, q_arg, e2) in (tuple(parts), tuple(reversed(parts))):
            if not (_complement_of(v, w) and _complement_of(q_arg, p_arg)):
                continue
            label = self.fact(w, env)
            if not (label.lo >= 0 and (label.hi <= 1 or isinstance(w, cst.Name) and
                                       is_label_name(w.value))):
                return None
            top = facts.f32(math.log1p(max(e1, e2)))  # (float64 first, then float32)
            if terms[0][0] > 0:
                return Fact(-INF, top, negative=Reason(node, "is a Bernoulli log-likelihood"))
            return Fact(-top, INF, unbounded=None if min(e1, e2) > 0 else Reason(
                node, "is a cross-entropy of logs that can be -inf"))
        return None

    def _log_operand(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        """`x` of `log(x)` (any framework's, or `x.log()`), else None."""
        op = self.index.op_of(node) if isinstance(node, cst.Call) else None
        return self.operand(node, 0) if op is not None and op.kind == "log" else None  # type: ignore[arg-type]

    def operand(self, call: cst.Call, index: int = 0, name: str = "x") -> cst.BaseExpression | None:
        """The `index`-th operand of an operation call; a tensor method's receiver is operand 0."""
        op = self.index.op_of(call)
        if op is not None and op.framework == "tensor" and isinstance(call.func, cst.Attribute):
            if index == 0:
                return call.func.value
            return argument(call, index - 1, name)
        return argument(call, index, name)

    def _patches_zeros(self, patch: cst.BaseExpression, value: cst.BaseExpression,
                       env: Env) -> bool:
        """`mask * eps` (or `eps * mask`, or the bare `mask`: an `eps` of 1) with `eps > 0` and
        `mask` the places where `value` is 0 (`value.eq(0).float()`,
        `tf.cast(tf.equal(value, 0), ...)`, `value == 0`)."""
        pairs: tuple[tuple[cst.BaseExpression, cst.BaseExpression | None], ...] = (
            ((patch.left, patch.right), (patch.right, patch.left))
            if isinstance(patch, cst.BinaryOperation) and isinstance(patch.operator, cst.Multiply)
            else ((patch, None),))
        for mask, eps in pairs:
            if eps is not None and (self.fact(eps, env).const or 0) <= 0:
                continue
            for _ in range(4):  # through names and casts to the comparison
                if isinstance(mask, cst.Name):
                    mask = env.value(mask.value) or mask
                if isinstance(mask, cst.Call) and self.index.op_of(mask) is not None and \
                        self.index.op_of(mask).kind in {"cast", "identity"}:
                    mask = self.operand(mask, 0) or mask
                else:
                    break
            if self._is_zero_test(mask, value):
                return True
        return False

    def _is_zero_test(self, test: cst.BaseExpression, value: cst.BaseExpression) -> bool:
        """A test true wherever `value` is 0: `value == 0`, `value <= 0` (tf-slim's
        `error_mask = less_equal(d, 0.0)`), `eq(value, 0)`, `less_equal(value, 0)`."""
        compared = self.compared(test)
        return compared is not None and compared[1] in ("==", "<=") and \
            number(compared[2]) == 0 and code(compared[0]) == code(value)

    def _entropy_term(self, p: cst.BaseExpression, log: cst.BaseExpression) -> bool:
        """`p * log(p)` or `p * log(p + eps)`: the code treats `p` as a probability (nothing
        else is weighed by its own log), so the term lies in [-1/e, 0]."""
        if not isinstance(log, cst.Call):
            return False
        op = self.index.op_of(log)
        inner = self.operand(log, 0) if op is not None and op.kind == "log" else None
        if isinstance(inner, cst.BinaryOperation) and isinstance(inner.operator, cst.Add) and \
                0 < (number(inner.right) or 0) < 1e-3:
            inner = inner.left
        return inner is not None and code(inner) == code(p)

    def _max_shifted_exps(self, node: cst.BinaryOperation, env: Env) -> Fact | None:
        """`exp(a - m) + exp(b - m) + exp(c - m)` with `m = max(a, b, c)` (soft-DTW's and a
        CRF's hand-written log-sum-exp): the largest term is `exp(0) = 1`, so the sum is in
        [1, n]; its `log` is finite."""
        terms: list[cst.BaseExpression] = []
        stack: list[cst.BaseExpression] = [node]
        while stack:
            term = stack.pop()
            if type(term) is cst.BinaryOperation and type(term.operator) is cst.Add:
                stack.extend((term.right, term.left))
            else:
                terms.append(term)
        shifted, shifts = [], set()
        for term in terms:
            op = self.index.op_of(term) if isinstance(term, cst.Call) else None
            exponent = self.operand(term, 0) if op is not None and op.kind == "exp" \
                else None  # type: ignore[arg-type]
            if not (type(exponent) is cst.BinaryOperation and
                    type(exponent.operator) is cst.Subtract):
                return None
            shifted.append(_bare(exponent.left))
            shifts.add(_bare(exponent.right))
        if len(shifts) != 1:
            return None
        maximum = exponent.right  # (the one shift all terms share)
        if isinstance(maximum, cst.Name):
            maximum = env.value(maximum.value) or maximum
        arguments = self._maximum_of(maximum, env)
        if arguments and set(arguments) <= set(shifted):
            return Fact(1.0, float(len(terms)))
        return None

    def _maximum_of(self, node: cst.BaseExpression, env: Env, depth: int = 0
                    ) -> list[str] | None:
        """The values `node` is the maximum of (`max(max(r0, r1), r2)`, `np.max([r0, r1])`,
        `torch.maximum(a, b)`), as source texts; None for anything else."""
        if isinstance(node, cst.Name) and depth:
            node = env.value(node.value) or node
        if not isinstance(node, cst.Call) or depth > 4:
            return None
        op = self.index.op_of(node)
        builtin = isinstance(node.func, cst.Name) and node.func.value == "max" and \
            self.index.resolve(node.func) is None and "max" not in self.index.by_name
        if not (builtin or op is not None and op.kind in ("max", "maximum")):
            return None
        if any(arg.keyword is not None for arg in node.args):
            return None  # (`max(x, dim=1)`: a reduction along an axis)
        values = [arg.value for arg in node.args]
        if len(values) == 1 and isinstance(values[0], (cst.List, cst.Tuple)):
            values = [element.value for element in values[0].elements]
        if len(values) < 2:
            return None
        found: list[str] = []
        for value in values:
            inner = self._maximum_of(value, env, depth + 1)
            found.extend(inner if inner is not None else [_bare(value)])
        return found

    def _exp_pair(self, left: cst.BaseExpression, right: cst.BaseExpression) -> bool:
        """`exp(x)` and `exp(-x)` of the same `x` (in either order)."""
        exponents = []
        for side in (left, right):
            op = self.index.op_of(side) if isinstance(side, cst.Call) else None
            operand = self.operand(side, 0) if op is not None and op.kind == "exp" else None
            if operand is None:
                return False
            exponents.append(operand)
        a, b = exponents
        return any(isinstance(n, cst.UnaryOperation) and isinstance(n.operator, cst.Minus)
                   and code(n.expression) == code(m) for n, m in ((a, b), (b, a)))

    def _convex_mix(self, node: cst.BinaryOperation, env: Env) -> Fact | None:
        """`w * x + (1 - w) * y` with `w` in [0, 1] (focal loss's `p_t = y * p + (1 - y) *
        (1 - p)`) lies between `x` and `y`."""
        def factors(node: cst.BaseExpression) -> list[cst.BaseExpression] | None:
            if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
                return [node.left, node.right]
            return None

        a, b = factors(node.left), factors(node.right)
        if a is None or b is None:
            return None
        for weights, others in ((a, b), (b, a)):
            for i, w in enumerate(weights):
                for j, c in enumerate(others):
                    if not _complement_of(c, w):
                        continue
                    weight = self.fact(w, env)
                    # An input written beside its complement is used as a weight in [0, 1].
                    as_weight = "input" in weight.tags and "logits" not in weight.tags
                    if not as_weight and (weight.lo < 0 or weight.hi > 1):
                        continue
                    x, y = self.fact(weights[1 - i], env), self.fact(others[1 - j], env)
                    lo, hi = min(x.lo, y.lo), max(x.hi, y.hi)
                    zero = Reason(node, f"is 0 where `{code(w)}` saturates against the "
                                        "other factor") \
                        if x.zero and y.zero else None
                    return Fact(lo, hi, zero=zero, negative=x.negative or y.negative,
                                unbounded=x.unbounded or y.unbounded)
        return None

    @staticmethod
    def _cosine(a: Fact, b: Fact) -> bool:
        """The product of two L2-normalised operands (`normalize(x) @ normalize(w).T`,
        `F.linear(F.normalize(x), F.normalize(w))`) is a cosine similarity, in [-1, 1]."""
        return "normalized" in a.tags and "normalized" in b.tags

    def _call(self, node: cst.Call, env: Env) -> Fact:
        op = self.index.op_of(node)
        if (op is None or op.kind in {"mse", "mae"}) and self._error_loss(node, env):
            return Fact(0.0, INF, zero=Reason(node, "is 0 where the prediction equals the "
                                                    "target"), tags=frozenset({"error"}))
        if op is None:
            functional = self.functional_layer(node)
            if functional:  # the activation of weights times the input: nothing of the input
                return facts.unary(functional, UNKNOWN, node)
            layer = self.layer_kind(node.func, env)
            if layer:
                argument_fact = self.fact(node.args[0].value, env) if node.args and \
                    layer in _ELEMENTWISE_LAYERS else UNKNOWN
                return facts.unary(layer, argument_fact, node)
            helper = self._helper(node.func, env)
            if helper is not None:
                return self._returned(helper, node, env)
            return _model_output(node) if _calls_a_model(node.func) else UNKNOWN
        kind = op.kind
        first = self.operand(node, 0)
        if kind in {"epsilon", "gradients", "tape_gradient", "filterbank"}:
            return facts.unary(kind, UNKNOWN, node)
        if kind == "arange":  # `arange(start, stop)` starts at `start`, `arange(stop)` at 0
            start = keyword(node, "start") or (positional(node, 0) if positional(
                node, 1) is not None or keyword(node, "end") is not None else None)
            low = self.fact(start, env).lo if start is not None else 0.0
            if low > 0:
                return Fact(low, INF)
            return facts.unary(kind, UNKNOWN, node)
        if kind == "uniform":  # `uniform(shape, minval=0, maxval=1)`, `torch.rand(n)`
            low = number(keyword(node, "minval") or keyword(node, "low"))
            high = number(keyword(node, "maxval") or keyword(node, "high"))
            lo, hi = low if low is not None else 0.0, high if high is not None else 1.0
            return Fact(lo, hi, False, True, Reason(node, "is a uniform sample and can be 0")
                        if lo <= 0 else None)
        if kind == "normal":  # `randn(n)`, `tf.random.normal(shape, mean=0.0, stddev=1.0)`
            if op.name.rpartition(".")[2] == "normal" and (positional(node, 1) is not None or (
                    op.framework in ("numpy", "torch") and positional(node, 0) is not None)):
                return UNKNOWN  # a mean and a spread passed by position (`torch.normal(mu, s)`)
            mean = keyword(node, "mean") or keyword(node, "loc")
            spread = keyword(node, "stddev") or keyword(node, "scale") or keyword(node, "std")
            center = number(mean) if mean is not None else 0.0
            scale = number(spread) if spread is not None else 1.0
            if center is None or scale is None:
                return UNKNOWN
            # float32 samplers never draw beyond a few standard deviations (the largest is
            # about 6): `exp(randn * 1.2 - 1.2)` cannot underflow to 0
            return Fact(center - NORMAL_REACH * abs(scale), center + NORMAL_REACH * abs(scale))
        if kind in {"ones_like", "zeros_like", "shape", "size", "ones", "zeros"}:
            return facts.unary(kind, UNKNOWN, node)
        if op.name.rpartition(".")[2] == "gather" and first is not None:
            indices = argument(node, 1, "indices")
            if indices is not None and _names_action(indices):  # `gather(probs, action)`
                return _sampled(self.fact(first, env))
        if kind == "full":
            value = argument(node, 1, "fill_value") or keyword(node, "value")
            return facts.replace_const(self.fact(value, env)) if value is not None else UNKNOWN
        if first is None:
            return UNKNOWN
        a = self.fact(first, env)
        if kind == "identity" and op.name.rpartition(".")[2] in _CONCATENATIONS:
            return self._concatenated(node, first, a, env)
        if kind == "sum" and _sums_a_one(node, a, self.operand(node, 1, "axis")):
            return Fact(1.0, INF)  # `cat([mask, ones], 1).sum(1)`: each row holds a 1
        if kind == "sum" and "unit_product" in a.tags and (
                len(node.args) > 1 or keyword(node, "axis") or keyword(node, "dim")):
            # `reduce_sum(normalize(a) * normalize(b), axis=-1)`: a cosine similarity
            return facts.unary("cosine", UNKNOWN, node)
        if kind == "clip":
            low = self.operand(node, 1, "clip_value_min")
            for name in ("min", "a_min", "x_min", "clip_value_min", "min_value"):
                low = keyword(node, name) or low
            high = self.operand(node, 2, "clip_value_max")
            for name in ("max", "a_max", "x_max", "clip_value_max", "max_value"):
                high = keyword(node, name) or high
            return facts.clip(a, self._maybe(low, env), self._maybe(high, env))
        if kind == "clamp_min":
            return facts.clip(a, self._maybe(self.operand(node, 1, "min"), env), None)
        if kind == "clamp_max":
            return facts.clip(a, None, self._maybe(self.operand(node, 1, "max"), env))
        if kind in ("max", "min") and _elementwise_extreme(node, self.operand(node, 1)):
            kind = "maximum" if kind == "max" else "minimum"  # `torch.min(a, b)`
        if kind in {"maximum", "minimum", "add", "subtract", "multiply", "divide", "pow",
                    "squared_difference"}:
            second = self.operand(node, 1, "y")
            if second is None:
                return UNKNOWN
            b = self.fact(second, env)
            if kind == "squared_difference":
                return facts.unary("square", self._difference(node, first, second, a, b, env),
                                   node)
            if kind == "maximum":
                return facts.maximum(a, b)
            if kind == "minimum":
                return facts.minimum(a, b)
            if kind == "add":
                return facts.add(a, b, node)
            if kind == "subtract":
                return self._difference(node, first, second, a, b, env)
            if kind == "multiply":
                return facts.multiply(a, b, node)
            if kind == "divide":
                return facts.divide(a, b, node)
            return facts.power(a, b.const, node)
        if kind == "divide_no_nan":
            return Fact(zero=a.zero, negative=a.negative)
        if kind == "scatter":
            return self._scatter(node, a, env)
        if kind == "where":
            second, third = self.operand(node, 1), self.operand(node, 2)
            if second is None or third is None:
                return UNKNOWN
            if self.fact(third, env).const == 0 and first is not None:
                # `where(mask, exp(x), 0)`: what `exp(x) * mask` is
                kept = facts.masked(self.fact(second, env), self.fact(first, env), node)
                if kept is not None:
                    return kept
            return facts.join(self.refined(first, second, env),
                              self.refined(first, third, env, holds=False))
        if kind in {"stop_gradient", "item"}:
            return a
        if kind in {"linear", "inner"}:
            tensors = [o for o in (self.operand(node, i) for i in range(3))
                       if o is not None and string(o) is None and number(o) is None]
            # (not einsum's equation, nor tensordot's axes)
            if len(tensors) == 2:
                a, b = self.fact(tensors[0], env), self.fact(tensors[1], env)
                if self._cosine(a, b):
                    return facts.unary("cosine", a, node)
                return facts.linear(a, b, node)
        if kind in {"max", "min"} and positional(node, 1) is not None and \
                number(positional(node, 1)) is None and op.framework != "tensor":
            b = self.fact(positional(node, 1), env)
            return facts.maximum(a, b) if kind == "max" else facts.minimum(a, b)
        return facts.unary(kind, a, node)

    def _concatenated(self, node: cst.Call, pieces: cst.BaseExpression, joined: Fact,
                      env: Env) -> Fact:
        """`cat([mask, ones], dim=1)`: what holds for each piece; where one piece is all 1s,
        every slice along the axis holds a 1 (a `[SEP]` column beside a padding mask)."""
        axis = argument(node, 1, "axis") or keyword(node, "dim")
        if axis is None or not isinstance(pieces, (cst.List, cst.Tuple)) or not any(
                isinstance(e, cst.Element) and self.fact(e.value, env).const == 1
                for e in pieces.elements):
            return joined
        return joined._replace(tags=joined.tags | {f"{_HOLDS_ONE}{code(axis)}"})

    def _built(self, func: cst.BaseExpression, env: Env) -> cst.Call | None:
        """The constructor call of a called object: built in place (`nn.Softmax(dim=1)(z)`),
        bound to a local or module name, or set in `__init__` (`self.act = nn.Sigmoid()`)."""
        built: cst.BaseExpression | None = func
        if isinstance(func, cst.Name):
            built = env.value(func.value) or self.index.constants.get(func.value)
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and \
                func.value.value == "self":
            built = next((cls.init_values[func.attr.value] for cls in self.index.classes.values()
                          if func.attr.value in cls.init_values), None)
        return built if isinstance(built, cst.Call) else None

    def _error_loss(self, node: cst.Call, env: Env) -> bool:
        """A framework regression loss (`F.mse_loss(p, y)`, `nn.MSELoss()(p, y)`,
        `keras.losses.mean_absolute_error`): 0 where the prediction equals the target."""
        qualified = self.index.resolve(node.func)
        if qualified is None:
            built = self._built(node.func, env)
            qualified = self.index.resolve(built.func) if built is not None else None
        return qualified is not None and ops.is_error_loss(qualified)

    def layer_kind(self, func: cst.BaseExpression, env: Env) -> str | None:
        """The activation a called layer object applies: "softmax", "sigmoid", "log_softmax",
        "relu", "tanh", "softplus", "cosine" (`nn.CosineSimilarity`), or "linear" for a dense
        layer without activation; None when `func` is no known layer.
        The layer may be built in place (`nn.Softmax(dim=1)(z)`), bound to a local or module
        name (`sm = nn.Softmax(dim=1)`), or set in `__init__` (`self.act = nn.Sigmoid()`)."""
        built = self._built(func, env)
        if built is None:
            return None
        qualified = self.index.resolve(built.func)
        found = ops.layer(qualified) if qualified else None
        if found is None:
            return None
        _, name, kind = found
        if kind in {"softmax", "sigmoid", "log_softmax", "cosine", *_ELEMENTWISE_LAYERS}:
            return kind
        if name in ops.VALUE_KEEPING_LAYERS:  # `Flatten()(g)`: the input's values
            return "identity"
        if kind == "activation":
            return _activation(positional(built, 0) or keyword(built, "activation"))
        if kind == "dense":
            activation = keyword(built, "activation")
            return "linear" if activation is None else _activation(activation)
        return None

    def functional_layer(self, node: cst.Call) -> str | None:
        """The activation a functional layer call applies (`tf.layers.dense(h, n,
        tf.nn.softmax)`: "softmax"; with none, "linear"), or None for no such call (or an
        activation not known)."""
        qualified = self.index.resolve(node.func)
        functional = ops.FUNCTIONAL_LAYERS.get(qualified) if qualified else None
        if functional is None:
            return None
        position, name, default = functional
        activation = keyword(node, name) or positional(node, position)
        if activation is None:
            return default or "linear"
        return "linear" if code(activation) == "None" else _activation(activation)

    def _subscript(self, node: cst.Subscript, env: Env) -> Fact:
        """`x[i]` has the range of `x`; `y[mask]` with `mask = y > 0` is positive; the
        probability of the action a policy took (`probs[0, action]`) is positive; a count of a
        model's parts read by its key (`params["num_classes"]`) is at least 1."""
        selector = node.slice[0].slice.value if len(node.slice) == 1 and isinstance(
            node.slice[0].slice, cst.Index) else None
        key = string(selector) if selector is not None else None
        if key is not None and is_architecture_count(key):
            return Fact(1.0, INF)
        fact = facts.replace_const(self.fact(node.value, env))
        if any(isinstance(e.slice, cst.Index) and _names_action(e.slice.value)
               for e in node.slice):
            return _sampled(fact)
        if selector is None:
            return fact
        if isinstance(selector, cst.Name):
            selector = env.value(selector.value) or selector
        if isinstance(selector, cst.Comparison) or isinstance(selector, cst.UnaryOperation) and \
                isinstance(selector.operator, cst.BitInvert):  # `w[w < 0]`, `w[~(w >= 0)]`
            return self.refined(selector, node.value, env)
        return fact

    def _is_extreme_of(self, node: cst.BaseExpression, value: cst.BaseExpression, env: Env,
                       kinds: tuple[str, ...], depth: int = 0) -> bool:
        """`max(x, ...)` of `value` itself (the stable softmax/logsumexp shift; `kinds` is
        `_MAXIMA`, or `_MINIMA` for `min(x)`), also as `x.max(dim=1)[0]`, `.values`, detached,
        repeated or reshaped, or an element-wise maximum one of whose operands is such a max
        (`torch.max(pos, neg.max(1)[0])`)."""
        for _ in range(6):
            if isinstance(node, cst.Name):
                node = env.value(node.value) or node
            if isinstance(node, cst.Subscript):
                node = node.value
            elif isinstance(node, cst.Attribute) and node.attr.value == "values":
                node = node.value
            elif isinstance(node, cst.Call) and self.index.op_of(node) is not None and \
                    self.index.op_of(node).kind in _SAME_VALUES:
                node = self.operand(node, 0) or node
            elif isinstance(node, cst.Call) and self._patched_where(node) is not None:
                node = self._patched_where(node)  # type: ignore[assignment]
            else:
                break
        if not isinstance(node, cst.Call):
            return False
        if kinds == _MAXIMA and _bare(value) in (self._maximum_of(node, env) or ()):
            return True  # `r1 - max(max(r0, r1), r2)`: a maximum of values `r1` is among
        op = self.index.op_of(node)
        if op is None or op.kind not in kinds:
            return False
        inner = self.operand(node, 0)
        if inner is not None and code(inner) == code(value):
            return True
        if op.kind == "logsumexp" or depth > 3:
            return False
        operands = [a.value for a in node.args if a.keyword is None and number(a.value) is None]
        if op.framework == "tensor" and isinstance(node.func, cst.Attribute):
            operands.insert(0, node.func.value)
        return len(operands) == 2 and any(
            self._is_extreme_of(o, value, env, kinds, depth + 1) for o in operands)

    def _patched_where(self, node: cst.Call) -> cst.BaseExpression | None:
        """`m` of `where(is_finite(m), m, zeros_like(m))`: a `where` that replaces some
        elements of `m` by a constant (a patch of its non-finite points) holds `m` elsewhere."""
        op = self.index.op_of(node)
        if op is None or op.kind != "where":
            return None
        then, otherwise = self.operand(node, 1), self.operand(node, 2)
        for kept, patch in ((then, otherwise), (otherwise, then)):
            if kept is None or patch is None:
                continue
            patch_op = self.index.op_of(patch) if isinstance(patch, cst.Call) else None
            if number(patch) is not None or patch_op is not None and patch_op.kind in (
                    "zeros_like", "ones_like", "full"):
                return kept
        return None

    def refined(self, condition: cst.BaseExpression, value: cst.BaseExpression,
                 env: Env, *, holds: bool = True) -> Fact:
        """The fact of `value` where `condition` holds (or, `holds=False`, where it does not):
        `where(d > 0, d, 1)` selects `d > 0`, `where(n == 0, ones_like(n), n)` keeps `n != 0`;
        `~m` (also through a name) holds where `m` does not."""
        if isinstance(condition, cst.Name):
            condition = env.value(condition.value) or condition
        if isinstance(condition, cst.UnaryOperation) and \
                isinstance(condition.operator, (cst.BitInvert, cst.Not)):
            return self.refined(condition.expression, value, env, holds=not holds)
        fact = self.fact(value, env)
        compared = self._comparison(condition, env)
        if compared is None:
            return fact
        left, operator, bound = compared
        if not holds:
            operator = _NEGATED[operator]
        negated = isinstance(value, cst.UnaryOperation) and \
            isinstance(value.operator, cst.Minus) and code(value.expression) == code(left)
        if negated:  # `where(x >= 0, x, -x)` is `abs(x)`: `-x` where `x < 0` is > 0
            assert isinstance(value, cst.UnaryOperation)
            kept = _narrowed(self.fact(value.expression, env), operator, bound)
            return facts.negate(kept, value) if kept is not None else fact
        if code(left) != code(value):
            return fact
        return _narrowed(fact, operator, bound) or fact

    def assumed(self, test: cst.BaseExpression, env: Env, *, holds: bool
                ) -> tuple[str, Fact] | None:
        """What a branch learns of a name from its `if` test (`holds`: in the body; else in
        the `else`, or after a body that returns): `if q == 0: ... else: x / q` divides by a
        nonzero `q`; in `if t == 1.0: ... else: (x ** (1 - t) - 1) / (1 - t)`, `t` is not 1,
        so `1 - t` is nonzero (the tag `facts.excluding(1.0)`). None where it learns
        nothing."""
        compared = self._comparison(test, env)
        if compared is None or not isinstance(compared[0], cst.Name) or \
                compared[1] not in ("==", "!="):
            return None
        name, operator, bound = compared[0].value, compared[1], compared[2]
        if (operator == "!=") != holds:
            return None  # the name equals the bound there: a constant case, left as it is
        known = env.lookup(name) or UNKNOWN
        if bound == 0:
            return name, _narrowed(known, "!=", 0.0) or known
        return name, known._replace(tags=known.tags | {facts.excluding(bound)})

    def compared(self, test: cst.BaseExpression
                 ) -> tuple[cst.BaseExpression, str, cst.BaseExpression] | None:
        """A test that compares two values, as (left, operator, right): `n > 0`, or the same
        written as a call (`tf.greater(n, 0)`, `n.gt(0)`, `torch.eq(n, 0)`); None for anything
        else. The one reading of comparisons, for the facts and the guards alike."""
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            target = test.comparisons[0]
            operator = comparison_operator(target)
            return (test.left, operator, target.comparator) if operator else None
        if isinstance(test, cst.Call):
            op = self.index.op_of(test)
            operator = ops.COMPARISONS.get(op.name.rpartition(".")[2]) if op else None
            left, right = self.operand(test, 0), self.operand(test, 1, "y")
            if operator and left is not None and right is not None:
                return left, operator, right
        return None

    def _comparison(self, condition: cst.BaseExpression, env: Env
                    ) -> tuple[cst.BaseExpression, str, float] | None:
        """`x > 0`, `tf.greater(x, 0)`, `x.gt(0)`, `torch.eq(x, 0)` (or a name bound to one) as
        (x, ">", 0.0); None for anything else."""
        if isinstance(condition, cst.Name):
            condition = env.value(condition.value) or condition
        compared = self.compared(condition)
        if compared is None:
            return None
        left, operator, right = compared
        bound = self._bound_value(right, env)
        return (left, operator, bound) if bound is not None else None

    def _bound_value(self, node: cst.BaseExpression, env: Env) -> float | None:
        """The constant a value is compared with: a number, or a constant tensor
        (`tf.zeros_like(x)`, `torch.tensor(0.)`)."""
        found = number(node)
        return found if found is not None else self.fact(node, env).const

    def unpacked(self, value: cst.BaseExpression, names: list[str],
                 env: Env) -> list[tuple[Fact, cst.BaseExpression | None]]:
        """The facts (and values, where one is known) of the `names` a tuple target unpacks
        from `value`: element by element from a tuple or list; the values of a `max`/`min`
        along an axis and their indices (`m, _ = torch.max(x, dim=1)`: `m` is that max); the
        sizes of a shape; the value's own fact from an input or a gradient (`x, y = vects`).
        From a tuple the caller packs, only data is a structural zero, as for a parameter:
        `normalizer, y_true = y` holds a normaliser the caller prepared."""
        count = len(names)
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == count and \
                not any(isinstance(e, cst.StarredElement) for e in value.elements):
            return [(self.fact(e.value, env), e.value) for e in value.elements]
        op = self.index.op_of(value) if isinstance(value, cst.Call) else None
        if op is not None and op.kind in ("max", "min") and op.framework in ("torch", "tensor") \
                and count == 2:
            return [(self.fact(value, env), value), (UNKNOWN, None)]
        if op is not None and op.kind in ("shape", "size") or isinstance(
                value, cst.Attribute) and value.attr.value == "shape":
            return [(Fact(1.0, INF), None)] * count  # `batch, chan, frames = x.size()`
        helper = self._helper(value.func, env) if isinstance(value, cst.Call) and \
            op is None else None
        if helper is not None:  # `probs, value = build(s, n)`: what each element returns
            return [(self._returned(helper, value, env, element), None)
                    for element in range(count)]
        fact = self.fact(value, env)
        if fact.tags & {"input", "gradient"}:
            element = facts.replace_const(fact)
            if "input" not in fact.tags:
                return [(element, None)] * count
            return [(element if is_data_name(name) else element._replace(zero=None), None)
                    for name in names]
        return [(UNKNOWN, None)] * count

    def _maybe(self, node: cst.BaseExpression | None, env: Env) -> Fact | None:
        if node is None or (isinstance(node, cst.Name) and node.value == "None"):
            return None
        return self.fact(node, env)


def _selector(target: cst.BaseExpression) -> cst.BaseExpression | None:
    """The one index of `x[i]` (not of `x[i][j]` or `x[i, j]`)."""
    if not isinstance(target, cst.Subscript) or isinstance(target.value, cst.Subscript) or \
            len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
        return None
    return target.slice[0].slice.value


def _factors(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The factors of a product (`gamma * targets * z`: gamma, targets, z)."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return [*_factors(node.left), *_factors(node.right)]
    return [node]


def _signed_terms(node: cst.BaseExpression, sign: int,
                  log_of: Callable[[cst.BaseExpression], cst.BaseExpression | None]
                  ) -> list[tuple[int, cst.BaseExpression | None, cst.BaseExpression | None]]:
    """The terms of a sum (`-t * log(p) - (1 - t) * log(q)`), each as its sign, its weight
    (`t`; None unless one factor besides a single `log`) and the `log`'s operand (`log_of`)."""
    if type(node) is cst.BinaryOperation and type(node.operator) in (cst.Add, cst.Subtract):
        return [*_signed_terms(node.left, sign, log_of), *_signed_terms(
            node.right, sign if type(node.operator) is cst.Add else -sign, log_of)]
    if type(node) is cst.UnaryOperation and type(node.operator) is cst.Minus:
        return _signed_terms(node.expression, -sign, log_of)
    weights, logs = [], []
    for factor in _factors(node):
        if type(factor) is cst.UnaryOperation and type(factor.operator) is cst.Minus:
            sign, factor = -sign, factor.expression
        operand = log_of(factor)
        if operand is not None:
            logs.append(operand)
        else:
            weights.append(factor)
    if len(logs) != 1 or len(weights) != 1:
        return [(sign, None, None)]
    return [(sign, weights[0], logs[0])]


def _complement_of(node: cst.BaseExpression, of: cst.BaseExpression) -> bool:
    """`1 - t` of `t`."""
    return type(node) is cst.BinaryOperation and type(node.operator) is cst.Subtract and \
        number(node.left) == 1 and _bare(node.right) == _bare(of)


def _bare(node: cst.BaseExpression) -> str:
    """The source text of an expression without its own parentheses."""
    return code(node.with_changes(lpar=(), rpar=()) if node.lpar else node)


_CONCATENATIONS = frozenset({"cat", "concat", "concatenate"})
_HOLDS_ONE = "holds_one_along:"


def _sums_a_one(node: cst.Call, summed: Fact, axis: cst.BaseExpression | None) -> bool:
    """Whether a sum (over `axis`, or over all) covers a 1 in every slice: its operand was
    concatenated with a piece of 1s along that axis."""
    along = {t[len(_HOLDS_ONE):] for t in summed.tags if t.startswith(_HOLDS_ONE)}
    axis = axis or keyword(node, "dim")
    return bool(along) and (axis is None or code(axis) in along)


_NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}


def _narrowed(fact: Fact, operator: str, bound: float) -> Fact | None:
    """The fact of a value where `value <operator> bound` holds, for a bound that excludes 0
    or the sign (`x > 0`, `x >= 0`, `x < 0`, `x != 0`); None where the test says nothing. (A
    raw prediction's sign is no longer unknown there: it loses its "input" tag.)"""
    signed = fact.tags - {"input"}
    if operator == ">" and bound >= 0:
        return fact._replace(lo=max(fact.lo, bound), lo_open=True, zero=None, negative=None,
                       tags=signed)
    if operator == ">=" and bound >= 0:
        zero = fact.zero if bound == 0 else None
        return fact._replace(lo=max(fact.lo, bound), zero=zero, negative=None, tags=signed)
    if operator == "<" and bound <= 0:
        return fact._replace(hi=min(fact.hi, bound), hi_open=True, zero=None, unbounded=None)
    if operator == "<=" and bound <= 0:
        zero = fact.zero if bound == 0 else None
        return fact._replace(hi=min(fact.hi, bound), zero=zero, unbounded=None)
    if operator == "!=" and bound == 0:  # (a count still varies: `n - 1` can be 0)
        narrowed = {"narrowed"} if fact.zero is not None else set()
        return fact._replace(zero=None, tags=fact.tags | {"nonzero"} | narrowed)
    return None


def _elementwise_extreme(call: cst.Call, second: cst.BaseExpression | None) -> bool:
    """`torch.max(a, b)`, `a.min(b)`: with a second tensor (not an axis: `1`, `dim`, `axis=`)
    a `max`/`min` is element-wise."""
    if second is None or number(second) is not None or keyword(call, "dim") is not None or \
            keyword(call, "axis") is not None:
        return False
    name = dotted(second)
    return name is None or name.rpartition(".")[2] not in ("dim", "axis", "dims", "axes")


def _straight_line(statements: Sequence[cst.BaseStatement]
                   ) -> Iterator[cst.SimpleStatementLine | None]:
    """The simple statements of a block in the order they run, through `with` blocks (a
    `tf.variable_scope` runs its body once); None at the first branch, loop or definition."""
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            yield statement
        elif isinstance(statement, cst.With) and isinstance(statement.body, cst.IndentedBlock):
            yield from _straight_line(statement.body.body)
        else:
            yield None
            return


def _names_action(node: cst.BaseExpression) -> bool:
    name = dotted(node)
    return name is not None and is_action_name(name)


def _sampled(fact: Fact) -> Fact:
    """A probability picked at the action sampled from it: the sampler never picks one that
    is 0, so it is positive (where it was a probability)."""
    if not (fact.nonneg and fact.hi <= 1):
        return fact
    return fact._replace(lo=max(fact.lo, 0.0), lo_open=True, zero=None)


def _activation(node: cst.BaseExpression | None) -> str | None:
    """The kind of a layer's `activation=` argument ("softmax", "relu", ...), or None."""
    name = string(node) if node is not None else None
    if name is None and node is not None:
        name = code(node).rpartition(".")[2]
    return name if name in {"softmax", "sigmoid", "log_softmax", *_ELEMENTWISE_LAYERS} else None


_ELEMENTWISE_LAYERS = frozenset({"relu", "tanh", "softplus", "identity"})  # of each input value
