"""The one table of framework knowledge: qualified name -> operation kind.

Every framework spelling lives here and nowhere else. A name is first resolved through the
module's imports (`K.log` with `from tensorflow.keras import backend as K` is
`tensorflow.keras.backend.log`), then normalised (`tensorflow.keras` -> `keras`,
`tensorflow.compat.v1` -> `tensorflow`), then split into a namespace and an attribute that this
table maps to a kind ("log", "sum", "softmax", ...). A new framework is a new table.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from .kinds import Kind

# Prefix rewrites, applied in order, so that every spelling of one namespace looks the same.
ALIASES: tuple[tuple[str, str], ...] = (
    ("tensorflow.compat.v1.", "tensorflow."),
    ("tensorflow.compat.v2.", "tensorflow."),
    ("tensorflow.contrib.eager.", "tensorflow."),  # TensorFlow 1's `tfe`
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.src.backend.", "keras.backend."),
    ("keras.src.", "keras."),
    ("keras.api.", "keras."),
    ("keras.ops.numpy.", "keras.ops."),
    ("keras.ops.nn.", "keras.ops."),
    ("keras.ops.math.", "keras.ops."),
    ("tensorflow.math.", "tensorflow."),
    # TensorFlow's own modules, which libraries built on it import (`from
    # tensorflow.python.ops import math_ops`): the public functions under their public names
    ("tensorflow.python.ops.math_ops.", "tensorflow."),
    ("tensorflow.python.ops.gen_math_ops.", "tensorflow."),
    ("tensorflow.python.ops.array_ops.", "tensorflow."),
    ("tensorflow.python.ops.clip_ops.", "tensorflow."),
    ("tensorflow.python.ops.nn_ops.", "tensorflow.nn."),
    ("tensorflow.python.ops.nn_impl.", "tensorflow.nn."),
    ("tensorflow.python.ops.nn.", "tensorflow.nn."),
    ("tensorflow.python.ops.linalg_ops.", "tensorflow.linalg."),
    ("tensorflow.linalg.", "tensorflow.linalg."),
    ("torch.nn.functional.", "torch.nn.functional."),
    ("torch.special.", "torch."),
    ("jax.scipy.special.", "jax.nn."),
    ("jax.numpy.linalg.", "jax.numpy.linalg."),
)

# Functions that return Python metadata about a tensor (rank, "is it a tensor"), not values.
META = {"ndim": "shape", "rank": "shape", "is_tensor": "meta", "is_keras_tensor": "meta",
        "dtype": "meta", "is_sparse": "meta", "executing_eagerly": "meta", "get_shape": "shape",
        "dim": "shape", "ndimension": "shape", "is_floating_point": "meta"}

# Operations shared by most array libraries under the same name.
_COMMON = {
    "real": "identity", "imag": "identity",
    **META,
    "log": "log", "log2": "log", "log10": "log", "log1p": "log1p",
    "exp": "exp", "expm1": "expm1", "sqrt": "sqrt", "rsqrt": "rsqrt", "square": "square",
    "abs": "abs", "absolute": "abs", "pow": "pow", "power": "pow",
    "maximum": "maximum", "minimum": "minimum", "clip": "clip",
    "sigmoid": "sigmoid", "softmax": "softmax", "log_softmax": "log_softmax",
    "log_sigmoid": "log_sigmoid", "softplus": "softplus", "relu": "relu",
    "tanh": "tanh", "sin": "sin", "cos": "cos", "cosh": "cosh",
    "acos": "acos", "arccos": "acos", "asin": "acos", "arcsin": "acos",
    "atanh": "atanh", "arctanh": "atanh", "reciprocal": "reciprocal",
    "sum": "sum", "mean": "mean", "max": "max", "min": "min", "amax": "max", "amin": "min",
    "median": "mean", "nanmedian": "mean", "prod": "prod", "std": "std", "var": "std",
    "logsumexp": "logsumexp", "where": "where", "divide": "divide", "true_divide": "divide",
    "ones_like": "ones_like", "zeros_like": "zeros_like",
    "argmax": "argmax", "argmin": "argmin", "round": "round", "floor": "floor",
    "ceil": "ceil", "sign": "sign", "equal": "compare", "not_equal": "compare",
    "greater": "compare", "less": "compare", "greater_equal": "compare",
    "less_equal": "compare", "cast": "cast", "reshape": "reshape", "squeeze": "reshape",
    "expand_dims": "reshape", "flatten": "reshape", "transpose": "identity", "tile": "reshape",
    "stop_gradient": "stop_gradient", "shape": "shape", "size": "size", "norm": "norm",
    "identity": "identity", "negative": "negative", "add": "add", "subtract": "subtract",
    "multiply": "multiply", "einsum": "linear", "matmul": "linear", "dot": "linear",
    "tensordot": "linear", "cosine_similarity": "cosine",
    # A tensor made of a value holds that value (`torch.tensor(1)`, `tf.constant(1.0)`).
    "constant": "identity", "convert_to_tensor": "identity",
    "random_normal": "normal", "truncated_normal": "normal", "random_uniform": "uniform",
    "concatenate": "identity", "concat": "identity", "stack": "identity", "gather": "identity",
    # They pick elements: the values stay those of the operand.
    "diagonal": "identity", "diag_part": "identity",
    "one_hot": "one_hot", "eye": "one_hot", "ones": "ones", "zeros": "zeros",
    "full": "full", "full_like": "full", "fill": "full",
    "count_nonzero": "size", "any": "any",
    "square_root": "sqrt", "l2_normalize": "normalize", "arange": "arange",
}

_TENSORFLOW = {
    **_COMMON,
    "reduce_sum": "sum", "reduce_mean": "mean", "reduce_max": "max", "reduce_min": "min",
    "reduce_prod": "prod", "reduce_std": "stddev", "reduce_variance": "std",
    "reduce_logsumexp": "logsumexp", "clip_by_value": "clip", "truediv": "divide",
    "l2_loss": "l2_loss", "enable_eager_execution": "enable_eager",
    "squared_difference": "squared_difference",
    "realdiv": "divide", "div": "divide", "divide_no_nan": "divide_no_nan",
    "reciprocal_no_nan": "divide_no_nan", "multiply_no_nan": "multiply",
    "xlogy": "xlogy", "xdivy": "divide_no_nan",
    "softmax_cross_entropy_with_logits": "softmax_xent_logits",
    "softmax_cross_entropy_with_logits_v2": "softmax_xent_logits",
    "sparse_softmax_cross_entropy_with_logits": "softmax_xent_logits",
    "sigmoid_cross_entropy_with_logits": "sigmoid_xent_logits",
    "weighted_cross_entropy_with_logits": "sigmoid_xent_logits",
    "compute_average_loss": "compute_average_loss", "gradients": "gradients",
    "custom_gradient": "custom_gradient", "GradientTape": "gradient_tape",
    "to_float": "cast", "ensure_shape": "reshape", "nan_to_num": "identity",
    "math_ops": "opaque", "reduce_all": "compare", "reduce_any": "any",
    "is_nan": "compare", "is_finite": "compare", "logical_and": "compare",
    "size": "size", "range": "arange", "function": "tf_function",
    "placeholder": "placeholder", "assert_rank": "shape_assert",
    "assert_equal": "shape_assert", "cond": "cond", "top_k": "topk", "argsort": "argmax",
    # TensorFlow 0.x spellings, still in wide use in published code.
    "mul": "multiply", "sub": "subtract", "neg": "negative", "batch_matmul": "linear",
    # A container of tensors: it holds what is written into it, nothing of a model's.
    "TensorArray": "opaque",
}

_KERAS_BACKEND = {
    **_COMMON,
    "epsilon": "epsilon", "batch_flatten": "reshape", "binary_crossentropy": "binary_xent",
    "categorical_crossentropy": "categorical_xent",
    "sparse_categorical_crossentropy": "categorical_xent",
    "switch": "where", "mean": "mean", "sum": "sum", "int_shape": "shape", "std": "stddev",
    "random_normal": "normal",
    "floatx": "opaque", "get_value": "numpy", "eval": "numpy", "gradients": "gradients",
}

_KERAS_OPS = {
    **_COMMON,
    "binary_crossentropy": "binary_xent", "categorical_crossentropy": "categorical_xent",
    "sparse_categorical_crossentropy": "categorical_xent", "divide_no_nan": "divide_no_nan",
    "convert_to_tensor": "identity", "log_softmax": "log_softmax", "cond": "cond",
    "std": "stddev",
}

_KERAS_CONFIG = {"epsilon": "epsilon"}

_TORCH = {
    "stft": "fft", "real": "identity", "imag": "identity", "autocast": "autocast",
    **_COMMON,
    "norm": "torch_norm", "clamp": "clip", "clamp_min": "clamp_min", "clamp_max": "clamp_max",
    "clip": "clip",
    "div": "divide", "true_divide": "divide", "logit": "opaque", "xlogy": "xlogy",
    "mul": "multiply", "sub": "subtract",
    "cross_entropy": "torch_cross_entropy", "nll_loss": "torch_nll",
    "binary_cross_entropy": "torch_bce", "binary_cross_entropy_with_logits": "torch_bce_logits",
    "mse_loss": "mse", "l1_loss": "mae", "numel": "size", "no_grad": "no_grad",
    "inference_mode": "no_grad", "is_tensor": "meta",
    "detach": "stop_gradient", "softmin": "softmax", "logsigmoid": "log_sigmoid",
    # Their backward masks a zero distance (gradient 0, as `torch.norm`'s does).
    "cdist": "torch_norm", "pairwise_distance": "torch_norm", "normalize": "normalize",
    "dist": "torch_norm", "pdist": "torch_norm",
    "CrossEntropyLoss": "torch_cross_entropy", "NLLLoss": "torch_nll",
    "kl_div": "torch_kl_div", "KLDivLoss": "torch_kl_div",
    "BCELoss": "torch_bce", "BCEWithLogitsLoss": "torch_bce_logits",
    "cosine_similarity": "cosine", "mm": "linear", "bmm": "linear", "linear": "linear",
    "cat": "identity", "hstack": "identity", "vstack": "identity",
    "tensor": "identity", "as_tensor": "identity", "clone": "identity", "Tensor": "identity",
    "FloatTensor": "identity", "from_numpy": "identity",
    # `torch.diag` of a matrix picks its diagonal (of a vector it builds a matrix: contrastive
    # losses take the positives off a similarity matrix with it).
    "diag": "identity",
    "rand": "uniform", "rand_like": "uniform", "randn": "normal", "randn_like": "normal",
    # The inner product of two 1-D tensors: a 0-d scalar.
    "dot": "inner", "vdot": "inner", "cond": "cond", "scatter": "scatter",
    "topk": "topk", "sort": "sort", "argsort": "argmax",
}

# Theano and PyTensor (`T.log`, `T.nnet.sigmoid`, `pt.log`): the losses of older published code.
# Their cross-entropies take the prediction first (`binary_crossentropy(output, target)`), the
# Keras backend's take it second (`binary_crossentropy(target, output)`).
PREDICTION_FIRST_XENT = frozenset({"theano"})
_THEANO = {**_COMMON, "clip": "clip", "switch": "where", "grad": "gradients",
           "nnet": "opaque", "binary_crossentropy": "binary_xent",
           "categorical_crossentropy": "categorical_xent", "softplus": "softplus",
           "sigmoid": "sigmoid", "softmax": "softmax", "ultra_fast_sigmoid": "sigmoid",
           "hard_sigmoid": "sigmoid", "relu": "relu"}

_JAX = {**_COMMON, "clip": "clip", "log_sigmoid": "log_sigmoid", "stop_gradient": "stop_gradient",
        "std": "stddev"}
_NUMPY = {**_COMMON, "clip": "clip", "log": "log", "array": "identity", "asarray": "identity"}
_MATH = {"log": "log", "log2": "log", "log10": "log", "log1p": "log1p", "exp": "exp",
         "sqrt": "sqrt", "pow": "pow", "floor": "floor", "ceil": "ceil", "fabs": "abs"}

# namespace -> (framework, table). A namespace is a normalised module path.
# Fourier transforms (and the short-time one) of a signal: every bin is 0 for a silent signal.
_FFT = {"fft": "fft", "fft2": "fft", "fftn": "fft", "rfft": "fft", "rfft2": "fft",
        "rfftn": "fft", "stft": "fft"}
NAMESPACES: dict[str, tuple[str, dict[str, str]]] = {
    "tensorflow": ("tensorflow", _TENSORFLOW),
    "tensorflow.nn": ("tensorflow", _TENSORFLOW),
    "tensorflow.linalg": ("tensorflow", {"norm": "norm", "l2_normalize": "normalize"}),
    "tensorflow.random": ("tensorflow", {"uniform": "uniform", "normal": "normal",
                                         "truncated_normal": "normal"}),
    "keras.random": ("keras", {"uniform": "uniform", "normal": "normal"}),
    "jax.random": ("jax", {"uniform": "uniform", "normal": "normal"}),
    # TF1's functional layers: only a flatten keeps the values
    "tensorflow.layers": ("tensorflow", {"flatten": "reshape"}),
    "tensorflow.debugging": ("tensorflow", {"assert_shapes": "shape_assert",
                                            "assert_rank": "shape_assert",
                                            "assert_equal": "shape_assert"}),
    "keras.losses.loss": ("keras", {"squeeze_or_expand_to_same_rank": "reshape"}),
    "tensorflow.raw_ops": ("tensorflow", _TENSORFLOW),
    "keras.backend": ("keras", _KERAS_BACKEND),
    "keras.ops": ("keras", _KERAS_OPS),
    "keras.activations": ("keras", _KERAS_OPS),
    "keras.config": ("keras", _KERAS_CONFIG),
    "torch": ("torch", _TORCH),
    "torch.nn.functional": ("torch", _TORCH),
    "torch.nn": ("torch", _TORCH),
    "torch.linalg": ("torch", {"norm": "torch_norm", "vector_norm": "torch_norm"}),
    "torch.random": ("torch", {"rand": "uniform", "rand_like": "uniform", "randn": "normal",
                               "randn_like": "normal"}),
    "torch.autograd": ("torch", {"grad": "gradients"}),
    "torch.amp": ("torch", {"autocast": "autocast"}),
    "torch.cuda.amp": ("torch", {"autocast": "autocast"}),
    "torch.fft": ("torch", _FFT),
    "tensorflow.signal": ("tensorflow", {**_FFT, "fft2d": "fft", "fft3d": "fft",
                                         "rfft2d": "fft", "rfft3d": "fft",
                                         "linear_to_mel_weight_matrix": "filterbank"}),
    "torchaudio.functional": ("torch", {"melscale_fbanks": "filterbank",
                                        "create_fb_matrix": "filterbank"}),
    "librosa.filters": ("numpy", {"mel": "filterbank"}),
    "jax.numpy.fft": ("jax", _FFT),
    "numpy.fft": ("numpy", _FFT),
    "jax.numpy": ("jax", _JAX),
    "jax.nn": ("jax", _JAX),
    "jax.lax": ("jax", {**_JAX, "stop_gradient": "stop_gradient", "rsqrt": "rsqrt",
                        "cond": "cond"}),
    "jax.numpy.linalg": ("jax", {"norm": "norm"}),
    "optax": ("jax", {"softmax_cross_entropy": "softmax_xent_logits",
                      "softmax_cross_entropy_with_integer_labels": "softmax_xent_logits",
                      "sigmoid_binary_cross_entropy": "sigmoid_xent_logits"}),
    "optax.losses": ("jax", {"softmax_cross_entropy": "softmax_xent_logits",
                             "softmax_cross_entropy_with_integer_labels": "softmax_xent_logits",
                             "sigmoid_binary_cross_entropy": "sigmoid_xent_logits"}),
    "jax": ("jax", {"grad": "gradients", "value_and_grad": "gradients",
                    "stop_gradient": "stop_gradient", "flatten": "reshape"}),
    "numpy": ("numpy", _NUMPY),
    "numpy.linalg": ("numpy", {"norm": "norm"}),
    "math": ("math", _MATH),
    "theano.tensor": ("theano", _THEANO),
    "theano.tensor.nnet": ("theano", _THEANO),
    "pytensor.tensor": ("theano", _THEANO),
    "pytensor.tensor.nnet": ("theano", _THEANO),
    "pytensor.tensor.math": ("theano", _THEANO),
    "theano": ("theano", {"grad": "gradients"}),
    "pytensor": ("theano", {"grad": "gradients"}),
}

# Tensor methods (`x.log()`, `x.sum()`, `x.clamp(min=...)`): PyTorch, NumPy and JAX arrays.
METHODS: dict[str, str] = {
    **META,
    "log": "log", "log2": "log", "log10": "log", "log1p": "log1p", "exp": "exp",
    "sqrt": "sqrt", "rsqrt": "rsqrt", "abs": "abs", "pow": "pow", "square": "square",
    "sum": "sum", "mean": "mean", "median": "mean", "std": "std", "var": "std",
    "norm": "torch_norm",
    "clamp": "clip", "clip": "clip", "clamp_min": "clamp_min", "clamp_max": "clamp_max",
    "sigmoid": "sigmoid", "softmax": "softmax", "log_softmax": "log_softmax",
    "relu": "relu", "tanh": "tanh", "logsumexp": "logsumexp", "detach": "stop_gradient",
    "acos": "acos", "arccos": "acos", "asin": "acos", "arcsin": "acos",
    "atanh": "atanh", "arctanh": "atanh", "reciprocal": "reciprocal",
    "item": "item", "numpy": "numpy", "argmax": "argmax", "argmin": "argmin",
    "round": "round", "floor": "floor", "ceil": "ceil", "sign": "sign",
    "backward": "backward", "reshape": "reshape", "view": "reshape", "squeeze": "reshape",
    "unsqueeze": "reshape", "flatten": "reshape", "view_as": "reshape",
    "repeat": "reshape", "expand": "reshape", "expand_as": "reshape", "tile": "reshape",
    "float": "identity", "double": "identity", "long": "int_cast", "int": "int_cast",
    "bool": "int_cast", "max": "max", "min": "min", "div": "divide", "gather": "identity",
    "masked_fill": "identity", "t": "identity", "transpose": "identity",
    "eq": "compare", "ne": "compare", "gt": "compare", "lt": "compare", "ge": "compare",
    "le": "compare", "any": "any", "scatter": "scatter", "topk": "topk", "sort": "sort",
    "argsort": "argmax",
    "diagonal": "identity",
    "minimize": "minimize", "gradient": "tape_gradient", "numel": "size", "size": "size",
    "add_loss": "add_loss", "astype": "cast", "type": "cast", "to": "identity",
    "contiguous": "identity", "clone": "identity",
    "set_shape": "shape_assert", "assert_is_compatible_with": "shape_assert",
    "assert_has_rank": "shape_assert", "expand_dims": "reshape",
    "add": "add", "sub": "subtract", "mul": "multiply", "neg": "negative", "matmul": "linear",
    "mm": "linear", "bmm": "linear", "dot": "linear", "cosh": "cosh", "cos": "cos",
    "sin": "sin", "softplus": "softplus", "log_sigmoid": "log_sigmoid",
}

# What a fix may call: target -> framework -> qualified names that exist, preferred first.
SPELLINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "log_softmax": {
        "tensorflow": ("tensorflow.nn.log_softmax",),
        "keras": ("keras.ops.log_softmax", "tensorflow.nn.log_softmax"),
        "torch": ("torch.log_softmax", "torch.nn.functional.log_softmax"),
        "jax": ("jax.nn.log_softmax",),
    },
    "log_sigmoid": {
        "tensorflow": ("tensorflow.math.log_sigmoid",),
        "keras": ("keras.ops.log_sigmoid", "tensorflow.math.log_sigmoid"),
        "torch": ("torch.nn.functional.logsigmoid",),
        "jax": ("jax.nn.log_sigmoid",),
    },
    "softplus": {
        "tensorflow": ("tensorflow.math.softplus", "tensorflow.nn.softplus"),
        "keras": ("keras.ops.softplus", "keras.backend.softplus", "tensorflow.math.softplus"),
        "torch": ("torch.nn.functional.softplus",),
        "jax": ("jax.nn.softplus",),
    },
    "logsumexp": {
        "tensorflow": ("tensorflow.reduce_logsumexp", "tensorflow.math.reduce_logsumexp"),
        "keras": ("keras.ops.logsumexp", "keras.backend.logsumexp",
                  "tensorflow.reduce_logsumexp"),
        "torch": ("torch.logsumexp",),
        "jax": ("jax.nn.logsumexp", "jax.scipy.special.logsumexp"),
    },
    "maximum": {
        "tensorflow": ("tensorflow.maximum", "tensorflow.math.maximum"),
        "keras": ("keras.ops.maximum", "keras.backend.maximum", "tensorflow.maximum"),
        "torch": ("torch.clamp_min",),
        "jax": ("jax.numpy.maximum",),
        "numpy": ("numpy.maximum",),
    },
    "divide_no_nan": {
        "tensorflow": ("tensorflow.math.divide_no_nan",),
        "keras": ("keras.ops.divide_no_nan", "tensorflow.math.divide_no_nan"),
    },
}

# Keras losses by name: kind of input expected ("probs"), what it is ("categorical", ...).
KERAS_LOSSES: dict[str, str] = {
    "categorical_crossentropy": "categorical", "CategoricalCrossentropy": "categorical",
    "sparse_categorical_crossentropy": "categorical",
    "SparseCategoricalCrossentropy": "categorical",
    "binary_crossentropy": "binary", "BinaryCrossentropy": "binary",
    "binary_focal_crossentropy": "binary", "BinaryFocalCrossentropy": "binary",
    "categorical_focal_crossentropy": "categorical",
    "CategoricalFocalCrossentropy": "categorical",
    "mean_squared_error": "regression", "MeanSquaredError": "regression", "mse": "regression",
    "mean_absolute_error": "regression", "MeanAbsoluteError": "regression", "mae": "regression",
    "huber": "regression", "Huber": "regression", "log_cosh": "regression",
    "kl_divergence": "divergence", "KLDivergence": "divergence", "hinge": "hinge",
    "poisson": "poisson", "Poisson": "poisson",
}
# Activations whose output can be negative: no rate for a Poisson loss (its log is NaN).
SIGNED_ACTIVATIONS = frozenset({"linear", "tanh", "elu", "selu", "leaky_relu", "swish", "silu",
                                "gelu"})
# Activations that give no probabilities (not in [0, 1], or not summing to 1).
NON_PROBABILITY_ACTIVATIONS = SIGNED_ACTIVATIONS - {"linear"} | {"relu", "softplus",
                                                                 "exponential", "relu6"}

# Loss families symmetric in `(y_true, y_pred)`: squared, absolute, Huber, log-cosh errors.
SYMMETRIC_LOSS_FAMILIES = frozenset({"regression"})
# Loss families whose input is a probability unless `from_logits=True` (Keras cross-entropies).
KERAS_PROBABILITY_LOSSES = ("categorical", "binary")

# Model layers by namespace and class name: what a model's output is made of.
# "dense": sets the size of the last axis (units) and has no activation unless given one;
# "softmax"/"sigmoid"/"log_softmax": an activation layer; "activation": `Activation(name)`;
# "passthrough": keeps both the size and the activation of its input.
KERAS_LAYERS: dict[str, str] = {
    "Dense": "dense", "Conv1D": "dense", "Conv2D": "dense", "Conv3D": "dense",
    "Convolution1D": "dense", "Convolution2D": "dense", "Convolution3D": "dense",
    "Conv1DTranspose": "dense", "Conv2DTranspose": "dense", "Conv3DTranspose": "dense",
    "SeparableConv1D": "dense", "SeparableConv2D": "dense",
    "Activation": "activation", "Softmax": "softmax", "ReLU": "relu",
    "Dropout": "passthrough", "AlphaDropout": "passthrough", "GaussianDropout": "passthrough",
    "GaussianNoise": "passthrough", "SpatialDropout1D": "passthrough",
    "SpatialDropout2D": "passthrough", "SpatialDropout3D": "passthrough",
    "Flatten": "passthrough", "ActivityRegularization": "passthrough",
}
TORCH_LAYERS: dict[str, str] = {
    "Linear": "dense", "LazyLinear": "dense", "Softmax": "softmax", "Softmin": "softmax",
    "Sigmoid": "sigmoid", "LogSoftmax": "log_softmax", "Dropout": "passthrough",
    "Flatten": "passthrough", "Identity": "passthrough", "ReLU": "relu", "ReLU6": "relu",
    "Tanh": "tanh", "Softplus": "softplus", "CosineSimilarity": "cosine",
}
# Where a layer sets the size of its last axis: (framework, class) -> (position, keyword);
# other Keras "dense" layers take `filters` first.
LAYER_UNITS: dict[tuple[str, str], tuple[int, str]] = {
    ("keras", "Dense"): (0, "units"), ("torch", "Linear"): (1, "out_features"),
    ("torch", "LazyLinear"): (0, "out_features"),
}
# Functional layers (TensorFlow 1, slim): one call builds the weights and applies the
# activation, named by position or keyword: qualified name -> (position, keyword, default
# activation). `tf.layers.dense(h, n, tf.nn.softmax)` is a softmax output; without one it is
# a linear output; `fully_connected` applies a ReLU unless told otherwise.
FUNCTIONAL_LAYERS: dict[str, tuple[int, str, str | None]] = {
    "tensorflow.layers.dense": (2, "activation", None),
    "tensorflow.contrib.layers.fully_connected": (2, "activation_fn", "relu"),
    "tensorflow.contrib.slim.fully_connected": (2, "activation_fn", "relu"),
    "tf_slim.fully_connected": (2, "activation_fn", "relu"),
    "tf_slim.layers.fully_connected": (2, "activation_fn", "relu"),
}
MODEL_CONSTRUCTORS = {"keras.Sequential": "sequential", "keras.models.Sequential": "sequential",
                      "keras.Model": "functional", "keras.models.Model": "functional",
                      "torch.nn.Sequential": "sequential"}


# Of the "passthrough" layers, those that keep the values too (dropout zeroes some, noise moves
# them).
VALUE_KEEPING_LAYERS = frozenset({"Flatten", "Identity", "ActivityRegularization"})


def layer(qualified: str) -> tuple[str, str, str] | None:
    """(framework, class name, layer kind) of a normalised qualified layer constructor name."""
    namespace, _, attr = qualified.rpartition(".")
    if namespace.startswith("keras.layers"):
        kind = KERAS_LAYERS.get(attr)
        return ("keras", attr, kind) if kind else None
    if namespace.startswith("torch.nn") and not namespace.startswith("torch.nn.functional"):
        kind = TORCH_LAYERS.get(attr)
        return ("torch", attr, kind) if kind else None
    return None


# Framework loss APIs by namespace: Keras loss classes reduce over the batch unless built with
# `reduction="none"`; Keras loss functions return one value per sample; PyTorch losses (classes
# and functions) reduce with `reduction="mean"` unless told otherwise.
_NOT_KERAS_LOSSES = {"Loss", "Reduction", "LossFunctionWrapper", "get", "serialize",
                     "deserialize", "loss"}


def framework_loss(qualified: str) -> str | None:
    """"keras_class", "keras_function", "torch_class" or "torch_function" for the normalised
    qualified name of a framework loss, else None."""
    namespace, _, attr = qualified.rpartition(".")
    if namespace == "keras.losses" and attr not in _NOT_KERAS_LOSSES:
        return "keras_class" if attr[:1].isupper() else "keras_function"
    if namespace == "torch.nn" and attr.endswith("Loss"):
        return "torch_class"
    if namespace == "torch.nn.functional" and (attr.endswith("_loss") or attr in (
            "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits",
            "kl_div")):
        return "torch_function"
    return None


# Framework losses that measure an error (0 where the prediction equals the target).
_ERROR_LOSSES = frozenset({
    "torch.nn.MSELoss", "torch.nn.L1Loss", "torch.nn.SmoothL1Loss", "torch.nn.HuberLoss",
    "torch.nn.functional.mse_loss", "torch.nn.functional.l1_loss",
    "torch.nn.functional.smooth_l1_loss", "torch.nn.functional.huber_loss",
})


def is_error_loss(qualified: str) -> bool:
    """`F.mse_loss`, `nn.L1Loss`, `keras.losses.MeanSquaredError`, ...: a regression loss."""
    namespace, _, attr = qualified.rpartition(".")
    if namespace == "keras.losses":
        return KERAS_LOSSES.get(attr) == "regression"
    return qualified in _ERROR_LOSSES


# Names of Keras base classes that make a class a loss.
LOSS_BASES = ("keras.losses.Loss", "keras.losses.loss.Loss", "torch.nn.modules.loss._Loss",
              "torch.nn.modules.loss._WeightedLoss", "keras.losses.LossFunctionWrapper")
MODULE_BASES = ("torch.nn.Module", "keras.layers.Layer", "keras.Model", "keras.models.Model",
                "keras.Layer", "keras.layers.Layer", "flax.linen.Module")
AUTOGRAD_FUNCTION = "torch.autograd.Function"
# PyTorch Lightning's module (`pytorch_lightning`, `lightning`, `lightning.pytorch`): Lightning
# calls `backward` on what its `training_step` returns (the tensor, or a dict's "loss").
LIGHTNING_MODULE = "LightningModule"


class Op(NamedTuple):
    """A resolved framework operation."""

    kind: Kind
    framework: str
    name: str  # normalised qualified name, e.g. "tensorflow.log"


@lru_cache(maxsize=4096)
def normalize(qualified: str) -> str:
    """Rewrite a qualified name to its canonical spelling."""
    name = qualified + "."
    for prefix, replacement in ALIASES:
        if name.startswith(prefix):
            name = replacement + name[len(prefix):]
    return name[:-1]


def xent_prediction(op: Op) -> tuple[int, tuple[str, ...]] | None:
    """Where a framework cross-entropy takes the prediction: its position and its keywords.
    TensorFlow takes (labels, logits), optax (logits, labels); Keras' backend takes (target,
    output), Theano's `nnet` (output, target)."""
    if op.kind in ("softmax_xent_logits", "sigmoid_xent_logits"):
        return (0 if op.framework == "jax" else 1), ("logits",)
    if op.kind in ("binary_xent", "categorical_xent"):
        return (0 if op.framework in PREDICTION_FIRST_XENT else 1), ("output", "coding_dist")
    return None


