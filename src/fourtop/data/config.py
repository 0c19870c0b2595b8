"""Dataset configuration: tree, weight, selection, variables and the sample files.

A configuration is a TOML file (see ``docs/data.md``)::

    tree = "ljmet"
    weight = "xsecEff * (MCWeight_MultiLepCalc / abs(MCWeight_MultiLepCalc))"
    selection = "AK4HT > 510 && NJets_JetSubCalc >= 6"
    base_dir = "/data/ntuples"        # optional: default = the file's folder
    variables = ["AK4HT", "NJets_JetSubCalc"]   # optional: default = the 76 variables
    event_id = "event_CommonCalc"     # optional: the event key of `final` (fold = key mod k)

    [datasets.2017]
    signal = ["TTTT_split{split}.root"]          # {split} -> 0, 1, 2
    background = ["TTToSemiLeptonic_split{split}.root"]

    [datasets.2017.extra]                        # optional: more samples `apply` scores
    TTTT_JECup = ["TTTT_JECup.root"]
    data_obs = {files = ["SingleMuon_2017.root"], weight = "1"}   # its own weight

    [datasets.2018.split2]                       # explicit files for one split
    signal = ["TTTT_final.root"]
    background = ["tt_final.root"]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fourtop.data.formula import Formula
from fourtop.data.paths import default_data_dir
from fourtop.env import CONFIG_ENV
from fourtop.errors import ConfigError, ExpressionError, did_you_mean
from fourtop.fileio import describe_os_error
from fourtop.splits import Split
from fourtop.variables import VariableInfo, default_variable_info

__all__ = [
    "SPLITS",
    "DatasetConfig",
    "SampleFiles",
    "default_config_path",
    "fingerprint_difference",
    "fingerprint_of",
    "load_config",
]

#: the split numbers a configuration names files for (see :class:`fourtop.splits.Split`)
SPLITS = tuple(int(split) for split in Split)
_TOP_KEYS = {"tree", "weight", "selection", "base_dir", "variables", "datasets", "event_id"}
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class SampleFiles:
    """The ntuples of one dataset key and split (absolute paths)."""

    signal: tuple[Path, ...]
    background: tuple[Path, ...]


@dataclass(frozen=True)
class DatasetConfig:
    """A loaded dataset configuration (see :func:`load_config`)."""

    path: Path
    tree: str
    weight: str
    selection: str
    variables: tuple[VariableInfo, ...]
    base_dir: Path
    datasets: dict[str, dict[int, SampleFiles]] = field(repr=False)
    is_default: bool = False
    #: the event key expression (``event_id``): ``final`` puts an event in fold ``key mod k``
    event_id: str | None = None
    #: dataset key -> extra sample name -> its files (``[datasets.<key>.extra]``)
    extra: dict[str, dict[str, tuple[Path, ...]]] = field(default_factory=dict, repr=False)
    #: dataset key -> extra sample name -> its own weight expression (``{files, weight}``)
    extra_weights: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def variable_names(self) -> list[str]:
        """The variable names, in configuration order (a fresh list)."""
        return [v.name for v in self.variables]

    def keys(self) -> list[str]:
        """The dataset keys, e.g. ``["2017", "2018"]``."""
        return list(self.datasets)

    def files(self, key: str, split: int) -> SampleFiles:
        """The signal and background files of dataset ``key`` and ``split`` (0, 1 or 2).

        Raises:
            ConfigError: unknown key or split.
        """
        key = str(key)
        if key not in self.datasets:
            raise ConfigError(
                f"{self.path}: no dataset {key!r} (have: {', '.join(self.datasets)})"
                f"{did_you_mean(key, self.datasets)}"
            )
        if split not in SPLITS:
            raise ConfigError(f"{self.path}: split must be 0, 1 or 2, not {split!r}")
        return self.datasets[key][split]

    def extra_files(self, key: str) -> dict[str, tuple[Path, ...]]:
        """The extra samples of dataset ``key`` (name -> files; empty when none are listed).

        Raises:
            ConfigError: unknown key.
        """
        self.files(key, SPLITS[0])  # an unknown key is refused with a suggestion
        return dict(self.extra.get(str(key), {}))

    def sample_weights(self, key: str) -> dict[str, str]:
        """The weight expression of each extra sample of ``key`` that has its own (a data
        sample's ``weight = "1"``); the others take :attr:`weight`."""
        return dict(self.extra_weights.get(str(key), {}))

    def fingerprint_doc(self) -> dict[str, Any]:
        """What :meth:`fingerprint` hashes: the tree, weight, selection and variables (the
        event key is not in it: it does not change the selected arrays)."""
        doc: dict[str, Any] = {
            "format": _FORMAT_VERSION,
            "tree": self.tree,
            "weight": self.weight,
            "selection": self.selection,
            "variables": self.variable_names(),
        }
        return doc

    def fingerprint(self) -> str:
        """A hash of everything that decides the selected arrays (not the files' contents)."""
        return fingerprint_of(self.fingerprint_doc())


def fingerprint_of(doc: dict[str, Any]) -> str:
    """The fingerprint of a :meth:`DatasetConfig.fingerprint_doc` (e.g. one saved in a file)."""
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint_difference(saved: dict[str, Any], config: DatasetConfig) -> str | None:
    """How ``config`` differs from a saved :meth:`~DatasetConfig.fingerprint_doc`, in words
    (the first differing entry), or None when they agree.

    Example:
        >>> doc = {"format": 1, "tree": "t", "weight": "1", "selection": "x > 1",
        ...        "variables": ["x"]}
        >>> cfg = DatasetConfig(Path("c.toml"), "t", "1", "x > 2", (), Path("."), {})
        >>> fingerprint_difference(doc, cfg)
        "selection: 'x > 1' then, 'x > 2' now"
    """
    now = config.fingerprint_doc()
    for key in sorted(set(saved) | set(now), key=lambda k: list(now).index(k) if k in now else 99):
        if key == "variables" and saved.get(key) != now.get(key):
            was, is_ = saved.get(key) or [], now.get(key) or []
            gone = [v for v in was if v not in is_]
            new = [v for v in is_ if v not in was]
            if gone or new:
                parts = [f"{len(gone)} gone (first {gone[0]!r})"] if gone else []
                parts += [f"{len(new)} new (first {new[0]!r})"] if new else []
                return f"variables: {', '.join(parts)}"
            return "variables: the same names in another order"
        if saved.get(key) != now.get(key):
            was, is_ = _excerpts(saved.get(key), now.get(key))
            return f"{key}: {was} then, {is_} now"
    return None


def _excerpts(a: Any, b: Any, width: int = 30) -> tuple[str, str]:
    """Two values as text; long strings cut to where they first differ.

    Example:
        >>> _excerpts("x > 1 && " * 9 + "y > 2", "x > 1 && " * 9 + "y > 3", 8)
        ("'... && y > 2'", "'... && y > 3'")
    """
    if not (isinstance(a, str) and isinstance(b, str)) or max(len(a), len(b)) <= 2 * width:
        return repr(a), repr(b)
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    first = min(len(a), len(b)) if first is None else first
    start = max(0, first - width)

    def cut(text: str) -> str:
        part = text[start : first + width]
        return repr(("..." if start else "") + part + ("..." if first + width < len(text) else ""))

    return cut(a), cut(b)


def default_config_path() -> Path:
    """The packaged default configuration (the synthetic samples)."""
    return Path(str(resources.files("fourtop.data").joinpath("default.toml")))


def load_config(path: str | Path | None = None) -> DatasetConfig:
    """Read a dataset configuration.

    Args:
        path: a TOML file; ``None`` means ``$FOURTOP_CONFIG``, else the packaged default
            (whose relative paths resolve against :func:`fourtop.data.paths.default_data_dir`).

    Raises:
        ConfigError: the file is missing or malformed, naming the file and the key.
        ExpressionError: the weight or selection does not parse.
    """
    is_default = False
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        if env:
            path = Path(env)
        else:
            path, is_default = default_config_path(), True
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: dataset configuration not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a dataset configuration file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {describe_os_error(exc, path)}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read (not UTF-8 text: {exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return _build(path, doc, is_default)


def _build(path: Path, doc: dict[str, Any], is_default: bool) -> DatasetConfig:
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], _TOP_KEYS)}"
        )
    tree = _string(path, doc, "tree")
    weight = _string(path, doc, "weight")
    selection = _string(path, doc, "selection")
    for what, expr in (("weight", weight), ("selection", selection)):
        try:
            Formula(expr, what)
        except ExpressionError as exc:
            raise ExpressionError(f"{path}: {exc}") from None
    if "base_dir" in doc:
        base = Path(_path_string(path, "base_dir", _string(path, doc, "base_dir"))).expanduser()
        base_dir = base if base.is_absolute() else path.parent / base
    else:
        base_dir = default_data_dir() if is_default else path.parent
    variables = _variables(path, doc.get("variables", "all"))
    event_id = None
    if "event_id" in doc:
        event_id = _string(path, doc, "event_id")
        try:
            Formula(event_id, "event_id")
        except ExpressionError as exc:
            raise ExpressionError(f"{path}: {exc}") from None
    datasets = doc.get("datasets")
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError(f"{path}: 'datasets' must be a table with at least one dataset key")
    resolved = {
        str(key): _dataset(path, f"datasets.{key}", table, base_dir)
        for key, table in datasets.items()
    }
    extra: dict[str, dict[str, tuple[Path, ...]]] = {}
    extra_weights: dict[str, dict[str, str]] = {}
    for key, table in datasets.items():
        if isinstance(table, dict) and table.get("extra") is not None:
            where = f"datasets.{key}.extra"
            extra[str(key)], extra_weights[str(key)] = _extra(path, where, table["extra"], base_dir)
    return DatasetConfig(
        path=path.resolve(),
        tree=tree,
        weight=weight,
        selection=selection,
        variables=variables,
        base_dir=base_dir.resolve(),
        datasets=resolved,
        is_default=is_default,
        event_id=event_id,
        extra=extra,
        extra_weights=extra_weights,
    )


