"""The built-in calculator tool: arithmetic only, bounded, integral results without a decimal point."""

import pytest

from maxrl.agents.calculator import CALCULATOR_SCHEMA, CalculatorTool, evaluate


@pytest.mark.parametrize("expression, value", [
    ("347*582", 201954), ("2 ** 10", 1024), ("-(3 + 4) * 2", -14), ("7 / 2", 3.5), ("7 // 2", 3), ("7 % 4", 3),
    ("1.5 * 4", 6.0),
])
def test_arithmetic(expression, value):
    assert evaluate(expression) == value


@pytest.mark.parametrize("expression, error", [
    ("__import__('os').system('ls')", "not an arithmetic expression"),
    ("2 ** 100000", "exponents are limited to 64"),
    ("1 +", "cannot parse"),
    ("'a' * 3", "not an arithmetic expression"),
    ("9" * 300, "longer than 200 characters"),
])
def test_anything_else_is_refused(expression, error):
    with pytest.raises(ValueError, match=error):
        evaluate(expression)


def test_the_tool_answers_text():
    tool = CalculatorTool({}, CALCULATOR_SCHEMA)
    assert tool.name == "calculator"
    assert tool.execute({"expression": "6 * 4.0"}, None).text == "24"
    with pytest.raises(ValueError, match="give the expression as a string"):
        tool.execute({"expression": 24}, None)
    with pytest.raises(ZeroDivisionError):
        tool.execute({"expression": "1/0"}, None)
