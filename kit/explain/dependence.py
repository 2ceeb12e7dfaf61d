"""Partial dependence and ICE lines: how a model's prediction moves with one feature (or a pair).

The fast.ai ML lessons' question "what happens to the predicted price as YearMade goes up, all
else as it was?": set the feature to each grid value in every sampled row, predict, and average
(partial dependence); the per-row curves (individual conditional expectation, ICE) show whether
the rows agree or whether the feature interacts with others. Generic: it takes a `predict`
callable over a polars frame, not a kit run, so any model (kit, scikit-learn, torch) fits.

All predictions come from ONE call over a stacked frame (the sample repeated once per grid
value), because per-row or per-value calls pay the model's fixed cost hundreds of times.

>>> X = pl.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
>>> dep = partial_dependence(lambda f: (2 * f["a"] + f["b"]).to_numpy(), X, "a", grid_size=4)
>>> dep.grid.tolist(), dep.average.tolist()
([1.0, 2.0, 3.0, 4.0], [2.5, 4.5, 6.5, 8.5])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from kit.errors import KitError
from kit.explain.importance import shorten
from kit.tabular import level_names

__all__ = ["Dependence", "Dependence2D", "partial_dependence", "partial_dependence_2d",
           "plot_dependence", "plot_dependence_2d"]

Predict = Callable[[pl.DataFrame], np.ndarray]

#: the quantiles a continuous grid spans: the tails are too thin to say anything about
QUANTILES = (0.05, 0.95)
#: panels per figure row, and at most this many panels in one figure (beyond, nobody reads them)
PANELS_PER_ROW = 3
MAX_PANELS = 12


@dataclass(frozen=True)
class Dependence:
    """The partial dependence of a prediction on one feature, with the ICE lines behind it."""

    feature: str
    #: the values the feature is set to (float64; integer codes for categorical features)
    grid: np.ndarray = field(repr=False, compare=False)
    #: (g,) mean prediction over the sampled rows at each grid value: the partial dependence
    average: np.ndarray = field(repr=False, compare=False)
    #: (n_ice, g) the predictions of each ICE row at each grid value
    ice: np.ndarray = field(repr=False, compare=False)
    #: category labels of the grid values (categorical features), else None
    labels: tuple[str, ...] | None
    categorical: bool
    #: rows averaged (the seeded sample of X)
    n_rows: int
    #: positions in X of the ICE rows (row i of `ice` is X's row ice_rows[i]); None: 0..n_ice-1
    ice_rows: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pl.DataFrame:
        """One row per grid value: feature, value, label (null when none), average."""
        g = len(self.grid)
        return pl.DataFrame({"feature": [self.feature] * g, "value": self.grid,
                             "label": pl.Series(list(self.labels) if self.labels else [None] * g, dtype=pl.String),
                             "average": self.average})

    def ice_frame(self) -> pl.DataFrame:
        """The ICE lines, long: row (position in X), value, prediction."""
        n, g = self.ice.shape
        rows = np.arange(n) if self.ice_rows is None else np.asarray(self.ice_rows)
        return pl.DataFrame({"row": np.repeat(rows, g).astype(np.int64), "value": np.tile(self.grid, n),
                             "prediction": self.ice.ravel()})


@dataclass(frozen=True)
class Dependence2D:
    """The partial dependence of a prediction on a pair of features (their joint effect)."""

    features: tuple[str, str]
    grid_a: np.ndarray = field(repr=False, compare=False)
    grid_b: np.ndarray = field(repr=False, compare=False)
    #: (len(grid_a), len(grid_b)) mean prediction with a = grid_a[i] and b = grid_b[j]
    average: np.ndarray = field(repr=False, compare=False)
    labels_a: tuple[str, ...] | None
    labels_b: tuple[str, ...] | None
    n_rows: int

    def to_frame(self) -> pl.DataFrame:
        """Long: a, b, average, plus the feature names and labels (null when none) beside them."""
        ga, gb = len(self.grid_a), len(self.grid_b)

        def labels(lab: tuple[str, ...] | None, g: int) -> list:
            return list(lab) if lab else [None] * g

        return pl.DataFrame({
            "feature_a": [self.features[0]] * (ga * gb), "a": np.repeat(self.grid_a, gb),
            "label_a": pl.Series(np.repeat(np.array(labels(self.labels_a, ga), dtype=object), gb), dtype=pl.String),
            "feature_b": [self.features[1]] * (ga * gb), "b": np.tile(self.grid_b, ga),
            "label_b": pl.Series(np.tile(np.array(labels(self.labels_b, gb), dtype=object), ga), dtype=pl.String),
            "average": self.average.ravel()})


# -- grids ------------------------------------------------------------------------------------

def _column(X: pl.DataFrame, name: str) -> pl.Series:
    """X's column `name`, checked: present, numeric, not all null."""
    if not isinstance(X, pl.DataFrame):
        raise KitError(f"X must be a polars DataFrame, got {type(X).__name__}; convert it with pl.DataFrame(...)")
    if name not in X.columns:
        shown = ", ".join(X.columns[:10]) + (", ..." if X.width > 10 else "")
        raise KitError(f"feature {name!r} is not a column of X ({X.width} columns: {shown}); pass one of those")
    s = X[name]
    if not (s.dtype.is_numeric() or s.dtype == pl.Boolean):
        raise KitError(f"feature {name!r} is {s.dtype}, not numbers; partial dependence sets it to numeric grid "
                       "values, so pass the integer codes (categorical=True) or a numeric column")
    if s.dtype.is_float():
        s = s.fill_nan(None)
    if s.null_count() == s.len():
        raise KitError(f"feature {name!r} is null in all {s.len()} rows; there are no values to build a grid "
                       "from, so pick another feature or pass grid=")
    return s


def _labels(name: str, codes: np.ndarray, levels: Sequence | None) -> tuple[str, ...]:
    """Code i -> levels[i-1], code 0 -> "missing", the code as text where levels is None."""
    if np.any(codes != np.round(codes)) or np.any(codes < 0):
        raise KitError(f"categorical feature {name!r} holds codes 0..n, but its grid has "
                       f"{[float(c) for c in codes[(codes != np.round(codes)) | (codes < 0)][:5]]}; "
                       "pass integer codes (0 = missing)")
    if levels is not None and codes.max() > len(levels):
        raise KitError(f"categorical feature {name!r} has code {int(codes.max())} but levels has only "
                       f"{len(levels)} entries (codes 1..{len(levels)}); pass the levels the codes were made from")
    if levels is None:
        return tuple("missing" if c == 0 else str(int(c)) for c in codes)
    return tuple(level_names(codes, levels))


def _grid(s: pl.Series, *, grid_size: int, categorical: bool, levels: Sequence | None,
          grid: Sequence[float] | None) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """The grid values of column `s` (float64) and their labels (categorical only)."""
    if grid_size < 2:
        raise KitError(f"grid_size must be at least 2 (a curve needs two points), got {grid_size}; e.g. grid_size=20")
    name, whole = s.name, s.dtype.is_integer() or s.dtype == pl.Boolean
    if grid is not None:
        values = np.asarray(grid, dtype=np.float64).ravel()
        if values.size == 0 or not np.isfinite(values).all():
            raise KitError(f"grid= for feature {name!r} must be finite numbers, at least one, got {list(grid)[:5]}")
        if whole and np.any(values != np.round(values)):
            raise KitError(f"feature {name!r} is {s.dtype}, so grid= must be whole numbers, got "
                           f"{values[values != np.round(values)][:5].tolist()}; round them")
    elif categorical:
        # the most frequent codes: rare levels have few rows and noisy ICE lines
        counts = s.drop_nulls().value_counts(name="n").sort(["n", name], descending=[True, False])
        values = np.sort(counts[name].head(grid_size).to_numpy().astype(np.float64))
    else:
        seen = s.drop_nulls().cast(pl.Float64).to_numpy()
        values = np.unique(seen)
        if len(values) > grid_size:
            values = np.quantile(seen, np.linspace(*QUANTILES, grid_size))
            # an integer column gets integer grid values: the value set is the value the model sees
            values = np.unique(np.rint(values) if whole else values)
    return values, (_labels(name, values, levels) if categorical else None)


# -- predictions ------------------------------------------------------------------------------

def _sample(n: int, max_rows: int, seed: int) -> np.ndarray:
    if max_rows < 1:
        raise KitError(f"max_rows must be at least 1, got {max_rows}; e.g. max_rows=1000")
    rng = np.random.default_rng(seed)
    return np.arange(n) if n <= max_rows else np.sort(rng.choice(n, size=max_rows, replace=False))


def _predict_stacked(predict: Predict, sample: pl.DataFrame, reps: int,
                     values: dict[str, np.ndarray]) -> np.ndarray:
    """predict() once over the sample repeated `reps` times, the named columns replaced by
    `values` (reps * height each, cast back to the column's dtype); the predictions as float64."""
    m = sample.height
    stacked = sample[np.tile(np.arange(m), reps)].with_columns(
        pl.Series(name, v).cast(sample.schema[name]) for name, v in values.items())
    out = np.asarray(predict(stacked), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (stacked.height,):
        raise KitError(f"predict must return one number per row ({stacked.height},), got shape {out.shape}; "
                       "for a classifier pass e.g. lambda X: model.predict_proba(X)[:, 1]")
    return out


def partial_dependence(predict: Predict, X: pl.DataFrame, feature: str, *, grid_size: int = 20,
                       categorical: bool = False, levels: Sequence | None = None,
                       grid: Sequence[float] | None = None, max_rows: int = 1000, ice_rows: int = 100,
                       seed: int = 0) -> Dependence:
    """Partial dependence of `predict` on `feature`, with ICE lines for a subset of the rows.

    Args:
        predict: maps a frame with X's columns to one prediction per row.
        categorical: the feature holds integer codes (0 = missing, i = levels[i-1]); the grid is
            its `grid_size` most frequent codes instead of quantiles.
        grid: the values to set the feature to, overriding the computed grid.
        max_rows: rows of X averaged (a seeded sample where X has more).
        ice_rows: how many of those rows keep their own line (a seeded subset).
    """
    s = _column(X, feature)
    values, labels = _grid(s, grid_size=grid_size, categorical=categorical, levels=levels, grid=grid)
    if ice_rows < 0:
        raise KitError(f"ice_rows must be 0 or more, got {ice_rows}; e.g. ice_rows=100")
    rows = _sample(X.height, max_rows, seed)
    m, g = len(rows), len(values)
    preds = _predict_stacked(predict, X[rows], g, {feature: np.repeat(values, m)}).reshape(g, m)
    # a second stream, so the ICE subset does not shift the row sample for a given seed
    pick = np.sort(np.random.default_rng([seed, 1]).choice(m, size=min(ice_rows, m), replace=False))
    return Dependence(feature=feature, grid=values, average=preds.mean(axis=1), ice=preds[:, pick].T.copy(),
                      labels=labels, categorical=categorical, n_rows=m, ice_rows=rows[pick])


def partial_dependence_2d(predict: Predict, X: pl.DataFrame, a: str, b: str, *, grid_size: int = 10,
                          categorical: tuple[bool, bool] = (False, False),
                          levels: tuple[Sequence | None, Sequence | None] = (None, None),
                          max_rows: int = 300, seed: int = 0) -> Dependence2D:
    """Partial dependence of `predict` on the pair (a, b): the mean prediction over a grid of both.

    One predict call over len(grid_a) * len(grid_b) * max_rows rows: keep grid_size and max_rows
    small (the defaults make 30,000 rows).
    """
    if a == b:
        raise KitError(f"a two-way partial dependence needs two different features, got {a!r} twice; "
                       "use partial_dependence for one feature")
    sa, sb = _column(X, a), _column(X, b)
    va, la = _grid(sa, grid_size=grid_size, categorical=categorical[0], levels=levels[0], grid=None)
    vb, lb = _grid(sb, grid_size=grid_size, categorical=categorical[1], levels=levels[1], grid=None)
    rows = _sample(X.height, max_rows, seed)
    m, ga, gb = len(rows), len(va), len(vb)
    # pair-major: pair (i, j) holds rows (i * gb + j) * m ... + m - 1
    preds = _predict_stacked(predict, X[rows], ga * gb, {a: np.repeat(va, gb * m), b: np.tile(np.repeat(vb, m), ga)})
    return Dependence2D(features=(a, b), grid_a=va, grid_b=vb, average=preds.reshape(ga, gb, m).mean(axis=2),
                        labels_a=la, labels_b=lb, n_rows=m)


# -- plots ------------------------------------------------------------------------------------

def _fmt(v: float) -> str:
    """A grid value for a tick: whole numbers (and anything past 100) as integers, others to 3
    significant digits (1.38e+04 reads worse than 13757)."""
    return str(int(round(v))) if (float(v).is_integer() or abs(v) >= 100) and abs(v) < 1e12 else f"{v:.3g}"


def _ticks(ax, axis: str, names: Sequence[str]) -> None:
    """Tick labels at 0..n-1, slanted when they would collide, long ones cut (a model description
    of 60 characters would push the panel into a sliver)."""
    names = [shorten(n, 22) for n in names]
    crowded = axis == "x" and (max(len(t) for t in names) * len(names) > 40)
    kw = {"rotation": 35, "ha": "right", "rotation_mode": "anchor"} if crowded else {}
    (ax.set_xticks if axis == "x" else ax.set_yticks)(range(len(names)), names, fontsize=8, **kw)


def _panel(ax, dep: Dependence, *, centred: bool) -> None:
    ice, avg = dep.ice, dep.average
    if centred:  # c-ICE: every line starts at 0, so differences in shape stand out from differences in level
        ice, avg = ice - ice[:, :1], avg - avg[0]
    x = np.arange(len(dep.grid)) if dep.categorical else dep.grid
    marker = "o" if dep.categorical or len(x) == 1 else None
    if len(ice):
        ax.plot(x, ice.T, color="grey", alpha=0.25, lw=0.6, marker=marker, ms=2.5)
    ax.plot(x, avg, color="#c44e52", lw=2.6, marker=marker, ms=6)
    if dep.categorical:
        _ticks(ax, "x", dep.labels or [_fmt(v) for v in dep.grid])
    ax.set_title(dep.feature, fontsize=10)
    ax.set_xlabel(f"{dep.feature} (code)" if dep.categorical else dep.feature, fontsize=9)
    ax.grid(alpha=0.3)


def plot_dependence(deps: Sequence[Dependence], *, ylabel: str, centred: bool = False):
    """Small multiples (3 per row): grey ICE lines and the partial dependence in red, per feature.

    `ylabel` names what is predicted (e.g. "log price"); `centred=True` draws c-ICE (each line
    minus its value at the first grid point). Returns a matplotlib Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    deps = list(deps)
    if not deps or len(deps) > MAX_PANELS:
        raise KitError(f"plot_dependence draws 1..{MAX_PANELS} features in one figure, got {len(deps)}; "
                       "pass fewer, or call it once per group")
    ncols = min(PANELS_PER_ROW, len(deps))
    nrows = math.ceil(len(deps) / ncols)
    fig = Figure(figsize=(4.6 * ncols, 3.7 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    for ax, dep in zip(axes, deps):
        _panel(ax, dep, centred=centred)
    for ax in axes[len(deps):]:
        ax.set_visible(False)
    what = f"change in {ylabel} from the first grid value" if centred else ylabel
    for ax in axes[::ncols]:
        ax.set_ylabel(what, fontsize=9)
    n_ice = max(len(d.ice) for d in deps)
    handles = [Line2D([], [], color="grey", alpha=0.6, lw=1, label=f"ICE: one row ({n_ice} rows drawn)"),
               Line2D([], [], color="#c44e52", lw=2.6, label=f"partial dependence (mean of {deps[0].n_rows} rows)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    kind = "centred ICE (c-ICE)" if centred else "partial dependence and ICE"
    fig.suptitle(f"How the {ylabel} moves with each feature, all other columns as observed: {kind}",
                 fontsize=11)
    return fig


def plot_dependence_2d(dep: Dependence2D, *, zlabel: str):
    """A heatmap of the two-way partial dependence (a across, b up), values written in the cells
    where there is room. `zlabel` names what is predicted. Returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    a, b = dep.features
    ga, gb = dep.average.shape
    fig = Figure(figsize=(max(5.5, 0.55 * ga + 3), max(4.2, 0.4 * gb + 2.2)), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(dep.average.T, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, label=f"{zlabel} (mean of {dep.n_rows} rows)")
    _ticks(ax, "x", dep.labels_a or [_fmt(v) for v in dep.grid_a])
    _ticks(ax, "y", dep.labels_b or [_fmt(v) for v in dep.grid_b])
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    if ga * gb <= 100:  # beyond ~10 x 10 the numbers no longer fit their cells
        lo, hi = float(dep.average.min()), float(dep.average.max())
        mid = (lo + hi) / 2
        # one number of decimals for every cell, enough to tell the cells apart across the range
        decimals = int(np.clip(2 - math.floor(math.log10(hi - lo)), 0, 6)) if hi > lo else 3
        for i in range(ga):
            for j in range(gb):
                v = dep.average[i, j]
                ax.text(i, j, f"{v:.{decimals}f}", ha="center", va="center", fontsize=7,
                        color="black" if v > mid else "white")
    ax.set_title(f"Partial dependence of {zlabel} on {a} and {b}", fontsize=11)
    return fig
