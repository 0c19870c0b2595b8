"""The ``Seed``: which variables of an ordered list a job trains on.

A seed is a bit string over the ordered variable list, leftmost bit = first
variable; its number is that bit string read as a binary integer, so 76
variables give numbers up to 2**76 - 1. Re-exported by :mod:`fourtop.jobtracker`.
"""

from __future__ import annotations

import json
import os
import random as _random
from collections.abc import Iterator, MutableMapping, Sequence
from functools import lru_cache
from pathlib import Path

from fourtop.errors import SpecError, VariableError, did_you_mean

__all__ = ["Seed"]

_SEED_FORMAT = "fourtop-seed"


@lru_cache(maxsize=64)
def _index(variables: tuple[str, ...]) -> dict[str, int]:
    index = {name: i for i, name in enumerate(variables)}
    if len(index) != len(variables):
        dup = next(v for i, v in enumerate(variables) if index[v] != i)
        raise VariableError(f"variable {dup!r} appears twice in the seed's variable list")
    return index


class _States(MutableMapping[str, bool]):
    """Live ``variable -> included`` view of a seed; assigning updates the seed."""

    __slots__ = ("_seed",)

    def __init__(self, seed: Seed) -> None:
        self._seed = seed

    def __getitem__(self, var: str) -> bool:
        if var not in self._seed._index:
            raise KeyError(var)
        return self._seed.includes(var)

    def __setitem__(self, var: str, value: bool) -> None:
        if var not in self._seed._index:
            raise VariableError(
                f"{var!r} is not a variable of this seed" + did_you_mean(var, self._seed._variables)
            )
        if value:
            self._seed.include(var)
        else:
            self._seed.exclude(var)

    def __delitem__(self, var: str) -> None:
        raise TypeError("a seed's variables cannot be removed, only excluded")

    def __iter__(self) -> Iterator[str]:
        return iter(self._seed._variables)

    def __len__(self) -> int:
        return len(self._seed._variables)

    def __repr__(self) -> str:
        return repr(dict(self))


