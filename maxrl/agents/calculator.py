"""A calculator tool: evaluates one arithmetic expression, safely.

Only numbers, ``+ - * / // % **`` and parentheses are read (Python's own parser, then a walk over the
tree, never ``eval``); exponents are bounded so that no call can compute for minutes. Use it in a tool
config as ``class_name: maxrl.agents.calculator.CalculatorTool`` with the schema `CALCULATOR_SCHEMA`.
"""

from __future__ import annotations

import ast
import math
import operator

from maxrl.agents.base import Tool, ToolResult

__all__ = ["CALCULATOR_SCHEMA", "CalculatorTool", "evaluate"]

CALCULATOR_SCHEMA = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression with + - * / // % ** and parentheses.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. 347*582"}},
            "required": ["expression"],
        },
    },
}

MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 64
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _value(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError(f"exponents are limited to {MAX_EXPONENT}")
        return _BINARY[type(node.op)](left, right)
    raise ValueError(f"not an arithmetic expression: {ast.unparse(node)!r}")


def evaluate(expression: str) -> int | float:
    """The value of `expression`; ValueError for anything but arithmetic (ZeroDivisionError for x/0)."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {expression!r}") from None
    return _value(tree.body)


def _format(value: int | float) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


class CalculatorTool(Tool):
    """``{"expression": "347*582"}`` -> ``"201954"``; a bad expression raises, which the model reads as an error."""

    def execute(self, parameters, state, **execute_kwargs) -> ToolResult:
        expression = parameters.get("expression")
        if not isinstance(expression, str):
            raise ValueError('give the expression as a string, e.g. {"expression": "347*582"}')
        return ToolResult(_format(evaluate(expression)))