# The libraries whose operations record a graph to differentiate.
GRAPH_FRAMEWORKS = frozenset({"tensorflow", "keras", "torch", "jax", "theano"})

# The names every framework's documentation imports it as: what a module that reads `tf.log`
# but binds nothing as `tf` got from a project module's star import (`from ops import *`), or
# left out of a snippet.
CONVENTIONAL_ALIASES = {"tf": "tensorflow", "np": "numpy", "K": "keras.backend",
                        "torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional",
                        "jnp": "jax.numpy", "jax": "jax"}

# Operations a project's own backend shim re-exports under the framework's one name
# (`from trax import fastmath; fastmath.logsumexp(x)`, `utils.log_softmax(z)`): names that
# denote one function whatever module holds them.
SHIM_OPERATIONS = {"logsumexp": "logsumexp", "log_softmax": "log_softmax",
                   "logsoftmax": "log_softmax", "softplus": "softplus", "expit": "sigmoid",
                   "log_sigmoid": "log_sigmoid", "logsigmoid": "log_sigmoid",
                   "stop_gradient": "stop_gradient", "flatten": "reshape"}


@lru_cache(maxsize=4096)
def lookup(qualified: str) -> Op | None:
    """The operation a normalised qualified name denotes, or None."""
    namespace, _, attr = qualified.rpartition(".")
    entry = NAMESPACES.get(namespace)
    if entry is None:
        shim = SHIM_OPERATIONS.get(attr)
        if shim is not None and namespace and \
                namespace.partition(".")[0] not in FRAMEWORK_ROOTS:
            return Op(Kind(shim), "project", qualified)
        return None
    framework, table = entry
    kind = table.get(attr)
    return Op(Kind(kind), framework, qualified) if kind else None


