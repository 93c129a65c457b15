"""Where rules look: the loss scope (README, "Where rules look")."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import libcst as cst
import pytest

from lossguard.analysis.index import build
from lossguard.analysis.losscode import compute, inputs_of
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source
from tests.helpers import codes


def _scope_of(code: str, path: str = "example.py"):
    index = build(cst.parse_module(textwrap.dedent(code)))
    return index, compute(index, (), False, path)


# --- 1. loss modules -------------------------------------------------------------------------
LOSS_MODULE = """
import tensorflow as tf

def relative_error(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred) / tf.abs(y_true))

def log_cosh(y_true, y_pred):
    return tf.reduce_mean(_log_terms(tf.math.cosh(y_pred - y_true)))

def _log_terms(x):
    return tf.math.log(x)

def _private(y_true, y_pred):
    return tf.math.log(y_pred)

class Poisson:
    def call(self, y_true, y_pred):
        return tf.reduce_mean(y_pred - y_true * tf.math.log(y_pred))

    def describe(self, y_pred):
        return tf.math.log(y_pred)

class _Hidden:
    def call(self, y_true, y_pred):
        return tf.math.log(y_pred)
"""


def test_public_functions_of_a_loss_module_are_loss_code():
    # (`cosh` of a raw error overflows: LL104 at line 7; `_log_terms` is only ever given that
    # cosh, which is >= 1, so its log at line 10 is safe)
    assert codes(LOSS_MODULE, select=["LL1"], path="pkg/losses.py") == [
        (4, "LL102"), (7, "LL104"), (17, "LL101")]
    for name in ("loss.py", "objectives.py", "criterion.py", "criterions.py", "cost.py",
                 "focal_loss.py", "CSRLoss.py", "yolo_losses.py"):  # named for its loss
        assert codes(LOSS_MODULE, select=["LL1"], path=f"pkg/{name}") == [
            (4, "LL102"), (7, "LL104"), (17, "LL101")]


def test_a_module_named_near_a_loss_is_no_loss_module():
    for name in ("loss_utils.py", "lossy.py", "test_focal_loss.py", "plot_losses_helper.py"):
        assert codes(LOSS_MODULE, select=["LL1"], path=f"pkg/{name}") == [], name


METRIC = """
import tensorflow as tf

def kl_divergence(p, q):
    return tf.reduce_sum(p * (tf.math.log(p) - tf.math.log(q)), axis=1)

def train_step(model, optimizer, x, p):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(kl_divergence(p, model(x)))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                  model.trainable_variables))
"""


def test_a_function_named_like_a_loss_in_a_metrics_module_is_a_metric():
    """`kl_divergence` in `eval/classifier_metrics.py` scores samples (an inception score); in
    `losses.py` it is a loss. A metrics module's function is loss code when training calls it."""
    metric_only = METRIC.split("def train_step")[0]
    assert codes(metric_only, select=["LL101"], path="eval/classifier_metrics.py") == []
    assert codes(metric_only, select=["LL101"], path="pkg/losses.py") == [(4, "LL101")] * 2
    assert (4, "LL101") in codes(METRIC, select=["LL101"], path="eval/metrics.py")


def test_a_function_named_as_a_loss_in_a_metrics_module_is_loss_code():
    """A metrics module's `binary_cross_entropy` is a metric; its `binary_cross_entropy_loss`
    says it is a loss (trainers import losses from `metrics.py` too)."""
    code = """
    import jax.numpy as jnp

    def binary_cross_entropy(p, t):
        return -jnp.mean(t * jnp.log(p))

    def binary_cross_entropy_loss(p, t):
        return -jnp.mean(t * jnp.log(p))
    """
    assert codes(code, select=["LL101"], path="layers/metrics.py") == [(7, "LL101")]


def test_forward_and_call_of_public_classes_of_a_loss_module_are_loss_code():
    code = """
    import torch

    class Relative:
        def __init__(self, eps):
            self.eps = eps

        def forward(self, pred, target):
            return ((pred - target).abs() / target.abs()).mean()

    class Scaled:
        def __call__(self, pred, target):
            return torch.log(pred).mean()
    """
    assert codes(code, select=["LL1"], path="criterion.py") == [(8, "LL102"), (12, "LL101")]
    assert codes(code, select=["LL1"], path="model.py") == []
    _, scope = _scope_of(code, "criterion.py")
    assert "public class of a loss module" in " ".join(scope.reasons.values())


