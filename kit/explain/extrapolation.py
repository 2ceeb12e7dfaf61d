"""Which features extrapolate: what tells the training rows from the test rows, and what
validation costs without each (the fast.ai lessons' "model that tells validation from train").

A classifier (kit.validation.adversarial) learns to tell the model's own training rows from its
test rows on the model's features; the features it leans on are the ones whose test values lie
outside what training saw (an id that grows, the date's elapsed days, a machine's age). Each of
the top ones is then dropped in turn from a quick model refitted on the shared folds
(`RunModels.fast_scores`): a drifting feature whose drop does not hurt validation, or helps it,
is one to drop (`kit train --drop`); one whose drop hurts carries signal the test still uses.

The raw files' adversarial report (`kit adversarial`, RUNS/adversarial) compares the files
before feature engineering; the page links it when it is there.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["Extrapolation", "extrapolation", "plot_extrapolation", "verdict", "drop_together"]


@dataclass(frozen=True)
class Extrapolation:
    """The drifting features of a run and what dropping each costs its validation."""

    metric: str
    greater_is_better: bool
    #: out-of-fold AUC of train rows vs test rows (0.5: alike) and its spread over folds
    auc: float
    auc_std: float
    #: the quick model's validation score with every feature, and the change counted as noise
    baseline: float
    tolerance: float
    #: feature, share (of the classifier's gain), drift (KS or TV, 0..1), statistic, score (the quick
    #: model without it), cost (positive: validation worse without it), verdict; auc_after_drop: the
    #: classifier's AUC once it and the drifters above it are dropped (the drop loop), null off its path
    table: pl.DataFrame
    #: the drifters to drop, checked together: grown one feature at a time (cheapest first) while
    #: dropping the set at once costs validation nothing; and the quick model's score without them
    suggested: tuple[str, ...] = ()
    together: float | None = None

    def to_frame(self) -> pl.DataFrame:
        return self.table

    def to_dict(self) -> dict:
        return {"metric": self.metric, "greater_is_better": self.greater_is_better, "auc": self.auc,
                "auc_std": self.auc_std, "baseline": self.baseline, "tolerance": self.tolerance,
                "suggested": list(self.suggested), "together": self.together, "features": self.table.to_dicts()}

    def droppable(self) -> tuple[str, ...]:
        """Drifting features whose drop alone costs validation no more than noise (each on its own:
        two that carry the same trend, a date's year and its elapsed days, are each free to drop
        alone but not together; `suggested` is the set checked together)."""
        return tuple(self.table.filter(pl.col("verdict") != "keep")["feature"].to_list())


def verdict(cost: float, tolerance: float) -> str:
    """ "drop" (validation improves without it), "can go" (no change beyond noise) or "keep"."""
    if cost < -tolerance:
        return "drop"
    return "can go" if cost <= tolerance else "keep"


def extrapolation(run, *, baseline_scores: Sequence[float], tolerance: float, top: int = 5,
                  max_rows: int = 20_000, log: Callable[[str], None] | None = None) -> Extrapolation:
    """Train vs test on `run`'s features (kit.explain.context.RunModels), then the drop test of
    the `top` drifters against `baseline_scores` (the quick model's per-fold scores with every
    feature)."""
    from kit.validation.adversarial import run_adversarial

    prepared = run.prepared
    rows = run.sample(np.arange(prepared.n_rows), max_rows, salt=7)
    test_rows = run.sample(np.arange(len(prepared.X_test)), max_rows, salt=8)
    report = run_adversarial(prepared.X[rows], prepared.X_test[test_rows], n_folds=3, max_rows=max_rows,
                             max_drop_steps=3, n_estimators=60, num_threads=run.threads, seed=run.seed)
    # the drop loop's path first: with the date's elapsed days dropped, what tells them apart next
    after = {s.dropped: s.auc_mean for s in report.drop_path}
    by_name = {f.name: f for f in report.features}
    names = list(dict.fromkeys([*after, *[f.name for f in report.features if f.importance > 0]]))[:top]
    drifters = [by_name[n] for n in names]
    baseline = float(np.mean(baseline_scores))
    sign = -1.0 if run.greater_is_better else 1.0
    out = []
    t0 = time.perf_counter()
    for i, f in enumerate(drifters):
        score = run.fast_score([f.name])
        cost = sign * (score - baseline)
        out.append({"feature": f.name, "share": f.importance, "drift": f.drift, "statistic": f.statistic,
                    "auc_after_drop": after.get(f.name), "score": score, "cost": cost, "verdict": verdict(cost, tolerance)})
        if log is not None:
            log(f"  extrapolation: without {f.name} {run.metric.upper()} {score:.5f} (cost {cost:+.5f}; "
                f"{i + 1}/{len(drifters)}, {time.perf_counter() - t0:.0f}s)")
    schema = {"feature": pl.String, "share": pl.Float64, "drift": pl.Float64, "statistic": pl.String,
              "auc_after_drop": pl.Float64, "score": pl.Float64, "cost": pl.Float64, "verdict": pl.String}
    e = Extrapolation(run.metric, run.greater_is_better, report.auc_mean, report.auc_std, baseline, tolerance,
                      pl.DataFrame(out, schema=schema))
    return drop_together(run, e, sign, log)


def drop_together(run, e: Extrapolation, sign: float, log) -> Extrapolation:
    """`e` with the drifters that can go together: cheapest first, each kept only while the set
    dropped at once costs validation nothing (on real Rossmann rows the date's year and its
    elapsed days each cost 0.003 alone, within noise, and together 0.008, and on the held-out
    days 0.088 -> 0.107)."""
    chosen: list[str] = []
    together = None
    for f in e.table.filter(pl.col("verdict") != "keep").sort("cost")["feature"].to_list():
        score = e.table.filter(pl.col("feature") == f)["score"][0] if not chosen else run.fast_score([*chosen, f])
        free = sign * (score - e.baseline) <= 0
        if log is not None and chosen:
            log(f"  extrapolation: without {', '.join([*chosen, f])} together {run.metric.upper()} {score:.5f} "
                f"({'free' if free else 'costs validation'})")
        if free:
            chosen.append(f)
            together = score
    return dataclasses.replace(e, suggested=tuple(chosen), together=together)


def plot_extrapolation(e: Extrapolation):
    """Two panels over the top drifters: how much the classifier leans on each (and its drift
    statistic), and what validation costs without it (inside the shaded band: noise)."""
    from matplotlib.figure import Figure

    t = e.table
    n = max(1, t.height)
    fig = Figure(figsize=(12, 2.2 + 0.5 * n), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    pos = np.arange(t.height)[::-1]
    ax1.barh(pos + 0.2, t["share"].to_numpy(), height=0.4, color="#4c72b0", label="share of the classifier's gain")
    ax1.barh(pos - 0.2, t["drift"].to_numpy(), height=0.4, color="#dd8452", label="drift (KS / TV)")
    after = t["auc_after_drop"].to_list()
    ax1.set_yticks(pos, [f if a is None else f"{f}\n(AUC {a:.3f} once dropped)" for f, a in zip(t["feature"], after)])
    ax1.set(xlim=(0, 1), xlabel="0 = no difference, 1 = total",
            title=f"what tells train from test (AUC {e.auc:.3f} ± {e.auc_std:.3f})")
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
    colours = {"drop": "#55a868", "can go": "#8fbc8f", "keep": "#c44e52"}
    ax2.barh(pos, t["cost"].to_numpy(), color=[colours[v] for v in t["verdict"].to_list()])
    ax2.axvspan(-e.tolerance, e.tolerance, color="grey", alpha=0.2, label=f"noise (± {e.tolerance:.4f})")
    ax2.axvline(0, color="black", lw=0.8)
    for y, (c, v) in zip(pos, zip(t["cost"].to_list(), t["verdict"].to_list())):
        ax2.annotate(f"{c:+.4f} {v}", (c, y), xytext=(4 if c >= 0 else -4, 0), textcoords="offset points",
                     ha="left" if c >= 0 else "right", va="center", fontsize=8)
    ax2.set(xlabel=f"validation {e.metric.upper()} cost when dropped (positive = worse)",
            title=f"drop each, refit a quick model (baseline {e.baseline:.5f})")
    lim = max(float(np.abs(t["cost"].to_numpy()).max()) if t.height else 0.0, e.tolerance) * 1.6 or 1.0
    ax2.set_xlim(-lim, lim)
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8)
    return fig
