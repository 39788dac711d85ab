"""The condition language of recorded divergences: Python expression syntax, evaluated here.

A condition (``when`` in ``divergences.toml``) is a single expression over a few names, e.g.
``case.nd < 3 and example.most_in_a_window('nan') >= 1``. It is parsed with :mod:`ast` and
interpreted node by node; nothing is passed to ``eval``, so a divergence file supplied by a user
(``CONVEQUIV_DIVERGENCES``) cannot run code. What a condition may use:

* the names of its scope: ``case`` (the :mod:`convequiv.reference.cases` case), ``example`` (the
  example, whose data predicates read the arrays the framework received), ``inputs`` (those
  arrays: ``x``, ``dy``, ``w``, ``b``, float64 holding values of the tested dtype), ``dtype`` and
  ``kernels`` (the CPU kernel library the adapter's plan runs on where the machine picks it,
  ``"onednn"`` / ``"eigen"`` for TensorFlow, else ``""``: :class:`convequiv.adapters.base.Plan`);
* attributes whose names do not start with ``_``; calls only of the predicates in
  :data:`PREDICATES` and of the functions in :data:`FUNCTIONS`;
* literals, tuples and lists, arithmetic (``+ - * / // %``, unary ``-``), comparisons (including
  ``in``, ``not in``, ``is``), ``and`` / ``or`` / ``not``, ``x if c else y``, subscripts, and
  generator expressions or list comprehensions (``any(d > 1 for d in case.dilation)``).

Anything else is rejected when the file is loaded, with the offending construct named.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

#: Methods a condition may call (on ``example``): the data predicates of the reference's cases.
PREDICATES = frozenset(
    {
        "most_in_a_window",
        "fewest_in_a_window",
        "most_near_max_in_a_window",
        "windows_led_by_padding_with_only",
        "inputs",
    }
)
#: Functions a condition may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "any": any,
    "all": all,
    "zip": zip,
    "max": max,
    "min": min,
    "len": len,
    "abs": abs,
    "sum": sum,
    "range": range,
    "sorted": sorted,
}
_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    *_BINARY,
    ast.Compare,
    *_COMPARE,
    ast.Call,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.IfExp,
    ast.GeneratorExp,
    ast.ListComp,
    ast.comprehension,
)


#: The names a condition may read (module docstring).
SCOPE_NAMES = frozenset({"case", "example", "inputs", "dtype", "kernels"})


class ConditionError(ValueError):
    """A condition that is not valid in the condition language."""


class Condition:
    """A parsed, checked condition; ``condition(scope)`` evaluates it to a bool."""

    def __init__(self, text: str, names: frozenset[str] = SCOPE_NAMES):
        self.text = text
        try:
            self._tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ConditionError(f"invalid condition {text!r}: {exc.msg}") from exc
        self._check(self._tree, set(names))

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"

    def __call__(self, scope: Mapping[str, object]) -> bool:
        return bool(_Evaluator(dict(scope)).value(self._tree.body))

    # ------------------------------------------------------------------ static checks
    def _check(self, tree: ast.AST, names: set[str]) -> None:
        bound = set(names) | set(FUNCTIONS)
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                raise ConditionError(f"{self.text!r}: {type(node).__name__} is not allowed in a condition")
            if isinstance(node, ast.comprehension):
                bound |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                raise ConditionError(f"{self.text!r}: attribute {node.attr!r} is not allowed (leading underscore)")
            if isinstance(node, ast.Call):
                func = node.func
                allowed_call = (isinstance(func, ast.Name) and func.id in FUNCTIONS) or (
                    isinstance(func, ast.Attribute) and func.attr in PREDICATES
                )
                if not allowed_call or node.keywords:
                    raise ConditionError(
                        f"{self.text!r}: only {', '.join(sorted(FUNCTIONS))} and the predicates "
                        f"{', '.join(sorted(PREDICATES))} may be called (positional arguments only)"
                    )
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
                raise ConditionError(f"{self.text!r}: unknown name {node.id!r}")


class _Evaluator:
    """Interprets the node types :class:`Condition` admits."""

    def __init__(self, scope: dict[str, object]):
        self.scope = scope

    def value(self, node: ast.expr) -> Any:
        method = getattr(self, f"_{type(node).__name__}")
        return method(node)

    def _BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            result: Any = True
            for item in node.values:
                result = self.value(item)
                if not result:
                    return result
            return result
        result = False
        for item in node.values:
            result = self.value(item)
            if result:
                return result
        return result

    def _UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.value(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand

    def _BinOp(self, node: ast.BinOp) -> Any:
        return _BINARY[type(node.op)](self.value(node.left), self.value(node.right))

    def _Compare(self, node: ast.Compare) -> bool:
        left = self.value(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self.value(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _Call(self, node: ast.Call) -> Any:
        args = [self.value(a) for a in node.args]
        if isinstance(node.func, ast.Name):
            return FUNCTIONS[node.func.id](*args)
        assert isinstance(node.func, ast.Attribute)
        return getattr(self.value(node.func.value), node.func.attr)(*args)

    def _Attribute(self, node: ast.Attribute) -> Any:
        return getattr(self.value(node.value), node.attr)

    def _Subscript(self, node: ast.Subscript) -> Any:
        return self.value(node.value)[self.value(node.slice)]

    def _Slice(self, node: ast.Slice) -> slice:
        parts = (node.lower, node.upper, node.step)
        return slice(*(None if p is None else self.value(p) for p in parts))

    def _Name(self, node: ast.Name) -> Any:
        return self.scope[node.id] if node.id in self.scope else FUNCTIONS[node.id]

    def _Constant(self, node: ast.Constant) -> Any:
        return node.value

    def _Tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.value(e) for e in node.elts)

    def _List(self, node: ast.List) -> list[Any]:
        return [self.value(e) for e in node.elts]

    def _IfExp(self, node: ast.IfExp) -> Any:
        return self.value(node.body) if self.value(node.test) else self.value(node.orelse)

    def _GeneratorExp(self, node: ast.GeneratorExp) -> Iterator[Any]:
        return iter(list(self._comprehend(node.elt, node.generators)))

    def _ListComp(self, node: ast.ListComp) -> list[Any]:
        return list(self._comprehend(node.elt, node.generators))

    def _comprehend(self, elt: ast.expr, generators: list[ast.comprehension]) -> Iterator[Any]:
        if not generators:
            yield self.value(elt)
            return
        first, rest = generators[0], generators[1:]
        for item in self.value(first.iter):
            saved = dict(self.scope)
            self._bind(first.target, item)
            if all(self.value(cond) for cond in first.ifs):
                yield from self._comprehend(elt, rest)
            self.scope = saved

    def _bind(self, target: ast.expr, item: Any) -> None:
        if isinstance(target, ast.Name):
            self.scope[target.id] = item
            return
        if isinstance(target, ast.Tuple):
            values = tuple(item)
            if len(values) != len(target.elts):
                raise ConditionError(f"cannot unpack {len(values)} values into {len(target.elts)} names")
            for sub, value in zip(target.elts, values):
                self._bind(sub, value)
            return
        raise ConditionError(f"cannot assign to {type(target).__name__}")
