"""What one ``fourtop apply`` run scores: the input files, their outputs and job names.

:func:`plan_files` lists the files of a dataset key (signal and background of every split,
the extra samples of ``[datasets.<key>.extra]``), each once, with the name of its output file
(the input's own name), its job name (a name every batch system takes) and its sample (the
histogram it adds to). :class:`ApplyPlan` is that list with the settings every job reads; it is
saved as ``jobs/apply-plan.json`` in the output folder, which a job on a batch node reads
(``fourtop apply-file --plan``).

Example:
    >>> sample_name(Path("TTTT_TuneCP5_13TeV_split2.root"))
    'TTTT_TuneCP5_13TeV'
    >>> job_name("TTTT 2017 (v2).root")
    'apply_TTTT_2017__v2_'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fourtop.errors import ConfigError, ParameterError
from fourtop.fileio import atomic_write_text

__all__ = [
    "JOBS_DIR",
    "PLAN_FILE",
    "SAMPLE_CHOICES",
    "ApplyPlan",
    "InputFile",
    "check_branch_name",
    "job_name",
    "plan_files",
    "read_plan",
    "sample_name",
    "write_plan",
]

#: the subfolder of the output folder that holds the job files and the plan
JOBS_DIR = "jobs"
#: the plan's file name in :data:`JOBS_DIR`
PLAN_FILE = "apply-plan.json"
_PLAN_FORMAT = "fourtop-apply-plan"
_PLAN_VERSION = 1
#: what ``--samples`` selects
SAMPLE_CHOICES = ("all", "signal", "background", "extra")
_SPLIT_PART = re.compile(r"[_.-]?split\d+(?=$|[_.-])")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]")
_BRANCH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: the longest job name (it becomes file names: ``<name>.out``, ``.err``, ``.log``)
_MAX_JOB = 200


@dataclass(frozen=True)
class InputFile:
    """One input file of a plan.

    Attributes:
        job: its job name (letters, digits and ``_.+-``).
        input: the input file (absolute).
        output: the output file's name in the output folder.
        sample: the sample (histogram) it belongs to.
        kind: ``signal``, ``background`` or ``extra``.
        splits: the splits that list it (signal and background; empty for an extra sample).
    """

    job: str
    input: str
    output: str
    sample: str
    kind: str
    splits: tuple[int, ...] = ()


@dataclass
class ApplyPlan:
    """The files of one run and the settings every job reads (saved as :data:`PLAN_FILE`)."""

    model_folder: str
    model_id: str
    engine: str
    tree: str
    event_id: str
    branch: str
    copy: bool
    key: str
    config: str
    output_dir: str
    files: list[InputFile] = field(default_factory=list)

    @property
    def mode(self) -> str:
        """``copy`` (the tree with the score added) or ``friend`` (the score alone)."""
        return "copy" if self.copy else "friend"

    def entry(self, job: str) -> InputFile:
        """The input file of job ``job``.

        Raises:
            ParameterError: no such job in the plan.
        """
        for item in self.files:
            if item.job == job:
                return item
        raise ParameterError(f"no job {job!r} in the apply plan of {self.output_dir}")

    def output_path(self, item: InputFile) -> Path:
        """Where ``item``'s output is written."""
        return Path(self.output_dir) / item.output

    def to_json(self) -> str:
        doc = {"format": _PLAN_FORMAT, "format_version": _PLAN_VERSION, **asdict(self)}
        return json.dumps(doc, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> ApplyPlan:
        """Read a plan (``where`` names it in the messages).

        Raises:
            ParameterError: not an apply plan, or one of a newer fourtop.
        """
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("format") != _PLAN_FORMAT:
                raise ParameterError(f"{where}: not a fourtop apply plan")
            if int(doc.get("format_version", 0)) > _PLAN_VERSION:
                raise ParameterError(f"{where}: made by a newer fourtop; upgrade fourtop")
            files = [
                InputFile(**{**f, "splits": tuple(int(s) for s in f.get("splits", ()))})
                for f in doc.pop("files")
            ]
            doc.pop("format")
            doc.pop("format_version")
            return cls(files=files, **doc)
        except ParameterError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ParameterError(
                f"{where}: not a readable apply plan ({exc.__class__.__name__})"
            ) from None


def write_plan(folder: Path, plan: ApplyPlan) -> Path:
    """Write ``plan`` into ``folder`` atomically, only if it changed; returns the file."""
    path = Path(folder) / PLAN_FILE
    text = plan.to_json()
    try:
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass  # rewritten below
    atomic_write_text(path, text, what="apply plan")
    return path


def read_plan(path: Path) -> ApplyPlan:
    """The plan saved in ``path``.

    Raises:
        ParameterError: the file is missing, unreadable or not an apply plan.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParameterError(f"{path}: no apply plan (made by 'fourtop apply')") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read the apply plan ({exc})") from None
    return ApplyPlan.from_json(text, str(path))


def check_branch_name(name: str) -> str:
    """``--branch``: a name ROOT takes as a branch and a C++ identifier.

    Raises:
        ParameterError: anything else.
    """
    if not _BRANCH.match(name):
        raise ParameterError(
            f"--branch {name!r}: a branch name is letters, digits and _, not starting with a "
            "digit (e.g. DNN)"
        )
    return name


def sample_name(path: Path) -> str:
    """The sample of a signal or background file: its name less ``_split<N>`` and ``.root``,
    in letters, digits and ``_.+-``."""
    stem = path.name[:-5] if path.name.endswith(".root") else path.name
    name = _UNSAFE.sub("_", _SPLIT_PART.sub("", stem, count=1))
    return name or "sample"


def job_name(output: str) -> str:
    """The job name of the output file ``output``: ``apply_<name without .root>``."""
    stem = output[:-5] if output.endswith(".root") else output
    return ("apply_" + _UNSAFE.sub("_", stem))[:_MAX_JOB]


def _selected(config: Any, key: str, samples: str) -> Iterable[tuple[str, str, Path, int | None]]:
    """``(kind, sample, path, split)`` of every file ``samples`` selects, in config order."""
    from fourtop.data.config import SPLITS

    if samples not in SAMPLE_CHOICES:
        raise ParameterError(f"--samples {samples!r}: choose from {', '.join(SAMPLE_CHOICES)}")
    for kind in ("signal", "background"):
        if samples not in ("all", kind):
            continue
        for split in SPLITS:
            for path in getattr(config.files(key, split), kind):
                yield kind, sample_name(path), path, split
    if samples in ("all", "extra"):
        for name, paths in config.extra_files(key).items():
            for path in paths:
                yield "extra", name, path, None


def plan_files(config: Any, key: str, samples: str = "all") -> list[InputFile]:
    """The input files of dataset ``key`` that ``samples`` selects, each once.

    A file listed for several splits (a name without ``{split}``) is one file. Its output is
    the input's own file name, so two inputs of the same name are refused.

    Raises:
        ConfigError: an unknown key, no files selected, or two inputs with the same name.
        ParameterError: an unknown ``samples`` choice.
    """
    found: dict[str, dict[str, Any]] = {}
    by_output: dict[str, str] = {}
    for kind, sample, path, split in _selected(config, key, samples):
        where = str(Path(path).absolute())
        if where in found:
            if found[where]["kind"] != kind or found[where]["sample"] != sample:
                raise ConfigError(
                    f"{config.path}: {where} is both {found[where]['kind']} sample "
                    f"{found[where]['sample']!r} and {kind} sample {sample!r}: one file is "
                    "scored once, for one sample (copy it under another name for the other)"
                )
            if split is not None and split not in found[where]["splits"]:
                found[where]["splits"] += (split,)
            continue
        name = Path(where).name
        if name in by_output:
            raise ConfigError(
                f"{config.path}: two inputs named {name!r} ({by_output[name]} and {where}): "
                "their outputs would have the same name; rename one of them"
            )
        by_output[name] = where
        found[where] = {
            "input": where,
            "output": name,
            "sample": sample,
            "kind": kind,
            "splits": () if split is None else (split,),
        }
    if not found:
        raise ConfigError(f"{config.path}: dataset {key}: no {samples} samples to score")
    return _with_jobs(found.values())


def _with_jobs(items: Sequence[dict[str, Any]] | Iterable[dict[str, Any]]) -> list[InputFile]:
    used: set[str] = set()
    out = []
    for item in items:
        base = job_name(item["output"])
        name, n = base, 1
        while name.lower() in used:  # case-insensitive file systems: one log per job
            n += 1
            name = f"{base[: _MAX_JOB - 6]}_{n}"
        used.add(name.lower())
        out.append(InputFile(job=name, **item))
    return out