def test_other_modules_keep_name_based_scope():
    assert codes(LOSS_MODULE, select=["LL1"], path="pkg/metrics.py") == []


def test_error_and_likelihood_names_are_loss_names_and_reporting_verbs_are_not():
    code = """
    import torch

    def mean_squared_error(pred, target):
        return ((pred - target) ** 2 / target).mean()

    def negative_log_likelihood(probs, labels):
        return -torch.log(probs.gather(1, labels[:, None])).mean()

    def plot_losses(losses):
        return torch.log(torch.tensor(losses))

    def record_loss(history, loss):
        history.append(1.0 / loss.item())
    """
    assert codes(code, select=["LL1"], path="train.py") == [(4, "LL102"), (7, "LL101")]


# --- 2. script-level training ----------------------------------------------------------------
SCRIPT = """
import torch

X = torch.randn(64, 3)
y = (torch.rand(64, 1) > 0.5).float()
w = torch.zeros(3, 1, requires_grad=True)
for epoch in range(100):
    h = torch.sigmoid(X @ w)
    cost = -(y * torch.log(h) + (1 - y) * torch.log(1 - h)).mean()
    cost.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
        w.grad.zero_()
report = torch.log(torch.rand(3))
"""


def test_assignments_nested_in_a_module_level_training_loop_are_loss_code():
    assert codes(SCRIPT, select=["LL1"]) == [(8, "LL107"), (8, "LL107")]


def test_a_differentiated_module_level_name_is_wanted():
    code = """
    import torch

    w = torch.ones(3, requires_grad=True)
    x = torch.rand(3)
    while True:
        r = torch.log(x @ w)
        r.backward()
        break
    """
    assert codes(code, select=["LL1"]) == [(6, "LL101")]


def test_a_module_level_training_call_is_loss_code():
    code = """
    import torch
    import torch.nn.functional as F

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in zip(torch.rand(10, 4, 3), torch.rand(10, 4, 1)):
        loss = F.mse_loss(model(x), y, reduction="none")
        loss.backward()
        opt.step()
    """
    assert codes(code, select=["LL3"]) == [(8, "LL301")]


def test_a_data_script_stays_out_of_scope():
    code = """
    import numpy as np

    prices = np.loadtxt("prices.csv")
    for column in range(3):
        returns = np.log(prices[:, column])
        slope = np.gradient(returns)
        print(slope / slope.sum())
    """
    assert codes(code, select=["LL1"]) == []


def test_a_quantity_a_script_computes_in_numpy_is_reported_not_trained():
    """A module-level value named like a loss but computed in NumPy (also from names holding
    NumPy values) records no graph; the TF1 expression of the same shape is loss code."""
    numpy_entropy = """
    import numpy as np
    import torch

    all_preds = np.zeros((100, 16, 10))
    for i in range(100):
        all_preds[i] = model(x[i]).softmax(-1).detach().numpy()
    preds_entropy = -(all_preds * np.log(all_preds)).sum(axis=2)
    mean_entropy = preds_entropy.mean(axis=0)
    """
    assert codes(numpy_entropy, select=["LL1"]) == []
    tf1 = """
    import tensorflow as tf

    y_conv = tf.nn.softmax(tf.matmul(x, W))
    cross_entropy = -tf.reduce_sum(y_ * tf.log(y_conv))
    mean_entropy = cross_entropy / 100.0
    """
    assert codes(tf1, select=["LL1"]) == [(4, "LL107")]


def test_a_tf1_script_reaches_the_model_builder_without_false_positives():
    code = """
    import numpy as np
    import tensorflow as tf

    def init_std(fan_in, fan_out):
        return np.sqrt(2.0 / (fan_in + fan_out))

    def deepnn(x, num_classes):
        W = tf.Variable(tf.truncated_normal([784, num_classes], stddev=init_std(784, 10)))
        keep_prob = tf.placeholder(tf.float32)
        return tf.nn.dropout(tf.matmul(x, W), keep_prob) / num_classes, keep_prob

    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    y_conv, keep_prob = deepnn(x, 10)
    cross_entropy = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y_conv))
    train_step = tf.train.AdamOptimizer(1e-4).minimize(cross_entropy)
    """
    index, scope = _scope_of(code)
    # (`init_std` computes in NumPy alone: an initial scale, no loss is built from it)
    assert {f.name for f in index.functions if scope.contains(f)} == {"deepnn"}
    assert codes(code) == []


