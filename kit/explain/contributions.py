"""One row explained: why a tree model gave this row its prediction (the fast.ai ML lessons' tree
interpreter waterfall), and how two groups of rows differ feature by feature.

The numbers come from a model's `contributions(X)` (kit.models: TreeSHAP for LightGBM, the path
decomposition for scikit-learn's forest): per row a bias plus one share per feature, summing to
the prediction on the model's raw scale. This module only holds, tabulates and draws them.

>>> import numpy as np
>>> e = explain_row(np.array([-1.0, 0.25, 2.0]), names=["x0", "x1"], row={"x0": 0, "x1": 3.5},
...                 row_id="7", scale="prediction")
>>> e.prediction, e.to_frame()["feature"].to_list()
(1.25, ['x0', 'x1', '(bias)', '(prediction)'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.tabular import level_names

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["RowExplanation", "GroupComparison", "explain_row", "plot_waterfall", "compare_groups", "plot_groups"]

#: the bar colours: a step that raises the prediction, one that lowers it, the bias and the total
_UP, _DOWN, _ENDS = "#55a868", "#c44e52", "#4c72b0"
#: longest "feature = value" label drawn; longer ones are cut with an ellipsis
_LABEL_CHARS = 42


@dataclass(frozen=True)
class RowExplanation:
    """One row's prediction as a bias plus one contribution per feature."""

    row_id: str
    features: tuple[str, ...]
    #: the row's feature values as text (category labels where levels were given)
    values: tuple[str, ...]
    #: (f,) each feature's contribution, in `features` order
    contributions: np.ndarray = field(repr=False)
    #: the model's expected output (what every row starts from)
    bias: float
    #: bias + contributions.sum()
    prediction: float
    #: what the numbers are, e.g. "log1p(SalePrice)" or "log-odds of target = 1"
    scale: str

    def order(self) -> np.ndarray:
        """Feature positions, largest |contribution| first (ties keep the feature order)."""
        return np.argsort(-np.abs(self.contributions), kind="stable")

    def to_frame(self) -> pl.DataFrame:
        """feature, value, contribution, kind: the features by |contribution|, then a "(bias)" row
        and a "(prediction)" row; the contributions of every row but the last sum to the last."""
        idx = self.order()
        return pl.DataFrame({
            "feature": [*(self.features[i] for i in idx), "(bias)", "(prediction)"],
            "value": [*(self.values[i] for i in idx), "", ""],
            "contribution": [*self.contributions[idx].tolist(), self.bias, self.prediction],
            "kind": ["feature"] * len(idx) + ["bias", "prediction"],
        }, schema={"feature": pl.String, "value": pl.String, "contribution": pl.Float64, "kind": pl.String})

    def to_dict(self) -> dict:
        idx = self.order()
        return {"row_id": self.row_id, "scale": self.scale, "bias": self.bias, "prediction": self.prediction,
                "contributions": [{"feature": self.features[i], "value": self.values[i],
                                   "contribution": float(self.contributions[i])} for i in idx]}


def _as_vector(contrib: Any, names: Sequence[str]) -> np.ndarray:
    c = np.asarray(contrib, dtype=np.float64)
    if c.ndim == 2 and c.shape[0] == 1:  # one row sliced with [i:i+1] is still one row
        c = c[0]
    if c.ndim != 1 or c.shape[0] != len(names) + 1:
        raise KitError(f"contrib must hold one value per feature plus the bias last ({len(names)} names + 1 = "
                       f"{len(names) + 1}), got shape {c.shape}; pass one row of model.contributions(X) "
                       f"with the names of its columns (model.schema_.feature_names)")
    return c


def _text(value: Any) -> str:
    """A feature value as a short label: missing for null/NaN, numbers without needless digits."""
    if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)):
        return "missing"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def _row_values(row: Mapping[str, object] | pl.DataFrame, names: Sequence[str],
                levels: Mapping[str, Sequence] | None) -> tuple[str, ...]:
    if isinstance(row, pl.DataFrame):
        if row.height != 1:
            raise KitError(f"row must be one row, got a frame of {row.height} rows; pass frame[i:i+1] or a dict")
        row = row.row(0, named=True)
    missing = [n for n in names if n not in row]
    if missing:
        raise KitError(f"row lacks {len(missing)} of the {len(names)} features ({', '.join(map(repr, missing[:5]))}"
                       f"{', ...' if len(missing) > 5 else ''}); pass the row the contributions were computed on")
    levels = levels or {}
    out = []
    for name in names:  # a loop over features, not rows
        v = row[name]
        lv = levels.get(name)
        # a categorical column's integer code: 0 is the kit's "missing or unknown", i is levels[i - 1]
        if lv is not None and isinstance(v, (int, np.integer, float, np.floating)) and not isinstance(v, bool) \
                and float(v).is_integer():
            code = int(v)
            if not 0 <= code <= len(lv):
                raise KitError(f"feature {name!r} has code {code}, but its levels hold {len(lv)} values (codes "
                               f"1..{len(lv)}, 0 = missing); pass the levels the model was fitted with")
            out.append(level_names([code], lv)[0])
        else:
            out.append(_text(v))
    return tuple(out)