def names_of(kinds: Iterable[str]) -> frozenset[str]:
    """Every function, class or method name that denotes an operation of one of these kinds."""
    wanted = set(kinds)
    tables = [table for _, table in NAMESPACES.values()] + [METHODS]
    return frozenset(name for table in tables for name, kind in table.items() if kind in wanted)


# Tensor methods that take no positional argument: `x.log()`. Called with one, the receiver is
# something else (`pl_module.log("train_loss", loss)`, `logger.exp(...)`).
_UNARY_METHODS = frozenset({
    "log", "log2", "log10", "log1p", "exp", "sqrt", "rsqrt", "sigmoid", "tanh", "relu",
    "abs", "square", "sign", "floor", "ceil", "item", "numpy", "detach", "t", "float", "double",
    "long", "int", "bool", "contiguous", "clone",
})


# The methods a NumPy array has too (`a.sum()`, `a.std()`): a call of one tells no framework
# apart; `x.exp()`, `x.clamp(...)`, `x.detach()` are a tensor's.
NUMPY_ARRAY_METHODS = frozenset({
    "sum", "mean", "max", "min", "std", "var", "prod", "cumsum", "cumprod", "argmax", "argmin",
    "argsort", "reshape", "transpose", "squeeze", "flatten", "ravel", "astype", "clip", "dot",
    "round", "copy", "item", "tolist", "any", "all", "nonzero", "sort", "repeat", "take",
})