# --- 3. methods reached through an instance --------------------------------------------------
RBM_SCRIPT = """
import torch

class RBM:
    def __init__(self, n):
        self.W = torch.zeros(n, n)

    def energy(self, v):
        return -torch.log(torch.exp(v @ self.W).sum())

    def sample(self, v):
        return torch.log(v)

model = RBM(8)
x = torch.rand(8)
x_neg = torch.rand(8)
loss = model.energy(x) - model.energy(x_neg)
loss.backward()
"""


def test_method_called_on_a_module_level_instance_is_loss_code():
    assert codes(RBM_SCRIPT, select=["LL1"]) == [(8, "LL104")]


def test_method_called_on_a_local_instance_is_loss_code():
    code = """
    import torch

    class Critic:
        def score(self, x):
            return torch.log(x).sum()

    def train(batches):
        critic = Critic()
        for x in batches:
            loss = -critic.score(x)
            loss.backward()
    """
    assert codes(code, select=["LL1"]) == [(5, "LL101")]


def test_method_called_on_an_instance_built_in_init_is_loss_code():
    code = """
    import torch
    import torch.nn as nn

    class Energy:
        def free_energy(self, x):
            return -torch.log(x).sum()

    class Trainer(nn.Module):
        def __init__(self):
            super().__init__()
            self.rbm = Energy()

        def forward(self, x, x_neg):
            return self.rbm.free_energy(x) - self.rbm.free_energy(x_neg)
    """
    assert codes(code, select=["LL1"]) == [(6, "LL101")]


def test_a_function_a_module_level_training_call_calls_is_loss_code():
    code = """
    import torch

    def energy_gap(v, v_neg):
        return torch.log(v).sum() - torch.log(v_neg).sum()

    v = torch.rand(8, requires_grad=True)
    for step in range(10):
        energy_gap(v, torch.rand(8)).backward()
    """
    assert codes(code, select=["LL1"]) == [(4, "LL101"), (4, "LL101")]


# --- 4. backend shims ------------------------------------------------------------------------
def test_a_module_level_alias_of_a_framework_namespace_resolves():
    code = """
    import tensorflow as tf

    B = tf.linalg
    K = tf.keras.backend

    def contrastive_loss(y_true, y_pred):
        d = B.norm(y_true - y_pred)
        return K.mean(K.log(y_pred)) + d
    """
    assert codes(code, select=["LL1"]) == [(7, "LL103"), (8, "LL101")]
    index = build(cst.parse_module(textwrap.dedent(code)))
    assert index.imports["B"] == "tensorflow.linalg"


def test_an_alias_of_a_non_framework_value_is_not_an_import():
    index = build(cst.parse_module("import os\nimport tensorflow as tf\nP = os.path\n"
                                   "v = tf.Variable(1.0)\n"))
    assert "P" not in index.imports and "v" not in index.imports


# --- 5. configuration parameters -------------------------------------------------------------
def test_configuration_parameters_are_not_inputs():
    code = """
    import tensorflow as tf

    def yolo_loss(args, anchors, num_classes, ignore_thresh=0.5):
        y_true = args[1]
        object_mask = y_true[..., 4:5]
        n_obj = tf.reduce_sum(object_mask)
        class_loss = tf.reduce_sum(args[0]) / num_classes
        box_loss = class_loss / tf.cast(tf.shape(anchors)[0], tf.float32)
        return box_loss / n_obj
    """
    assert codes(code, select=["LL102"]) == [(9, "LL102")]


