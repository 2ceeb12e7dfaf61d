"""The trivial baseline: the best constant submission a competitor could write without a model.

It is the yardstick every model must beat by a clear margin, and the first submission
the Quick start makes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from kit.data.tables import scan_table
from kit.metrics import METRICS, mean_f2
from kit.spec import CompetitionSpec


def constant(spec: CompetitionSpec, folder: Path) -> float | str:
    """The constant prediction that a competitor would pick for this metric, from the train file."""
    target = spec.target_columns[0]
    y = scan_table(spec, spec.train, folder).select(target)
    if spec.submission.kind == "tags":
        return _best_tag_set(y.collect().to_series(), spec.submission.labels)
    if spec.metric in ("rmsle", "nwrmsle"):
        # the constant minimising squared log error is the geometric mean in log1p space
        val = y.select(pl.col(target).clip(lower_bound=0).log1p().mean()).collect().item()
        return float(np.expm1(val))
    if spec.metric == "rmspe":
        # rows with a true 0 do not count; the median of the rest is a robust constant
        return float(y.filter(pl.col(target) > 0).select(pl.col(target).median()).collect().item())
    return float(y.select(pl.col(target).mean()).collect().item())


def _best_tag_set(tags: pl.Series, labels: tuple[str, ...]) -> str:
    """Greedily add labels by frequency while the mean F2 on train improves."""
    lists = tags.fill_null("").str.split(" ")
    truth = np.stack([lists.list.contains(lab).to_numpy() for lab in labels], axis=1)
    order = np.argsort(-truth.mean(0), kind="stable")
    chosen: list[int] = []
    best = -1.0
    for j in order:
        pred = np.zeros_like(truth)
        pred[:, chosen + [j]] = True
        s = mean_f2(truth, pred)
        if s <= best:
            break
        best, chosen = s, chosen + [j]
    return " ".join(sorted(labels[j] for j in chosen))


def submission(spec: CompetitionSpec, folder: Path) -> pl.DataFrame:
    """A constant submission in the sample submission's order and format."""
    from kit.data.schema import require
    from kit.data.tables import check_csv

    require(spec, folder)  # every required file, each with the download that fetches it
    check_csv(spec, spec.sample_submission, Path(folder))
    value = constant(spec, folder)
    sample = (pl.scan_csv(Path(folder) / spec.sample_submission, infer_schema_length=0)
              .select(spec.submission.id_column).collect())
    if isinstance(value, str):
        col = pl.lit(value)
    else:
        metric = METRICS[spec.metric]
        col = pl.lit(max(value, 0.0) if metric.nonnegative else value, dtype=pl.Float64)
    return sample.with_columns(col.alias(spec.submission.value_column))