class Seed:
    """A binary seed over an ordered list of variable names.

    Args:
        variables: the variable names, in order (no name twice).
        number: the seed number (bit string as an integer); 0 = nothing included.

    Seeds compare equal, and hash alike, when their variable lists and bits are
    equal (so do not change a seed used as a dictionary key).

    Example:
        >>> s = Seed.from_binary("101", ["a", "b", "c"])
        >>> s.number, s.included, s.states["b"]
        (5, ['a', 'c'], False)
    """

    __slots__ = ("_bits", "_index", "_variables")

    def __init__(self, variables: Sequence[str], number: int = 0) -> None:
        names = tuple(variables)
        index = _index(names)
        if not 0 <= number < (1 << len(names)):
            raise VariableError(
                f"seed number {number} does not fit {len(names)} variables (0 to 2^{len(names)}-1)"
            )
        self._variables, self._index, self._bits = names, index, number

    @classmethod
    def _make(cls, variables: tuple[str, ...], number: int) -> Seed:
        """Fast constructor for already validated lists (used when loading specs)."""
        seed = cls.__new__(cls)
        seed._variables, seed._index, seed._bits = variables, _index(variables), number
        return seed

    # ------------------------------------------------------------------ properties
    @property
    def variables(self) -> list[str]:
        """The variable names, in order."""
        return list(self._variables)

    @property
    def states(self) -> MutableMapping[str, bool]:
        """``{variable: included}`` in list order; setting an entry changes the seed."""
        return _States(self)

    @property
    def binary(self) -> str:
        """The bit string; the leftmost character is the first variable."""
        return format(self._bits, f"0{len(self._variables)}b") if self._variables else ""

    @property
    def number(self) -> int:
        """The bit string read as a binary integer (the number in job names)."""
        return self._bits

    @property
    def included(self) -> list[str]:
        """Names of the included variables, in list order."""
        n, bits = len(self._variables), self._bits
        return [v for i, v in enumerate(self._variables) if bits >> (n - 1 - i) & 1]

    # ------------------------------------------------------------------ methods
    def _mask(self, var: str) -> int:
        return 1 << (len(self._variables) - 1 - self._index[var])

    def include(self, var: str) -> None:
        """Include ``var`` if it is one of the seed's variables (otherwise do nothing)."""
        if var in self._index:
            self._bits |= self._mask(var)

    def exclude(self, var: str) -> None:
        """Exclude ``var`` if it is one of the seed's variables (otherwise do nothing)."""
        if var in self._index:
            self._bits &= ~self._mask(var)

    def includes(self, var: str) -> bool:
        """True if ``var`` is one of the seed's variables and is included."""
        return var in self._index and bool(self._bits & self._mask(var))

    def subseeds(self) -> list[Seed]:
        """One seed per included variable with that variable switched off, in list order."""
        n = len(self._variables)
        return [
            Seed._make(self._variables, self._bits & ~(1 << (n - 1 - i)))
            for i in range(n)
            if self._bits >> (n - 1 - i) & 1
        ]

    def copy(self) -> Seed:
        """An independent seed with the same variables and bits."""
        return Seed._make(self._variables, self._bits)

    def save_to(self, path: str | os.PathLike[str]) -> None:
        """Save the seed to ``path`` as JSON (the original pickled it)."""
        doc = {
            "format": _SEED_FORMAT,
            "version": 1,
            "variables": list(self._variables),
            "binary": self.binary,
        }
        Path(path).write_text(json.dumps(doc, indent=1) + "\n")

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def from_binary(bitstring: str, variables: Sequence[str]) -> Seed:
        """Build a seed from a bit string, leftmost character = first variable.

        Raises:
            VariableError: the string is not made of 0/1 or its length differs
                from the number of variables.
        """
        names = list(variables)
        if len(bitstring) != len(names):
            raise VariableError(f"bit string of length {len(bitstring)} for {len(names)} variables")
        bad = next((i for i, c in enumerate(bitstring, 1) if c not in "01"), None)
        if bad is not None:
            raise VariableError(
                f"bit string has {bitstring[bad - 1]!r} at position {bad}, expected 0 or 1"
            )
        return Seed(names, int(bitstring, 2) if bitstring else 0)

    @staticmethod
    def from_number(number: int, variables: Sequence[str]) -> Seed:
        """Build a seed from its number (as in job names)."""
        return Seed(variables, number)

    @staticmethod
    def random(variables: Sequence[str], rng: _random.Random | None = None) -> Seed:
        """A seed with each variable included with probability 1/2 (never none at all)."""
        names = tuple(variables)
        if not names:
            raise VariableError("cannot draw a seed from an empty variable list")
        rng = rng or _random.Random()
        bits = 0
        while bits == 0:
            bits = rng.getrandbits(len(names))
        return Seed(names, bits)

    @staticmethod
    def load_from(path: str | os.PathLike[str]) -> Seed:
        """Load a seed written by :meth:`save_to`.

        Raises:
            SpecError: the file is missing or is not a seed file.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SpecError(f"{path}: cannot read seed file ({exc.strerror})") from None
        if raw[:1] == b"\x80":
            raise SpecError(f"{path}: pickled seed of the original tool; not loaded for safety")
        try:
            doc = json.loads(raw)
            if doc.get("format") != _SEED_FORMAT:
                raise ValueError
            return Seed.from_binary(doc["binary"], doc["variables"])
        except (ValueError, TypeError, KeyError, AttributeError, VariableError) as exc:
            detail = f": {exc}" if isinstance(exc, VariableError) else ""
            raise SpecError(f"{path}: not a fourtop seed file{detail}") from None

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Seed):
            return NotImplemented
        return self._bits == other._bits and self._variables == other._variables

    def __hash__(self) -> int:
        return hash((self._variables, self._bits))

    def __repr__(self) -> str:
        return f"Seed({len(self._variables)} variables, binary={self.binary!r})"