def in_place(name: str) -> str | None:
    """`clamp` for `x.clamp_(...)`: the out-of-place method an in-place tensor method (a
    trailing underscore, PyTorch's convention) computes into its receiver, else None."""
    if len(name) > 2 and name.endswith("_") and not name.startswith("_") and \
            name[:-1] in METHODS:
        return name[:-1]
    return None


def method(name: str, positional: int = 0) -> Op | None:
    """The operation a tensor method call `x.<name>(...)` with `positional` positional
    arguments denotes, or None."""
    base = in_place(name)  # `x.exp_()` computes `x.exp()` into `x`, and returns it
    kind = METHODS.get(base or name)
    if not kind or (positional and (base or name) in _UNARY_METHODS):
        return None
    return Op(Kind(kind), "tensor", name)


# Integer and bool dtypes (last name part or string): a cast to one has no gradient.
INTEGER_DTYPES = {
    "int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool",
    "bool_", "long", "short", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor",
    "ShortTensor", "CharTensor",
}
FRAMEWORK_ROOTS = ("tensorflow", "keras", "torch", "jax", "numpy", "flax", "optax", "tf_keras",
                   "theano", "pytensor")

# Keras' fuzz factor, `keras.backend.epsilon()` / `keras.config.epsilon()` (1e-7 unless set), as
# code: the value the facts give those calls, and the guard a fix writes where the file cannot
# reach the framework's own (`EPSILON_CALLS`).
EPSILON = "1e-7"
# Optimizers whose step divides each gradient by a running estimate of its own scale (Adam,
# RMSprop, Adagrad and their kin): a loss scaled by a constant (a sum instead of a mean over a
# batch of fixed size) takes the same steps. Plain gradient descent does not.
ADAPTIVE_OPTIMIZERS = frozenset({
    "Adam", "AdamW", "Adamax", "Nadam", "NAdam", "RAdam", "RMSprop", "RMSProp", "Adagrad",
    "Adadelta", "Adafactor", "Lamb", "LAMB", "AdamOptimizer", "RMSPropOptimizer",
    "AdagradOptimizer", "AdadeltaOptimizer", "adam", "adamw"})  # (optax spells them lower-case)