def test_which_parameters_are_inputs():
    code = """
    def yolo_loss(args, anchors, num_classes, ignore_thresh=0.5):
        pass

    def region_loss(keep_prob, input_shape, margin, y_true, y_pred, mask, weights, logits):
        pass

    def triplet_loss(anchor, positive, negative, margin):
        pass

    def loss_fn(params, x, y):
        pass
    """
    index = build(cst.parse_module(textwrap.dedent(code)))
    yolo, region, triplet, jax_style = index.functions
    assert inputs_of(yolo) == {"args"}
    assert inputs_of(region) == {"y_true", "y_pred", "mask", "weights", "logits"}
    assert inputs_of(triplet) == {"anchor", "positive", "negative"}
    assert inputs_of(jax_style) == {"params", "x", "y"}


# --- 6. LL001 is where Python puts the syntax error -------------------------------------------
def test_syntax_error_is_on_its_own_line_in_pythons_words():
    source = "import torch\nx = 1 2\ny = 3\nz = 4\n"
    [finding] = lint_source(source, "broken.py", Settings(select=["ALL"]), None)
    assert (finding.line, finding.code) == (2, "LL001")
    assert "invalid syntax" in finding.message


def test_an_unfinished_assignment_is_flagged_on_its_line_not_the_next():
    # libcst's parser gives up at the next line's first token (`y`, line 2)
    source = "batch_size = # fill in\ny = 1\nimage = # fill in\n"
    [finding] = lint_source(source, "exercise.py", Settings(select=["ALL"]), None)
    assert (finding.code, finding.line) == ("LL001", 1)


@pytest.mark.parametrize("source", [
    "import torch\ndef loss(y_true, y_pred)\n    return y_true\n",
    "import torch\ndef loss(y_true, y_pred)\n    return y_true\nx = 1\n",
    "x = (1,\n",
    "def f(:\n    pass\nx = 1\ny = 2\n",
    "import torch\n\ndef loss(a):\n    return a\nx = 1\uff0c2\n",  # an invalid character
])
def test_syntax_error_line_is_where_python_puts_it(source):
    [finding] = lint_source(source, "broken.py", Settings(select=["ALL"]), None)
    with pytest.raises(SyntaxError) as python:
        compile(source, "broken.py", "exec")
    assert finding.code == "LL001" and finding.line == python.value.lineno
    assert python.value.msg in finding.message


@pytest.mark.parametrize(("source", "what"), [
    ("import tensorflow as tf\n\ndef train():\n    print 'step', 1\n", "a print statement"),
    ("import torch\nraise ValueError, 'bad shape'\n", "`raise E, value`"),
    ("import torch\nmode = 0755\n", "integer literal"),
    ("from keras.layers import Lambda\nz = Lambda(lambda (mu, s): mu + s)\n", "tuple parameter"),
    ("import torch\ndef pair_loss((a, b), margin): return a - b\n", "tuple parameter"),
    ("import numpy as np\nflat = np.ndim(x) <> 2\n", "`<>`"),
])
def test_python_2_source_is_named_as_such(source, what):
    """A Python 2 file says it is one and that it was not checked, on the line that shows it."""
    [finding] = lint_source(source, "old.py", Settings(select=["ALL"]), None)
    assert finding.code == "LL001" and finding.message.startswith("Python 2 source")
    assert what in finding.message and "not checked" in finding.message
    assert finding.line == source.count("\n")


def test_a_python_3_syntax_error_is_not_called_python_2():
    source = "import torch\nprint(x)\ny = (1,\n"
    [finding] = lint_source(source, "broken.py", Settings(select=["ALL"]), None)
    assert finding.message.startswith("syntax error")


