"""Submissions: check one against the test ids, score it on a known solution, write one safely.

The checks are the ones Kaggle makes (and a few it should): the header, one row per test
id, no unknown or duplicate ids, numbers that parse and are finite, no negatives where the
metric forbids them, and tags from the competition's labels. Each failure is a `KitError`
naming the problem, the first offending line and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kit import atomic
from kit.errors import KitError
from kit.metrics import METRICS
from kit.spec import CompetitionSpec

SOLUTION = Path("solution") / "solution.csv"
_PUBLIC = ("Public", "PublicTest")
_PRIVATE = ("Private", "PrivateTest")


@dataclass(frozen=True)
class Scores:
    """Leaderboard-style scores of one submission."""

    metric: str
    public: float | None
    private: float | None
    overall: float
    n_public: int
    n_private: int


def read_submission(path: str | os.PathLike) -> pl.DataFrame:
    """Read a submission file as text columns (so that bad numbers can be reported, not coerced)."""
    path = Path(path)
    if not path.exists():
        raise KitError(f"submission file {path} does not exist")
    if path.is_dir():
        raise KitError(f"{path} is a folder; give the submission CSV file (e.g. {path / 'submission.csv'})")
    try:
        return pl.read_csv(path, infer_schema_length=0, quote_char='"')
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as err:
        raise KitError(f"{path} is not a readable CSV: {str(err).splitlines()[0]}") from err


def load_test_ids(spec: CompetitionSpec, folder: Path) -> pl.Series:
    """The test ids, as text, in test-file order."""
    from kit.data.tables import check_csv, check_unique_ids

    path = Path(folder) / spec.test
    if not path.exists():
        raise KitError(
            f"{path} is missing, so the submission cannot be checked; make the twin with "
            f"`kit generate {spec.name} --data-dir {folder}` or run `kit download {spec.name}`")
    check_csv(spec, spec.test, Path(folder))  # header, rows, not cut short
    ids = pl.scan_csv(path, infer_schema_length=0).select(spec.id_column).collect().to_series()
    check_unique_ids(spec, path, ids)
    return ids.alias("id")


def _lines(mask: pl.Series) -> list[int]:
    """File line numbers (header is line 1) of the rows where `mask` is true."""
    return [i + 2 for i in mask.arg_true().to_list()]


def _first(values: pl.Series, mask: pl.Series) -> tuple[int, str]:
    i = int(mask.arg_true()[0])
    return i + 2, values[i]


def validate(spec: CompetitionSpec, sub: pl.DataFrame, ids: pl.Series) -> pl.DataFrame:
    """Check `sub` (text columns) against the test ids; return it typed, with columns `id`, `value`.

    For "float" submissions `value` is Float64; for "tags" it is the tag string, normalised.
    """
    want = list(spec.submission.columns)
    if list(sub.columns) != want:
        raise KitError(
            f"the submission's header is {','.join(sub.columns)} but {spec.name} expects "
            f"{','.join(want)} (see {spec.sample_submission}); fix the header line")
    id_col, val_col = spec.submission.id_column, spec.submission.value_column
    sid = sub[id_col].fill_null("")
    if sub.height != ids.len():
        hint = "more" if sub.height > ids.len() else "fewer"
        raise KitError(f"the submission has {sub.height} rows but the test has {ids.len()} ids "
                       f"({hint} rows than expected); write exactly one row per test id")
    dup = sid.is_duplicated()
    if dup.any():
        line, value = _first(sid, dup)
        raise KitError(f"{id_col} {value!r} appears {int((sid == value).sum())} times (first duplicate "
                       f"rows at lines {', '.join(map(str, _lines(dup)[:3]))}); each test id must appear once")
    unknown = ~sid.is_in(ids.implode())
    if unknown.any():
        line, value = _first(sid, unknown)
        raise KitError(f"line {line}: {id_col} {value!r} is not a test id ({int(unknown.sum())} unknown ids); "
                       f"build the submission from {spec.sample_submission}")
    missing = ~ids.is_in(sid.implode())
    if missing.any():  # unreachable with equal counts and no unknowns, kept for clarity
        raise KitError(f"{int(missing.sum())} test ids are missing, e.g. {ids.filter(missing)[0]!r}")

    raw = sub[val_col]
    empty = raw.is_null() | (raw.str.strip_chars() == "")
    if spec.submission.kind == "tags":
        return pl.DataFrame({"id": sid, "value": _check_tags(spec, raw.fill_null(""), val_col)})
    if empty.any():
        line, _ = _first(raw.fill_null(""), empty)
        raise KitError(f"line {line}: {val_col} is empty ({int(empty.sum())} empty rows); every row needs a number")
    values = raw.str.strip_chars().cast(pl.Float64, strict=False)
    bad = values.is_null()
    if bad.any():
        line, value = _first(raw, bad)
        raise KitError(f"line {line}: {val_col} {value!r} is not a number ({int(bad.sum())} such rows)")
    nonfinite = ~values.is_finite()
    if nonfinite.any():
        line, value = _first(raw, nonfinite)
        raise KitError(f"line {line}: {val_col} is {value!r} ({int(nonfinite.sum())} NaN or infinite rows); "
                       f"every prediction must be a finite number")
    metric = METRICS[spec.metric]
    if spec.submission.nonnegative or metric.nonnegative:
        neg = values < 0
        if neg.any():
            line, value = _first(raw, neg)
            raise KitError(f"line {line}: {val_col} {value} is negative ({int(neg.sum())} rows < 0); "
                           f"{spec.metric.upper()} needs predictions >= 0: clip them at 0")
    return pl.DataFrame({"id": sid, "value": values})


def _check_tags(spec: CompetitionSpec, raw: pl.Series, col: str) -> pl.Series:
    labels = spec.submission.labels
    tags = raw.str.strip_chars().str.split(" ")
    known = pl.Series(labels).implode()
    row_bad = tags.list.eval(~pl.element().is_in(known) & (pl.element() != "")).list.any()
    if row_bad.any():
        line, value = _first(raw, row_bad)
        bad = [t for t in value.split() if t not in labels]
        raise KitError(f"line {line}: unknown tag {bad[0]!r} in {col} {value!r} ({int(row_bad.sum())} rows "
                       f"with unknown tags); tags must be among: {' '.join(labels)}")
    return tags.list.eval(pl.element().filter(pl.element() != "")).list.join(" ")


def load_solution(spec: CompetitionSpec, folder: Path) -> pl.DataFrame:
    """The hidden answers (`folder/solution/solution.csv`) as text columns."""
    path = Path(folder) / SOLUTION
    if not path.exists():
        raise KitError(
            f"no solution at {path}: offline scores exist only for twins made by `kit generate "
            f"{spec.name}`; for real data, submit with `kit submit` to get a leaderboard score")
    return pl.read_csv(path, infer_schema_length=0)


def weights(spec: CompetitionSpec, folder: Path, ids: pl.Series) -> np.ndarray | None:
    """Per-row metric weights for `ids` (None where the metric is unweighted)."""
    w = spec.weights
    if w is None:
        return None
    test = (pl.scan_csv(Path(folder) / spec.test, infer_schema_length=0)
            .select(pl.col(spec.id_column).alias("id"), pl.col(w.on)))
    table = (pl.scan_csv(Path(folder) / w.table, infer_schema_length=0)
             .select(pl.col(w.on), pl.col(w.column).cast(pl.Int64).alias("_key")))
    mapping = pl.LazyFrame({"_key": [k for k, _ in w.values], "_w": [v for _, v in w.values]},
                           schema={"_key": pl.Int64, "_w": pl.Float64})
    got = (pl.LazyFrame({"id": ids}).join(test, on="id", how="left", maintain_order="left")
           .join(table, on=w.on, how="left", maintain_order="left")
           .join(mapping, on="_key", how="left", maintain_order="left")
           .select(pl.col("_w").fill_null(1.0)).collect())
    return got.to_series().to_numpy()


def _label_matrix(tags: pl.Series, labels: tuple[str, ...]) -> np.ndarray:
    lists = tags.fill_null("").str.split(" ")
    return np.stack([lists.list.contains(lab).to_numpy() for lab in labels], axis=1)


def score_frame(spec: CompetitionSpec, sub: pl.DataFrame, solution: pl.DataFrame,
                w: np.ndarray | None = None) -> Scores:
    """Score a validated submission (`id`, `value`) on a solution frame (id, target, Usage)."""
    metric = METRICS[spec.metric]
    id_col, val_col = spec.submission.id_column, spec.submission.value_column
    sol = solution.select(pl.col(id_col).alias("id"), pl.col(val_col).alias("truth"), pl.col("Usage"))
    frame = sol.join(sub, on="id", how="left", maintain_order="left")
    if w is not None:
        frame = frame.with_columns(pl.Series("_w", w))

    def run(part: pl.DataFrame) -> float | None:
        if part.height == 0:
            return None
        if spec.submission.kind == "tags":
            labels = spec.submission.labels
            return metric(_label_matrix(part["truth"], labels), _label_matrix(part["value"], labels))
        weights_ = part["_w"].to_numpy() if w is not None else None
        return metric(part["truth"].cast(pl.Float64).to_numpy(), part["value"].to_numpy(), weights_)

    public = frame.filter(pl.col("Usage").is_in(_PUBLIC))
    private = frame.filter(pl.col("Usage").is_in(_PRIVATE))
    scored = frame.filter(pl.col("Usage").is_in(_PUBLIC + _PRIVATE))
    return Scores(metric=spec.metric, public=run(public), private=run(private), overall=run(scored),
                  n_public=public.height, n_private=private.height)


def score(spec: CompetitionSpec, submission: str | os.PathLike | pl.DataFrame, folder: Path) -> Scores:
    """Check a submission (a path or a text frame) against the test ids and score it on the solution."""
    folder = Path(folder)
    raw = submission if isinstance(submission, pl.DataFrame) else read_submission(submission)
    raw = raw.select(pl.all().cast(pl.String))
    ids = load_test_ids(spec, folder)
    solution = load_solution(spec, folder)
    sub = validate(spec, raw, ids)
    sol_ids = solution[spec.submission.id_column]
    w = weights(spec, folder, sol_ids)
    return score_frame(spec, sub, solution, w)


def write_atomic(df: pl.DataFrame, path: str | os.PathLike) -> Path:
    """Write a CSV under a temporary name and rename it, so a crash never leaves half a file."""
    return atomic.write_atomic(path, df.write_csv)


# --------------------------------------------------------------------------- from predictions


def submission_frame(spec: CompetitionSpec, folder: str | os.PathLike, prepared, test: np.ndarray,
                     thresholds: np.ndarray | None = None) -> pl.DataFrame:
    """The submission for model-scale test predictions (a `kit.features.Prepared`'s test rows),
    in the sample submission's order: values on the target's scale, or tags cut at `thresholds`."""
    from kit.labels import matrix_to_tags, predict_labels

    sub_spec = spec.submission
    id_col, value_col = sub_spec.id_column, sub_spec.value_column
    if spec.task == "multilabel":
        th = thresholds if thresholds is not None else 0.5
        values = matrix_to_tags(predict_labels(test, th, prepared.labels, sub_spec.exclusive), prepared.labels)
    else:
        test = np.asarray(test, np.float64)
        if spec.task == "regression":
            values = pl.Series(prepared.submission_values(test))
        else:
            values = pl.Series(np.clip(test, 0.0, 1.0))
    ours = pl.DataFrame({id_col: prepared.test_ids.cast(pl.String), value_col: values})
    if ours[id_col].n_unique() != ours.height:
        raise KitError(f"the {spec.name} feature code gives some test ids twice; each must appear once")
    sample = pl.read_csv(Path(folder) / spec.sample_submission, infer_schema_length=0, columns=[id_col])
    out = sample.join(ours, on=id_col, how="left", maintain_order="left")
    missing = out[value_col].null_count()
    if missing:
        raise KitError(f"the predictions miss {missing:,} of the {sample.height:,} ids in "
                       f"{spec.sample_submission}; the feature code must predict every test row")
    return out


def write_submission(spec: CompetitionSpec, folder: str | os.PathLike, prepared, test: np.ndarray,
                     path: str | os.PathLike, thresholds: np.ndarray | None = None) -> Path:
    """Build (`submission_frame`), check (as `kit submit` does) and atomically write the submission CSV."""
    sub = submission_frame(spec, folder, prepared, test, thresholds)
    validate(spec, sub.select(pl.all().cast(pl.String)), load_test_ids(spec, Path(folder)))
    return write_atomic(sub, path)
