"""Competitions as data: `CompetitionSpec` and the registry that finds them.

Each folder `competitions/<name>/` with a `spec.py` defining `SPEC` is a competition.
The registry discovers the folders; kit never imports a competition by name, so adding
a sixth competition means adding a folder and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Literal

from kit.errors import KitError

Task = Literal["regression", "binary", "multilabel"]
Scheme = Literal["time_holdout", "stratified_kfold", "multilabel_stratified_kfold", "kfold"]
#: twin sizes: tiny (seconds, for tests), small (under a minute), full (the real row counts)
SIZES = ("tiny", "small", "full")

Role = Literal["train", "test", "sample_submission", "extra", "images"]

# Column types as polars infers them from the real files. "date"/"datetime" are read as
# text by default and parsed with the file's `date_formats`.
ColumnType = Literal["int", "float", "str", "bool", "date", "datetime"]


@dataclass(frozen=True)
class Column:
    """One column of a shipped CSV file."""

    name: str
    #: the type kit reads the column as (dates parsed later); numbers in any lossless spelling
    #: (an int column may hold 31000.0, a float column 12)
    type: ColumnType = "str"


@dataclass(frozen=True)
class FileSpec:
    """A file Kaggle ships, as it looks once extracted."""

    #: file name relative to the data folder, e.g. "train.csv" or "train-jpg"
    name: str
    #: what the file is for
    role: Role = "extra"
    #: columns in file order; empty for folders of images
    columns: tuple[Column, ...] = ()
    #: how Kaggle ships it (archive name), for downloads; None when shipped as is
    archive: str | None = None
    #: "\r\n" for the files that come with Windows line endings
    line_terminator: str = "\n"
    #: "necessary" (quote only fields with commas/quotes), "non_numeric" (quote strings), or
    #: "columns" (R's write.csv: quoted header, quote only `quoted_columns`, dates bare)
    quote_style: Literal["necessary", "non_numeric", "columns"] = "necessary"
    #: with quote_style="columns", the columns whose values are written in quotes
    quoted_columns: tuple[str, ...] = ()
    #: strptime formats for date/datetime columns, by column name
    date_formats: tuple[tuple[str, str], ...] = ()
    #: row count of the real file (None where unknown or not a table)
    real_rows: int | None = None
    #: False for files a user can live without (documentation, benchmarks)
    required: bool = True
    #: one line saying what is in it
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


@dataclass(frozen=True)
class SubmissionSpec:
    """The exact submission format."""

    #: header of the submission, id column first
    columns: tuple[str, ...]
    #: "float" for numbers, "tags" for space-separated labels
    kind: Literal["float", "tags"] = "float"
    #: predictions below zero are refused (log-based metrics)
    nonnegative: bool = False
    #: allowed labels for "tags" submissions
    labels: tuple[str, ...] = ()
    #: groups of labels of which every row carries exactly one (Planet's four weather tags):
    #: predicted as one choice, the group's most probable label, never by separate thresholds
    exclusive: tuple[tuple[str, ...], ...] = ()

    @property
    def id_column(self) -> str:
        return self.columns[0]

    @property
    def value_column(self) -> str:
        return self.columns[1]


@dataclass(frozen=True)
class WeightSpec:
    """Per-row metric weights looked up from another table (Favorita's perishables).

    weight = `values[table.column]` for the row's `on` key found in `table`.
    """

    table: str
    on: str
    column: str
    values: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class CompetitionSpec:
    """Everything kit needs to know about a competition, as data."""

    #: short name, the folder name under competitions/
    name: str
    #: human title
    title: str
    #: Kaggle slug, as in https://www.kaggle.com/competitions/<slug>
    slug: str
    task: Task
    #: name of a metric in kit.metrics.METRICS
    metric: str
    files: tuple[FileSpec, ...]
    #: file names by role
    train: str
    test: str
    sample_submission: str
    #: id column of the test file (and of the submission)
    id_column: str
    #: target column(s) in the train file
    target_columns: tuple[str, ...]
    submission: SubmissionSpec
    #: column holding the date (None for competitions whose rows are not ordered in time)
    time_column: str | None = None
    #: length of the test period in days (None where the test is a random sample)
    horizon_days: int | None = None
    #: default validation scheme
    validation: Scheme = "kfold"
    #: folds of the K-fold schemes (`kit run`, `kit train`, `kit tune` share them)
    n_folds: int = 5
    #: metric weights, where the metric is weighted
    weights: WeightSpec | None = None
    #: one paragraph for `kit list`/`kit info`
    description: str = ""
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def url(self) -> str:
        return f"https://www.kaggle.com/competitions/{self.slug}"

    @property
    def rules_url(self) -> str:
        return f"{self.url}/rules"

    def file(self, name: str) -> FileSpec:
        for f in self.files:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} ships no file {name!r}")

    @property
    def train_file(self) -> FileSpec:
        return self.file(self.train)

    @property
    def test_file(self) -> FileSpec:
        return self.file(self.test)

    @property
    def sample_submission_file(self) -> FileSpec:
        return self.file(self.sample_submission)


@dataclass(frozen=True)
class Competition:
    """A discovered competition: its spec and its folder's module."""

    spec: CompetitionSpec
    module: ModuleType

    @property
    def name(self) -> str:
        return self.spec.name

    def load(self, part: str) -> ModuleType:
        """Import one of the competition's modules (`twin`, `features`, ...)."""
        return importlib.import_module(f"{self.module.__name__}.{part}")


def _package():
    try:
        return importlib.import_module("competitions")
    except ImportError as err:  # pragma: no cover - broken install
        raise KitError(
            "cannot find the competitions/ folder; install the kit from its repository "
            "(`make setup` or `pip install -e .`)"
        ) from err


@cache
def registry() -> dict[str, Competition]:
    """All competitions, by name: every package under competitions/ with a spec.py."""
    pkg = _package()
    found: dict[str, Competition] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        folder = Path(info.module_finder.path) / info.name  # type: ignore[attr-defined]
        if not (folder / "spec.py").exists():
            continue
        module = importlib.import_module(f"{pkg.__name__}.{info.name}")
        spec_module = importlib.import_module(f"{pkg.__name__}.{info.name}.spec")
        spec = getattr(spec_module, "SPEC", None)
        if not isinstance(spec, CompetitionSpec):
            raise TypeError(f"competitions/{info.name}/spec.py must define SPEC = CompetitionSpec(...)")
        if spec.name != info.name:
            raise ValueError(f"competitions/{info.name}/spec.py names itself {spec.name!r}")
        found[info.name] = Competition(spec=spec, module=module)
    return found


def get(name: str) -> Competition:
    """The competition called `name`, or a KitError listing the known ones."""
    comps = registry()
    if name in comps:
        return comps[name]
    by_slug = {c.spec.slug: c for c in comps.values()}
    if name in by_slug:
        return by_slug[name]
    known = ", ".join(sorted(comps))
    raise KitError(f"unknown competition {name!r}; known competitions: {known} (see `kit list`)")
