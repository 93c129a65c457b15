"""LL0xx: findings about the linter's own input."""

from __future__ import annotations

from losslint.rule import Invalid, Rule, Valid


class ParseError(Rule):
    """A file that cannot be read or parsed.

    ## What it does
    Reports a file that cannot be read (permissions), decoded (invalid UTF-8, an unknown
    declared encoding, a NUL byte) or parsed (a syntax error, invalid notebook JSON), with the
    reason. The other files are still linted.

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