def _string(path: Path, doc: dict[str, Any], key: str) -> str:
    if key not in doc:
        raise ConfigError(f"{path}: missing key {key!r}")
    value = doc[key]
    if not isinstance(value, str) or not value.strip():
        hint = ""
        if key in ("weight", "selection") and type(value) in (int, float):
            hint = f' (a constant is a string too: {key} = "{value}")'
        raise ConfigError(f"{path}: {key!r} must be a non-empty string{hint}")
    return value


def _path_string(path: Path, where: str, name: str) -> str:
    if "\0" in name:
        raise ConfigError(f"{path}: {where}: bad file name {name!r} (a NUL character)")
    return name


def _variables(path: Path, spec: Any) -> tuple[VariableInfo, ...]:
    known = {v.name: v for v in default_variable_info()}
    if spec == "all":
        return tuple(known.values())
    if not isinstance(spec, list) or not spec:
        raise ConfigError(f"{path}: 'variables' must be \"all\" or a non-empty list")
    out: list[VariableInfo] = []
    for i, item in enumerate(spec):
        if isinstance(item, str):
            if item not in known:
                raise ConfigError(
                    f"{path}: variables[{i}]: unknown variable {item!r}{did_you_mean(item, known)}"
                    " (declare a new one as {name = ..., label = ..., unit = ...})"
                )
            out.append(known[item])
        elif isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            extra = set(item) - {"name", "label", "unit"}
            if extra:
                raise ConfigError(f"{path}: variables[{i}]: unknown key {sorted(extra)[0]!r}")
            base = known.get(item["name"])
            label = item.get("label", base.label if base else item["name"])
            unit = item.get("unit", base.unit if base else "")
            if not isinstance(label, str) or not isinstance(unit, str):
                raise ConfigError(f"{path}: variables[{i}]: label and unit must be strings")
            out.append(VariableInfo(item["name"], label, unit))
        else:
            raise ConfigError(
                f"{path}: variables[{i}] must be a name or a table with a 'name' string"
            )
    names = [v.name for v in out]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{path}: variable {name!r} is listed twice")
    return tuple(out)