PLAIN_OPTIMIZERS = frozenset({"SGD", "GradientDescentOptimizer", "MomentumOptimizer", "sgd",
                              "Momentum", "LBFGS"})
# The calls that find (or replace) the infinities and NaNs of a value (`torch.isinf(w)`,
# `tf.math.is_finite(x)`, `np.nan_to_num(x)`), whatever the library.
NONFINITE_CHECKS = frozenset({"isinf", "isfinite", "isnan", "is_inf", "is_finite", "is_nan",
                              "isposinf", "isneginf", "nan_to_num"})
# Named mathematical constants of the array libraries (`math.pi`, `np.pi`, `torch.pi`).
CONSTANTS: dict[str, float] = {
    f"{module}.{name}": value for module in ("math", "numpy", "torch", "jax.numpy")
    for name, value in (("pi", 3.141592653589793), ("e", 2.718281828459045))
}
# `torch.finfo(dtype).eps`, `np.finfo(np.float32).tiny`: the machine constants code takes as its
# epsilon, by the dtype's last name part (float32 where the dtype is not written out).
FINFO_CALLS = frozenset({"torch.finfo", "numpy.finfo", "jax.numpy.finfo"})
FINFO: dict[str, dict[str, float]] = {
    "float16": {"eps": 0.0009765625, "tiny": 6.103515625e-05},
    "bfloat16": {"eps": 0.0078125, "tiny": 1.1754943508222875e-38},
    "float32": {"eps": 1.1920928955078125e-07, "tiny": 1.1754943508222875e-38},
    "float64": {"eps": 2.220446049250313e-16, "tiny": 2.2250738585072014e-308},
}
FINFO_ALIASES = {"half": "float16", "float": "float32", "single": "float32", "double": "float64",
                 "float_": "float64"}  # `torch.float` is float32 (a bare Python `float`, float64)
