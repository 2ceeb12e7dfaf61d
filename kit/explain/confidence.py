"""Where a random forest is unsure: the spread of its trees' predictions, by category.

fast.ai's "confidence based on tree variance": a forest's trees agree on rows like many they
saw and disagree on rare or noisy ones. Averaging each row's standard deviation over the
trees (`kit.models.ForestRegressor.predict_with_std`) within each category of a column
(ProductSize, say) shows which groups the forest knows least, and how many rows they hold.
The caller computes prediction and std; this module only groups and shows them.

>>> import numpy as np
>>> c = confidence_by(np.array([1.0, 2, 3, 4]), np.array([0.1, 0.3, 1.0, 1.0]), np.array([1, 1, 2, 0]),
...                   by="size", scale="log1p(price)", levels=["small", "large"])
>>> c.table.select("label", "rows", "mean_std").rows()
[('large', 1, 1.0), ('missing', 1, 1.0), ('small', 2, 0.2)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.tabular import level_names

__all__ = ["Confidence", "confidence_by", "plot_confidence", "OTHER", "MISSING"]

#: the label of the rarest categories folded together, and of missing values
OTHER = "other"
MISSING = "missing"
_DECILES = 10


@dataclass(frozen=True)
class Confidence:
    """The trees' spread grouped by one column."""

    by: str
    #: what the predictions are, e.g. "log1p(SalePrice)" (the unit of every std)
    scale: str
    #: label, rows, share (of rows), mean_prediction, mean_std (mean over the rows of the trees'
    #: std), relative (mean_std / overall_std); the most unsure category first
    table: pl.DataFrame
    #: mean over all rows of the trees' std
    overall_std: float
    #: "categories" (one row per value or level) or "deciles" (a float column, binned)
    grouping: Literal["categories", "deciles"] = "categories"

    def to_frame(self) -> pl.DataFrame:
        """The table behind the plot, with the column it is grouped by."""
        return self.table.select(pl.lit(self.by).alias("by"), pl.all())

    def to_dict(self) -> dict:
        return {"by": self.by, "scale": self.scale, "overall_std": self.overall_std, "grouping": self.grouping,
                "rows": int(self.table["rows"].sum()), "table": self.table.to_dicts()}


def _vector(name: str, a: Any, n: int | None = None) -> np.ndarray:
    v = np.asarray(a, dtype=np.float64)
    if v.ndim != 1 or (n is not None and len(v) != n):
        want = f"{n} values (one per row of prediction)" if n is not None else "one value per row"
        raise KitError(f"{name} must be 1-D with {want}, got shape {v.shape}; "
                       "pass one output column (value[:, k] for a multi-output forest)")
    if not np.isfinite(v).all():
        raise KitError(f"{name} has {int((~np.isfinite(v)).sum())} NaN or infinite values; "
                       "pass the forest's predict_with_std(X) output unchanged")
    return v


def _coded(s: pl.Series, levels: Sequence, by: str) -> pl.Series:
    """Codes 0..n -> 'missing', levels[0], ..., levels[n-1]."""
    if not s.dtype.is_integer():
        raise KitError(f"levels need {by!r} as integer codes (0 = missing, i = levels[i-1]), "
                       f"got dtype {s.dtype}; pass the coded column or leave levels=None")
    codes = s.fill_null(0).to_numpy()
    bad = (codes < 0) | (codes > len(levels))
    if bad.any():
        raise KitError(f"{by!r} has codes outside 0..{len(levels)} (e.g. {int(codes[bad][0])}) but levels "
                       f"names {len(levels)}; pass the levels the column was coded with")
    return pl.Series("label", level_names(codes, levels), dtype=pl.String)


def _deciles(s: pl.Series) -> pl.Series:
    """A float column as decile bins "[a, b)" (the last one closed), NaN/null as 'missing'."""
    x = s.cast(pl.Float64).fill_nan(None).to_numpy()
    known = x[np.isfinite(x)]
    edges = np.unique(np.quantile(known, np.linspace(0, 1, _DECILES + 1)))
    # bin i holds edges[i] <= x < edges[i+1]; the maximum joins the last bin
    idx = np.clip(np.searchsorted(edges, np.nan_to_num(x, nan=edges[0]), side="right") - 1, 0, len(edges) - 2)
    text = np.array([f"[{a:.4g}, {b:.4g}{']' if i == len(edges) - 2 else ')'}"
                     for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))], dtype=object)
    out = np.where(np.isfinite(x), text[idx], MISSING)
    return pl.Series("label", out, dtype=pl.String)


