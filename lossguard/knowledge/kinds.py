"""Operation kinds: what an operation does, whatever a framework calls it.

The `ops` table maps every framework spelling to one of these (`tf.math.log`, `K.log`,
`torch.log` and `x.log()` are all `Kind.LOG`); analyses and rules ask about kinds, never about
spellings. A `Kind` is a `str`, so `ctx.kind(call) == "log"` and `ctx.kind(call) == Kind.LOG`
are the same test. `tests/test_kinds.py` checks that the table produces only these, that each
is produced, and that every kind the code compares against is one of them.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    # arithmetic and elementwise math
    ABS = "abs"
    ADD = "add"
    SUBTRACT = "subtract"
    MULTIPLY = "multiply"
    DIVIDE = "divide"
    DIVIDE_NO_NAN = "divide_no_nan"
    NEGATIVE = "negative"
    POW = "pow"
    SQUARE = "square"
    SQUARED_DIFFERENCE = "squared_difference"  # `tf.math.squared_difference(a, b)`: (a - b)**2
    SQRT = "sqrt"
    RSQRT = "rsqrt"
    EXP = "exp"
    AUTOCAST = "autocast"  # `torch.autocast(...)`: a mixed-precision block (float16 on GPU)
    EXPM1 = "expm1"  # `exp(x) - 1`: in (-1, inf), 0 at 0, negative below
    LOG = "log"
    UNIFORM = "uniform"  # `tf.random.uniform`, `torch.rand`: samples in [0, 1) by default
    NORMAL = "normal"  # `tf.random.normal`, `torch.randn`: Gaussian noise
    LOG1P = "log1p"
    XLOGY = "xlogy"
    SIN = "sin"
    COS = "cos"
    ACOS = "acos"  # also `asin`: the gradient -1/sqrt(1 - x**2) is inf at +-1
    ATANH = "atanh"  # inf (value and gradient) at +-1
    RECIPROCAL = "reciprocal"  # `1 / x`
    COSH = "cosh"
    TANH = "tanh"
    MAXIMUM = "maximum"
    MINIMUM = "minimum"
    CLIP = "clip"
    CLAMP_MIN = "clamp_min"
    CLAMP_MAX = "clamp_max"
    ROUND = "round"
    FLOOR = "floor"
    CEIL = "ceil"
    SIGN = "sign"
    COMPARE = "compare"
    ANY = "any"  # `any(m)`, `tf.reduce_any(m)`: whether some element is nonzero, a boolean
    TOPK = "topk"  # `torch.topk(x, k)`, `tf.math.top_k`: the k largest values and their indices
    SORT = "sort"  # `torch.sort(x)`: the sorted values and their indices
    ARGMAX = "argmax"
    ARGMIN = "argmin"
    CAST = "cast"
    INT_CAST = "int_cast"
    LINEAR = "linear"  # matmul, dot, einsum
    INNER = "inner"  # `torch.dot`: the inner product of two 1-D tensors, a 0-d scalar
    COSINE = "cosine"
    NORMALIZE = "normalize"
    WHERE = "where"
    # activations
    SIGMOID = "sigmoid"
    SOFTMAX = "softmax"
    LOG_SIGMOID = "log_sigmoid"
    LOG_SOFTMAX = "log_softmax"
    SOFTPLUS = "softplus"
    RELU = "relu"
    # reductions
    SUM = "sum"
    L2_LOSS = "l2_loss"  # `tf.nn.l2_loss(x)`: sum(x ** 2) / 2 over every element, the batch too
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    PROD = "prod"
    STD = "std"  # a standard deviation or a variance: 0 for a constant operand
    # A standard deviation computed as `sqrt(variance)` (TensorFlow, Keras, JAX; torch masks
    # it): 0 for a constant operand, where its gradient is NaN.
    STDDEV = "stddev"
    FFT = "fft"  # a Fourier transform (or STFT) of a signal: 0 in every bin of a silent one
    FILTERBANK = "filterbank"  # a mel filterbank matrix: non-negative weights
    LOGSUMEXP = "logsumexp"
    NORM = "norm"
    TORCH_NORM = "torch_norm"  # `x.norm()`: a torch tensor method, `p` as its first argument
    # shapes, constants and values outside the graph
    SHAPE = "shape"
    SIZE = "size"
    META = "meta"  # Python metadata about a tensor (`is_tensor`, `executing_eagerly`)
    RESHAPE = "reshape"
    SHAPE_ASSERT = "shape_assert"
    IDENTITY = "identity"
    ONE_HOT = "one_hot"
    SCATTER = "scatter"  # `x.scatter(dim, index, value)`: `x` with `value` written at `index`
    ONES = "ones"
    ONES_LIKE = "ones_like"
    ZEROS = "zeros"
    ZEROS_LIKE = "zeros_like"
    FULL = "full"  # `full_like(x, v)`, `tf.fill(dims, v)`: every element is `v`
    ARANGE = "arange"
    EPSILON = "epsilon"  # `keras.backend.epsilon()`
    PLACEHOLDER = "placeholder"
    ITEM = "item"  # `x.item()`: a Python number
    NUMPY = "numpy"  # `x.numpy()`: leaves the graph
    OPAQUE = "opaque"  # known to the table, nothing known about its value
    # losses
    MSE = "mse"
    MAE = "mae"
    BINARY_XENT = "binary_xent"
    CATEGORICAL_XENT = "categorical_xent"
    SIGMOID_XENT_LOGITS = "sigmoid_xent_logits"
    SOFTMAX_XENT_LOGITS = "softmax_xent_logits"
    TORCH_BCE = "torch_bce"
    TORCH_BCE_LOGITS = "torch_bce_logits"
    TORCH_CROSS_ENTROPY = "torch_cross_entropy"
    TORCH_NLL = "torch_nll"
    TORCH_KL_DIV = "torch_kl_div"  # its input is log-probabilities
    COMPUTE_AVERAGE_LOSS = "compute_average_loss"
    ADD_LOSS = "add_loss"
    # gradients and training
    GRADIENTS = "gradients"  # `tf.gradients`
    GRADIENT_TAPE = "gradient_tape"
    TAPE_GRADIENT = "tape_gradient"  # `tape.gradient(...)`
    BACKWARD = "backward"
    MINIMIZE = "minimize"
    STOP_GRADIENT = "stop_gradient"
    NO_GRAD = "no_grad"
    CUSTOM_GRADIENT = "custom_gradient"
    TF_FUNCTION = "tf_function"
    ENABLE_EAGER = "enable_eager"  # TensorFlow 1's `tf.enable_eager_execution()`
    COND = "cond"  # `tf.cond(pred, true_fn, false_fn)`: runs one branch function


# Operations whose result carries no gradient to their operand.
NON_DIFFERENTIABLE = frozenset({Kind.ARGMAX, Kind.ARGMIN, Kind.ROUND, Kind.FLOOR, Kind.CEIL,
                                Kind.SIGN, Kind.COMPARE, Kind.ANY})
# Operations that record no graph for their operand (`x.detach()`, `x.item()`, `x.numpy()`) or
# for what runs under them (`torch.no_grad()`).
DETACHING = frozenset({Kind.NO_GRAD, Kind.STOP_GRADIENT, Kind.ITEM, Kind.NUMPY})
# Operations whose result a NaN operand cannot make NaN: an index, a truth value, a shape.
NAN_BLOCKING = frozenset({Kind.ARGMAX, Kind.ARGMIN, Kind.COMPARE, Kind.ANY, Kind.SHAPE,
                          Kind.SIZE, Kind.META})
# Operations that return values and their indices (`_, idx = torch.topk(cost, k)`).
WITH_INDICES = frozenset({Kind.TOPK, Kind.SORT, Kind.MAX, Kind.MIN})