# Comparisons written as calls (`tf.greater(x, 0)`, `x.gt(0)`), by their last name part.
COMPARISONS = {"greater": ">", "gt": ">", "greater_equal": ">=", "ge": ">=", "less": "<",
               "lt": "<", "less_equal": "<=", "le": "<=", "equal": "==", "eq": "==",
               "not_equal": "!=", "ne": "!="}
EPSILON_CALLS: dict[str, tuple[str, ...]] = {
    "keras": ("keras.backend.epsilon", "keras.config.epsilon"),
}
# Tensor methods a fix may call, by the function they stand for (PyTorch tensors).
METHOD_SPELLINGS: dict[str, str] = {
    "log_softmax": "log_softmax", "logsumexp": "logsumexp", "maximum": "clamp_min",
}
# Methods that take or apply gradients: `tape.gradient`, `loss.backward`, `optimizer.minimize`.
TAPE_METHODS = {"gradient", "backward", "minimize"}
# Methods that run a compiled Keras model on data (`model.fit(x, y)`): the loss is computed
# inside the framework, so their arguments are data, not values of a loss written here.
MODEL_DRIVERS = frozenset({"fit", "fit_generator", "evaluate", "evaluate_generator", "predict",
                           "predict_generator", "predict_on_batch", "train_on_batch",
                           "test_on_batch"})
