"""The expression language of rule tables: parsed by us, never evaluated by Python.

An expression is parsed with `ast.parse(text, mode="eval")`, every node checked against a
whitelist and typed ("num", "bool" or "cat"), and turned into a small tree of our own (`Node`).
That tree is then either compiled once into a polars expression (`to_polars`, the engine) or
interpreted on one row's values (`evaluate`, the verifiers and the property test). Both follow
the same rules: a missing value (None / null) propagates through arithmetic and comparisons,
and/or use three-valued logic, `where` treats an unknown condition as false, min/max skip
missing values, round is numpy's (scale, round half to even, unscale).

Grammar: numbers, 'strings', true/false, names (quantities, params, columns), + - * / **,
unary -, comparisons (chains allowed), and/or/not, `x in [...]` / `x not in [...]` with literal
lists, calls of round(x[, digits]), min, max, abs, log, exp, where(cond, a, b) and the table's
helpers. No attribute access, subscripts, lambdas, comprehensions or keyword arguments.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

from factory.domains.rules.model import Helper

MAX_LENGTH = 500
MAX_DEPTH = 24

FUNCTIONS: dict[str, str] = {
    "round": "round(x, digits=0): round half to even",
    "min": "min(a, b, ...): smallest value (missing values skipped)",
    "max": "max(a, b, ...): largest value (missing values skipped)",
    "abs": "abs(x)",
    "log": "log(x): natural logarithm",
    "exp": "exp(x)",
    "where": "where(condition, a, b): a where the condition holds, else b",
}

_BINOPS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_CMPOPS: dict[type, str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_KIND_WORDS = {"num": "a number", "bool": "a true/false value", "cat": "a category (text)"}


class RuleError(ValueError):
    """A rule table or recipe extension is wrong: names the field path and what was expected.

    Attributes:
        path: field path inside the recipe's section, e.g. "rules.0.when" (may be empty).
        message: what is wrong, e.g. "unknown name 'dtii' at column 1 (did you mean 'dti'?)".
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Node:
    """One typed node of a parsed expression.

    Attributes:
        op: "const", "ref", "neg", "not", "and", "or", "in", "call", an arithmetic operator or
            a comparison operator.
        kind: "num", "bool" or "cat".
        args: child nodes.
        value: the constant (const), the name (ref, call) or the literal values (in).
    """

    op: str
    kind: str
    args: tuple[Node, ...] = ()
    value: Any = None

    def names(self) -> set[str]:
        """Every name the expression reads."""
        found = {self.value} if self.op == "ref" else set()
        for arg in self.args:
            found |= arg.names()
        return found


