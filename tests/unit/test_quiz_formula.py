import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.quiz.formula import FormulaError, compute, parse, variables


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("2 + 3 * 4 - 1", {}, 13),
        ("2 - 3 - 1", {}, -2),
        ("-(2 + 3) * 2", {}, -10),
        ("10 / 4", {}, 2.5),
        ("10 % 4", {}, 2),
        ("base + area * 120 + if(style == 2, 900, 0)", {"base": 1000, "area": 10, "style": 2}, 3100),
        ("if(style == 2, 900, 0)", {"style": 1}, 0),
        ("round(max(price, 2400) * 1.2, -2)", {"price": 3333}, 4000),
        ("round(2.5)", {}, 3),
        ("min(3, 1, 2) + abs(-4) + floor(1.9) + ceil(1.1)", {}, 8),
        ("area >= 10 and not small or 0", {"area": 12, "small": 0}, 1),
        ("unknown_variable * 5", {}, 0),
    ],
)
def test_formulas_compute_like_a_calculator(source: str, values: dict, expected: float) -> None:
    assert compute(source, values) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("2 +", "unexpected 'end of formula'"),
        ("(2 + 3", "expected ')'"),
        ("2 $ 3", "unexpected '$'"),
        ("__import__('os')", "unexpected"),
        ("__import__(1)", "unknown function '__import__'"),
        ("open(1)", "unknown function 'open'"),
        ("if(1, 2)", "if() takes 3–3 arguments, got 2"),
        ("1 / 0", "division by zero"),
        ("(" * 60 + "1" + ")" * 60, "nested too deeply"),
        ("1" * 501, "longer than 500"),
        ("a.b", "unexpected '.'"),
    ],
)
def test_bad_formulas_are_refused_with_a_reason(source: str, message: str) -> None:
    with pytest.raises(FormulaError) as info:
        compute(source, {})
    assert message in str(info.value)


def test_errors_say_where() -> None:
    with pytest.raises(FormulaError) as info:
        parse("price * ? 2")
    assert info.value.position == 8 and "at character 9" in str(info.value)


def test_variables_are_listed_for_validation() -> None:
    assert variables(parse("round(base + if(style == 2, extra, 0), -1)")) == {"base", "style", "extra"}


# -- properties: any text is either a formula or a located FormulaError; arithmetic is exact -------


_ALPHABET = st.sampled_from(list("0123456789.+-*/%()<>=!, abxyz") + ["and ", "or ", "not ", "if(", "min(", "round("])


@given(st.lists(_ALPHABET, max_size=40).map("".join), st.dictionaries(st.sampled_from("abxyz"), st.floats(-1e6, 1e6)))
@settings(max_examples=400, deadline=None)
def test_any_text_either_computes_to_a_number_or_fails_with_a_formula_error(source: str, values: dict) -> None:
    try:
        result = compute(source, values)
    except FormulaError as exc:
        assert exc.position is None or 0 <= exc.position <= len(source)
    else:
        assert isinstance(result, float)


_INTS = st.integers(-1000, 1000)


@st.composite
def _sums(draw, depth: int = 0) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """A random integer expression and its value, built side by side."""
    if depth > 3 or draw(st.booleans()):
        n = draw(_INTS)
        return (f"({n})" if n < 0 else str(n)), n
    op = draw(st.sampled_from(["+", "-", "*"]))
    (a, x), (b, y) = draw(_sums(depth + 1)), draw(_sums(depth + 1))
    return f"({a} {op} {b})", {"+": x + y, "-": x - y, "*": x * y}[op]


@given(_sums())
@settings(max_examples=300, deadline=None)
def test_arithmetic_matches_exact_integer_arithmetic(case: tuple[str, int]) -> None:
    source, value = case
    # Exact while the value fits a double's 53-bit mantissa, within rounding beyond it.
    assert compute(source, {}) == (value if abs(value) < 2**53 else pytest.approx(value, rel=1e-12))
