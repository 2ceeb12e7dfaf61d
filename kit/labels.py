"""Multilabel targets: tags <-> 0/1 matrices, and thresholds that maximise mean F2.

Used by the CNN, the runs (out-of-fold thresholds, submissions) and Planet's feature code.

>>> m = tags_to_matrix(["clear primary", "haze"], ["clear", "haze", "primary"])
>>> m.tolist()
[[1, 0, 1], [0, 1, 0]]
>>> matrix_to_tags(m, ["clear", "haze", "primary"]).to_list()
['clear primary', 'haze']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from kit.errors import KitError

#: the thresholds searched: 0.01 .. 0.99
GRID = np.round(np.arange(1, 100) / 100, 2)


# -- tags <-> label matrices ------------------------------------------------------------------

def matrix_to_tags(labels: Any, names: Sequence[str]) -> pl.Series:
    """A 0/1 label matrix (n, k) as n space-separated tag strings, tags in the order of `names`
    (the spec's order: alphabetical for Planet); a row with no label is ""."""
    arr = np.asarray(labels)
    names = tuple(names)
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise KitError(f"a label matrix needs one column per tag ({len(names)}), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
        raise KitError("a label matrix holds only 0 and 1; threshold probabilities first (predict, not predict_proba)")
    cols = [pl.when(pl.lit(pl.Series(arr[:, j].astype(bool)))).then(pl.lit(name)) for j, name in enumerate(names)]
    return pl.select(pl.concat_str(cols, separator=" ", ignore_nulls=True).alias("tags")).to_series()


def tags_to_matrix(tags: Any, names: Sequence[str]) -> np.ndarray:
    """Space-separated tag strings (train_v2.csv's `tags`) as an (n, k) int64 0/1 matrix in the
    order of `names`; a tag outside `names` is an error."""
    s = pl.Series(tags, dtype=pl.String).fill_null("").str.strip_chars()
    lists = s.str.split(" ").list.eval(pl.element().filter(pl.element() != ""))
    flat = lists.explode().drop_nulls()
    unknown = flat.filter(~flat.is_in(list(names)))
    if len(unknown):
        raise KitError(f"tag {unknown[0]!r} is not among the {len(names)} labels ({' '.join(names)})")
    return np.stack([lists.list.contains(n).to_numpy() for n in names], axis=1).astype(np.int64)


# -- thresholds ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThresholdSearch:
    """Thresholds that maximise mean F2 on the data they were tuned on (see tune_thresholds)."""

    #: (k,) one per label; a label is predicted where its probability >= its threshold (the
    #: labels of an exclusive group: the global cut, unused by predict_labels)
    thresholds: np.ndarray
    #: mean F2 with these thresholds (exclusive groups decided by argmax)
    score: float
    #: the best single threshold for every label, where the per-label search starts
    global_threshold: float
    global_score: float
    #: mean F2 cutting every label at 0.5, for comparison
    score_at_half: float


def _f2_rows(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 5 * tp + 4 * fn + fp
    return np.where(denom == 0, 1.0, 5 * tp / np.maximum(denom, 1))


def _middle_of_best(scores: np.ndarray) -> int:
    # ties are common (a rare label's score is flat over a range): the middle of the tied
    # thresholds generalises better than their lowest
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return int(best[len(best) // 2])


def _checked(y_true: Any, proba: Any, labels: Sequence[str] | None, exclusive: Sequence[Sequence[str]],
             shrink: float) -> tuple[np.ndarray, np.ndarray, list[str], list[int]]:
    """tune_thresholds' inputs checked: bool labels, float probabilities, the names, the exclusive columns."""
    t = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if t.shape != p.shape or t.ndim != 2 or t.shape[0] == 0:
        raise KitError(f"tune_thresholds needs labels and probabilities of one shape (n, k), got {t.shape} "
                       f"and {p.shape}")
    if not np.isfinite(p).all():
        raise KitError("probabilities must be finite numbers; got NaN or infinity")
    if not 0.0 <= shrink <= 1.0:
        raise KitError(f"shrink must be between 0 (a label's own cut) and 1 (the global cut), got {shrink}")
    names = list(labels or ())
    if names and len(names) != t.shape[1]:
        raise KitError(f"labels names {len(names)} labels but the probabilities have {t.shape[1]} columns; "
                       "one name per column")
    if exclusive and not names:
        raise KitError("exclusive label groups need the label names: pass labels=... in the columns' order")
    fixed = sorted({names.index(g) for group in exclusive for g in group if g in names})
    return t.astype(bool), p, names, fixed


def tune_thresholds(y_true: Any, proba: Any, *, labels: Sequence[str] | None = None,
                    exclusive: Sequence[Sequence[str]] = (), grid: Sequence[float] | None = None,
                    rounds: int = 3, min_gain: float | None = None, shrink: float = 0.5) -> ThresholdSearch:
    """Thresholds that maximise mean F2 (kit.metrics.mean_f2) of `predict_labels(proba, t, labels, exclusive)`:
    one global cut, and a label's own cut only where it clearly beats the global one.

    First the best global threshold on `grid` (default 0.01..0.99), then coordinate passes (up
    to `rounds`, stopping when no label changes): each label's best cut with the others fixed
    (all grid values and rows scored at once as (rows x grid) count matrices) is pulled
    `shrink` of the way back toward the global cut (0.5: halfway) and kept only when it beats
    the global cut by more than `min_gain` mean F2 (default 1/n: one whole image's worth);
    otherwise the label stays at the global cut. The labels of an `exclusive` group (needs
    `labels`; Planet's four weather tags) are one argmax choice per row and get no threshold
    of their own (theirs is the global one, which predict_labels ignores).

    Why so cautious: per-label cuts fit the tuning rows' noise. On real Planet chips, a CNN's
    free per-label cuts scored 0.80 out of fold but predicted 4.2 tags per held-out chip
    against 2.9 true (partly_cloudy on 128 of 200, truly 37); on the small twin, with 200
    validation chips, free cuts scored 0.007 and 0.002 below the global cut on the test chips.

    >>> y = np.array([[1, 0], [1, 1], [0, 1]]); p = np.array([[0.3, 0.1], [0.4, 0.6], [0.1, 0.3]])
    >>> s = tune_thresholds(y, p)
    >>> s.score, round(s.score_at_half, 3)  # at 0.5 only row 2 has a true positive: 5/9 / 3
    (1.0, 0.185)
    """
    t, p, names, fixed = _checked(y_true, proba, labels, exclusive, shrink)
    n, k = t.shape
    free = [j for j in range(k) if j not in fixed]
    g = np.asarray(GRID if grid is None else grid, dtype=np.float64)
    bar = 1 / n if min_gain is None else float(min_gain)

    def decide(thr) -> np.ndarray:
        return predict_labels(p, thr, names, exclusive).astype(bool) if fixed else p >= thr

    # the exclusive groups' choice does not depend on any threshold: their counts are a constant
    tp_x, fp_x, fn_x = _counts(t[:, fixed], decide(0.5)[:, fixed])
    # every free label against every grid value: (n, G) counts per row
    tp = np.repeat(tp_x[:, None], len(g), 1)
    fp = np.repeat(fp_x[:, None], len(g), 1)
    fn = np.repeat(fn_x[:, None], len(g), 1)
    for j in free:
        cut = p[:, j, None] >= g[None, :]
        tp += t[:, j, None] & cut
        fp += ~t[:, j, None] & cut
        fn += t[:, j, None] & ~cut
    gi = _middle_of_best(_f2_rows(tp, fp, fn).mean(0))
    thr = np.full(k, g[gi])
    at_half = float(_f2_rows(*_counts(t, decide(np.full(k, 0.5)))).mean())
    pred = decide(thr)
    for _ in range(rounds):
        moved = False
        for j in free:
            # counts without label j, then label j at every grid value
            tp0, fp0, fn0 = _counts(np.delete(t, j, 1), np.delete(pred, j, 1))
            cut = p[:, j, None] >= g[None, :]
            tj = t[:, j, None]
            scores = _f2_rows(tp0[:, None] + (tj & cut), fp0[:, None] + (~tj & cut),
                              fn0[:, None] + (tj & ~cut)).mean(0)
            own = g[_middle_of_best(scores)]
            ci = int(np.argmin(np.abs(g - (own + shrink * (g[gi] - own)))))  # pulled back, on the grid
            new = ci if scores[ci] > scores[gi] + max(bar, 1e-12) else gi
            if g[new] != thr[j]:
                thr[j], moved = g[new], True
                pred[:, j] = p[:, j] >= thr[j]
        if not moved:
            break
    score = float(_f2_rows(*_counts(t, decide(thr))).mean())
    # rescored like `score` (the grid pass sums in another order): equal cuts, equal floats
    global_score = float(_f2_rows(*_counts(t, decide(np.full(k, g[gi])))).mean())
    if score < global_score:  # moves judged with the others fixed can, together, lose: keep the global cut
        thr, score = np.full(k, g[gi]), global_score
    return ThresholdSearch(thr, score, float(g[gi]), global_score, at_half)


def _counts(t: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return ((t & pred).sum(1).astype(np.float64), (~t & pred).sum(1).astype(np.float64),
            (t & ~pred).sum(1).astype(np.float64))


def predict_labels(proba: Any, thresholds: Any, labels: Sequence[str],
                   exclusive: Sequence[Sequence[str]] = ()) -> np.ndarray:
    """0/1 predictions (n, k) from probabilities: each label where its probability reaches its
    threshold, except that each `exclusive` group (labels every row carries exactly one of)
    gets exactly one label per row, the group's most probable.

    >>> p = np.array([[0.6, 0.7, 0.1], [0.2, 0.1, 0.9]])
    >>> predict_labels(p, 0.5, ["clear", "haze", "water"], [("clear", "haze")]).tolist()
    [[0, 1, 0], [1, 0, 1]]
    """
    p = np.asarray(proba, dtype=np.float64)
    out = (p >= np.asarray(thresholds)).astype(np.int64)
    names = list(labels)
    for group in exclusive:
        cols = [names.index(g) for g in group if g in names]
        if not cols:
            continue
        pick = np.asarray(cols)[np.argmax(p[:, cols], axis=1)]
        out[:, cols] = 0
        out[np.arange(len(p)), pick] = 1
    return out
