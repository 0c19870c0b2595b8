"""The ``Seed``: which variables of an ordered list a job trains on.

A seed is a bit string over the ordered variable list, leftmost bit = first
variable; its number is that bit string read as a binary integer, so 76
variables give numbers up to 2**76 - 1. Re-exported by :mod:`fourtop.jobtracker`.
"""

from __future__ import annotations

import json
import operator
import os
import random as _random
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from functools import lru_cache
from pathlib import Path

from fourtop.errors import FourtopError, OutputError, SpecError, VariableError, did_you_mean
from fourtop.fileio import atomic_write_text, describe_os_error

__all__ = ["Seed", "check_path", "check_variables"]

_SEED_FORMAT = "fourtop-seed"
_SEED_VERSION = 1


def _what(value: object) -> str:
    """How a wrong argument is named in a message: ``None``, ``the string 'abc'``, ``int``."""
    if value is None:
        return "None"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


def check_variables(variables: object, where: str) -> tuple[str, ...]:
    """``variables`` as a tuple of names, or a VariableError saying what was passed instead.

    A bare string is refused (``tuple("abc")`` would be three one-letter variables).
    """
    if isinstance(variables, (str, bytes)) or not isinstance(variables, Iterable):
        raise VariableError(f"{where}: variables must be a list of names, not {_what(variables)}")
    names = tuple(variables)
    for name in names:
        if not isinstance(name, str) or not name:
            raise VariableError(f"{where}: variable names must be non-empty strings, not {name!r}")
    return names


