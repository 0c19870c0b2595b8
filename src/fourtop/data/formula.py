"""Selection and weight strings with the meaning of ROOT's ``TTreeFormula``.

The string is tokenized and parsed (Pratt parser) into a small tree that is
evaluated column-wise on numpy / awkward arrays; nothing is ever passed to
Python's ``eval``. What is supported, with ROOT's meaning:

* ``|| && !``, ``== != < <= > >=``, ``+ - * / %``, unary ``-``/``+``, parentheses;
  C precedence, every value a double, a boolean is 1 or 0 and any nonzero is true.
* A constant (``"1"``, ``"1/0"``) is one value repeated for every event, as ``TTree::Draw``
  gives it; overflow gives infinity silently, as in C++.
* ``x / 0`` is 0 (as in ROOT); ``a % b`` is C's integer remainder of the truncated
  operands; ``sqrt(x)`` is ``sqrt(|x|)``, ``log(x <= 0)`` is 0 and ``exp`` saturates as
  in ROOT's formula engine; the ``TMath::`` functions are the plain C++ functions.
* Functions ``abs fabs sqrt exp log log10 pow min max sin cos tan asin acos atan
  atan2 sinh cosh tanh floor ceil`` and ``TMath::Abs Sqrt Sq Exp Log Log10 Power Min
  Max Sin Cos Tan ASin ACos ATan ATan2 SinH CosH TanH Floor Ceil Hypot Sign Pi E``.
* ``x[2]`` indexes a variable-length branch with a constant. If any index in the
  expression is past the end of the event's array, the expression has no value for
  that event, as in ROOT: the event fails a selection, and
  :func:`fourtop.data.ntuples.load_split` drops it when this happens in the weight
  (as ``TTree::Draw`` does with a weight times a selection).
* Refused with an error, where ROOT's reading differs from C's or is not supported:
  unparenthesized chained comparisons (``a < b == c``), computed indices (``x[n]``),
  bitwise operators and ``^``.

Example:
    >>> import numpy as np
    >>> f = Formula("abs(x) > 1 && !flag", what="selection")
    >>> f.evaluate({"x": np.array([-2.0, 0.5]), "flag": np.array([0, 0])})[0]
    array([1., 0.])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np

from fourtop.errors import ExpressionError, did_you_mean

__all__ = ["Formula", "branches_used"]

# --------------------------------------------------------------------------- functions


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def _mod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia, ib = np.trunc(a), np.trunc(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ib == 0, 0.0, np.fmod(ia, np.where(ib == 0, 1.0, ib)))


def _root_log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)


def _root_log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), 0.0)


def _root_exp(x: np.ndarray) -> np.ndarray:
    return np.where(x < -700, 0.0, np.exp(np.minimum(x, 700.0)))


def _sign(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b >= 0, np.abs(a), -np.abs(a))


def _quiet(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def wrapped(*args: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fn(*args)

    return wrapped


_FORMULA_FUNCS: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    "abs": (1, np.abs),
    "fabs": (1, np.abs),
    "sqrt": (1, lambda x: np.sqrt(np.abs(x))),
    "exp": (1, _root_exp),
    "log": (1, _root_log),
    "log10": (1, _root_log10),
    "pow": (2, _quiet(np.power)),
    "min": (2, np.minimum),
    "max": (2, np.maximum),
    "sin": (1, np.sin),
    "cos": (1, np.cos),
    "tan": (1, np.tan),
    "asin": (1, _quiet(np.arcsin)),
    "acos": (1, _quiet(np.arccos)),
    "atan": (1, np.arctan),
    "atan2": (2, np.arctan2),
    "sinh": (1, _quiet(np.sinh)),
    "cosh": (1, _quiet(np.cosh)),
    "tanh": (1, np.tanh),
    "floor": (1, np.floor),
    "ceil": (1, np.ceil),
}

_TMATH_FUNCS: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    "Abs": (1, np.abs),
    "Sqrt": (1, _quiet(np.sqrt)),
    "Sq": (1, np.square),
    "Exp": (1, _quiet(np.exp)),
    "Log": (1, _quiet(np.log)),
    "Log10": (1, _quiet(np.log10)),
    "Power": (2, _quiet(np.power)),
    "Min": (2, np.minimum),
    "Max": (2, np.maximum),
    "Sin": (1, np.sin),
    "Cos": (1, np.cos),
    "Tan": (1, np.tan),
    "ASin": (1, _quiet(np.arcsin)),
    "ACos": (1, _quiet(np.arccos)),
    "ATan": (1, np.arctan),
    "ATan2": (2, np.arctan2),
    "SinH": (1, _quiet(np.sinh)),
    "CosH": (1, _quiet(np.cosh)),
    "TanH": (1, np.tanh),
    "Floor": (1, np.floor),
    "Ceil": (1, np.ceil),
    "Hypot": (2, np.hypot),
    "Sign": (2, _sign),
    "Pi": (0, lambda: np.pi),
    "E": (0, lambda: np.e),
}

FUNCTIONS: dict[str, tuple[int, Callable[..., np.ndarray]]] = {
    **_FORMULA_FUNCS,
    **{f"TMath::{k}": v for k, v in _TMATH_FUNCS.items()},
}

_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "||": lambda a, b: ((a != 0) | (b != 0)).astype(np.float64),
    "&&": lambda a, b: ((a != 0) & (b != 0)).astype(np.float64),
    "==": lambda a, b: (a == b).astype(np.float64),
    "!=": lambda a, b: (a != b).astype(np.float64),
    "<": lambda a, b: (a < b).astype(np.float64),
    "<=": lambda a, b: (a <= b).astype(np.float64),
    ">": lambda a, b: (a > b).astype(np.float64),
    ">=": lambda a, b: (a >= b).astype(np.float64),
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": _div,
    "%": _mod,
}

#: binding power of each binary operator (C precedence)
_PRECEDENCE = {
    "||": 1,
    "&&": 2,
    "==": 3, "!=": 3,
    "<": 4, "<=": 4, ">": 4, ">=": 4,
    "+": 5, "-": 5,
    "*": 6, "/": 6, "%": 6,
}  # fmt: skip
_UNARY_POWER = 7
_COMPARISONS = frozenset(("==", "!=", "<", "<=", ">", ">="))

# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!()\[\],])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # "num" | "name" | "op" | "end"
    text: str
    pos: int


def _tokenize(expr: str, what: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise _error(expr, what, pos, f"unexpected character {expr[pos]!r}")
        if m.lastgroup != "ws":
            tokens.append(_Tok(m.lastgroup or "", m.group(), pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(expr)))
    return tokens


def _error(expr: str, what: str, pos: int, problem: str) -> ExpressionError:
    return ExpressionError(f"{what} {expr!r}: {problem} at column {pos + 1}")


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Branch:
    name: str
    pos: int


@dataclass(frozen=True)
class _Index:
    name: str
    index: int
    pos: int


@dataclass(frozen=True)
class _Unary:
    op: str
    operand: object


@dataclass(frozen=True)
class _Binary:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[object, ...]
    pos: int


class _Parser:
    def __init__(self, expr: str, what: str) -> None:
        self.expr, self.what = expr, what
        self.tokens = _tokenize(expr, what)
        self.i = 0
        self.grouped: set[int] = set()  # ids of parenthesized nodes

    def peek(self) -> _Tok:
        return self.tokens[self.i]

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, tok: _Tok, problem: str | None = None) -> ExpressionError:
        if problem is None:
            problem = "unexpected end" if tok.kind == "end" else f"unexpected {tok.text!r}"
        return _error(self.expr, self.what, tok.pos, problem)

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if tok.text != text or tok.kind != "op":
            found = "end of expression" if tok.kind == "end" else repr(tok.text)
            raise self.fail(tok, f"expected {text!r}, found {found}")
        return tok

    def parse(self) -> object:
        if self.peek().kind == "end":
            raise self.fail(self.peek(), "empty expression")
        node = self.expression(0)
        if self.peek().kind != "end":
            raise self.fail(self.peek())
        return node

    def expression(self, min_power: int) -> object:
        left = self.prefix()
        while True:
            tok = self.peek()
            power = _PRECEDENCE.get(tok.text) if tok.kind == "op" else None
            if power is None or power <= min_power:
                return left
            self.take()
            right = self.expression(power)
            if tok.text in _COMPARISONS and (self._chained(left) or self._chained(right)):
                raise self.fail(
                    tok,
                    f"chained comparison at {tok.text!r}: add parentheses "
                    "(ROOT does not read it as C does)",
                )
            left = _Binary(tok.text, left, right)

    def _chained(self, node: object) -> bool:
        return (
            isinstance(node, _Binary) and node.op in _COMPARISONS and id(node) not in self.grouped
        )

    def prefix(self) -> object:
        tok = self.take()
        if tok.kind == "num":
            return _Num(float(tok.text))
        if tok.kind == "op" and tok.text in ("-", "+", "!"):
            return _Unary(tok.text, self.expression(_UNARY_POWER - 1))
        if tok.kind == "op" and tok.text == "(":
            node = self.expression(0)
            self.expect(")")
            self.grouped.add(id(node))
            return node
        if tok.kind == "name":
            return self.name(tok)
        raise self.fail(tok)

    def name(self, tok: _Tok) -> object:
        nxt = self.peek()
        if nxt.kind == "op" and nxt.text == "(":
            return self.call(tok)
        if "::" in tok.text:
            raise self.fail(
                tok, f"unknown function {tok.text!r}{did_you_mean(tok.text, FUNCTIONS)}"
            )
        if nxt.kind == "op" and nxt.text == "[":
            self.take()
            num = self.take()
            if num.kind != "num" or not num.text.isdigit():
                raise self.fail(
                    num, f"index of {tok.text!r} must be a non-negative integer constant"
                )
            self.expect("]")
            return _Index(tok.text, int(num.text), tok.pos)
        return _Branch(tok.text, tok.pos)

    def call(self, tok: _Tok) -> object:
        if tok.text not in FUNCTIONS:
            raise self.fail(
                tok, f"unknown function {tok.text!r}{did_you_mean(tok.text, FUNCTIONS)}"
            )
        self.expect("(")
        args: list[object] = []
        if not (self.peek().kind == "op" and self.peek().text == ")"):
            args.append(self.expression(0))
            while self.peek().kind == "op" and self.peek().text == ",":
                self.take()
                args.append(self.expression(0))
        self.expect(")")
        nargs = FUNCTIONS[tok.text][0]
        if len(args) != nargs:
            raise self.fail(tok, f"{tok.text} takes {nargs} argument(s), got {len(args)}")
        return _Call(tok.text, tuple(args), tok.pos)


# --------------------------------------------------------------------------- evaluation


def _walk(node: object) -> list[_Branch | _Index]:
    if isinstance(node, (_Branch, _Index)):
        return [node]
    if isinstance(node, _Unary):
        return _walk(node.operand)
    if isinstance(node, _Binary):
        return _walk(node.left) + _walk(node.right)
    if isinstance(node, _Call):
        return [b for a in node.args for b in _walk(a)]
    return []


class Formula:
    """A parsed selection or weight expression.

    Args:
        expr: the expression, in ROOT ``TTreeFormula`` syntax.
        what: what the expression is ("selection", "weight"), for error messages.

    Raises:
        ExpressionError: a syntax error (naming the expression and the column).
    """

    def __init__(self, expr: str, what: str = "expression") -> None:
        self.expr = expr
        self.what = what
        self._tree = _Parser(expr, what).parse()
        refs = _walk(self._tree)
        self.branches: tuple[str, ...] = tuple(dict.fromkeys(r.name for r in refs))
        self.indexed: frozenset[str] = frozenset(r.name for r in refs if isinstance(r, _Index))
        self._first_pos = {}
        for r in refs:
            self._first_pos.setdefault(r.name, r.pos)

    def check_branches(self, available: Collection[str], where: str = "") -> None:
        """Raise if the expression reads a branch that is not in ``available``.

        Args:
            available: the branch names of the tree.
            where: the file, named in the message.

        Raises:
            ExpressionError: naming the expression, the branch, its column and near names.
        """
        for name in self.branches:
            if name not in available:
                place = f" in {where}" if where else ""
                raise _error(
                    self.expr,
                    self.what,
                    self._first_pos[name],
                    f"unknown branch {name!r}{place}{did_you_mean(name, available)}",
                )

    @property
    def is_constant(self) -> bool:
        """True if the expression reads no branch (e.g. ``"1"``): one value for every event."""
        return not self.branches

    def evaluate(
        self, arrays: Mapping[str, object], size: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate on a chunk of events.

        Args:
            arrays: branch name -> 1-d numpy array (one value per event) or awkward
                jagged array (for the indexed branches).
            size: the number of events in the chunk. Only needed for a constant expression
                (``"1"``) evaluated on an empty mapping; otherwise the length of the arrays.

        Returns:
            ``(values, valid)``: float64 values per event (a constant is repeated for every
            event, as ``TTree::Draw`` does), and a boolean mask that is False where an index
            was out of range (the expression has no value).
        """
        self.check_branches(arrays.keys())
        if self.branches:
            n = _length(arrays[self.branches[0]])
        elif size is not None:
            n = int(size)
        elif arrays:
            n = _length(next(iter(arrays.values())))
        else:
            n = 1
        ctx = _Context(self, arrays, n)
        with np.errstate(all="ignore"):  # overflow gives inf and 0/0 NaN, silently, as in C++
            values = np.asarray(ctx.eval(self._tree), dtype=np.float64)
        values = np.broadcast_to(values, (n,)).copy()
        return values, ctx.valid if ctx.valid is not None else np.ones(n, dtype=bool)

    def __repr__(self) -> str:
        return f"Formula({self.expr!r})"


