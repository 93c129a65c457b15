"""LL401-LL405: reading the model and the loss from the same file."""

from __future__ import annotations

import textwrap

import libcst as cst

from lossguard.engine.context import FileContext, Options
from lossguard.pipeline import fix
from lossguard.pipeline.config import Settings
from lossguard.pipeline.lint import lint_source

from .helpers import lint

CODES = ["LL401", "LL402", "LL403", "LL404", "LL405"]


def found(code: str) -> list[tuple[int, str]]:
    return [(f.line, f.code) for f in lint(code, select=CODES)]


def test_functional_softmax_output_with_from_logits_loss():
    assert found("""
        import tensorflow as tf
        inputs = tf.keras.Input(shape=(16,))
        x = tf.keras.layers.Dense(32, activation="relu")(inputs)
        x = tf.keras.layers.Dropout(0.2)(x)
        outputs = tf.keras.layers.Dense(5, activation=tf.nn.softmax)(x)
        model = tf.keras.Model(inputs=inputs, outputs=outputs)
        model.compile("adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        """) == [(7, "LL401")]


def test_functional_activation_layer_after_linear_dense():
    code = """
        from tensorflow import keras
        inputs = keras.Input(shape=(16,))
        logits = keras.layers.Dense(5)(inputs)
        outputs = keras.layers.Activation("softmax")(logits)
        model = keras.Model(inputs, outputs)
        model.compile("adam", loss="categorical_crossentropy")
        """
    assert found(code) == []
    assert found(code.replace('"categorical_crossentropy"',
                              'keras.losses.CategoricalCrossentropy(from_logits=True)')) == [
        (6, "LL401")]


def test_model_add_chain():
    code = """
        from keras.models import Sequential
        from keras.layers import Dense, Dropout
        model = Sequential()
        model.add(Dense(64, activation="relu", input_dim=20))
        model.add(Dropout(0.5))
        model.add(Dense(10))
        model.compile(loss="categorical_crossentropy", optimizer="sgd")
        """
    assert found(code) == [(7, "LL401")]
    fixed = code.replace("model.add(Dense(10))", 'model.add(Dense(10, activation="softmax"))')
    assert found(fixed) == []


def test_loss_object_bound_to_a_name_and_from_logits_false():
    code = """
        import tensorflow as tf
        loss_fn = tf.keras.losses.BinaryCrossentropy(from_logits=False)
        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss=loss_fn)
        """
    assert found(code) == [(4, "LL401")]
    assert found(code.replace("from_logits=False", "from_logits=True")) == []


def test_from_logits_not_a_literal_is_unknown():
    assert found("""
        import tensorflow as tf
        def build(flag):
            model = tf.keras.Sequential([tf.keras.layers.Dense(3, activation="softmax")])
            model.compile(optimizer="adam",
                          loss=tf.keras.losses.CategoricalCrossentropy(from_logits=flag))
            return model
        """) == []


def test_compile_far_from_the_model_definition():
    code = """
        import tensorflow as tf

        def build_model(num_classes):
            model = tf.keras.Sequential([
                tf.keras.layers.Dense(64, activation="relu"),
                tf.keras.layers.Dense(num_classes, activation="softmax"),
            ])
            return model

        def load_data():
            return None

        def main():
            data = load_data()
            model = build_model(10)
            model.summary()
            model.compile(optimizer="adam", loss="binary_crossentropy")
            model.fit(data)
        """
    assert found(code) == [(17, "LL405")]


def test_model_reassigned_before_compile_uses_the_latest_definition():
    assert found("""
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
        model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        """) == []


def test_model_parameter_is_unknown():
    assert found("""
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
        def train(model):
            model.compile(optimizer="adam", loss="categorical_crossentropy")
        """) == []


def test_custom_last_layer_is_unknown():
    assert found("""
        import tensorflow as tf
        class Head(tf.keras.layers.Layer):
            def call(self, x):
                return x
        model = tf.keras.Sequential([tf.keras.layers.Dense(8), Head()])
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        """) == []


def test_single_unit_softmax_in_model_add_chain_points_at_the_activation():
    assert found("""
        import tensorflow as tf
        model = tf.keras.Sequential()
        model.add(tf.keras.layers.Dense(1))
        model.add(tf.keras.layers.Activation("softmax"))
        """) == [(4, "LL404")]


def test_units_from_a_module_constant():
    assert found("""
        import tensorflow as tf
        NUM_OUTPUTS = 1
        model = tf.keras.Sequential([tf.keras.layers.Dense(NUM_OUTPUTS, activation="softmax")])
        """) == [(3, "LL404")]


