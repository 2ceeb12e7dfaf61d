"""Redundant features: which columns say the same thing, and which of them can go.

The fast.ai ML lessons' recipe: cluster the features on their Spearman rank correlation (a
dendrogram; ranks so that any monotone transform of a column counts as the same column), then
for each tight cluster drop each member in turn, refit, and see whether the validation score
suffers. A feature whose drop costs nothing is redundant; fewer features mean a simpler model
and a permutation importance that no longer splits credit between twins. The refit itself is
the caller's (`score_without`), so this module knows nothing of models or runs.

>>> import numpy as np, polars as pl
>>> rng = np.random.default_rng(0)
>>> a = rng.normal(size=300)
>>> corr = rank_correlation(pl.DataFrame({"a": a, "exp_a": np.exp(a), "b": rng.normal(size=300)}))
>>> clusters(corr)
(('a', 'exp_a'),)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.explain.importance import shorten

__all__ = ["RankCorrelation", "rank_correlation", "clusters", "DropTest", "drop_test", "plot_dendrogram",
           "plot_drop_test", "groups_to_test", "TESTED_TOP", "MAX_DROP_TESTS"]


@dataclass(frozen=True)
class RankCorrelation:
    """The Spearman rank correlation between every pair of features, and their clustering."""

    names: tuple[str, ...]
    #: (f, f) Spearman rank correlation; 1 on the diagonal; 0 between a constant column and any other
    rho: np.ndarray
    #: scipy.cluster.hierarchy linkage ("average") of the distance 1 - |rho|
    linkage: np.ndarray
    #: rows the ranks were computed on (after sampling)
    n_rows: int

    def to_frame(self) -> pl.DataFrame:
        """Long form: a, b, rho, one row per pair with a before b in `names` order."""
        i, j = np.triu_indices(len(self.names), k=1)
        names = np.array(self.names, dtype=object)
        return pl.DataFrame({"a": names[i].tolist(), "b": names[j].tolist(), "rho": self.rho[i, j]},
                            schema={"a": pl.String, "b": pl.String, "rho": pl.Float64})


def _ranks(X: pl.DataFrame) -> np.ndarray:
    """(n, f) average ranks; a missing value gets its column's mean rank (so it pulls the
    correlation towards 0, not towards either end)."""
    bad = [f"{c} ({t})" for c, t in X.schema.items()
           if not (t.is_numeric() or t.is_temporal() or t in (pl.Boolean, pl.String, pl.Categorical)
                   or isinstance(t, pl.Enum))]
    if bad:
        raise KitError(f"rank correlation needs numbers, booleans, dates or categories, but "
                       f"{', '.join(bad[:5])} are not; drop or encode those columns")
    exprs = []
    for name, dtype in X.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            col = col.fill_nan(None)  # polars ranks NaN above every number; it means missing
        elif dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            col = col.to_physical()  # the codes, as the kit's categorify makes them
        rank = col.rank("average").cast(pl.Float64)
        exprs.append(rank.fill_null(rank.mean()).fill_null(0.0).alias(name))
    return X.select(exprs).to_numpy().astype(np.float64)


def rank_correlation(X: pl.DataFrame, *, max_rows: int = 20_000, seed: int = 0) -> RankCorrelation:
    """Spearman rank correlation of X's columns on a seeded sample of at most `max_rows` rows,
    and the average-linkage clustering of the distance 1 - |rho|.

    Numbers, booleans and dates rank by value; categorical columns by their codes and text by
    its sort order (as arbitrary as codes, but a copy of a column still ranks like it).
    """
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    if X.width < 2:
        raise KitError(f"rank correlation needs at least 2 feature columns, got {X.width} "
                       f"({', '.join(X.columns) or 'none'}); pass more features")
    if max_rows < 2 or X.height < 2:
        raise KitError(f"rank correlation needs at least 2 rows, got {X.height} rows and max_rows={max_rows}; "
                       "pass more rows")
    sample = X.sample(n=max_rows, seed=seed) if X.height > max_rows else X
    ranks = _ranks(sample)
    centred = ranks - ranks.mean(axis=0)
    norms = np.sqrt((centred ** 2).sum(axis=0))
    constant = norms <= 1e-12 * max(1.0, float(norms.max()))
    scale = np.where(constant, 1.0, norms)
    # a constant column correlates with nothing: its centred ranks are 0, so its row of rho is 0
    rho = np.clip((centred.T @ centred) / np.outer(scale, scale), -1.0, 1.0)
    rho[constant, :] = 0.0
    rho[:, constant] = 0.0
    np.fill_diagonal(rho, 1.0)
    dist = 1.0 - np.abs(rho)
    np.fill_diagonal(dist, 0.0)
    link = linkage(squareform((dist + dist.T) / 2, checks=False), method="average")
    return RankCorrelation(names=tuple(X.columns), rho=rho, linkage=link, n_rows=sample.height)


def clusters(corr: RankCorrelation, *, threshold: float = 0.8) -> tuple[tuple[str, ...], ...]:
    """Groups of at least 2 features joined at |rho| >= threshold (average linkage), the
    tightest group (highest mean |rho| within) first; members in column order."""
    from scipy.cluster.hierarchy import fcluster

    if not 0.0 < threshold <= 1.0:
        raise KitError(f"threshold is an |rho| between 0 and 1, got {threshold}; pass threshold=0.8 say")
    # a hair above 1 - threshold: a pair at exactly |rho| = threshold joins despite rounding
    labels = fcluster(corr.linkage, t=1.0 - threshold + 1e-9, criterion="distance")
    found = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        if len(idx) < 2:
            continue
        block = np.abs(corr.rho[np.ix_(idx, idx)])
        tightness = (block.sum() - len(idx)) / (len(idx) * (len(idx) - 1))
        found.append((-tightness, int(idx[0]), tuple(corr.names[i] for i in idx)))
    return tuple(group for *_, group in sorted(found))


@dataclass(frozen=True)
class DropTest:
    """The score after dropping each member of each group, one at a time, and all that can go."""

    metric: str
    greater_is_better: bool
    #: score with every feature
    baseline: float
    #: a drop costing at most this much counts as free
    tolerance: float
    #: group (int, from 1), feature, score, cost (signed: positive = worse than baseline),
    #: verdict ("can go" | "keep")
    table: pl.DataFrame
    #: score with every suggested feature dropped at once (None when none can go)
    together: float | None

    def suggested(self) -> tuple[str, ...]:
        """Features to drop: in each group those whose cost <= tolerance, always keeping at least
        one member per group (the one whose drop costs most), since twins that are each free to
        drop alone are not free to drop together."""
        out: list[str] = []
        for group in self.table.partition_by("group", maintain_order=True):
            cost = group["cost"].to_numpy()
            free = cost <= self.tolerance
            if free.all():
                free[int(np.argmax(cost))] = False
            out += [f for f, ok in zip(group["feature"], free) if ok]
        return tuple(out)

    @property
    def together_cost(self) -> float | None:
        """Signed cost of dropping every suggested feature at once (positive = worse)."""
        if self.together is None:
            return None
        return (self.baseline - self.together) if self.greater_is_better else (self.together - self.baseline)

    def to_frame(self) -> pl.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return {"metric": self.metric, "greater_is_better": self.greater_is_better, "baseline": self.baseline,
                "tolerance": self.tolerance, "suggested": list(self.suggested()), "together": self.together,
                "together_cost": self.together_cost, "rows": self.table.to_dicts()}


def _check_groups(groups: Sequence[Sequence[str]], tolerance: float) -> None:
    if tolerance < 0:
        raise KitError(f"tolerance is the cost that still counts as free, so it must be >= 0, got {tolerance}; "
                       "pass e.g. a tenth of the fold scores' standard deviation")
    seen: dict[str, int] = {}
    for g, group in enumerate(groups, start=1):
        if isinstance(group, str):
            raise KitError(f"group {g} is the text {group!r}, not a list of features; pass [[{group!r}, ...]]")
        for f in group:
            if f in seen:
                raise KitError(f"feature {f!r} is in group {seen[f]} and group {g}; put each feature in one group")
            seen[f] = g


def drop_test(score_without: Callable[[Sequence[str]], float], groups: Sequence[Sequence[str]], *, metric: str,
              greater_is_better: bool, tolerance: float, log: Callable[[str], None] | None = None) -> DropTest:
    """Score without each member of each group, one at a time, then without all that can go.

    `score_without(())` is the baseline; `score_without([f])` refits without f; finally
    `score_without(suggested)` once gives `together`. Each call is a refit, so `log` (when
    given) gets one line per call.
    """
    _check_groups(groups, tolerance)
    total = 1 + sum(len(g) for g in groups)
    started = time.monotonic()

    def run(dropped: Sequence[str], done: int) -> float:
        value = float(score_without(tuple(dropped)))
        if log is not None:
            what = "every feature" if not dropped else ", ".join(map(repr, dropped[:3])) + (
                f" (+{len(dropped) - 3})" if len(dropped) > 3 else "")
            log(f"drop test: {done}/{total} scores, without {what}: {metric} {value:.5g}, "
                f"{time.monotonic() - started:.0f} s")
        return value

    baseline = run((), 1)
    rows: dict[str, list] = {"group": [], "feature": [], "score": []}
    for g, group in enumerate(groups, start=1):
        for f in group:
            rows["group"].append(g)
            rows["feature"].append(f)
            rows["score"].append(run((f,), len(rows["score"]) + 2))
    table = pl.DataFrame(rows, schema={"group": pl.Int64, "feature": pl.String, "score": pl.Float64})
    cost = (baseline - pl.col("score")) if greater_is_better else (pl.col("score") - baseline)
    table = table.with_columns(cost.alias("cost")).with_columns(
        pl.when(pl.col("cost") <= tolerance).then(pl.lit("can go")).otherwise(pl.lit("keep")).alias("verdict"))
    result = DropTest(metric=metric, greater_is_better=greater_is_better, baseline=baseline,
                      tolerance=tolerance, table=table, together=None)
    drop = result.suggested()
    if not drop:
        return result
    if log is not None:
        log(f"drop test: scoring without all {len(drop)} that can go")
    return dataclasses.replace(result, together=float(score_without(drop)))


def plot_dendrogram(corr: RankCorrelation, *, groups: Sequence[Sequence[str]] = (), threshold: float = 0.8):
    """A matplotlib Figure: the features' dendrogram on 1 - |Spearman rho|, leaves as labelled
    rows, a dashed line at 1 - threshold, members of `groups` labelled in a highlight colour."""
    from matplotlib.figure import Figure
    from scipy.cluster.hierarchy import dendrogram

    f = len(corr.names)
    tree = dendrogram(corr.linkage, labels=list(corr.names), orientation="right", no_plot=True,
                      color_threshold=1.0 - threshold, above_threshold_color="#888888")
    fig = Figure(figsize=(9, 1.8 + 0.24 * f), layout="constrained")
    ax = fig.subplots()
    for ys, xs, color in zip(tree["icoord"], tree["dcoord"], tree["color_list"]):
        ax.plot(xs, ys, color=color, lw=1.2)
    ax.axvline(1.0 - threshold, color="#c44e52", ls="--", lw=1)
    ticks = 5 + 10 * np.arange(f)  # scipy puts leaf i at 10 i + 5
    ax.set_yticks(ticks, [shorten(n) for n in tree["ivl"]], fontsize=8)
    marked = {n for g in groups for n in g}
    for label, name in zip(ax.get_yticklabels(), tree["ivl"]):
        if name in marked:
            label.set_color("#dd5500")
            label.set_fontweight("bold")
    ax.set_ylim(0, 10 * f)
    ax.set_xlim(-0.02, max(1.0, float(np.max(corr.linkage[:, 2])) + 0.02))
    ax.set_xlabel("1 - |Spearman rho|   (0 = same order of values, 1 = unrelated)")
    ax.set_title(f"Spearman rank correlation of {f} features ({corr.n_rows:,} rows)\n"
                 f"features joined left of the dashed line (|rho| >= {threshold:g}) move together"
                 + ("\nbold: the groups to drop-test" if marked else ""), fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_drop_test(dt: DropTest):
    """A matplotlib Figure: the cost of dropping each feature, grouped by cluster, the
    tolerance band shaded; "can go" and "keep" in two colours."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    t = dt.table
    fig = Figure(figsize=(9, 1.8 + 0.3 * max(t.height, 3)), layout="constrained")
    ax = fig.subplots()
    unit = dt.metric.upper()
    if t.height == 0:
        ax.text(0.5, 0.5, "no groups of correlated features to test", ha="center", va="center",
                transform=ax.transAxes, color="grey")
        ax.set_axis_off()
        return fig
    # one blank row between groups, first group at the top
    pos = -(np.arange(t.height) + t["group"].rank("dense").to_numpy() - 1)
    colors = np.where(t["verdict"].to_numpy() == "can go", "#55a868", "#c44e52")
    cost = t["cost"].to_numpy()
    ax.barh(pos, cost, color=colors)
    ax.scatter(cost, pos, color=colors, s=14, zorder=3)  # a zero cost is a bar of no width
    kept = set(t.filter(pl.col("verdict") == "can go")["feature"]) - set(dt.suggested())
    for x, y, f in zip(cost, pos, t["feature"]):
        note = f" {x:+.3g}" + ("  (kept: the group's last member)" if f in kept else "")
        ax.text(x, y, note, va="center", ha="left", fontsize=7)
    ax.margins(x=0.12)  # room for the numbers at the bar ends
    ax.axvspan(-dt.tolerance, dt.tolerance, color="#cccccc", alpha=0.5, lw=0)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(pos, [f"group {g}: {shorten(f, 36)}" for g, f in zip(t["group"], t["feature"])], fontsize=8)
    ax.legend(handles=[Patch(color="#55a868", label="can go (cost <= tolerance)"),
                       Patch(color="#c44e52", label="keep"),
                       Patch(color="#cccccc", label=f"within ±{dt.tolerance:g} (free)")], fontsize=8, loc="best")
    together = ("" if dt.together_cost is None else
                f"\ndropping {len(dt.suggested())} suggested together costs {dt.together_cost:+.4g}")
    ax.set(xlabel=f"cost in {unit} when dropped and refitted (positive = worse than with every feature)",
           title=f"drop test: baseline {unit} {dt.baseline:.5g}" + together)
    return fig


#: the drop test looks at clusters among this many of the most important features, and at most
#: MAX_DROP_TESTS of their members (each is a refit of the quick model on every fold: 2-4 s)
TESTED_TOP = 25
MAX_DROP_TESTS = 10


def groups_to_test(groups: Sequence[Sequence[str]], important: Sequence[str], most: int) -> list[tuple[str, ...]]:
    """The clusters worth a drop test: each cut to its members among `important`, those left with
    two or more, tightest first, until `most` members are taken.

    >>> groups_to_test([("a", "b", "z"), ("c", "d"), ("e", "f")], ["a", "b", "c", "d", "e", "f"], 4)
    [('a', 'b'), ('c', 'd')]
    """
    keep, out, taken = set(important), [], 0
    for g in groups:
        g = tuple(f for f in g if f in keep)
        if len(g) >= 2 and taken + len(g) <= most:
            out.append(g)
            taken += len(g)
    return out
