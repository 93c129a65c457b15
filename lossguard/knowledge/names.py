"""The one vocabulary of naming heuristics: what a name says about the value it holds.

Every guess lossguard makes from a name (is this function a loss, is this parameter a label,
a prediction, logits, a size or a hyperparameter) is made here, by whole tokens: names are split
at `_` and at camelCase humps, in any case (`FocalLoss` -> focal, loss; `y_true` -> y, true).
The static rules and the dynamic pass ask the same questions of the same words.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache

# A function or method whose name holds one of these tokens is loss code.
LOSS_WORDS = frozenset({
    "loss", "losses", "cost", "objective", "crossentropy", "xent", "nll", "dice", "jaccard",
    "tversky", "focal", "hinge", "huber", "contrastive", "triplet", "divergence", "elbo",
    "bce", "mse", "mae", "mape", "smape", "nce", "kl", "kld", "ce", "rmse", "rmsle", "msle",
    "ntxent", "infonce", "lovasz", "penalty", "criterion",
})
LOSS_PAIRS = (("cross", "entropy"), ("squared", "error"), ("square", "error"),
              ("absolute", "error"), ("log", "likelihood"))
# Tokens of a module-level name that holds a training objective (`cross_entropy = ...`).
LOSS_TARGET_WORDS = frozenset({"loss", "cost", "objective", "xent", "nll", "entropy"})
# Module names whose public functions are loss code whatever their own names.
LOSS_MODULES = frozenset({"losses", "loss", "objectives", "objective", "criterion",
                          "criterions", "cost", "costs"})
TRAINING_NAMES = frozenset({"train_step", "training_step", "train_batch", "step_fn",
                            "replica_fn"})

# Parameters of loss code that are tensors (inputs), by whole name.
INPUT_NAMES = frozenset({
    "y_true", "y_pred", "labels", "label", "targets", "target", "logits", "preds", "pred",
    "probs", "prob", "mask", "masks", "weights", "predictions", "prediction", "output",
    "outputs", "y", "x", "inputs", "true", "truth", "gt", "input",
})
# Inputs that are labels, masks or weights: bounded data, not raw predictions.
LABEL_NAMES = frozenset({"y_true", "labels", "label", "targets", "target", "mask", "masks",
                         "weights", "truth", "gt", "same", "y", "true"})
LOGIT_NAMES = frozenset({"logits", "logit", "scores"})
# Tokens of labels, masks, weights and indices (a name holding one is not a prediction).
LABEL_TOKENS = frozenset({"true", "label", "labels", "target", "targets", "mask", "masks",
                          "weight", "weights", "gt", "truth", "length", "lengths", "index",
                          "indices", "idx", "ids", "class", "classes"})
PRED_TOKENS = frozenset({"pred", "preds", "prediction", "predictions", "predicted", "output",
                         "outputs", "logit", "logits", "probs", "prob", "hat", "yhat", "out"})
# Tokens of labels in an argument position (`y` alone counts here).
ARGUMENT_LABEL_TOKENS = frozenset({"true", "label", "labels", "target", "targets", "gt",
                                   "truth", "y"})
KERAS_PRED_NAMES = frozenset({"y_pred", "y_hat", "yhat", "ypred", "y_predicted",
                              "y_prediction"})
# Tokens of names that hold a count or a size (> 0).
SIZE_WORDS = frozenset({"size", "batch", "num", "count", "n", "b", "steps", "total", "len",
                        "length", "replicas", "scale"})
# Tokens of the sizes of a tensor or an image (`image_shape`, `feat_shape`): each is >= 1.
SHAPE_TOKENS = frozenset({"shape", "shapes"})
# Tokens of parameters that are configuration, not tensors: counts, shapes, anchors, rates.
# Such a parameter is never an input (never a structural zero), even without a default. Not
# `anchor` (the anchor embedding of a triplet loss), `args` (the tensor list a Keras `Lambda`
# passes) or `params` (the weights a JAX loss differentiates).
HYPERPARAMETER_TOKENS = frozenset({
    "num", "n", "size", *SHAPE_TOKENS, "anchors", "classes", "keep", "rate",
    "thresh", "threshold", "margin", "alpha", "beta", "gamma", "delta", "temperature", "temp",
    "eps", "epsilon", "smooth", "smoothing", "scale", "lambda", "lam", "dim", "axis", "config",
    "cfg", "opt", "reduction", "mode", "k", "tau", "order", "power", "fan", "stride", "strides",
    "units", "drop", "dropout", "kernel", "window", "padding", "dilation", "heads", "channels",
    "idx", "index", "wd", "decay", "coef", "coeff", "momentum", "width", "height", "total",
    "count", "kwargs",
})
# Of those, the tokens of configuration that is never negative by convention: counts, sizes,
# rates, temperatures, smoothing terms and coefficients (`-beta * d ** 2` is <= 0). Not
# `dim`/`axis` (-1), `idx`/`index` (negative indexing), `order`, settings that are no numbers
# (`mode`, `reduction`, `config`), nor names that data goes by too: the signed `margin` of a
# logistic loss, a `delta` that is a difference.
NON_NEGATIVE_TOKENS = HYPERPARAMETER_TOKENS - {"dim", "axis", "idx", "index", "order", "mode",
                                               "reduction", "config", "cfg", "opt", "margin",
                                               "delta", "kwargs"}
# Tokens of the lengths of sequences (`enc_len`, `input_lengths`): a count of items, >= 1.
LENGTH_TOKENS = frozenset({"len", "lens", "length", "lengths"})
GRADIENT_WORDS = frozenset({"grad", "grads", "gradient", "gradients"})

_HUMP = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


@lru_cache(maxsize=8192)
def name_tokens(name: str) -> tuple[str, ...]:
    """`dice_loss` -> (dice, loss); `FocalLoss` -> (focal, loss); `KLDiv` -> (kl, div)."""
    return tuple(t.lower() for part in name.split("_") for t in _HUMP.findall(part))


# Verbs of functions that handle a loss's value after the fact (`plot_losses`, `print_loss`,
# `record_losses_epoch`): they report it, they do not compute it.
# (Not `save`, `write`: `save_log_loss` may build the losses it saves.)
REPORTING_VERBS = frozenset({"record", "print", "plot", "show", "display", "visualize", "draw",
                             "dump", "export"})


# Tokens of functions that compute a learning rate or its schedule (`cosine_lr_schedule`,
# `warmup_steps_fn`): a training step calls them, but they are no loss code.
SCHEDULE_TOKENS = frozenset({"lr", "schedule", "scheduler", "warmup"})


def is_schedule_name(name: str) -> bool:
    """`cosine_lr_schedule`, `get_lr`, `warmup_factor`, `learning_rate_fn`."""
    tokens = name_tokens(name)
    return bool(set(tokens) & SCHEDULE_TOKENS) or any(
        a == "learning" and b == "rate" for a, b in zip(tokens, tokens[1:], strict=False))


# Functions that prepare the data a loss is given (`process_data`, `load_dataset`,
# `preprocess_images`): a training script calls them, but they are no loss code.
_PREPARING_VERBS = frozenset({"process", "load", "prepare", "read", "make", "build", "create",
                              "get", "normalize", "normalise", "standardize"})
_DATA_NOUNS = frozenset({"data", "dataset", "datasets", "images", "batch", "batches", "loader",
                         "loaders", "inputs", "features", "samples"})


# A data set's splits (`train_x`, `y_test`, `X_val`, `train_data`): data, prepared before any
# loss reads it.
_SPLIT_TOKENS = frozenset({"train", "test", "val", "valid", "validation", "eval", "dev"})
_SPLIT_DATA_TOKENS = frozenset({"x", "y", "data", "inputs", "input", "labels", "targets",
                                "images", "features", "dataset"})


def is_data_split_name(name: str) -> bool:
    """`train_x`, `y_train`, `test_images`, `X_val`: a split of the data set."""
    tokens = set(name_tokens(name))
    return bool(tokens & _SPLIT_TOKENS) and bool(tokens & _SPLIT_DATA_TOKENS)


def is_data_preparation_name(name: str) -> bool:
    """`process_data`, `load_dataset`, `preprocess_images`, `augment`: the loss's data made
    ready, not the loss (`get_batch_loss` is a loss name first; `get_batch_logps` computes
    from the batch, it does not make one)."""
    tokens = name_tokens(name)
    if not tokens or is_loss_name(name):
        return False
    if tokens[0] in ("preprocess", "augment", "augmentation"):
        return True
    return len(tokens) > 1 and tokens[0] in _PREPARING_VERBS and tokens[-1] in _DATA_NOUNS


def is_loss_name(name: str, patterns: tuple[str, ...] = ()) -> bool:
    tokens = name_tokens(name)
    # A conversion names what it returns: `mse2psnr` and `loss_to_str` give no loss, `img2mse`
    # does (`kl_div_2d` is no conversion: `2d` is a dimension).
    for position in range(1, len(tokens) - 1):
        if tokens[position] in ("2", "to") and len(tokens[position + 1]) > 1:
            tokens = tokens[position + 1:]
            break
    if tokens and tokens[0] in REPORTING_VERBS:
        return any(fnmatch.fnmatchcase(name, p) for p in patterns)
    if any(t in LOSS_WORDS for t in tokens):
        return True
    for first, second in LOSS_PAIRS:
        for a, b in zip(tokens, tokens[1:], strict=False):
            if a == first and b.startswith(second):
                return True
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def is_metric_module(path: str) -> bool:
    """`metrics.py`, `classifier_metrics.py`, `eval_metrics_numpy.py`, and any module of a
    metrics or evaluation package (`metrics/ppl.py`, `torchmetrics/functional/stoi.py`,
    `evaluators/depth.py`): evaluation code, where a function named like a loss
    (`kl_divergence`, `log_likelihood`) measures, it does not train."""
    *folders, name = path.replace("\\", "/").split("/")
    return any(_names_metrics(part) for part in (*folders, name.partition(".")[0]))


_EVALUATION_WORDS = frozenset({"evaluator", "evaluators", "evaluation", "evaluations"})


def _names_metrics(part: str) -> bool:
    tokens = name_tokens(part)
    if tokens and tokens[-1] in _EVALUATION_WORDS:
        return True
    # (metric learning's module, `metric_learning.py`, holds losses)
    return any(token.endswith(("metric", "metrics")) and following != "learning"
               for token, following in zip(tokens, (*tokens[1:], ""), strict=False))


def is_loss_module(path: str) -> bool:
    """`losses.py`, `loss.py`, `objectives.py`, `criterion.py`, `cost.py` (TF1's word), and a
    module named for the loss it holds: `focal_loss.py`, `CSRLoss.py`, `yolo_losses.py`."""
    stem = path.replace("\\", "/").rpartition("/")[2].partition(".")[0]
    tokens = name_tokens(stem)
    return stem.lower() in LOSS_MODULES or bool(tokens) and tokens[-1] in ("loss", "losses")


# Tokens of configuration that counts the parts of a model (`num_classes`, `n_heads`).
_ARCHITECTURE_TOKENS = frozenset({"num", "n", "size", "classes", "steps", "units", "channels",
                                  "heads", "layers", "dim"})


def is_architecture_count(name: str) -> bool:
    """`num_classes`, `num_vars`, `hidden_size`: how many parts a model has, a setting >= 1
    (not a `count` of data, which can be 0)."""
    return any(token in _ARCHITECTURE_TOKENS for token in name_tokens(name))


def is_size_name(name: str) -> bool:
    return any(token in SIZE_WORDS for token in name_tokens(name))


def is_shape_name(name: str) -> bool:
    """`image_shape`, `fpn_shapes`: the sizes of a tensor or an image."""
    return any(token in SHAPE_TOKENS for token in name_tokens(name))


def is_length_name(name: str) -> bool:
    """`enc_len`, `input_lengths`, `seq_lens`: the length of a sequence."""
    return any(token in LENGTH_TOKENS for token in name_tokens(name))


def is_non_negative_setting(name: str) -> bool:
    """`temperature`, `beta`, `num_classes`, `smooth`: configuration that is never negative."""
    return is_hyperparameter_name(name) and any(
        token in NON_NEGATIVE_TOKENS for token in name_tokens(name))


# Tokens of a softmax temperature (`tau`, `self.temperature`, `temp`).
TEMPERATURE_TOKENS = frozenset({"temperature", "temperatures", "temp", "tau"})
# The smallest temperature taken for one an object is built with and the module does not show
# (`self.tau`): contrastive, distillation and calibration losses use 0.02 to 10 (CLIP clamps
# its learned one at 0.01), so a cosine over it stays within [-50, 50] and its `exp` neither
# overflows nor underflows.
TEMPERATURE_FLOOR = 0.02


def is_temperature_name(name: str) -> bool:
    """`tau`, `temperature`, `self.temp`: the temperature a softmax's logits are divided by."""
    return name == "T" or any(token in TEMPERATURE_TOKENS for token in name_tokens(name))


def is_hyperparameter_name(name: str) -> bool:
    """`num_classes`, `anchors`, `keep_prob`, `input_shape`, `margin`, `warmup_steps`, `wd`:
    configuration."""
    if name in INPUT_NAMES:
        return False
    if name == "T":
        return True  # a temperature (`p ** (1 / T)`) or a number of steps, never 0
    return any(token in HYPERPARAMETER_TOKENS or token in SCHEDULE_TOKENS
               for token in name_tokens(name))



# Usual values for hyperparameters without a default, by name token (the dynamic pass calls
# real code with made-up arguments).
HYPERPARAMETER_VALUES = {
    "margin": 1.0, "alpha": 0.25, "gamma": 2.0, "beta": 1.0, "delta": 1.0, "temperature": 0.1,
    "temp": 0.1, "tau": 0.1, "eps": 1e-7, "epsilon": 1e-7, "smooth": 1.0, "smoothing": 0.1,
    "scale": 1.0, "lambda": 1.0, "lam": 1.0, "threshold": 0.5, "thresh": 0.5, "rate": 0.5,
    "power": 2.0, "order": 2}


def hyperparameter_value(name: str, classes: int) -> object:
    """A usual value for a hyperparameter named `name` (`axis` -1, `reduction` "mean",
    `gamma` 2.0, a count the number of classes, else 1.0)."""
    tokens = set(name_tokens(name))
    if {"axis", "dim"} & tokens:
        return -1
    if "reduction" in tokens:
        return "mean"
    for token in name_tokens(name):
        if token in HYPERPARAMETER_VALUES:
            return HYPERPARAMETER_VALUES[token]
    if {"num", "n", "size", "k", "count", "classes"} & tokens:
        return classes
    return 1.0

def is_gradient_name(name: str) -> bool:
    """`grads`, `gradients`, `grad_output`, `d_loss`: a gradient (or the upstream one); not
    the variables a gradient is taken for (`grad_vars`, `grad_params`)."""
    tokens = name_tokens(name)
    return bool(tokens) and tokens[0] in GRADIENT_WORDS and \
        tokens[-1] not in _DIFFERENTIATED_WORDS or _DERIVATIVE.fullmatch(name.lower()) is not None


# `d_loss`, `dloss_dx`, `d_loss_d_w`: the derivative of the loss (not `d_loss_stats`, the
# discriminator's loss statistics).
_DERIVATIVE = re.compile(r"d_?loss(_?d_?[a-z]\w{0,3})?")


# Last words of names that hold what is differentiated (`grad_vars`: the trainable variables).
_DIFFERENTIATED_WORDS = frozenset({"vars", "variables", "params", "parameters"})


# Words of the names that hold a model's trainable variables (`model.trainable_variables`).
VARIABLE_WORDS = ("variables", "weights", "params", "parameters", "vars")


def is_variables_name(name: str) -> bool:
    """`model.trainable_variables`, `params`, `self.weights`: what a gradient is taken for."""
    last = name.lower().rsplit(".", 1)[-1]
    return any(word in last for word in VARIABLE_WORDS)


def is_label_name(name: str) -> bool:
    """A parameter or variable that holds labels, masks or weights, not a prediction."""
    lowered = name.lower()
    return lowered in LABEL_NAMES or bool(set(name_tokens(name)) & LABEL_TOKENS)


# Words that mark a parameter as the labelled twin of another (`masks_target`, `gt_boxes`).
_PARTNER_WORDS = ("target", "targets", "true", "gt", "label", "labels", "truth")


def has_label_partner(name: str, params: Iterable[str]) -> bool:
    """Whether another parameter is the labelled twin of `name` (`masks` beside
    `masks_target`, `weights` beside `gt_weights`): then `name` is the prediction, whatever
    its word says."""
    twins = {f"{name}_{w}" for w in _PARTNER_WORDS} | {f"{w}_{name}" for w in _PARTNER_WORDS}
    return any(param in twins for param in params)


# Tokens of reinforcement-learning targets: returns, advantages and rewards are computed from
# the environment (and a critic's values held fixed), then fed to the objective as data: a
# policy-gradient or PPO objective never differentiates them (`adv.std()` gets no gradient).
RETURN_TOKENS = frozenset({"return", "returns", "reward", "rewards", "advantage", "advantages",
                           "adv", "advs"})


def is_return_name(name: str) -> bool:
    """`returns`, `advantages`, `discounted_rewards`, `adv_batch`: a reinforcement-learning
    target, data that carries no gradient (not `reward_model`, not `value`)."""
    tokens = set(name_tokens(name))
    return bool(tokens & RETURN_TOKENS) and not tokens & (MODEL_TOKENS | PRED_TOKENS)


# Names of the action a policy took (`probs[0, action]`, `gather(probs, self.a)`): sampled
# from that policy's own probabilities, which never picks one that is exactly 0.
ACTION_TOKENS = frozenset({"action", "actions", "act", "acts"})


def is_action_name(name: str) -> bool:
    """`action`, `self.actions`, `a_t`, `a`: the action a policy sampled (not `action_probs`,
    not `act_fn`)."""
    last = name.rpartition(".")[2]
    tokens = name_tokens(last)
    return last in ("a", "a_t") or bool(tokens) and tokens[0] in ACTION_TOKENS and \
        len(tokens) <= 2 and not set(tokens) & (PRED_TOKENS | {"fn", "prob", "probs", "dim"})


# Tokens of the names of models (`model(x)`, `self.net(x)`, `discriminator(fake)`): what calling
# one returns is a prediction.
MODEL_TOKENS = frozenset({"model", "net", "network", "encoder", "decoder", "generator",
                          "discriminator", "classifier", "critic", "predictor", "regressor"})


# A GAN's two networks, by the convention of its papers (`D(real)`, `G(z)`).
MODEL_NAMES = frozenset({"D", "G"})


# What a model class calls the method that runs the network (`self.forward(x)`, a
# physics-informed net's `self.evaluate(coords)`).
FORWARD_METHODS = frozenset({"forward", "call", "__call__", "evaluate", "predict", "inference"})


def is_model_name(name: str) -> bool:
    """`model`, `net`, `self.discriminator`, `netG`, `cnn_model`, `D`: a model object."""
    if name in MODEL_NAMES:
        return True
    tokens = name_tokens(name)
    return bool(tokens) and (tokens[-1] in MODEL_TOKENS or tokens[0] in MODEL_TOKENS)


def is_anchor_name(name: str) -> bool:
    """`anchors`, `self.anchors`, `anchors_tensor`, `prior_boxes`, `strides`: the prior box
    sizes (or, anchor-free, the grid strides) a detector scales by `exp` of its predictions."""
    return any(token in ("anchor", "anchors", "prior", "priors", "stride", "strides")
               for token in name_tokens(name.rpartition(".")[2]))


INTERSECTION_TOKENS = frozenset({"inter", "intersect", "intersection", "intersections",
                                 "overlap", "overlaps"})


def is_intersection_name(name: str) -> bool:
    """`inter`, `intersect_areas`, `overlap`, `self.inter_area`, `area_i`: the area two boxes
    (or two sets) share, which is at most the area of each."""
    tokens = name_tokens(name.rpartition(".")[2])
    return any(token in INTERSECTION_TOKENS for token in tokens) or (
        "area" in tokens and "i" in tokens)


def is_mask_name(name: str) -> bool:
    """`mask`, `padding_mask`, `label_masks`: 0s and 1s that select elements."""
    tokens = name_tokens(name)
    return bool(tokens) and tokens[-1] in ("mask", "masks")


def is_logit_name(name: str) -> bool:
    """`logits`, `pred_logits`, `logit_scale`; not a mask over logits (`logits_mask`)."""
    lowered = name.lower()
    return lowered in LOGIT_NAMES or "logit" in lowered and not is_mask_name(name)


# Tokens of a name that holds an optimizer (`optimizer`, `d_optim`, `self.optimiser`).
OPTIMIZER_TOKENS = frozenset({"optimizer", "optimizers", "optim", "optimiser"})


def is_optimizer_name(name: str) -> bool:
    return not OPTIMIZER_TOKENS.isdisjoint(name_tokens(name))


# What a raw prediction may be called: the dynamic pass feeds logits to a loss whose prediction
# parameter says so (`logits`, `scores`, `outputs`, `raw_pred`), probabilities otherwise.
_RAW_OUTPUT_WORDS = ("logit", "score", "output", "raw")


def may_hold_logits(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _RAW_OUTPUT_WORDS)


# The parameters a training step may take (`train_step(model, optimizer, x, y)`), and the
# role of each: what the dynamic pass passes for it.
TRAIN_STEP_ROLES = {
    "model": "model", "net": "model", "network": "model",
    "optimizer": "optimizer", "opt": "optimizer",
    "x": "x", "inputs": "x", "features": "x", "x_batch": "x", "batch_x": "x", "images": "x",
    "y": "y", "labels": "y", "targets": "y", "y_true": "y", "y_batch": "y", "batch_y": "y",
}


def pred_like(name: str) -> bool:
    return bool(set(name_tokens(name)) & PRED_TOKENS)


def label_like(name: str) -> bool:
    tokens = set(name_tokens(name))
    return bool(tokens & ARGUMENT_LABEL_TOKENS) and not tokens & PRED_TOKENS


# Calls made only to report a value (logging, summaries, metrics): a value that reaches only
# these never reaches the objective.
REPORTING_CALLS = frozenset({
    "print", "log", "log_dict", "scalar", "scalars", "histogram", "image", "add_scalar",
    "add_scalars", "add_histogram", "add_image", "update_state", "add_metric", "info", "debug",
    "warning", "warn", "write", "set_postfix", "set_description", "summary", "record",
    "add_summary", "add_moving_summary", "scalar_summary", "histogram_summary", "image_summary",
    "add_text", "log_metric", "log_metrics",
})


def reports_only(callee: str) -> bool:
    """Whether a call by this dotted name only reports a value (`print`, `self.log`,
    `tf.summary.scalar`): made for its effect, it changes nothing the optimiser sees."""
    return callee.rpartition(".")[2] in REPORTING_CALLS


def is_test_module(path: str) -> bool:
    """`test_losses.py`, `losses_test.py`, `conftest.py`, or a file under a `tests/` folder."""
    parts = path.replace("\\", "/").split("/")
    stem = parts[-1].partition(".")[0]
    return stem.startswith("test_") or stem.endswith("_test") or stem == "conftest" or \
        any(part in ("tests", "test") for part in parts[:-1])


def is_test_name(name: str) -> bool:
    """A test function or class (`test_dice_loss`, `TestFocalLoss`, `FocalLossTest`)."""
    tokens = name_tokens(name)
    return bool(tokens) and (tokens[0] == "test" or tokens[-1] in ("test", "tests"))


# Tokens of a cosine similarity (`cos_theta`, `cosine`): a value in [-1, 1].
COSINE_TOKENS = frozenset({"cos", "cosine", "costheta"})


def is_cosine_name(name: str) -> bool:
    """`cos_theta`, `cosine`, `cos_sim`: a cosine similarity."""
    return any(token in COSINE_TOKENS for token in name_tokens(name))


# Tokens of a distance (`dists`, `pos_dist`, `distance_matrix`): a value >= 0.
DISTANCE_TOKENS = frozenset({"dist", "dists", "distance", "distances", "sqdist", "sqdists"})


def is_distance_name(name: str) -> bool:
    """`dists`, `dist_an`, `sq_distances`: a distance, never negative by its meaning."""
    return any(token in DISTANCE_TOKENS for token in name_tokens(name))


_LOG_SCALED = frozenset({"var", "sigma", "std", "scale", "variance", "stddev", "alpha", "prob",
                         "probs", "p", "ps", "pi", "likelihood"})


_SCALE_TOKENS = frozenset({"sigma", "std", "stddev", "scale", "var", "variance"})


def is_scale_name(name: str) -> bool:
    """`sigma`, `std`, `noise_scale`, `pred_var`: a spread, positive by its meaning; what is
    assigned or passed to it as an `exp` is read back from a log scale."""
    tokens = name_tokens(name)
    return bool(tokens) and tokens[-1].rstrip("0123456789") in _SCALE_TOKENS


def is_log_scale_name(name: str) -> bool:
    """`log_var`, `logvar`, `log_sigma`, `log_std`, `log_scale`, `logprobs`, also qualified
    (`z_log_var`, `z_logvar`, `q_log_sigma`), and a flow's `logs` (`logs_p`: the log of a
    scale `s`): a value kept on a log scale, whose `exp` is the intended way back (not
    logits)."""
    tokens = name_tokens(name)
    if not tokens or "logit" in name.lower() or "logits" in tokens:
        return False
    if tokens[0] == "log" and len(tokens) > 1 or "logs" in tokens:
        return True
    if len(tokens) == 1 and len(name) == 4 and tokens[0].startswith("log") and \
            tokens[0][3] != "s":
        return True  # `logu`, `logq`, `logw`: the log of the quantity a letter names
    return any(token == "log" and following.rstrip("0123456789") in _LOG_SCALED
               or token.startswith("log") and token[3:] in _LOG_SCALED
               for token, following in zip(tokens, (*tokens[1:], ""), strict=True))


_LOG_PROB_TOKENS = frozenset({"logp", "logps", "logprob", "logprobs", "lprobs", "logpi"})
_PROB_TOKENS = frozenset({"p", "ps", "prob", "probs", "pi"})
# A log-probability glued to a qualifier: `newlogprob`, `oldlogprobs`.
_GLUED_LOG_PROB = ("logprob", "logprobs")


def is_log_prob_name(name: str) -> bool:
    """`logps`, `log_probs`, `policy_chosen_logps`, `newlogprob`: a log-probability,
    at most 0 (not logits, and not a log-likelihood of a density)."""
    tokens = name_tokens(name)
    if not tokens or "logit" in name.lower() or "logits" in tokens:
        return False
    return any(token in _LOG_PROB_TOKENS or token.endswith(_GLUED_LOG_PROB)
               or token == "log" and following in _PROB_TOKENS
               for token, following in zip(tokens, (*tokens[1:], ""), strict=True))


# Tokens of parameters that hold embeddings or features (the prediction side of a metric or
# contrastive loss: `pair_loss(labels, embeddings, margin)`).
EMBEDDING_TOKENS = frozenset({"embeddings", "embedding", "emb", "embs", "feats", "features",
                              "feature", "anchor", "anchors", "positive", "negative", "reps",
                              "representations", "hidden", "query", "queries", "keys", "z",
                              "forecast", "forecasts", "estimate", "recon", "reconstruction",
                              "x"})
# Tokens of parameters that count classes, and that weigh classes.
# One-letter pairs of inputs (`distance(a, b)`, `kl(p, q)`): two tensors, not sizes.
PAIR_NAMES = frozenset({"a", "b", "p", "q", "u", "v", "x1", "x2", "z1", "z2"})
CLASS_COUNT_NAMES = frozenset({"num_classes", "n_classes", "nb_classes", "classes",
                               "num_class", "n_class", "number_of_classes", "c", "k"})


def parameter_role(name: str) -> str:
    """What a parameter of loss code holds, for calling the code with made-up arguments.

    One of `labels`, `logits`, `predictions`, `embeddings`, `mask`, `weights`,
    `class_weights`, `class_count`, `hyperparameter`, or `tensor` (no word says which).
    """
    tokens = set(name_tokens(name))
    lowered = name.lower()
    if lowered in CLASS_COUNT_NAMES:
        return "class_count"
    if "class" in tokens or "classes" in tokens:
        if tokens & {"weight", "weights", "alpha", "alphas"}:
            return "class_weights"
        if tokens & {"num", "n", "nb", "number", "count"}:
            return "class_count"
    if lowered in PAIR_NAMES:
        return "embeddings"
    if tokens & {"mask", "masks"}:
        return "mask"
    if tokens & {"weight", "weights"}:
        return "weights"
    if is_logit_name(name):
        return "logits"
    if tokens & PRED_TOKENS:
        return "predictions"
    if lowered in LABEL_NAMES or tokens & ARGUMENT_LABEL_TOKENS:
        return "labels"
    if is_hyperparameter_name(name) or is_size_name(name):
        return "hyperparameter"
    if tokens & EMBEDDING_TOKENS:
        return "embeddings"
    return "tensor"


# Tokens of names that hold data a loss computes on: labels, predictions, scores, masks and
# weights, probabilities, distances, embeddings and features, samples, the spread a model
# predicts (`sigma`, `log_var`), returns and advantages. Each can hold a 0 (an empty mask, a
# saturated probability, two equal embeddings).
DATA_TOKENS = LABEL_TOKENS | PRED_TOKENS | ARGUMENT_LABEL_TOKENS | COSINE_TOKENS | frozenset({
    "score", "scores", "weight", "weights", "proba", "probability", "probabilities", "likelihood",
    "dist", "dists", "distance", "distances", "sim", "similarity", "emb", "embs", "embedding",
    "embeddings", "feat", "feats", "feature", "features", "latent", "hidden", "act",
    "activation", "activations", "sample", "samples", "image", "images", "img", "imgs", "real",
    "fake", "anchor", "positive", "negative", "pos", "neg", "sigma", "std", "var", "variance",
    "mu", "mean", "energy", "value", "values", "reward", "rewards", "return", "returns",
    "advantage", "advantages", "ratio", "ratios", "error", "errors", "residual", "diff",
    "input", "inputs", "args", "tensor", "data", "batch", "example", "examples", "density",
    "count", "counts", "freq", "lengths",
})
# Single letters that name data by convention: a pair (`a`, `b`, `p`, `q`, `u`, `v`), `x`, `y`,
# a latent `z`, a distance `d`, a score `s`, a hidden state `h`, weights `w`; a batch (a dict of
# tensors) is data too.
_DATA_LETTERS = frozenset({"a", "b", "p", "q", "u", "v", "x", "y", "z", "d", "s", "h", "w"})


def is_data_name(name: str) -> bool:
    """A parameter whose name says it holds data (`y_true`, `pred`, `probs`, `mask`, `dist`,
    `emb`, `sigma`, `x`, `p`), not a value the caller supplies to divide by or take the log of
    (`normalizer`, `discount`, `area`, `cov_p`, `denominator`): only data is a structural zero."""
    lowered = name.lower()
    if lowered in INPUT_NAMES or lowered in PAIR_NAMES or name.rstrip("0123456789_") in \
            _DATA_LETTERS:  # also numbered: `v1`, `v2`, `x_0`
        return True
    return bool(set(name_tokens(name)) & DATA_TOKENS) or is_logit_name(name) or \
        is_log_prob_name(name) or is_log_scale_name(name)