def test_placing_a_syntax_error_prints_no_warning():
    # Python's compiler, asked where the error is, warns about `1if y`
    # while it places a tokenizer error: not on our stderr
    # (in a fresh interpreter: pytest would capture the warning itself)
    script = ("from lossguard.pipeline.lint import lint_source\n"
              "from lossguard.pipeline.config import Settings\n"
              "text = 'x = 1if y else 2\\nz = 1\\uff0c2\\n'\n"
              "found = lint_source(text, 'b.py', Settings(select=['ALL']))\n"
              "print(found[0].code)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "LL001"
    assert "SyntaxWarning" not in done.stderr


# --- tests, log-scale parameters, a caller's loss ----------------------------------------------
TESTED_LOSS = """
import numpy as np

def _reference_dice_loss(y, p):
    return 1 - 2 * np.sum(y * p) / np.sum(y + p)

def test_dice_loss():
    assert _reference_dice_loss(np.ones(3), np.ones(3)) == 0
"""


@pytest.mark.parametrize("path", ["tests/test_losses.py", "pkg/losses_test.py", "conftest.py"])
def test_test_modules_are_not_loss_code(path):
    source = textwrap.dedent(TESTED_LOSS)
    assert lint_source(source, path, Settings(), None) == []
    assert [(f.line, f.code) for f in lint_source(source, "pkg/dice.py", Settings(), None)] \
        == [(5, "LL102")]


def test_test_functions_are_not_loss_code():
    assert codes("""
    import tensorflow as tf
    class FocalLossTest(tf.test.TestCase):
        def test_focal_loss(self):
            p = tf.constant([0.0, 1.0])
            self.assertAllClose(tf.math.log(p), [0.0, 0.0])
    """) == []


def test_exp_of_a_log_scale_parameter_is_the_intended_way_back():
    assert codes("""
    import torch
    def reparameterize(mu, log_var):
        std = torch.exp(log_var / 2)
        return mu + torch.randn_like(std) * std
    def vae_loss(x, x_hat, mu, log_var):
        return torch.mean((x - x_hat) ** 2) + torch.mean(torch.exp(mu / 0.1))
    """) == [(6, "LL104")]


def test_a_loss_handed_in_by_the_caller_is_not_taken_as_unreduced():
    assert codes("""
    import tensorflow as tf
    def train_op_fn(loss, optimizer, model):
        grads = tf.gradients(loss, model.trainable_variables)
        return optimizer.apply_gradients(zip(grads, model.trainable_variables))
    """) == []


def test_numbers_by_default_scalars_and_config_names_are_not_inputs():
    code = """
    def penalty(gradients, epsilon=1e-10, target=1.0):
        pass

    def shift_loss(y_true, y_pred, shift):
        assert isinstance(shift, int) and shift != 0

    def head_loss(logits, labels, objective_idx, stride, drop_prob):
        pass
    """
    index = build(cst.parse_module(textwrap.dedent(code)))
    penalty, shift, head = index.functions
    assert inputs_of(penalty) == {"gradients"}
    assert inputs_of(shift) == {"y_true", "y_pred"}
    assert inputs_of(head) == {"logits", "labels"}


@pytest.mark.parametrize("name", ["weighted_ce", "rmsle", "gradient_penalty", "ntxent",
                                  "lovasz_hinge", "msle"])
def test_loss_words_name_loss_code(name):
    index, scope = _scope_of(f"import torch\ndef {name}(pred, target):\n    return pred\n")
    assert scope.contains(index.functions[0])


# --- model code: a layer's forward pass ---------------------------------------------------------
def test_a_layer_parameter_not_named_like_a_tensor_is_no_structural_zero():
    # A layer's forward takes activations and settings of unknown range: `enc_len`, `sigma`
    # or `relative_positions` are not the loss's inputs.
    code = """
    import torch

    class LocationAttention(torch.nn.Module):
        def forward(self, enc_states, enc_len, sigma):
            weights = torch.ones_like(enc_states) / enc_len.float()
            return weights * torch.exp(-enc_states / (2 * sigma ** 2))
    """
    assert codes(code, select=["LL1"]) == []


def test_a_layer_input_named_like_a_tensor_keeps_its_facts():
    code = """
    import torch

    class RMSNorm(torch.nn.Module):
        def forward(self, x, mask):
            rms = torch.sqrt(torch.mean(x ** 2, -1, keepdim=True))
            pooled = (x * mask).sum(1) / mask.sum(1)
            return pooled / (rms + 1e-6)
    """
    assert codes(code, select=["LL1"]) == [(5, "LL103"), (6, "LL102")]


def test_a_module_class_with_a_loss_name_is_a_loss_class():
    index, scope = _scope_of("""
    import torch.nn as nn

    class ExpLog_loss(nn.Module):
        def forward(self, net_output, gt):
            return net_output - gt
    """)
    forward = index.classes["ExpLog_loss"].methods["forward"]
    assert scope.reasons[id(forward.node)] == "`ExpLog_loss` is a loss class"
    assert id(forward.node) not in scope.model_code


def test_a_sequence_length_is_no_structural_zero():
    code = """
    import torch

    def sequence_nll_loss(log_probs, targets, input_lengths):
        return -(log_probs * targets).sum(-1) / input_lengths
    """
    assert codes(code, select=["LL102"]) == []


def test_a_tape_block_in_a_test_module_is_no_training_code():
    # A test checks gradients on purpose (`tf.norm` of a model output); it does not train.
    code = """
    import tensorflow as tf

    class WeightNormTest(tf.test.TestCase):
        def testGradientValues(self):
            model = tf.keras.Sequential([tf.keras.layers.Dense(2)])
            with tf.GradientTape() as tape:
                loss = tf.norm(model(tf.ones([1, 3])))
            self.assertAllClose(tape.gradient(loss, model.trainable_variables)[0], 0.0)
    """
    assert codes(code, path="pkg/weight_norm_test.py") == []
    assert codes(code, path="pkg/weight_norm.py") == [(7, "LL103")]


def test_a_predicate_named_like_a_loss_is_no_loss():
    """A loop's stopping `criterion` answers a question: it returns a comparison, not a loss,
    even though `criterion` is a loss word."""
    index, scope = _scope_of("""
        import jax.numpy as jnp
        def continuing_criterion(carry, max_iter=100, tol=1e-4):
            step, err = carry
            return (step == 0) | ((step < max_iter) & (err >= tol))
        def l2_criterion(pred, target):
            return jnp.mean((pred - target) ** 2)
    """)
    named = {f.name: scope.contains(f) for f in index.functions}
    assert named == {"continuing_criterion": False, "l2_criterion": True}


def test_a_learning_rate_schedule_called_by_a_training_step_is_not_loss_code():
    code = """
    import tensorflow as tf

    def cosine_lr_schedule(base_lr, warmup_steps, total_steps, step):
        warmup = base_lr * tf.cast(step, tf.float32) / warmup_steps
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        return tf.where(step < warmup_steps, warmup, 0.5 * base_lr * (1 + tf.cos(progress)))

    def train_step(model, optimizer, params, x, y):
        optimizer.learning_rate = cosine_lr_schedule(
            params["lr"], params["warmup"], params["steps"], optimizer.iterations)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(y - model(x)) / y)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    """
    assert codes(code, select=["LL1"], path="train.py") == [(12, "LL102")]


def test_a_step_function_of_a_learning_rate_schedule_is_no_training_step():
    """`step_fn` is a training step's name, but the one a schedule factory returns maps a step
    count to a rate: its `sqrt(maximum(step, warmup_steps))` is no loss code."""
    source = """
    import jax.numpy as jnp

    def create_learning_rate_scheduler(base_learning_rate, warmup_steps):
        def step_fn(step):
            return base_learning_rate / jnp.sqrt(jnp.maximum(step, warmup_steps))
        return step_fn

    def make_trainer(model):
        def step_fn(params, x, y):
            pred = model.apply(params, x)
            return jnp.mean(jnp.sqrt(jnp.sum((pred - y) ** 2, axis=-1)))
        return step_fn
    """
    assert [(line, code) for line, code in codes(source) if code == "LL103"] == [(11, "LL103")]


def test_metric_learning_losses_are_no_metrics_module():
    """`metric_learning.py` holds losses (contrastive, triplet); `metrics.py` holds metrics."""
    from lossguard.knowledge.names import is_metric_module

    assert is_metric_module("pkg/metrics.py") and is_metric_module("eval_metrics_numpy.py")
    assert is_metric_module("src/torchmetrics/functional/audio/stoi.py")
    assert is_metric_module("metrics/perceptual_path_length.py")
    assert is_metric_module("big/evaluators/proj/nyu_depth.py")  # an evaluation package
    assert not is_metric_module("trainers/depth_loss.py")
    assert not is_metric_module("tf_slim/losses/metric_learning.py")
    assert not is_metric_module("src/pytorch_metric_learning/losses/triplet_margin_loss.py")
    source = """
    from tensorflow.python.ops import math_ops

    def contrastive_loss(labels, anchor, positive, margin=1.0):
        distances = math_ops.sqrt(math_ops.reduce_sum(
            math_ops.squared_difference(anchor, positive), 1))
        return math_ops.reduce_mean(labels * math_ops.square(distances))
    """
    assert codes(source, select=["LL103"], path="losses/metric_learning.py") == [(4, "LL103")]


def test_a_conversion_is_named_by_what_it_returns():
    """`mse2psnr` reports a metric (PSNR) of a loss; `img2mse` computes the loss."""
    code = """
    import tensorflow as tf
    mse2psnr = lambda x: -10.0 * tf.math.log(x) / tf.math.log(10.0)

    def mse_to_psnr(x):
        return -10.0 * tf.math.log(x) / tf.math.log(10.0)

    def img2mse(x, y):
        return tf.reduce_mean(tf.math.log(x) - y)
    """
    assert codes(code, select=["LL101"]) == [(8, "LL101")]


def test_a_dimension_suffix_is_no_conversion():
    """`kl_div_2d` is a 2-D KL divergence (a loss), not a conversion to `d`."""
    code = """
    import torch
    def _kl_div_2d(p, q):
        return torch.nn.functional.kl_div(q.log(), p, reduction="none").sum(-1)
    """
    assert codes(code, select=["LL101"]) == [(3, "LL101")]


def test_data_a_compiled_model_is_run_on_is_no_loss_code():
    """`history = model.fit(x_train, ...)` reaches the reported `loss`, but preparing
    `x_train` is data work: the loss is computed inside Keras. The loss written in the
    script itself stays loss code."""
    source = """
    import numpy as np
    import tensorflow as tf
    train_data = np.load("train.npy")
    mean = train_data.mean(axis=0)
    std = train_data.std(axis=0)
    x_train = (train_data - mean) / std
    model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x_train, np.zeros(len(x_train)), epochs=3)
    loss = history.history["loss"]
    p = tf.nn.sigmoid(model.output)
    cost = -tf.reduce_mean(tf.math.log(p))
    """
    assert codes(source) == [(12, "LL107")]


@pytest.mark.parametrize("name", ["kl", "kld", "bce", "elbo", "nce", "smape", "kl_term"])
def test_short_loss_words_are_loss_names_as_whole_tokens(name):
    """`def kl(p, q)` computes a loss; `klass` or `kelvin` hold the letters, not the word."""
    source = f"""
    import torch
    def {name}(p, q):
        return torch.sum(p * torch.log(p / q))
    """
    assert {code for _, code in codes(source)} == {"LL101", "LL102"}
    assert codes(source.replace(f"def {name}(", "def kelvin(")) == []


def test_a_data_pipeline_the_training_script_calls_is_no_loss_code():
    """`train = process_data(ds)` feeds the loss its data: standardising the images there is
    data work (a constant image is the data's problem, not a loss hazard)."""
    source = """
    import jax
    import jax.numpy as jnp
    def process_data(chunk):
        image = chunk["image"].reshape(chunk["image"].shape[0], -1)
        return (image - jnp.mean(image)) / jnp.std(image), jnp.eye(10)[chunk["label"]]
    def apply_fn(params, x):
        return x @ params
    x_train, y_train = process_data(load())
    params = jnp.zeros((784, 10))
    loss = jnp.mean(-jnp.sum(y_train * jnp.log(jax.nn.softmax(apply_fn(params, x_train))), 1))
    grads = jax.grad(lambda p: loss)(params)
    """
    assert [code for _, code in codes(source)] == ["LL107"]


def test_a_helper_that_computes_from_the_batch_is_no_data_pipeline():
    """`get_batch_logps` computes the loss's log-probabilities from a batch: loss code."""
    source = """
    import torch
    def get_batch_logps(logits, labels):
        mask = labels != -100
        logps = torch.gather(logits.log_softmax(-1), 2, labels.clamp(min=0).unsqueeze(2))
        return (logps.squeeze(2) * mask).sum(-1) / mask.sum(-1)
    def dpo_loss(policy, batch):
        return -get_batch_logps(policy(batch["input_ids"]), batch["labels"]).mean()
    """
    assert [code for _, code in codes(source)] == ["LL102"]


def test_a_snippet_that_leaves_its_imports_out_is_read_as_written_with_them():
    """Code pasted into a question or a cell often drops `import torch`: `torch.log` is still
    PyTorch's, so the snippet gets the findings its imported version gets."""
    snippet = """
    class BCELoss(nn.Module):
        def forward(self, y_pred, y_true):
            return -torch.mean(y_true * torch.log(y_pred) + (1 - y_true) * torch.log(1 - y_pred))
    """
    imported = "import torch\nimport torch.nn as nn\n" + textwrap.dedent(snippet).lstrip("\n")
    assert [code for _, code in codes(snippet)] == ["LL101", "LL101"]
    assert [(line - 2, code) for line, code in codes(imported)] == codes(snippet)


def test_actions_and_returns_are_named_as_such():
    """The vocabulary's words for what a policy took and what the environment paid: the
    picked probability is positive, a return carries no gradient."""
    from lossguard.knowledge.names import is_action_name, is_return_name

    for name in ("action", "self.actions", "a", "self.a", "actions_batch", "act"):
        assert is_action_name(name), name
    for name in ("action_probs", "act_fn", "action_dim", "alpha", "self.actor"):
        assert not is_action_name(name), name
    for name in ("returns", "advantages", "discounted_rewards", "adv", "reward_batch"):
        assert is_return_name(name), name
    for name in ("reward_model", "returns_pred", "values", "return_logits"):
        assert not is_return_name(name), name


def test_a_numpy_function_of_a_training_module_is_no_loss_code():
    """NumPy records no graph: a metric or a data helper computed in NumPy alone beside a
    TensorFlow loss is not loss code; a loss that divides a tensor by a NumPy count is, and so
    is a NumPy function handed to Keras as a loss (LL204)."""
    code = """
    import numpy as np
    import tensorflow as tf

    def smape(y, yhat):
        return np.mean(2.0 * np.abs(y - yhat) / (np.abs(y) + np.abs(yhat)))

    def rpn_loss(target_scores, pred_scores, mask):
        xent = tf.nn.softmax_cross_entropy_with_logits(labels=target_scores, logits=pred_scores)
        return tf.reduce_sum(xent * mask) / np.sum(mask)
    """
    index, scope = _scope_of(code)
    assert {f.name for f in index.functions if scope.contains(f)} == {"rpn_loss"}
    assert codes(code) == [(9, "LL102")]


def test_a_function_given_to_keras_only_as_a_metric_is_no_loss_code():
    """`compile(metrics=[rmse])`: Keras reports the value, nothing differentiates it; the same
    function given as the loss (too) is loss code."""
    code = """
    from tensorflow import keras
    from tensorflow.keras import backend as K

    def rmse(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true)))

    def rmse_loss(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true)))

    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=rmse_loss, metrics=[rmse, rmse_loss])
    """
    index, scope = _scope_of(code)
    assert {f.name for f in index.functions if scope.contains(f)} == {"rmse_loss"}
    assert codes(code) == [(8, "LL103")]


def test_a_derivative_of_the_loss_is_named_as_such_and_its_statistics_are_not():
    from lossguard.knowledge.names import is_gradient_name

    for name in ("grads", "gradients", "d_loss", "dloss_dx", "d_loss_d_w"):
        assert is_gradient_name(name), name
    for name in ("d_loss_stats", "d_loss_real", "grad_vars", "g_loss"):
        assert not is_gradient_name(name), name


def test_how_a_script_prepares_its_data_is_no_loss_code():
    """A script's loss reads the data set's splits: how the data was scaled before
    (`X / X.max(0)[0]`) is data preparation, not the loss; the loss written in the loop
    still is."""
    code = """
    import torch

    data = torch.load("data.pt")
    X = data[:, :-1]
    X = X - X.min(0)[0]
    X = X / X.max(0)[0]
    y = data[:, -1]
    train_x, train_y = X[:800], y[:800]
    w = torch.zeros(X.size(1), requires_grad=True)
    optimizer = torch.optim.Adam([w])
    for step in range(100):
        optimizer.zero_grad()
        pred = torch.sigmoid(train_x @ w)
        loss = -(train_y * torch.log(pred) + (1 - train_y) * torch.log(1 - pred)).mean()
        loss.backward()
        optimizer.step()
    """
    assert codes(code) == [(14, "LL107"), (14, "LL107")]