def _file_list(path: Path, where: str, table: dict[str, Any], kind: str) -> list[str]:
    value = table.get(kind)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {where}.{kind} must be a non-empty list of file names")
    return value


def _dataset(path: Path, where: str, table: Any, base: Path) -> dict[int, SampleFiles]:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} must be a table")
    allowed = {"signal", "background", "extra", *(f"split{s}" for s in SPLITS)}
    extra = sorted(set(table) - allowed)
    if extra:
        raise ConfigError(
            f"{path}: {where}: unknown key {extra[0]!r}{did_you_mean(extra[0], allowed)}"
        )
    out: dict[int, SampleFiles] = {}
    for split in SPLITS:
        sub = table.get(f"split{split}")
        if sub is not None:
            if not isinstance(sub, dict):
                raise ConfigError(f"{path}: {where}.split{split} must be a table")
            sig = _file_list(path, f"{where}.split{split}", sub, "signal")
            bkg = _file_list(path, f"{where}.split{split}", sub, "background")
        else:
            if "signal" not in table and "background" not in table:
                raise ConfigError(
                    f"{path}: {where} needs 'signal' and 'background' lists or a "
                    f"'split{split}' table"
                )
            sig = _file_list(path, where, table, "signal")
            bkg = _file_list(path, where, table, "background")
        out[split] = SampleFiles(
            tuple(_resolve(path, where, base, f, split) for f in sig),
            tuple(_resolve(path, where, base, f, split) for f in bkg),
        )
    return out