def _length(array: object) -> int:
    return len(array)  # type: ignore[arg-type]


def _is_jagged(array: object) -> bool:
    return not isinstance(array, np.ndarray) and type(array).__name__ == "Array"


class _Context:
    def __init__(self, formula: Formula, arrays: Mapping[str, object], n: int | None) -> None:
        self.f = formula
        self.arrays = arrays
        self.n = n
        self.valid: np.ndarray | None = None
        self._flat: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def eval(self, node: object) -> np.ndarray:
        if isinstance(node, _Num):
            return np.float64(node.value)  # type: ignore[return-value]
        if isinstance(node, _Branch):
            array = self.arrays[node.name]
            if _is_jagged(array):
                raise _error(
                    self.f.expr,
                    self.f.what,
                    node.pos,
                    f"branch {node.name!r} is a variable-length array; index it, "
                    f"e.g. {node.name}[0]",
                )
            return np.asarray(array, dtype=np.float64)
        if isinstance(node, _Index):
            return self.index(node)
        if isinstance(node, _Unary):
            x = self.eval(node.operand)
            if node.op == "-":
                return -x
            if node.op == "!":
                return (x == 0).astype(np.float64)
            return x
        if isinstance(node, _Binary):
            return _BINARY[node.op](self.eval(node.left), self.eval(node.right))
        if isinstance(node, _Call):
            fn = FUNCTIONS[node.name][1]
            return np.asarray(fn(*(self.eval(a) for a in node.args)), dtype=np.float64)
        raise AssertionError(node)  # pragma: no cover

    def index(self, node: _Index) -> np.ndarray:
        import awkward as ak

        array = self.arrays[node.name]
        if not _is_jagged(array) or getattr(array, "ndim", 2) < 2:
            raise _error(
                self.f.expr, self.f.what, node.pos, f"branch {node.name!r} is not an array"
            )
        if node.name not in self._flat:
            counts = np.asarray(ak.num(array, axis=1), dtype=np.int64)
            flat = np.asarray(ak.flatten(array, axis=1), dtype=np.float64)
            starts = np.cumsum(counts) - counts
            self._flat[node.name] = (counts, flat, starts)
        counts, flat, starts = self._flat[node.name]
        ok = node.index < counts
        self.valid = ok if self.valid is None else self.valid & ok
        pick = starts + np.where(ok, node.index, 0)
        if flat.size == 0:
            return np.zeros(counts.shape)
        return np.where(ok, flat[np.minimum(pick, flat.size - 1)], 0.0)


def branches_used(expr: str, what: str = "expression") -> list[str]:
    """The branch names an expression reads, in order of first use.

    Raises:
        ExpressionError: the expression has a syntax error.
    """
    return list(Formula(expr, what).branches)