def explain_row(contrib: np.ndarray, *, names: Sequence[str], row: Mapping[str, object] | pl.DataFrame,
                row_id: str, scale: str, levels: Mapping[str, Sequence] | None = None) -> RowExplanation:
    """One row's explanation from its contributions.

    Args:
        contrib: (f + 1,) one row of `model.contributions(X)`: a value per feature, the bias last.
        names: the f feature names, in contrib's order (`model.schema_.feature_names`).
        row: the row's feature values, a one-row frame or a dict (the encoded codes or the raw values).
        row_id: how the row is named in titles (its id, or its position).
        scale: what the numbers are ("log1p(SalePrice)", "log-odds of target = 1").
        levels: per categorical feature its sorted levels (`model.schema_.levels`), so that a code i
            shows as levels[i - 1] and 0 as "missing".
    """
    names = tuple(str(n) for n in names)
    c = _as_vector(contrib, names)
    values = _row_values(row, names, levels)
    bias = float(c[-1])
    return RowExplanation(row_id=str(row_id), features=names, values=values, contributions=c[:-1].copy(),
                          bias=bias, prediction=float(bias + c[:-1].sum()), scale=scale)


def _label(text: str) -> str:
    return text if len(text) <= _LABEL_CHARS else text[:_LABEL_CHARS - 1] + "…"


def _steps(expl: RowExplanation, top: int) -> tuple[list[str], np.ndarray]:
    """The waterfall's steps: the top features by |contribution|, then the rest folded into one."""
    idx = expl.order()
    shown, rest = idx[:top], idx[top:]
    labels = [_label(f"{expl.features[i]} = {expl.values[i]}") for i in shown]
    steps = expl.contributions[shown]
    if rest.size:
        labels.append(f"{rest.size} other feature{'s' if rest.size > 1 else ''}")
        steps = np.append(steps, expl.contributions[rest].sum())
    return labels, steps


def plot_waterfall(expl: RowExplanation, *, top: int = 12) -> Figure:
    """A horizontal waterfall read top to bottom: the bias, one step per top-|contribution|
    feature ("feature = value"), the other features folded into one step, then the prediction."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if top < 1:
        raise KitError(f"top must be at least 1 (features drawn before folding the rest), got {top}")
    labels, steps = _steps(expl, top)
    ends = expl.bias + np.cumsum(steps)
    starts = ends - steps
    n = len(steps)
    fig = Figure(figsize=(9, 1.6 + 0.38 * (n + 2)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(1, n + 1)
    colors = np.where(steps >= 0, _UP, _DOWN)
    ax.barh(y, steps, left=starts, color=colors, height=0.7)
    # the running total between steps, so the eye can follow the path
    ax.vlines(ends[:-1], y[:-1] - 0.35, y[1:] + 0.35, color="grey", lw=0.8, ls=":")
    ax.vlines([expl.bias], 0, 1.35, color="grey", lw=0.8, ls=":")
    ax.vlines([expl.prediction], y[-1] - 0.35, n + 1, color="grey", lw=0.8, ls=":")
    for yi, s, e in zip(y, steps, ends):
        ax.annotate(f"{s:+.3g}", (e, yi), xytext=(3 if s >= 0 else -3, 0), textcoords="offset points",
                    ha="left" if s >= 0 else "right", va="center", fontsize=8)
    for yi, value, what in ((0, expl.bias, "bias"), (n + 1, expl.prediction, "prediction")):
        ax.plot([value], [yi], marker="D", color=_ENDS, ms=8)
        ax.annotate(f"{what} {value:.4g}", (value, yi), xytext=(7, 0), textcoords="offset points",
                    va="center", fontsize=8, color=_ENDS)
    ax.set_yticks([0, *y, n + 1], ["bias (mean output)", *labels, "prediction"], fontsize=8)
    ax.set_ylim(n + 1.7, -0.7)  # bias on top, prediction at the bottom
    lo, hi = min(starts.min(), ends.min()), max(starts.max(), ends.max())
    pad = 0.22 * (hi - lo) or 0.5  # room for the numbers written beside the bars
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(expl.scale)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(handles=[Patch(color=_UP, label="raises the prediction"), Patch(color=_DOWN, label="lowers it")],
               loc="outside lower center", ncols=2, fontsize=8)
    ax.set_title(f"why row {expl.row_id} got {expl.prediction:.4g} ({expl.scale})")
    return fig


@dataclass(frozen=True)
class GroupComparison:
    """Mean contributions of two groups of rows, and where they differ."""

    labels: tuple[str, str]
    #: rows in each group
    n: tuple[int, int]
    names: tuple[str, ...]
    #: (f + 1,) mean contribution per feature in each group, the bias last
    mean_a: np.ndarray = field(repr=False)
    mean_b: np.ndarray = field(repr=False)
    #: feature, a, b, difference (b - a), largest |difference| first; the "(bias)" row included,
    #: so `difference` sums to prediction_b - prediction_a
    table: pl.DataFrame = field(repr=False)
    #: what the numbers are, as in RowExplanation.scale
    scale: str = "model output"

    @property
    def prediction_a(self) -> float:
        """Mean prediction of group a (mean of each row's bias + contributions)."""
        return float(self.mean_a.sum())

    @property
    def prediction_b(self) -> float:
        return float(self.mean_b.sum())

    def to_frame(self) -> pl.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "n": list(self.n), "scale": self.scale,
                "prediction_a": self.prediction_a, "prediction_b": self.prediction_b,
                "difference": self.prediction_b - self.prediction_a, "features": self.table.to_dicts()}


