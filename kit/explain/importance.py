"""Permutation importance: how much worse the validation score gets when one feature is shuffled.

A model's built-in importance (split gain, impurity decrease) says how often the trees used a
feature on the training rows; it flatters high-cardinality and noisy columns, and it says
nothing about the metric. Shuffling one column of the held-out rows and re-scoring (the fast.ai
ML lessons' "trustworthy" importance) asks the question that matters: does the fitted model
need this feature to score well on rows it has not seen? Nothing is refitted; each fold model
is scored on its own validation rows, so this works for any model that predicts a frame.

>>> import numpy as np, polars as pl
>>> rng = np.random.default_rng(0)
>>> X = pl.DataFrame({"x0": rng.normal(size=500), "noise": rng.normal(size=500)})
>>> y = 3 * X["x0"].to_numpy()
>>> part = Part(predict=lambda f: 3 * f["x0"].to_numpy(), X=X, score=lambda p: float(np.mean((p - y) ** 2)))
>>> imp = permutation_importance([part], metric="mse", greater_is_better=False, n_repeats=2)
>>> imp.table["feature"].to_list()
['x0', 'noise']
>>> imp.table.filter(pl.col("feature") == "noise")["drop_mean"].item()
0.0
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from kit import progress
from kit.errors import KitError

__all__ = ["Part", "Importance", "permutation_importance", "plot_importance", "shorten"]


@dataclass(frozen=True)
class Part:
    """One fitted model and the rows that score it (a fold model and its validation rows)."""

    #: model-scale predictions, one per row of the frame
    predict: Callable[[pl.DataFrame], np.ndarray]
    #: the rows (feature columns only)
    X: pl.DataFrame
    #: the competition metric of predictions for exactly X's rows, in X's order
    score: Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Importance:
    """What shuffling each feature cost, beside the model's own importance."""

    #: feature (str), drop_mean, drop_std (over repeats; null with one repeat), model_importance
    #: (Float64, null where none was given), sorted by drop_mean descending
    table: pl.DataFrame
    metric: str
    greater_is_better: bool
    #: mean over parts of the unpermuted score
    base_score: float
    #: rows scored, all parts together
    n_rows: int
    n_repeats: int

    def to_frame(self) -> pl.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return {"metric": self.metric, "greater_is_better": self.greater_is_better,
                "base_score": self.base_score, "n_rows": self.n_rows, "n_repeats": self.n_repeats,
                "features": self.table.to_dicts()}


def _check(parts: Sequence[Part], features: Sequence[str] | None, n_repeats: int) -> list[str]:
    """The features to shuffle, after the user-error checks."""
    if not parts:
        raise KitError("permutation importance needs at least one part (a fitted model and its "
                       "validation rows), got none; pass one Part per fold")
    if n_repeats < 1:
        raise KitError(f"n_repeats must be at least 1, got {n_repeats}; pass n_repeats=3 say")
    names = list(parts[0].X.columns if features is None else features)
    if not names:
        raise KitError("permutation importance needs at least one feature, got none; "
                       "pass features=None to shuffle every column")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise KitError(f"features must be distinct, but {', '.join(twice)} appear more than once; "
                       "name each feature once")
    for i, part in enumerate(parts):
        cols = part.X.columns
        missing = [n for n in names if n not in cols]
        if missing:
            shown = ", ".join(cols[:10]) + (", ..." if len(cols) > 10 else "")
            raise KitError(f"feature {missing[0]!r} is not a column of part {i}'s X ({len(cols)} columns: "
                           f"{shown}); pass features present in every part")
    return names


def _scores(part: Part, X: pl.DataFrame) -> float:
    pred = np.asarray(part.predict(X))
    if pred.shape[0] != X.height:  # a wiring bug, so a traceback rather than a KitError
        raise ValueError(f"predict returned {pred.shape[0]} predictions for {X.height} rows")
    return float(part.score(pred))


