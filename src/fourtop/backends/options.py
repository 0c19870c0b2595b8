"""Typed backend options (``--option KEY=VALUE``), with every default in one place.

Each backend reads the raw ``KEY=VALUE`` pairs into its options class: known keys are
converted and checked (a one-line error naming the option), and an unknown key is an
error, except on the batch backends, where a key of the scheduler's own syntax is passed
through to it unchanged (an HTCondor submit command, an ``sbatch`` option: docs/batch.md).

Example:
    >>> SlurmOptions.parse({"throttle": "4", "qos": "short"}).throttle
    4
    >>> SlurmOptions.parse({"qos": "short"}).extra
    {'qos': 'short'}
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Self

from fourtop.errors import BackendError, did_you_mean

__all__ = ["BackendOptions", "BatchOptions", "CondorOptions", "SlurmOptions"]


def _opt(
    default: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    return field(
        default=default, metadata={"minimum": minimum, "maximum": maximum, "choices": choices}
    )


@dataclass(frozen=True)
class BackendOptions:
    """The options of a backend that takes none (the local process pool)."""

    #: the backend's name in messages
    backend: ClassVar[str] = "local"
    #: a key this class does not declare must match this to pass through (None: refused)
    passthrough: ClassVar[re.Pattern[str] | None] = None
    #: what a passed-through key is, in messages
    passthrough_what: ClassVar[str] = ""
    #: what a passed-through value with a line break cannot reach, in messages
    passthrough_target: ClassVar[str] = ""
    #: scheduler keys fourtop sets itself (lower case): never passed through
    reserved: ClassVar[frozenset[str]] = frozenset()

    #: passed-through keys and values, in the order given
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> Self:
        """Read ``raw`` options into this class.

        Raises:
            BackendError: an unknown option, or a value of the wrong kind or range.
        """
        known = {f.name: f for f in fields(cls) if f.name != "extra"}
        if cls.passthrough is None and raw and not known:
            keys = ", ".join(sorted(raw))
            raise BackendError(
                f"--option {keys}: the {cls.backend} backend takes no options "
                "(options are for condor and slurm, see docs/batch.md)"
            )
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for key, value in raw.items():
            if key in known:
                values[key] = _convert(key, value, hints[key], known[key].metadata)
            elif cls.passthrough is not None and key.lower() in cls.reserved:
                raise BackendError(
                    f"--option {key}: fourtop sets this itself for every job; it cannot be "
                    "changed (see docs/batch.md)"
                )
            elif cls.passthrough is not None and cls.passthrough.match(key):
                text = str(value)
                if "\n" in text or "\r" in text:
                    raise BackendError(
                        f"--option {key}: a line break cannot be {cls.passthrough_target}"
                    )
                extra[key] = text
            elif cls.passthrough is not None:
                raise BackendError(f"--option {key}=...: not {cls.passthrough_what}")
            else:
                raise BackendError(
                    f"--option {key}: not an option of the {cls.backend} backend"
                    + did_you_mean(key, known)
                )
        return cls(extra=extra, **values)

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Every option's default (for the documentation and ``--help`` texts)."""
        return {
            f.name: f.default for f in fields(cls) if f.name != "extra" and f.default is not MISSING
        }


