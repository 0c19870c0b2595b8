"""Expression parsing and evaluation without ROOT: semantics and every error message."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from fourtop.data.formula import Formula, branches_used
from fourtop.errors import ExpressionError


def _eval(expr, **arrays):
    return Formula(expr, "selection").evaluate(arrays)


def test_precedence_and_booleans():
    x = np.array([-2.0, 0.0, 3.0])
    values, valid = _eval("x > 1 || x < -1 && !x", x=x)
    assert values.tolist() == [0.0, 0.0, 1.0]
    assert valid.all()
    assert _eval("2 + 3 * x % 4", x=np.array([3.0]))[0].tolist() == [3.0]
    assert _eval("-x * -1 - -2", x=np.array([5.0]))[0].tolist() == [7.0]


def test_root_division_log_sqrt_conventions():
    x = np.array([-4.0, 0.0, 4.0])
    assert _eval("1 / x", x=x)[0].tolist() == [-0.25, 0.0, 0.25]
    assert _eval("sqrt(x)", x=x)[0].tolist() == [2.0, 0.0, 2.0]
    assert _eval("log(x)", x=x)[0][:2].tolist() == [0.0, 0.0]
    assert np.isnan(_eval("TMath::Sqrt(x)", x=x)[0][0])


def test_jagged_index_out_of_range_invalidates_the_event():
    jets = ak.Array([[50.0, 40.0, 30.0], [60.0], []])
    values, valid = _eval("j[2] > 0 || n > 0", j=jets, n=np.array([1, 1, 1]))
    assert valid.tolist() == [True, False, False]
    assert values[valid].tolist() == [1.0]


def test_branches_used_in_order_of_first_use():
    assert branches_used("b > 1 && a[0] < b + TMath::Abs(c)") == ["b", "a", "c"]


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("x >", "unexpected end at column 4"),
        ("(x > 1", "expected ')', found end of expression at column 7"),
        ("x > 1)", "unexpected ')' at column 6"),
        ("x @ 1", "unexpected character '@' at column 3"),
        ("sqr(x)", "unknown function 'sqr' (did you mean: sqrt"),
        ("TMath::Sqr(x)", "unknown function 'TMath::Sqr'"),
        ("pow(x)", "pow takes 2 argument(s), got 1 at column 1"),
        ("a < b == c", "chained comparison at '==': add parentheses"),
        ("j[n] > 1", "index of 'j' must be a non-negative integer constant at column 3"),
        ("", "empty expression"),
    ],
)
def test_syntax_errors_name_expression_and_column(expr, fragment):
    with pytest.raises(ExpressionError) as info:
        Formula(expr, "selection")
    message = str(info.value)
    assert message.startswith(f"selection {expr!r}: ")
    assert fragment in message
    assert "\n" not in message


def test_unknown_branch_names_column_and_nearest():
    f = Formula("AK4HT > 510 && NJets >= 6", "selection")
    with pytest.raises(ExpressionError) as info:
        f.check_branches(["AK4HT", "NJets_JetSubCalc"], "file.root")
    message = str(info.value)
    assert "unknown branch 'NJets' in file.root" in message
    assert "at column 16" in message
    assert "did you mean: NJets_JetSubCalc" in message


def test_unindexed_jagged_branch_and_indexed_scalar_are_errors():
    with pytest.raises(ExpressionError, match=r"variable-length array; index it, e.g. j\[0\]"):
        _eval("j > 0", j=ak.Array([[1.0], []]))
    with pytest.raises(ExpressionError, match="'x' is not an array"):
        _eval("x[0] > 0", x=np.array([1.0]))


@pytest.mark.parametrize(
    ("expr", "value"),
    [("1", 1.0), ("0", 0.0), ("1/0", 0.0), ("0/0", 0.0), ("1e39", 1e39), ("-2 * 3", -6.0),
     ("exp(1000)", np.exp(700.0)), ("TMath::Pi()", np.pi)],
)  # fmt: skip
def test_constant_expression_gives_one_value_per_event(expr, value):
    f = Formula(expr, "weight")
    assert f.is_constant and f.branches == ()
    values, valid = f.evaluate({"x": np.arange(4.0), "j": ak.Array([[1.0], [], [2.0], []])})
    assert values.tolist() == [value] * 4 and valid.tolist() == [True] * 4
    values, valid = f.evaluate({}, size=3)  # no branch read at all: the chunk size says
    assert values.tolist() == [value] * 3 and valid.all()
    assert f.evaluate({}, size=0)[0].shape == (0,)


def test_constant_in_a_larger_expression_and_overflow_is_silent():
    x = np.array([1.0, 2.0])
    assert _eval("1 * (x > 1)", x=x)[0].tolist() == [0.0, 1.0]
    values = Formula("x * 1e308 * 10 - x * 1e308 * 10", "weight").evaluate({"x": x})[0]
    assert np.isnan(values).all()  # inf - inf, no RuntimeWarning (warnings are errors here)
    assert not Formula("x * 2", "weight").is_constant


def test_index_of_a_plain_branch_read_as_awkward_is_an_error():
    with pytest.raises(ExpressionError, match=r"'AK4HT\[0\] > 1': branch 'AK4HT' is not an array"):
        _eval("AK4HT[0] > 1", AK4HT=ak.Array([600.0, 700.0]))