def permutation_importance(parts: Sequence[Part], *, metric: str, greater_is_better: bool, n_repeats: int = 3,
                           seed: int = 0, features: Sequence[str] | None = None,
                           model_importance: Mapping[str, float] | None = None,
                           log: Callable[[str], None] | None = None) -> Importance:
    """Shuffle each feature within each part's rows, re-score, and record how much worse it got.

    drop = base - permuted when greater_is_better, else permuted - base; per part, then averaged
    over parts (each part counts equally, like a mean of fold scores), per repeat. Positive:
    the model needs the feature; about 0: it does not; negative: the feature only adds noise.

    Args:
        features: the columns to shuffle (default: every column of the first part's X).
        model_importance: the model's own importance per feature (gain, impurity), shown beside.
        log: gets one line about every `kit.progress.EVERY` seconds, so a long run is not silent.
    """
    names = _check(parts, features, n_repeats)
    base = np.array([_scores(p, p.X) for p in parts])
    # one permutation per (repeat, part), shared by every feature: the features are compared on
    # the same shuffles (less noise between them), and a feature's result does not depend on
    # which other features were asked for
    rng = np.random.default_rng(seed)
    perms = [[rng.permutation(p.X.height) for p in parts] for _ in range(n_repeats)]
    sign = 1.0 if greater_is_better else -1.0
    drops = np.empty((len(names), n_repeats))
    started = last = time.monotonic()
    for j, name in enumerate(names):
        for r in range(n_repeats):
            permuted = np.array([_scores(p, p.X.with_columns(p.X[name].gather(perms[r][i])))
                                 for i, p in enumerate(parts)])
            drops[j, r] = float(np.mean(sign * (base - permuted)))
            now = time.monotonic()
            if log is not None and now - last >= progress.EVERY:
                last = now
                log(f"permutation importance: {j}/{len(names)} features, {now - started:.0f} s")
    given = dict(model_importance or {})
    table = pl.DataFrame({
        "feature": names,
        "drop_mean": drops.mean(axis=1),
        "drop_std": drops.std(axis=1, ddof=1) if n_repeats > 1 else [None] * len(names),
        "model_importance": [given.get(n) for n in names],
    }, schema={"feature": pl.String, "drop_mean": pl.Float64, "drop_std": pl.Float64,
               "model_importance": pl.Float64})
    table = table.sort(["drop_mean", "feature"], descending=[True, False])
    return Importance(table=table, metric=metric, greater_is_better=greater_is_better,
                      base_score=float(base.mean()), n_rows=sum(p.X.height for p in parts), n_repeats=n_repeats)


def shorten(name: str, width: int = 40) -> str:
    """`name` cut to `width` characters with an ellipsis, so a long column name cannot push
    the bars of a plot into a sliver."""
    return name if len(name) <= width else name[: width - 1] + "…"


def plot_importance(imp: Importance, *, top: int = 20):
    """A matplotlib Figure: the drop in the metric per feature (left) beside the model's own
    importance share for the same features (right), the most important at the top."""
    from matplotlib.figure import Figure

    if top < 1:
        raise KitError(f"top is how many features to show, so at least 1, got {top}; pass top=20 say")
    shown = imp.table.head(top).reverse()  # barh draws bottom-up: the top feature goes last
    n = shown.height
    fig = Figure(figsize=(11, 1.6 + 0.32 * max(n, 3)), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(1.4, 1))
    pos = np.arange(n)
    drop = shown["drop_mean"].to_numpy()
    err = shown["drop_std"].fill_null(0.0).to_numpy()
    colors = np.where(drop > 0, "#4c72b0", "#c44e52")
    left.barh(pos, drop, xerr=err if imp.n_repeats > 1 else None, color=colors, capsize=2,
              error_kw={"elinewidth": 0.8, "ecolor": "#333333"})
    left.axvline(0, color="black", lw=0.8)
    left.set_yticks(pos, [shorten(f) for f in shown["feature"]], fontsize=8)
    left.set_ylim(-0.6, n - 0.4)
    left.set(xlabel=f"drop in {imp.metric.upper()} when shuffled (higher = more important)",
             title=f"permutation importance: top {n} of {imp.table.height} features\n"
                   f"base {imp.metric.upper()} {imp.base_score:.4g}, {imp.n_rows:,} rows, "
                   f"{imp.n_repeats} repeat{'s' if imp.n_repeats != 1 else ''}")

    given = imp.table["model_importance"]
    right.set_title("the model's own importance (gain / impurity)")
    if given.null_count() == given.len():
        right.text(0.5, 0.5, "this model has no built-in importance", transform=right.transAxes,
                   ha="center", va="center", color="grey")
        right.set_xticks([])
        return fig
    # share of the total over every feature with a value, not just those shown
    total = given.sum()
    share = (shown["model_importance"] / (total if total > 0 else 1.0)).to_numpy()
    right.barh(pos, np.nan_to_num(share), color="#dd8452")
    for i in np.flatnonzero(np.isnan(share)):
        right.text(0, pos[i], " none given", va="center", fontsize=7, color="grey")
    right.set_xlabel("share of the model's total importance")
    right.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return fig