def check_path(path: object, what: str, error: type[FourtopError]) -> Path:
    """``path`` as a Path, or ``error`` saying that ``what`` must be a path."""
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"{what} must be a path (str or os.PathLike), not {_what(path)}")
    try:
        result = Path(path)
    except TypeError:  # an os.PathLike giving bytes
        raise error(f"{what} must be a path (str or os.PathLike), not {_what(path)}") from None
    text = os.fspath(path)
    if not text:
        raise error(f"{what} is an empty path")
    if "\0" in str(text):
        raise error(f"{what} {str(text)!r} contains a NUL character")
    return result


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
        if not isinstance(var, str) or var not in self._seed._index:
            raise KeyError(var)
        return self._seed.includes(var)

    def __setitem__(self, var: str, value: bool) -> None:
        if not isinstance(var, str):
            raise VariableError(f"a seed's variable names are strings, not {_what(var)}")
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
        names = check_variables(variables, "Seed")
        try:
            if isinstance(number, bool):
                raise TypeError
            number = operator.index(number)  # int, or an integer type such as numpy's
        except TypeError:
            raise VariableError(
                f"seed number must be a whole number, not {_what(number)}"
            ) from None
        index = _index(names)
        if not 0 <= number < (1 << len(names)):
            raise VariableError(
                f"seed number {number} does not fit {len(names)} variables (0 to 2^{len(names)}-1)"
            )
        self._variables, self._index, self._bits = names, index, number

    @classmethod
    def trusted(cls, variables: tuple[str, ...], number: int) -> Seed:
        """A seed from a variable tuple and number already checked (loading specs): no checks.

        Example:
            >>> Seed.trusted(("a", "b"), 2).included
            ['a']
        """
        seed = cls.__new__(cls)
        seed._variables, seed._index, seed._bits = variables, _index(variables), number
        return seed

    # ------------------------------------------------------------------ properties
    @property
    def variables(self) -> list[str]:
        """The variable names, in order."""
        return list(self._variables)

    @property
    def variable_tuple(self) -> tuple[str, ...]:
        """The variable names as the seed holds them (a tuple, not copied)."""
        return self._variables

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

    @staticmethod
    def _name(var: object, method: str) -> str:
        if not isinstance(var, str):
            raise VariableError(f"Seed.{method}: a variable name is a string, not {_what(var)}")
        return var

    def include(self, var: str) -> None:
        """Include ``var`` if it is one of the seed's variables (otherwise do nothing)."""
        if self._name(var, "include") in self._index:
            self._bits |= self._mask(var)

    def exclude(self, var: str) -> None:
        """Exclude ``var`` if it is one of the seed's variables (otherwise do nothing)."""
        if self._name(var, "exclude") in self._index:
            self._bits &= ~self._mask(var)

    def includes(self, var: str) -> bool:
        """True if ``var`` is one of the seed's variables and is included."""
        return self._name(var, "includes") in self._index and bool(self._bits & self._mask(var))

    def subseeds(self) -> list[Seed]:
        """One seed per included variable with that variable switched off, in list order."""
        n = len(self._variables)
        return [
            Seed.trusted(self._variables, self._bits & ~(1 << (n - 1 - i)))
            for i in range(n)
            if self._bits >> (n - 1 - i) & 1
        ]

    def copy(self) -> Seed:
        """An independent seed with the same variables and bits."""
        return Seed.trusted(self._variables, self._bits)

    def save_to(self, path: str | os.PathLike[str]) -> None:
        """Save the seed to ``path`` as JSON (the original pickled it), all at once.

        Raises:
            OutputError: ``path`` is not a path, or the file cannot be written (missing
                folder, no space left on device, permission); an existing file is kept.
        """
        target = check_path(path, "Seed.save_to: path", OutputError)
        doc = {
            "format": _SEED_FORMAT,
            "version": _SEED_VERSION,
            "variables": list(self._variables),
            "binary": self.binary,
        }
        atomic_write_text(target, json.dumps(doc, indent=1) + "\n", what="seed file")

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def from_binary(bitstring: str, variables: Sequence[str]) -> Seed:
        """Build a seed from a bit string, leftmost character = first variable.

        Raises:
            VariableError: the bit string is not a string of 0/1, its length differs
                from the number of variables, or ``variables`` is not a list of names.
        """
        if not isinstance(bitstring, str):
            raise VariableError(f"bit string must be a string of 0 and 1, not {_what(bitstring)}")
        names = list(check_variables(variables, "Seed.from_binary"))
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
        names = check_variables(variables, "Seed.random")
        if not names:
            raise VariableError("cannot draw a seed from an empty variable list")
        if rng is not None and not callable(getattr(rng, "getrandbits", None)):
            raise VariableError(f"Seed.random: rng must be a random.Random, not {_what(rng)}")
        rng = rng or _random.Random()
        bits = 0
        while bits == 0:
            bits = rng.getrandbits(len(names))
        return Seed(names, bits)

    @staticmethod
    def load_from(path: str | os.PathLike[str]) -> Seed:
        """Load a seed written by :meth:`save_to`.

        Raises:
            SpecError: ``path`` is not a path, the file is missing or unreadable, is a
                pickle of the original tool (not loaded for safety), is not a fourtop
                seed file, or has a newer format version.
        """
        from fourtop.jobs.specfile import looks_like_pickle

        path = check_path(path, "Seed.load_from: path", SpecError)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SpecError(
                f"{path}: cannot read seed file ({describe_os_error(exc, '')})"
            ) from None
        if looks_like_pickle(raw[:4096]):
            raise SpecError(f"{path}: pickled seed of the original tool; not loaded for safety")
        try:
            doc = json.loads(raw)
        except ValueError:
            raise SpecError(f"{path}: not a fourtop seed file (not JSON)") from None
        if not isinstance(doc, dict) or doc.get("format") != _SEED_FORMAT:
            raise SpecError(f'{path}: not a fourtop seed file (no "format": "{_SEED_FORMAT}")')
        version = doc.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > _SEED_VERSION:
            raise SpecError(
                f"{path}: seed file format version {version} is newer than this fourtop "
                f"reads (up to {_SEED_VERSION}); upgrade fourtop"
            )
        if version != _SEED_VERSION:
            raise SpecError(f"{path}: not a fourtop seed file (format version {version!r})")
        try:
            return Seed.from_binary(doc.get("binary"), doc.get("variables"))  # type: ignore[arg-type]
        except VariableError as exc:
            raise SpecError(f"{path}: not a fourtop seed file: {exc}") from None

    # ------------------------------------------------------------------ dunder
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Seed):
            return NotImplemented
        return self._bits == other._bits and self._variables == other._variables

    def __hash__(self) -> int:
        return hash((self._variables, self._bits))

    def __repr__(self) -> str:
        return f"Seed({len(self._variables)} variables, binary={self.binary!r})"
