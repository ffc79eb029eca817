"""A small, safe formula language for quiz calculators — never ``eval``.

    price = base + area * 120 + if(style == 2, 900, 0)
    round(max(price, 2400) * 1.2, -2)

Numbers, variables, + - * / % and unary minus, comparisons (< <= > >= == !=),
``and`` / ``or`` / ``not``, parentheses and the functions min, max, round, abs,
floor, ceil and if(condition, then, else). True is 1 and false is 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_LENGTH = 500
MAX_DEPTH = 40

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|==|!=|[-+*/%(),<>]))")


class FormulaError(ValueError):
    """What is wrong with a formula, and where (a character offset)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at character {position + 1})")
        self.position = position


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op", "end"
    text: str
    position: int


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise FormulaError(f"formula is longer than {MAX_LENGTH} characters")
    tokens, pos = [], 0
    while pos < len(source):
        if source[pos:].strip() == "":
            break
        match = _TOKEN.match(source, pos)
        if match is None:
            start = pos + len(source[pos:]) - len(source[pos:].lstrip())
            raise FormulaError(f"unexpected {source[start]!r}", start)
        number, name, op = match.groups()
        start = match.start(match.lastindex or 0)
        if number is not None:
            tokens.append(Token("num", number, start))
        elif name is not None:
            tokens.append(Token("name", name, start))
        else:
            tokens.append(Token("op", op, start))
        pos = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


Node = tuple  # ("num", v) | ("var", name) | ("un", op, x) | ("bin", op, a, b) | ("call", name, [args])

_BINARY = {
    "or": 1,
    "and": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    "<=": 4,
    ">": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
FUNCTIONS: dict[str, tuple[int, int]] = {
    "min": (1, 20),
    "max": (1, 20),
    "round": (1, 2),
    "abs": (1, 1),
    "floor": (1, 1),
    "ceil": (1, 1),
    "if": (3, 3),
}


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise FormulaError(f"expected {text!r}, found {token.text or 'the end'!r}", token.position)

    def expression(self, min_power: int = 0, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise FormulaError("formula is nested too deeply", self.peek().position)
        left = self.unary(depth)
        while True:
            token = self.peek()
            op = token.text if token.kind in ("op", "name") else ""
            power = _BINARY.get(op)
            if power is None or power < min_power:
                return left
            self.take()
            right = self.expression(power + 1, depth + 1)
            left = ("bin", op, left, right)

    def unary(self, depth: int) -> Node:
        token = self.take()
        if token.kind == "num":
            return ("num", float(token.text))
        if token.text == "-":
            return ("un", "-", self.expression(7, depth + 1))
        if token.text == "not":
            return ("un", "not", self.expression(3, depth + 1))
        if token.text == "(":
            inner = self.expression(0, depth + 1)
            self.expect(")")
            return inner
        if token.kind == "name" and token.text not in ("and", "or"):
            if self.peek().text == "(":
                return self.call(token, depth)
            return ("var", token.text)
        raise FormulaError(f"unexpected {token.text or 'end of formula'!r}", token.position)

    def call(self, name: Token, depth: int) -> Node:
        if name.text not in FUNCTIONS:
            raise FormulaError(f"unknown function {name.text!r}; use one of {', '.join(FUNCTIONS)}", name.position)
        self.expect("(")
        args: list[Node] = []
        if self.peek().text != ")":
            args.append(self.expression(0, depth + 1))
            while self.peek().text == ",":
                self.take()
                args.append(self.expression(0, depth + 1))
        self.expect(")")
        low, high = FUNCTIONS[name.text]
        if not low <= len(args) <= high:
            raise FormulaError(f"{name.text}() takes {low}–{high} arguments, got {len(args)}", name.position)
        return ("call", name.text, args)


def parse(source: str) -> Node:
    parser = _Parser(tokenize(source))
    node = parser.expression()
    if parser.peek().kind != "end":
        token = parser.peek()
        raise FormulaError(f"unexpected {token.text!r}", token.position)
    return node


def variables(node: Node) -> set[str]:
    kind = node[0]
    if kind == "var":
        return {node[1]}
    if kind == "un":
        return variables(node[2])
    if kind == "bin":
        return variables(node[2]) | variables(node[3])
    if kind == "call":
        return set().union(*(variables(a) for a in node[2]))
    return set()


def _round(value: float, digits: float = 0) -> float:
    factor = 10 ** int(digits)
    return math.floor(value * factor + 0.5) / factor  # half up, as people expect prices to round


_CALLS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "round": _round,
    "abs": abs,
    "floor": math.floor,
    "ceil": math.ceil,
}


def evaluate(node: Node, values: dict[str, float]) -> float:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        return float(values.get(node[1], 0.0))
    if kind == "un":
        x = evaluate(node[2], values)
        return -x if node[1] == "-" else float(not x)
    if kind == "call":
        if node[1] == "if":
            cond, then, other = node[2]
            return evaluate(then if evaluate(cond, values) else other, values)
        return float(_CALLS[node[1]](*(evaluate(a, values) for a in node[2])))
    op, a = node[1], evaluate(node[2], values)
    if op == "and":
        return float(bool(a) and bool(evaluate(node[3], values)))
    if op == "or":
        return float(bool(a) or bool(evaluate(node[3], values)))
    b = evaluate(node[3], values)
    if op in ("/", "%") and b == 0:
        raise FormulaError("division by zero")
    result = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: a / b,
        "%": lambda: a % b,
        "<": lambda: float(a < b),
        "<=": lambda: float(a <= b),
        ">": lambda: float(a > b),
        ">=": lambda: float(a >= b),
        "==": lambda: float(a == b),
        "!=": lambda: float(a != b),
    }[op]()
    if not math.isfinite(result):
        raise FormulaError("the result is too large")
    return result


def compute(source: str, values: dict[str, float]) -> float:
    return evaluate(parse(source), values)