def _group(contrib: Any, names: Sequence[str], label: str) -> np.ndarray:
    c = np.asarray(contrib, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != len(names) + 1:
        raise KitError(f"group {label!r} must be a (rows, {len(names) + 1}) matrix (a value per feature plus the "
                       f"bias last, {len(names)} names), got shape {c.shape}; pass model.contributions(X_group)")
    if c.shape[0] == 0:
        raise KitError(f"group {label!r} has no rows; a comparison needs at least one row in each group")
    return c


def compare_groups(contrib_a: np.ndarray, contrib_b: np.ndarray, *, names: Sequence[str],
                   labels: tuple[str, str] = ("A", "B"), scale: str = "model output") -> GroupComparison:
    """Mean contributions of two groups of rows (e.g. rows predicted high vs low, or one year vs
    another): the difference of their mean predictions equals the sum of the per-feature
    differences, so the table says which features account for the gap."""
    names = tuple(str(n) for n in names)
    if len(set(names)) != len(names):
        raise KitError(f"names must be distinct, but {len(names) - len(set(names))} repeat; "
                       "pass model.schema_.feature_names")
    labels = (str(labels[0]), str(labels[1]))
    a, b = _group(contrib_a, names, labels[0]), _group(contrib_b, names, labels[1])
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    table = (pl.DataFrame({"feature": [*names, "(bias)"], "a": mean_a, "b": mean_b, "difference": mean_b - mean_a})
             .sort(pl.col("difference").abs(), descending=True, maintain_order=True))
    return GroupComparison(labels=labels, n=(a.shape[0], b.shape[0]), names=names, mean_a=mean_a,
                           mean_b=mean_b, table=table, scale=scale)


def plot_groups(cmp: GroupComparison, *, top: int = 12) -> Figure:
    """Paired horizontal bars: each group's mean contribution for the top features by |difference|."""
    from matplotlib.figure import Figure

    if top < 1:
        raise KitError(f"top must be at least 1 (features drawn), got {top}")
    rows = cmp.table.filter(pl.col("feature") != "(bias)").head(top)
    k = rows.height
    fig = Figure(figsize=(9, 1.8 + 0.45 * k), layout="constrained")
    ax = fig.subplots()
    y = np.arange(k)
    (la, na), (lb, nb) = zip(cmp.labels, cmp.n)
    ax.barh(y - 0.2, rows["a"].to_numpy(), height=0.4, color="#4c72b0", label=f"{la} (n={na:,})")
    ax.barh(y + 0.2, rows["b"].to_numpy(), height=0.4, color="#dd8452", label=f"{lb} (n={nb:,})")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [_label(f) for f in rows["feature"]], fontsize=8)
    ax.set_ylim(k - 0.5, -0.5)  # largest difference on top
    ax.set_xlabel(f"mean contribution ({cmp.scale})")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    gap = cmp.prediction_b - cmp.prediction_a
    ax.set_title(f"{la} vs {lb}: mean prediction {cmp.prediction_a:.4g} vs {cmp.prediction_b:.4g} "
                 f"({gap:+.3g}); top {k} features by difference", fontsize=10)
    return fig
