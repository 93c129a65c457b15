"""LL0xx: findings about the linter's own input."""

from __future__ import annotations

from lossguard.api import Invalid, Rule, Valid


class ParseError(Rule):
    """A file that cannot be read or parsed.

    ## What it does
    Reports a file that cannot be read (permissions), decoded (invalid UTF-8, an unknown
    declared encoding, a NUL byte) or parsed (a syntax error, invalid notebook JSON), with the
    reason; a syntax error is reported on the line its message names (`error at 3:4`). The
    other files are still linted.

    ## Why is this bad?
    Nothing in that file was checked.

    ## Example
    ```python
    def loss(y_true, y_pred)
        return y_true - y_pred
    ```

    ## Use instead
    Fix the syntax error (or exclude the file with `--exclude`).
    """

    code = "LL001"
    name = "parse-error"
    scope = "all"
    hint = "fix the file or exclude it with --exclude"
    VALID = [Valid("def loss(y_true, y_pred):\n    return y_true - y_pred\n")]
    INVALID = [Invalid("def loss(y_true, y_pred)\n    return y_true - y_pred\n",
                       message="syntax error")]


class UnusedNoqa(Rule):
    """A `# noqa: LLxxx` that suppresses nothing.

    ## What it does
    Reports a `# noqa: LLxxx` (or `# lossguard: ignore[LLxxx]`) comment naming an enabled rule
    that reports nothing on that line: the code was fixed, or the comment sits on the wrong line
    of a multi-line statement. Off by default (`--extend-select LL002`); `--fix` removes the
    unused codes, or the whole comment when none is left.

    ## Why is this bad?
    A stale suppression hides the next real finding on that line, and tells readers the line
    is unsafe when it no longer is.

    ## Example
    ```python
    import tensorflow as tf
    def mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))  # noqa: LL101
    ```

    ## Use instead
    ```python
    import tensorflow as tf
    def mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))
    ```
    """

    code = "LL002"
    name = "unused-noqa"
    severity = "info"
    scope = "all"
    hint = "remove the code from the noqa comment"
    VALID = [
        Valid("""
        import tensorflow as tf
        def xent(y_true, y_pred):
            return -tf.reduce_sum(y_true * tf.math.log(y_pred))  # noqa: LL101
        """),
        Valid("""
        import tensorflow as tf
        def mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))  # noqa: E501
        """),
        Valid("""
        import torch
        def nll(pred, target):
            return -(target * pred.log()).mean()  # lossguard: ignore[LL101]
        """),
    ]
    INVALID = [
        Invalid("""
        import tensorflow as tf
        def mse(y_true, y_pred):
            return tf.reduce_mean(tf.square(y_true - y_pred))  # noqa: LL101
        """, line=3, message="`LL101` suppresses nothing"),
        Invalid("""
        import torch
        def nll(pred, target):
            return -(target * pred.log()).mean()  # noqa: LL101, LL102
        """, line=3, message="`LL102`"),
        Invalid("""
        import keras
        def mse(y_true, y_pred):
            return keras.ops.mean((y_true - y_pred) ** 2)  # lossguard: ignore[LL103]
        """, line=3, message="`LL103` suppresses nothing"),
    ]