def _convert(key: str, raw: object, hint: Any, meta: Mapping[str, Any]) -> Any:
    """``raw`` as the type ``hint`` (``int``, ``float``, ``bool``, ``str``, optional)."""
    args = typing.get_args(hint)
    if args and type(None) in args:
        if raw is None:
            return None
        hint = next(a for a in args if a is not type(None))
    minimum, maximum = meta.get("minimum"), meta.get("maximum")
    if hint is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "yes", "true", "on"):
            return True
        if text in ("0", "no", "false", "off"):
            return False
        raise BackendError(f"--option {key}={raw!r}: expected yes or no")
    if hint is int:
        try:
            value = int(raw)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise BackendError(f"--option {key}={raw!r}: expected a whole number") from None
        if minimum is not None and value < minimum:
            raise BackendError(f"--option {key}={raw!r}: must be at least {minimum:g}")
        if maximum is not None and value > maximum:
            raise BackendError(f"--option {key}={raw!r}: must be at most {maximum:g}")
        return value
    if hint is float:
        try:
            number = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BackendError(f"--option {key}={raw!r}: expected a number") from None
        if not math.isfinite(number):
            raise BackendError(f"--option {key}={raw!r}: expected a finite number")
        if minimum is not None and number < minimum:
            raise BackendError(f"--option {key}={raw!r}: must not be negative")
        if maximum is not None and number > maximum:
            raise BackendError(f"--option {key}={raw!r}: must be at most {maximum:g}")
        return number
    text = str(raw)
    choices = meta.get("choices") or ()
    if choices and text not in choices:
        raise BackendError(
            f"--option {key}={text!r}: expected {', '.join(choices[:-1])} or {choices[-1]}"
        )
    if "\n" in text or "\r" in text:
        raise BackendError(f"--option {key}={text!r}: not a valid value")
    return text


@dataclass(frozen=True)
class BatchOptions(BackendOptions):
    """Options every batch backend takes."""

    #: the program that behaves as ``fourtop`` on a node (default: this Python, ``-m fourtop.cli``)
    executable: str | None = None
    #: submission attempts before the jobs are failed
    retries: int = _opt(3, minimum=1, maximum=100)
    #: seconds before the first retry (doubling after each)
    retry_delay: float = _opt(2.0, minimum=0, maximum=3600)


@dataclass(frozen=True)
class CondorOptions(BatchOptions):
    """HTCondor: any other key is a submit command (``+Attr``, ``requirements``, ...)."""

    backend: ClassVar[str] = "condor"
    passthrough: ClassVar[re.Pattern[str] | None] = re.compile(r"^\+?[A-Za-z_][A-Za-z0-9_.]*$")
    passthrough_what: ClassVar[str] = "a valid HTCondor submit command name"
    passthrough_target: ClassVar[str] = "submitted to HTCondor"
    reserved: ClassVar[frozenset[str]] = frozenset(
        {
            "universe",
            "executable",
            "arguments",
            "args",
            "initialdir",
            "output",
            "error",
            "log",
            "queue",
            "batch_name",
            "transfer_executable",
            "should_transfer_files",
            "when_to_transfer_output",
            "transfer_input_files",
            "+fourtopfolder",
            "+fourtopunit",
            "my.fourtopfolder",
            "my.fourtopunit",
        }
    )

    #: copy the variable list, configuration and cached arrays to the node
    transfer: bool = False
    #: with ``transfer``: the cached-arrays file to ship (default: this dataset's cache)
    arrays: str | None = None
    #: submit through the htcondor2 bindings, the condor_submit command, or whichever is here
    submit_method: str = _opt("auto", choices=("auto", "bindings", "command"))
    request_memory: str = "2GB"
    request_cpus: int = _opt(1, minimum=1)
    request_disk: str = "1GB"
    #: default: 1 with ``--device cuda``, else none
    request_gpus: int | None = _opt(None, minimum=0)


@dataclass(frozen=True)
class SlurmOptions(BatchOptions):
    """SLURM: any other key is an ``sbatch`` long option (``qos``, ``constraint``, ...)."""

    backend: ClassVar[str] = "slurm"
    passthrough: ClassVar[re.Pattern[str] | None] = re.compile(r"^[a-z][a-z0-9-]*$")
    passthrough_what: ClassVar[str] = "an sbatch option name"
    passthrough_target: ClassVar[str] = "passed to sbatch"
    reserved: ClassVar[frozenset[str]] = frozenset(
        {"array", "output", "error", "chdir", "job-name", "cpus-per-task", "parsable", "wrap"}
    )

    #: array tasks running at once (``%N``); default ``-p``; 0: no cap
    throttle: int | None = _opt(None, minimum=0)
    cpus: int = _opt(1, minimum=1)
    #: default: 1 with ``--device cuda``, else none
    gpus: int | None = _opt(None, minimum=0)
    mem: str | None = None
    time: str | None = None
    partition: str | None = None
    account: str | None = None