def _extra(
    path: Path, where: str, table: Any, base: Path
) -> tuple[dict[str, tuple[Path, ...]], dict[str, str]]:
    """``[datasets.<key>.extra]``: sample name -> files, or ``{files = [...], weight = "..."}``
    for a sample with its own weight (no ``{split}``: one set per sample)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {where} must be a table of sample name = [files]")
    out: dict[str, tuple[Path, ...]] = {}
    weights: dict[str, str] = {}
    for name, entry in table.items():
        if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
            raise ConfigError(
                f"{path}: {where}: sample name {name!r} may hold only letters, digits and _.+-"
            )
        spec = entry if isinstance(entry, dict) else {"files": entry}
        unknown = sorted(set(spec) - {"files", "weight"})
        if unknown:
            raise ConfigError(f"{path}: {where}.{name}: unknown key {unknown[0]!r} (files, weight)")
        listed = _file_list(path, f"{where}.{name}", spec, "files")
        if "weight" in spec:
            weight = _string(path, spec, "weight")
            try:
                Formula(weight, "weight")
            except ExpressionError as exc:
                raise ExpressionError(f"{path}: {where}.{name}: {exc}") from None
            weights[name] = weight
        out[name] = tuple(
            (p if p.is_absolute() else base / p).absolute()
            for p in (Path(_path_string(path, f"{where}.{name}", f)).expanduser() for f in listed)
        )
    return out, weights


def _resolve(path: Path, where: str, base: Path, name: str, split: int) -> Path:
    try:
        name = name.format(split=split)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{path}: {where}: bad file name pattern {name!r} (only {{split}} is replaced)"
        ) from exc
    p = Path(_path_string(path, where, name)).expanduser()
    return (p if p.is_absolute() else base / p).absolute()
