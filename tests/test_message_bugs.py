"""Messages of INVALID examples that are wrong today, each asserted as it should read (strict
xfail: when the message is fixed the test passes, fails as XPASS, and its mark goes). An
example whose pinned fragment is itself wrong today sits in test_rule_examples.WRONG_MESSAGE."""

from __future__ import annotations

import pytest

from lossguard.api import Invalid

from .helpers import RULES, alone

# (rule, a fragment of its INVALID example's code) -> what is wrong with the message
WRONG = {
    ("LL202", "lambda dy: tf.ones_like(x)"):
        "a lambda is named 'gradient function the lambda'",
    ("LL202", "class Sign(torch.autograd.Function)"):
        "names the `backward` method, not the autograd.Function class `Sign`, as what gets a "
        "gradient that does not depend on the loss",
}


def messages(code: str, fragment: str) -> list[str]:
    """The messages the rule `code` gives its INVALID example whose code holds `fragment`."""
    rule = next(r for r in RULES if r.code == code)
    found = [e for e in rule.INVALID if fragment in getattr(e, "code", e)]
    assert len(found) == 1, (code, fragment)
    example = found[0] if isinstance(found[0], Invalid) else Invalid(found[0])
    return [f.message for f in alone(rule, example.code)]


@pytest.mark.parametrize(("code", "fragment"), WRONG)
def test_the_examples_exist_and_fire(code, fragment):
    assert messages(code, fragment)


def _xfail(key):
    return pytest.param(*key, marks=pytest.mark.xfail(strict=True, reason=WRONG[key]))


@pytest.mark.parametrize(("code", "fragment"), [_xfail(("LL202", "lambda dy: tf.ones_like(x)"))])
def test_a_lambda_gradient_function_is_named_grammatically(code, fragment):
    for message in messages(code, fragment):
        assert "gradient function the lambda" not in message


@pytest.mark.parametrize(("code", "fragment"),
                         [_xfail(("LL202", "class Sign(torch.autograd.Function)"))])
def test_the_autograd_function_class_is_named(code, fragment):
    for message in messages(code, fragment):
        assert "everything before `Sign`" in message


@pytest.mark.parametrize(("code", "fragment"), [
    ("LL203", "labels = model(x).argmax(dim=1)"),
    ("LL205", "loss = loss.requires_grad_()"),
])
def test_a_training_step_names_the_model_output_not_its_parameters(code, fragment):
    for message in messages(code, fragment):
        assert "`optimizer`" not in message and "the model output" in message