def parse(
    text: str,
    names: Mapping[str, str],
    *,
    path: str = "",
    helpers: Mapping[str, Helper] | None = None,
    expect: str | None = None,
) -> Node:
    """Parses and type-checks one expression.

    Args:
        text: the expression.
        names: every name it may read -> its kind ("num", "bool", "cat").
        path: field path for errors ("rules.0.when").
        helpers: the table's helper functions.
        expect: the kind the whole expression must have (e.g. "bool" for a condition).

    Raises:
        RuleError: malformed (with the column), unknown name (with the closest known one),
            a type mismatch, too long or too deep.
    """
    if not isinstance(text, str) or not text.strip():
        raise RuleError(path, "expected a non-empty expression")
    if len(text) > MAX_LENGTH:
        raise RuleError(path, f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        column = f" at column {err.offset}" if err.offset else ""
        raise RuleError(path, f"malformed expression{column}: {err.msg}") from None
    node = _Parser(names, helpers or {}, path).node(tree.body, 0)
    if expect and node.kind != expect:
        raise RuleError(path, f"expected {_KIND_WORDS[expect]}, got {_KIND_WORDS[node.kind]}")
    return node


class _Parser:
    def __init__(self, names: Mapping[str, str], helpers: Mapping[str, Helper], path: str):
        self.names = names
        self.helpers = helpers
        self.path = path

    def fail(self, node: ast.AST, message: str) -> RuleError:
        column = getattr(node, "col_offset", None)
        where = f" at column {column + 1}" if column is not None else ""
        return RuleError(self.path, f"{message}{where}")

    def node(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail(node, f"expression nested deeper than {MAX_DEPTH} levels")
        depth += 1
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.node(node.operand, depth)
            if isinstance(node.op, ast.Not):
                self.need(node.operand, operand, "bool", "`not`")
                return Node("not", "bool", (operand,))
            if isinstance(node.op, ast.USub | ast.UAdd):
                self.need(node.operand, operand, "num", "a sign")
                return operand if isinstance(node.op, ast.UAdd) else Node("neg", "num", (operand,))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            op = _BINOPS[type(node.op)]
            left, right = self.node(node.left, depth), self.node(node.right, depth)
            self.need(node.left, left, "num", f"`{op}`")
            self.need(node.right, right, "num", f"`{op}`")
            return Node(op, "num", (left, right))
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            items = tuple(self.node(v, depth) for v in node.values)
            for raw, item in zip(node.values, items, strict=True):
                self.need(raw, item, "bool", f"`{op}`")
            return Node(op, "bool", items)
        if isinstance(node, ast.Compare):
            return self.compare(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        if isinstance(node, ast.Attribute):
            raise self.fail(node, "attribute access (`.`) is not allowed")
        if isinstance(node, ast.List | ast.Tuple):
            raise self.fail(node, "a list is only allowed after `in`")
        raise self.fail(node, f"{type(node).__name__} is not allowed in an expression")

    def constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool):
            return Node("const", "bool", value=value)
        if isinstance(value, int | float):
            return Node("const", "num", value=value)
        if isinstance(value, str):
            return Node("const", "cat", value=value)
        raise self.fail(node, f"constant {value!r} is not allowed")

    def name(self, node: ast.Name) -> Node:
        if node.id in ("true", "false"):
            return Node("const", "bool", value=node.id == "true")
        kind = self.names.get(node.id)
        if kind is None:
            raise self.fail(node, f"unknown name {node.id!r}{suggest(node.id, self.names)}")
        return Node("ref", kind, value=node.id)

    def need(self, raw: ast.AST, node: Node, kind: str, what: str) -> None:
        if node.kind != kind:
            raise self.fail(raw, f"{what} needs {_KIND_WORDS[kind]}, got {_KIND_WORDS[node.kind]}")

    def compare(self, node: ast.Compare, depth: int) -> Node:
        parts: list[Node] = []
        left_raw, left = node.left, self.node(node.left, depth)
        for op, right_raw in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                parts.append(self.membership(left_raw, left, right_raw, isinstance(op, ast.NotIn)))
                left_raw, left = right_raw, left
                continue
            if type(op) not in _CMPOPS:
                raise self.fail(right_raw, f"{type(op).__name__} is not allowed")
            symbol = _CMPOPS[type(op)]
            right = self.node(right_raw, depth)
            if left.kind != right.kind:
                raise self.fail(
                    right_raw,
                    f"cannot compare {_KIND_WORDS[left.kind]} with {_KIND_WORDS[right.kind]}",
                )
            if left.kind != "num" and symbol not in ("==", "!="):
                raise self.fail(
                    right_raw, f"`{symbol}` needs numbers, got {_KIND_WORDS[left.kind]}"
                )
            parts.append(Node(symbol, "bool", (left, right)))
            left_raw, left = right_raw, right
        return parts[0] if len(parts) == 1 else Node("and", "bool", tuple(parts))

    def membership(self, left_raw: ast.AST, left: Node, raw: ast.AST, negate: bool) -> Node:
        if not isinstance(raw, ast.List | ast.Tuple) or not raw.elts:
            raise self.fail(raw, "`in` needs a non-empty literal list, e.g. ['auto', 'mortgage']")
        values = []
        for element in raw.elts:
            if not isinstance(element, ast.Constant):
                raise self.fail(element, "the list after `in` may hold only literal values")
            item = self.constant(element)
            if item.kind != left.kind:
                raise self.fail(
                    element,
                    f"cannot compare {_KIND_WORDS[left.kind]} with {_KIND_WORDS[item.kind]}",
                )
            values.append(item.value)
        found = Node("in", "bool", (left,), tuple(values))
        return Node("not", "bool", (found,)) if negate else found

    def call(self, node: ast.Call, depth: int) -> Node:
        if isinstance(node.func, ast.Attribute):
            raise self.fail(node, "attribute access (`.`) is not allowed")
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only named functions may be called")
        name = node.func.id
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments")
        args = tuple(self.node(a, depth) for a in node.args)
        raws = node.args
        if name in self.helpers:
            helper = self.helpers[name]
            if len(args) != helper.arity:
                raise self.fail(node, f"{name}() takes {helper.arity} arguments, got {len(args)}")
            for raw, arg in zip(raws, args, strict=True):
                self.need(raw, arg, "num", f"{name}()")
            return Node("call", "num", args, name)
        if name not in FUNCTIONS:
            known = {**dict.fromkeys(FUNCTIONS), **dict.fromkeys(self.helpers)}
            raise self.fail(node, f"unknown function {name!r}{suggest(name, known)}")
        if name == "where":
            if len(args) != 3:
                raise self.fail(node, f"where() takes 3 arguments, got {len(args)}")
            self.need(raws[0], args[0], "bool", "where()'s condition")
            if args[1].kind != args[2].kind:
                raise self.fail(raws[2], "where()'s two values must have the same type")
            return Node("call", args[1].kind, args, name)
        if name == "round":
            if len(args) not in (1, 2):
                raise self.fail(node, f"round() takes 1 or 2 arguments, got {len(args)}")
            if len(args) == 2 and not (
                args[1].op == "const"
                and isinstance(args[1].value, int)
                and 0 <= args[1].value <= 10
            ):
                raise self.fail(raws[1], "round()'s digits must be a whole number from 0 to 10")
        elif name in ("min", "max"):
            if len(args) < 2:
                raise self.fail(node, f"{name}() takes at least 2 arguments")
        elif len(args) != 1:
            raise self.fail(node, f"{name}() takes 1 argument, got {len(args)}")
        for raw, arg in zip(raws, args, strict=True):
            self.need(raw, arg, "num", f"{name}()")
        return Node("call", "num", args, name)


def suggest(name: str, known: Mapping[str, Any] | Sequence[str]) -> str:
    """' (did you mean 'dti'?)' when a known name is close to `name`, else ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------------------------------------
# polars


def round_expr(expr: pl.Expr, digits: int) -> pl.Expr:
    """numpy's round (half to even at `digits` decimals): polars' own round agrees with
    np.round, where scaling by hand does not (polars divides by a constant as a multiplication
    by its reciprocal, one bit off in about one value in a hundred)."""

    return expr.round(digits)


def literal(value: Any) -> pl.Expr:
    """A constant as a polars literal; whole numbers as Int64, the dtype of integer columns,
    so integer arithmetic over columns and constants stays Int64 (polars' default is Int32)."""
    import polars as pl

    if isinstance(value, int) and not isinstance(value, bool):
        return pl.lit(value, dtype=pl.Int64)
    return pl.lit(value)


def _is_constant(node: Node, constants: Collection[str]) -> bool:
    if node.op == "const":
        return True
    if node.op == "ref":
        return node.value in constants
    return all(_is_constant(arg, constants) for arg in node.args)


def exact_divisor(expr: pl.Expr) -> pl.Expr:
    """`expr` broadcast to a column, to divide by.

    polars divides by a scalar as a multiplication by its reciprocal (one bit off for a third
    of values); a divisor broadcast to a column takes the exact element-wise division.
    """
    import polars as pl

    return pl.int_range(pl.len()).cast(pl.Float64) * 0.0 + expr.cast(pl.Float64)


def to_polars(
    node: Node,
    ref: Callable[[str], pl.Expr],
    helpers: Mapping[str, Helper] | None = None,
    constants: Collection[str] = (),
) -> pl.Expr:
    """The polars expression of `node`.

    Args:
        node: a parsed expression.
        ref: the expression of a name.
        helpers: the table's helper functions.
        constants: names whose `ref` is a literal (params), so divisions by them stay exact.
    """
    import polars as pl

    helpers = helpers or {}

    def go(n: Node) -> pl.Expr:
        op, a = n.op, n.args
        if op == "const":
            return literal(n.value)
        if op == "ref":
            return ref(n.value)
        if op == "neg":
            return -go(a[0])
        if op == "not":
            return ~go(a[0])
        if op == "and":
            return pl.all_horizontal(*(go(x) for x in a)) if len(a) > 2 else go(a[0]) & go(a[1])
        if op == "or":
            return pl.any_horizontal(*(go(x) for x in a)) if len(a) > 2 else go(a[0]) | go(a[1])
        if op == "in":
            return go(a[0]).is_in(list(n.value))
        if op in ("+", "-", "*", "/", "**"):
            left, right = go(a[0]), go(a[1])
            if op == "+":
                return left + right
            if op == "-":
                return left - right
            if op == "*":
                return left * right
            if op == "/":
                if _is_constant(a[1], constants):
                    right = exact_divisor(right)
                return left.cast(pl.Float64) / right.cast(pl.Float64)
            return left.cast(pl.Float64).pow(right.cast(pl.Float64))
        if op in ("<", "<=", ">", ">=", "==", "!="):
            left, right = go(a[0]), go(a[1])
            return {
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
                "==": left == right,
                "!=": left != right,
            }[op]
        return call(n.value, [go(x) for x in a], a)

    def call(name: str, args: list[pl.Expr], nodes: tuple[Node, ...]) -> pl.Expr:
        if name in helpers:
            return helpers[name].polars(*(x.cast(pl.Float64) for x in args))
        if name == "where":
            return pl.when(args[0].fill_null(False)).then(args[1]).otherwise(args[2])
        if name == "round":
            return round_expr(args[0], nodes[1].value if len(nodes) > 1 else 0)
        if name == "min":
            return pl.min_horizontal(*args)
        if name == "max":
            return pl.max_horizontal(*args)
        if name == "abs":
            return args[0].abs()
        if name == "log":
            return args[0].cast(pl.Float64).log()
        return args[0].cast(pl.Float64).exp()

    return go(node)


# ---------------------------------------------------------------------------------------------
# one row, in Python


def round_value(value: float, digits: int) -> float:
    """round_expr for one value (Python's round of a float to an int is half to even)."""
    if digits == 0:
        return float(round(value))
    scale = 10.0**digits
    return round(value * scale) / scale


def _div(left: float, right: float) -> float:
    left, right = float(left), float(right)
    if right == 0.0:
        if left == 0.0 or math.isnan(left):
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1.0, right)
    return left / right


def _pow(left: float, right: float) -> float:
    try:
        return float(left) ** float(right)
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.inf


def _log(value: float) -> float:
    value = float(value)
    if value < 0 or math.isnan(value):
        return math.nan
    return -math.inf if value == 0 else math.log(value)


def _exp(value: float) -> float:
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def evaluate(
    node: Node, values: Mapping[str, Any], helpers: Mapping[str, Helper] | None = None
) -> Any:
    """The value of `node` for one row (`values`: name -> value, None when missing)."""
    helpers = helpers or {}
    op, a = node.op, node.args
    if op == "const":
        return node.value
    if op == "ref":
        value = values.get(node.value)
        if isinstance(value, float) and math.isnan(value) and node.kind != "num":
            return None
        return value
    if op == "and":
        items = [evaluate(x, values, helpers) for x in a]
        if any(v is False for v in items):
            return False
        return None if any(v is None for v in items) else True
    if op == "or":
        items = [evaluate(x, values, helpers) for x in a]
        if any(v is True for v in items):
            return True
        return None if any(v is None for v in items) else False
    if op == "call" and node.value == "where":
        condition = evaluate(a[0], values, helpers)
        return evaluate(a[1] if condition is True else a[2], values, helpers)
    args = [evaluate(x, values, helpers) for x in a]
    if op == "call" and node.value in ("min", "max"):
        present = [v for v in args if v is not None]
        if not present:
            return None
        return min(present) if node.value == "min" else max(present)
    if any(v is None for v in args):
        return None
    if op == "neg":
        return -args[0]
    if op == "not":
        return not args[0]
    if op == "in":
        return args[0] in node.value
    if op == "+":
        return args[0] + args[1]
    if op == "-":
        return args[0] - args[1]
    if op == "*":
        return args[0] * args[1]
    if op == "/":
        return _div(args[0], args[1])
    if op == "**":
        return _pow(args[0], args[1])
    if op == "<":
        return args[0] < args[1]
    if op == "<=":
        return args[0] <= args[1]
    if op == ">":
        return args[0] > args[1]
    if op == ">=":
        return args[0] >= args[1]
    if op == "==":
        return args[0] == args[1]
    if op == "!=":
        return args[0] != args[1]
    name = node.value
    if name in helpers:
        return helpers[name].python(*args)
    if name == "round":
        return round_value(args[0], a[1].value if len(a) > 1 else 0)
    if name == "abs":
        return abs(args[0])
    if name == "log":
        return _log(args[0])
    return _exp(args[0])


def to_python(
    node: Node, helpers: Mapping[str, Helper] | None = None
) -> Callable[[Mapping[str, Any]], Any]:
    """`evaluate` for one node, as a closure built once (the per-row hot path of the facts):
    the same values, without walking the tree on every call."""
    helpers = helpers or {}
    op, a = node.op, node.args
    if op == "const":
        constant = node.value
        return lambda values: constant
    if op == "ref":
        name, kind = node.value, node.kind

        def ref(values: Mapping[str, Any]) -> Any:
            value = values.get(name)
            if kind != "num" and isinstance(value, float) and math.isnan(value):
                return None
            return value

        return ref
    if op in ("and", "or", "call"):
        # Short-circuiting and missing-value rules: interpret (rare on the hot path).
        return lambda values: evaluate(node, values, helpers)
    args = [to_python(x, helpers) for x in a]
    if op == "neg":
        (x,) = args
        return lambda v: None if (r := x(v)) is None else -r
    if op == "not":
        (x,) = args
        return lambda v: None if (r := x(v)) is None else not r
    if op == "in":
        (x,) = args
        options = node.value
        return lambda v: None if (r := x(v)) is None else r in options
    binary: dict[str, Callable[[Any, Any], Any]] = {
        "+": lambda p, q: p + q,
        "-": lambda p, q: p - q,
        "*": lambda p, q: p * q,
        "/": _div,
        "**": _pow,
        "<": lambda p, q: p < q,
        "<=": lambda p, q: p <= q,
        ">": lambda p, q: p > q,
        ">=": lambda p, q: p >= q,
        "==": lambda p, q: p == q,
        "!=": lambda p, q: p != q,
    }
    if op in binary:
        fn, (left, right) = binary[op], args

        def apply(v: Mapping[str, Any]) -> Any:
            p, q = left(v), right(v)
            return None if p is None or q is None else fn(p, q)

        return apply
    return lambda values: evaluate(node, values, helpers)