# What builds a data pipeline (`DataLoader(TensorDataset(train_x, train_y))`,
# `tf.data.Dataset.from_tensor_slices((x, y))`), by the callee's last name: what it is given is
# the data a training loop is fed, prepared before any loss.
DATA_PIPELINES = frozenset({"DataLoader", "TensorDataset", "from_tensor_slices", "from_tensors",
                            "from_generator"})
# Of those, the methods that train the model with the loss it is compiled with.
TRAINING_DRIVERS = frozenset({"fit", "fit_generator", "train_on_batch"})
# Attributes that are metadata of a tensor, not values computed from it.
META_ATTRIBUTES = {"shape", "dtype", "ndim", "device", "name", "is_cuda", "requires_grad",
                   "grad_fn", "layout"}
# Calls that read a tensor's static shape, by name from any module (a project's shim
# `tfops.int_shape(x)` wraps the framework's): Python numbers, not values of the tensor.
SHAPE_CALLS = {"int_shape", "get_shape", "shape_list", "static_shape"}
# The namespace of Keras' loss functions and classes (normalised).
KERAS_LOSSES_MODULE = "keras.losses."

# Types that annotate a tensor (`log_alpha: jnp.ndarray`, `temperature: tf.Variable`): a
# parameter declared one is a value a loss can differentiate, whatever its name says.
TENSOR_TYPES = frozenset({
    "torch.Tensor", "torch.FloatTensor", "torch.nn.Parameter", "torch.nn.parameter.Parameter",
    "tensorflow.Tensor", "tensorflow.Variable", "jax.Array", "jax.numpy.ndarray",
    "jax.numpy.DeviceArray", "chex.Array", "jaxtyping.Array"})