def _labels(category: Any, n: int, by: str, levels: Sequence | None,
            max_categories: int) -> tuple[pl.Series, str]:
    s = category if isinstance(category, pl.Series) else pl.Series(np.asarray(category))
    if s.len() != n:
        raise KitError(f"category {by!r} must have one value per row: prediction has {n}, it has {s.len()}")
    if s.dtype in (pl.Categorical, pl.Enum):
        s = s.cast(pl.String)
    if levels is not None:
        return _coded(s, levels, by), "categories"
    if s.dtype.is_float() and s.drop_nulls().drop_nans().n_unique() > max_categories:
        if s.drop_nulls().drop_nans().len() == 0:
            return pl.Series("label", [MISSING] * n, dtype=pl.String), "categories"
        return _deciles(s), "deciles"
    if s.dtype.is_float():
        s = s.fill_nan(None)
    return s.cast(pl.String).fill_null(MISSING).alias("label"), "categories"


def confidence_by(prediction: np.ndarray, std: np.ndarray, category: np.ndarray | pl.Series, *, by: str,
                  scale: str, levels: Sequence | None = None, max_categories: int = 25) -> Confidence:
    """Mean prediction and mean tree spread per category of `category`.

    Args:
        prediction, std: per row, from `ForestRegressor.predict_with_std(X)` (value, std).
        category: the column to group by, one value per row.
        by: its name (for titles); scale: what the predictions are, e.g. "log1p(SalePrice)".
        levels: with integer codes, code i names levels[i-1] and code 0 is "missing".
        max_categories: the most frequent are kept, the rarer folded into "other"; a float
            column with more distinct values than this is binned into deciles instead.
    """
    if max_categories < 1:
        raise KitError(f"max_categories must be >= 1, got {max_categories}; 25 is the default")
    pred = _vector("prediction", prediction)
    sd = _vector("std", std, len(pred))
    if len(pred) == 0:
        raise KitError(f"confidence by {by!r} needs at least one row, got 0; pass the predictions of X")
    label, grouping = _labels(category, len(pred), by, levels, max_categories)
    df = pl.DataFrame({"label": label, "prediction": pred, "std": sd})
    # the most frequent keep their name (ties by label, so reruns agree); the rest become "other"
    kept = (df.group_by("label").len().sort(["len", "label"], descending=[True, False])
            .head(max_categories)["label"])
    if df["label"].n_unique() > max_categories:
        df = df.with_columns(pl.when(pl.col("label").is_in(kept.implode())).then(pl.col("label"))
                             .otherwise(pl.lit(OTHER)).alias("label"))
    overall = float(sd.mean())
    table = (df.group_by("label")
             .agg(pl.len().cast(pl.Int64).alias("rows"), pl.col("prediction").mean().alias("mean_prediction"),
                  pl.col("std").mean().alias("mean_std"))
             .with_columns((pl.col("rows") / len(pred)).alias("share"),
                           (pl.col("mean_std") / overall if overall > 0 else pl.lit(float("nan")))
                           .alias("relative"))
             .select("label", "rows", "share", "mean_prediction", "mean_std", "relative")
             .sort(["mean_std", "label"], descending=[True, False]))
    return Confidence(by=by, scale=scale, table=table, overall_std=overall, grouping=grouping)


def plot_confidence(c: Confidence):
    """A matplotlib Figure: mean tree spread per category, the most unsure on top, with row counts."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    t = c.table.reverse()  # barh draws from the bottom up; the most unsure goes on top
    n = t.height
    fig = Figure(figsize=(8.5, 2.0 + 0.34 * n), layout="constrained")
    ax = fig.subplots()
    pos = np.arange(n)
    std = t["mean_std"].to_numpy()
    colors = np.where(std > c.overall_std, "#c44e52", "#4c72b0")
    ax.barh(pos, std, height=0.7, color=colors)
    labels = [s if len(s) <= 28 else s[:27] + "…" for s in t["label"].to_list()]
    ax.set_yticks(pos, labels, fontsize=8 if n > 15 else 9)
    right = max(float(std.max()), c.overall_std)
    for p, v, rows, share in zip(pos, std, t["rows"].to_list(), t["share"].to_list()):
        ax.annotate(f"{rows:,} rows ({share:.1%})", (v, p), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=7.5, color="#333333", zorder=3,
                    bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    line = ax.axvline(c.overall_std, color="black", ls="--", lw=1, label=f"mean over all rows: {c.overall_std:.3g}")
    # room on the right for the row counts
    ax.set_xlim(0, right * 1.3 if right > 0 else 1)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(f"mean std of the trees' predictions ({c.scale}); higher = less sure")
    ax.set_ylabel(c.by + (" (deciles)" if c.grouping == "deciles" else ""))
    ax.set_title(f"where the forest is unsure: spread of its trees by {c.by}", fontsize=11)
    ax.legend(handles=[line, Patch(color="#c44e52", label="less sure than the mean"),
                       Patch(color="#4c72b0", label="as sure or surer")], loc="upper center",
              bbox_to_anchor=(0.5, -0.16 - 0.6 / max(n, 3)), ncol=3, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig
