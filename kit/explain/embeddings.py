"""What an entity-embedding network learned about its categories (fast.ai's Rossmann lesson).

Each categorical column of a fitted `kit.models.EmbeddingNetRegressor` / `EmbeddingNetClassifier`
owns a table of learned vectors, one per code (code 0 is missing/unknown, code j is the j-th
sorted level). Projected on their two principal components, those vectors show what the
network found alike: German states that sell alike sit together (the map rebuilds itself),
months and weekdays fall in order. `to_frame` keeps the full vectors, to reuse as features.

>>> import numpy as np
>>> t = np.array([[9, 9], [0, 0], [1, 1], [2, 2], [3, 3]], dtype=np.float32)  # code 0 first
>>> p = project("day", t, levels=["mon", "tue", "wed", "thu"])
>>> p.labels, np.round(p.coords[:, 0], 2).tolist(), round(p.explained[0], 3)
(('mon', 'tue', 'wed', 'thu'), [-2.12, -0.71, 0.71, 2.12], 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from kit.errors import KitError

__all__ = ["Projection", "embedding_tables", "code_counts", "project", "embedding_projections",
           "plot_projection"]


@dataclass(frozen=True)
class Projection:
    """One categorical column's learned vectors and their 2-D principal-component projection."""

    feature: str
    #: the codes projected, 1..n (code 0, missing/unknown, is left out: it learns from leftovers)
    codes: np.ndarray = field(repr=False)
    #: levels[code - 1] as text, or the code as text when the levels are not known
    labels: tuple[str, ...] = field(repr=False)
    #: (n, 2) coordinates on PC1 and PC2 (PC2 is 0 for a 1-D embedding)
    coords: np.ndarray = field(repr=False)
    #: (n, d) the learned vectors themselves
    vectors: np.ndarray = field(repr=False)
    #: share of the vectors' variance along PC1 and PC2
    explained: tuple[float, float] = (0.0, 0.0)
    #: training rows per projected code, when the caller gave them
    counts: np.ndarray | None = field(default=None, repr=False)

    def to_frame(self) -> pl.DataFrame:
        """feature, code, label, count, x, y, emb0..emb{d-1}: the plot's numbers and the vectors."""
        n = len(self.codes)
        cols: dict[str, Any] = {
            "feature": [self.feature] * n,
            "code": self.codes.astype(np.int64),
            "label": list(self.labels),
            "count": (pl.Series("count", self.counts, dtype=pl.Int64) if self.counts is not None
                      else pl.Series("count", [None] * n, dtype=pl.Int64)),
            "x": self.coords[:, 0].astype(np.float64),
            "y": self.coords[:, 1].astype(np.float64),
        }
        cols.update({f"emb{j}": self.vectors[:, j].astype(np.float64) for j in range(self.vectors.shape[1])})
        return pl.DataFrame(cols)


def embedding_tables(model: Any) -> dict[str, np.ndarray]:
    """Column name -> its (n_codes, d) float32 embedding table (row 0 is the unknown code).

    A KitError for anything that is not a fitted kit embedding network.
    """
    schema = getattr(model, "schema_", None)
    embeds = getattr(getattr(model, "model_", None), "embeds", None)
    if schema is None or embeds is None:
        # a kit model not yet fitted gets told so; anything else by its type
        unfitted = "an unfitted " if schema is None and hasattr(model, "cat_features") else ""
        raise KitError(f"embeddings need a fitted kit.models.EmbeddingNetRegressor or EmbeddingNetClassifier, "
                       f"got {unfitted}{type(model).__name__}; fit an embedding network first "
                       "(tree models learn no embeddings)")
    return {name: emb.weight.detach().float().cpu().numpy().astype(np.float32)
            for name, emb in zip(schema.cat_names, embeds)}


def code_counts(model: Any, X: pl.DataFrame) -> dict[str, np.ndarray]:
    """Column name -> rows of X per code (index = code, 0 included), coded as the model codes them.

    Pass the training frame to label the frequent codes of each plot first.
    """
    if not isinstance(X, pl.DataFrame):
        raise KitError(f"code_counts needs X as a polars DataFrame, got {type(X).__name__}; "
                       "convert it with polars.from_pandas or polars.DataFrame")
    embedding_tables(model)  # the same check and message for a model of the wrong kind
    schema = model.schema_
    cat = schema.encode(X).cat
    return {name: np.bincount(cat[:, i], minlength=k)
            for i, (name, k) in enumerate(zip(schema.cat_names, schema.cardinalities))}


def _sign_fixed(components: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """+1/-1 per component so that reruns draw the same picture: each axis rises with the code
    order (months run left to right), or, where it does not correlate, its largest loading > 0."""
    order = np.arange(len(coords), dtype=np.float64)
    order -= order.mean()
    trend = order @ coords
    largest = components[np.arange(len(components)), np.abs(components).argmax(axis=1)]
    scale = np.abs(coords).sum(axis=0) + 1e-12
    # a trend under 1e-6 of the spread is rounding noise: fall back to the loading rule
    return np.where(np.abs(trend) > 1e-6 * scale, np.sign(trend), np.where(largest < 0, -1.0, 1.0))


def _check_table(feature: str, table: np.ndarray) -> np.ndarray:
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2 or t.shape[0] < 3 or t.shape[1] < 1:
        raise KitError(f"the embedding table of {feature!r} must be (n_codes, d) with at least 3 codes "
                       f"(code 0 and two known), got shape {t.shape}; pass model.model_.embeds[i].weight")
    if not np.isfinite(t).all():
        raise KitError(f"the embedding table of {feature!r} has NaN or infinite values; "
                       "the network diverged: refit with a lower lr")
    return t


def _labels(feature: str, n: int, levels: Sequence | None) -> tuple[str, ...]:
    if levels is None:
        return tuple(str(c) for c in range(1, n + 1))
    levels = list(levels)
    if len(levels) != n:
        raise KitError(f"levels of {feature!r} must give one name per known code: the table has {n} "
                       f"(codes 1..{n}), levels has {len(levels)}; pass model.schema_.levels[i]")
    return tuple(str(v) for v in levels)


def _counts(feature: str, n: int, counts: np.ndarray | None) -> np.ndarray | None:
    if counts is None:
        return None
    c = np.asarray(counts)
    if c.ndim != 1 or len(c) not in (n, n + 1):
        raise KitError(f"counts of {feature!r} must give rows per code: {n + 1} (codes 0..{n}) or {n} "
                       f"(codes 1..{n}) values, got shape {c.shape}; see code_counts")
    return (c[1:] if len(c) == n + 1 else c).astype(np.int64)


def project(feature: str, table: np.ndarray, *, levels: Sequence | None = None,
            counts: np.ndarray | None = None) -> Projection:
    """PCA (numpy SVD) of the centred vectors of codes 1..n; code 0 is left out.

    Args:
        table: (n_codes, d), row i the vector of code i.
        levels: the n known levels (code j is levels[j-1]), for labels.
        counts: training rows per code, indexed by code (0..n) or for codes 1..n.
    """
    t = _check_table(feature, table)
    vectors = t[1:]
    n, d = vectors.shape
    labels = _labels(feature, n, levels)
    kept = _counts(feature, n, counts)
    centred = vectors - vectors.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    comps = vt[:k]
    coords = centred @ comps.T
    sign = _sign_fixed(comps, coords)
    coords = coords * sign
    total = float((s ** 2).sum())
    share = [float(v) / total if total > 0 else 0.0 for v in (s[:k] ** 2)]
    if k == 1:  # a 1-D embedding (or two codes): there is no second axis
        coords = np.hstack([coords, np.zeros((n, 1))])
        share.append(0.0)
    return Projection(feature=feature, codes=np.arange(1, n + 1, dtype=np.int64), labels=labels,
                      coords=coords, vectors=vectors.astype(np.float32), explained=(share[0], share[1]),
                      counts=kept)


def embedding_projections(model: Any, *, levels: Mapping[str, Sequence] | None = None,
                          counts: Mapping[str, np.ndarray] | None = None,
                          min_codes: int = 3) -> tuple[Projection, ...]:
    """A Projection of every categorical column with at least `min_codes` known codes.

    Labels come from `levels` where given, else from the levels the model saw at fit time.
    """
    tables = embedding_tables(model)
    schema = model.schema_
    for what, given in (("levels", levels), ("counts", counts)):
        unknown = sorted(set(given or {}) - set(tables))
        if unknown:
            raise KitError(f"{what} names {unknown}, which are not categorical columns of the model "
                           f"({', '.join(tables)}); pass only those")
    fitted = dict(zip(schema.cat_names, schema.levels)) if schema.levels is not None else {}
    out = []
    for name, table in tables.items():
        if table.shape[0] - 1 < max(min_codes, 2):
            continue
        lv = (levels or {}).get(name)
        if lv is None and name in fitted:
            lv = fitted[name].to_list()
        out.append(project(name, table, levels=lv, counts=(counts or {}).get(name)))
    return tuple(out)


def _shown(p: Projection, max_labels: int) -> np.ndarray:
    """Indices of the points that get a text label: the most frequent, else evenly spaced."""
    n = len(p.codes)
    if n <= max_labels:
        return np.arange(n)
    if p.counts is not None:
        return np.sort(np.argsort(-p.counts, kind="stable")[:max_labels])
    return np.unique(np.linspace(0, n - 1, max(max_labels, 1)).round().astype(int))


def plot_projection(p: Projection, *, max_labels: int = 60, ordered: bool = False):
    """A matplotlib Figure: the codes on PC1 x PC2, labelled; `ordered` joins them in code order."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.subplots()
    x, y = p.coords[:, 0], p.coords[:, 1]
    if ordered:
        ax.plot(x, y, color="grey", lw=0.8, alpha=0.7, zorder=1, label="in code order")
        ax.annotate("", xy=(x[-1], y[-1]), xytext=(x[-2], y[-2]),
                    arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.8})
    # hundreds of codes (Rossmann's 1,115 stores) need smaller dots to stay apart
    big = 180 if len(x) <= 100 else 40
    if p.counts is not None:
        from matplotlib.colors import LogNorm

        size = 0.1 * big + big * np.sqrt(p.counts / max(p.counts.max(), 1))
        sc = ax.scatter(x, y, s=size, c=np.maximum(p.counts, 1), cmap="viridis", alpha=0.8,
                        norm=LogNorm(vmin=1, vmax=max(int(p.counts.max()), 2)),
                        edgecolors="white", linewidths=0.5, zorder=2)
        fig.colorbar(sc, ax=ax, label="training rows (dot size and colour)", shrink=0.7)
    else:
        ax.scatter(x, y, s=0.25 * big, color="#4c72b0", alpha=0.85, edgecolors="white", linewidths=0.5, zorder=2)
    shown = _shown(p, max_labels)
    font = 9 if len(shown) <= 20 else 7
    for i in shown:
        label = p.labels[i] if len(p.labels[i]) <= 24 else p.labels[i][:23] + "…"
        ax.annotate(label, (x[i], y[i]), xytext=(4, 3), textcoords="offset points", fontsize=font, zorder=3)
    d = p.vectors.shape[1]
    ax.set_xlabel(f"PC1 ({p.explained[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({p.explained[1]:.0%} of variance)" if d > 1 else "PC2 (none: a 1-D embedding)")
    hidden = len(p.codes) - len(shown)
    note = f"; {hidden} labels hidden" if hidden else ""
    ax.set_title(f"what the network learned about {p.feature}: {len(p.codes)} codes, {d}-D vectors "
                 f"on their 2 main axes{note}", fontsize=10)
    ax.margins(0.12)
    ax.grid(alpha=0.3)
    if ordered:
        ax.legend(loc="best", fontsize=8)
    return fig