def test_torch_loss_through_a_local_outside_loss_code():
    assert found("""
        import torch.nn.functional as F
        def evaluate(model, x, y):
            scores = model(x)
            probs = F.softmax(scores, dim=1)
            return F.nll_loss(probs, y).item()
        """) == [(5, "LL401")]


def test_torch_log_softmax_and_logsoftmax_layer_are_fine():
    assert found("""
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.head = nn.Sequential(nn.Linear(64, 10), nn.LogSoftmax(dim=1))
                self.criterion = nn.NLLLoss()
            def forward(self, x, y):
                return self.criterion(self.head(x), y)
        """) == []


def test_swapped_call_to_a_module_loss():
    assert found("""
        import tensorflow as tf
        def focal_loss(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
        def train_step(model, x, y):
            with tf.GradientTape() as tape:
                y_pred = model(x)
                loss = tf.reduce_mean(focal_loss(y_pred, y))
            return tape.gradient(loss, model.trainable_variables)
        """) == [(7, "LL402")]


def test_loss_list_checks_each_element():
    assert found("""
        import tensorflow as tf
        def make_loss(weight):
            def loss(y_true, y_pred):
                return weight * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
            return loss
        def build(model):
            model.compile(optimizer="adam", loss=[make_loss(1.0), make_loss])
        """) == [(7, "LL403")]


def test_fix_replaces_double_softmax_and_softmax_before_nll():
    before = textwrap.dedent("""
        import tensorflow as tf
        import torch.nn.functional as F
        def xent(labels, logits):
            return tf.nn.softmax_cross_entropy_with_logits(labels=labels,
                                                           logits=tf.nn.softmax(logits))
        def nll(logits, target):
            return F.nll_loss(F.softmax(logits, dim=1), target)
        def nll_method(logits, target):
            return F.nll_loss(logits.softmax(1), target)
        """).lstrip("\n")
    settings = Settings(select=["LL401"])
    after, _ = fix.fix_text(before, lambda s: lint_source(s, "x.py", settings, None), False)
    assert "logits=logits)" in after
    assert "F.nll_loss(F.log_softmax(logits, dim=1), target)" in after
    assert "F.nll_loss(logits.log_softmax(1), target)" in after
    assert lint_source(after, "x.py", settings, None) == []


def test_model_reader_answers_without_rules():
    source = (
        "import tensorflow as tf\n"
        "def build():\n"
        "    m = tf.keras.Sequential([tf.keras.layers.Dense(3, activation='sigmoid'),\n"
        "                             tf.keras.layers.Dropout(0.1)])\n"
        "    return m\n"
        "model = build()\n"
        "model.compile(loss='binary_crossentropy')\n"
    )
    from lossguard.analysis import models

    module = cst.parse_module(source)
    ctx = FileContext("m.py", source, module, Options())
    compile_call = ctx.index.compile_calls[0]
    out = models.model_output(ctx, compile_call.func.value, None, compile_call)
    assert out is not None and (out.units, out.activation) == (3, "sigmoid")


def test_a_loss_called_through_an_import_alias_is_still_checked():
    """LL401 is built only in modules that call a cross-entropy or `compile`; an alias
    (`cross_entropy as ce`, `BCEWithLogitsLoss as Criterion`) still counts as that call."""
    assert found("""
        import torch
        from torch.nn.functional import cross_entropy as ce
        def loss_fn(logits, target):
            return ce(torch.softmax(logits, dim=-1), target)
        """) == [(4, "LL401")]
    assert found("""
        import torch
        from torch.nn import BCEWithLogitsLoss as Criterion
        criterion = Criterion()
        def loss_fn(pred, target):
            return criterion(torch.sigmoid(pred), target)
        """) == [(5, "LL401")]


def test_a_functions_own_name_is_not_the_modules_later_binding():
    """A function that names its model output `prediction` (logits) is not about the module's
    `prediction = K.softmax(prediction)` of a later notebook cell: its local hides the global."""
    assert found("""
        import tensorflow as tf
        from tensorflow.keras import backend as K

        def train(build_model, vocab):
            model = build_model(vocab)
            prediction = model.output
            labels = K.placeholder((None, None), dtype="float32")
            loss = K.sparse_categorical_crossentropy(labels, prediction, from_logits=True)
            return K.mean(K.sum(loss, axis=-1))

        model = tf.keras.Sequential([tf.keras.layers.Dense(10)])
        prediction = model.output
        prediction = K.softmax(prediction)
        """) == []
