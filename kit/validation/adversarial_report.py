"""What adversarial validation found, and its files: the report (summary table and JSON), the
plot, and `write_report` (adversarial.png, adversarial.json, adversarial_test_like.parquet,
each written atomically). kit.validation.adversarial computes it; this module only holds and
shows it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from kit.atomic import json_default, write_atomic, write_json

__all__ = ["Kind", "THRESHOLD", "FeatureDrift", "DropStep", "LeftOut", "AdversarialReport", "AdversarialFiles",
           "plot", "write_report", "default_out_dir"]

Kind = Literal["numeric", "categorical", "codes", "date"]

#: AUC at or below which train and test count as alike (the drop loop stops there)
THRESHOLD = 0.55


@dataclass(frozen=True)
class FeatureDrift:
    """How much one feature separates train from test."""

    name: str
    #: how the classifier saw it: numeric, categorical (LightGBM native), codes (text with more
    #: than MAX_NATIVE_LEVELS levels, as ordinal codes) or date (days since 1970)
    kind: Kind
    #: share of the classifier's total gain (mean over folds), 0..1; sums to 1 over features
    importance: float
    #: the model-free drift statistic, 0 (same distribution) .. 1 (disjoint)
    drift: float
    #: "ks" (Kolmogorov-Smirnov, numeric and date) or "tv" (total variation, categorical)
    statistic: Literal["ks", "tv"]
    #: share of missing values in train and in test
    train_missing: float
    test_missing: float


@dataclass(frozen=True)
class DropStep:
    """One step of the drop loop: the feature dropped and the AUC of the refit without it."""

    dropped: str
    auc_mean: float
    auc_std: float


@dataclass(frozen=True)
class LeftOut:
    """A column not given to the classifier, and why."""

    column: str
    reason: str


@dataclass(frozen=True)
class AdversarialReport:
    """Everything adversarial validation found; `summary()` prints it, `to_json()` saves it."""

    #: out-of-fold AUC of the train-vs-test classifier: mean and standard deviation over folds
    auc_mean: float
    auc_std: float
    fold_aucs: tuple[float, ...]
    #: every feature, the one the classifier leaned on most first (gain share, then drift)
    features: tuple[FeatureDrift, ...]
    #: drop the top feature, refit, record the AUC; until AUC <= threshold or max steps
    drop_path: tuple[DropStep, ...]
    #: columns not used, with the reason (id, target, time, derived from time, asked, ...)
    left_out: tuple[LeftOut, ...]
    #: sentences worth reading (why the time column was left out, why the loop stopped)
    notes: tuple[str, ...]
    #: train row indices (0-based, file order) of the most test-like rows, most test-like first
    test_like_rows: np.ndarray = field(repr=False, compare=False)
    #: every train row: `row`, the id (and time) column where train has one, `adversarial_score`
    #: (out-of-fold probability of being a test row) and `test_like`, highest score first
    scores: pl.DataFrame = field(repr=False, compare=False)
    #: rows in the files and rows the classifier used (after subsampling)
    n_train: int = 0
    n_test: int = 0
    n_train_used: int = 0
    n_test_used: int = 0
    n_folds: int = 5
    threshold: float = THRESHOLD
    seed: int = 0
    id_column: str | None = None
    #: the date column, where the test is the future (changes the advice)
    time_column: str | None = None

    @property
    def top_drifter(self) -> str:
        """The feature the classifier leans on most."""
        return self.features[0].name

    @property
    def alike(self) -> bool:
        """True when the AUC is at or below the threshold: a random split is a fair validation."""
        return self.auc_mean <= self.threshold

    @property
    def test_like_ids(self) -> list:
        """Ids (or row indices where train has no id column) of the test-like rows."""
        key = self.id_column if self.id_column in self.scores.columns else "row"
        return self.scores.filter(pl.col("test_like"))[key].to_list()

    def verdict(self) -> str:
        if self.alike:
            return (f"AUC {self.auc_mean:.3f} <= {self.threshold}: train and test look alike; "
                    "a random (stratified) K-fold is a fair validation")
        where = (f"a time holdout on the last {self.time_column} days" if self.time_column
                 else "the most test-like train rows")
        return (f"AUC {self.auc_mean:.3f} > {self.threshold}: a classifier tells train from test; "
                f"validate on rows that look like the test ({where}), and drop or transform the "
                "features of the drop loop")

    def to_dict(self) -> dict:
        scores = self.scores["adversarial_score"]
        cutoff = self.scores.filter(pl.col("test_like"))["adversarial_score"].min()
        return {
            "auc_mean": self.auc_mean, "auc_std": self.auc_std, "fold_aucs": list(self.fold_aucs),
            "threshold": self.threshold, "alike": self.alike, "verdict": self.verdict(),
            "n_train": self.n_train, "n_test": self.n_test,
            "n_train_used": self.n_train_used, "n_test_used": self.n_test_used,
            "n_folds": self.n_folds, "seed": self.seed,
            "features": [f.__dict__ for f in self.features],
            "drop_path": [s.__dict__ for s in self.drop_path],
            "left_out": [c.__dict__ for c in self.left_out],
            "notes": list(self.notes),
            "test_like": {"count": len(self.test_like_rows), "id_column": self.id_column,
                          "score_cutoff": cutoff, "mean_score_train": scores.mean(),
                          "first_rows": self.test_like_rows[:20].tolist()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=json_default)

    def summary(self, top: int = 10) -> str:
        """A short text table: AUC, the top features, the drop loop, the test-like rows."""
        lines = [f"train {self.n_train:,} rows, test {self.n_test:,} rows"
                 + (f" (classifier saw {self.n_train_used:,} + {self.n_test_used:,})"
                    if (self.n_train_used, self.n_test_used) != (self.n_train, self.n_test) else "")
                 + f"; {self.n_folds}-fold LightGBM, seed {self.seed}"]
        lines += [f"note: {n}" for n in self.notes]
        folds = " ".join(f"{a:.3f}" for a in self.fold_aucs)
        lines.append(f"AUC {self.auc_mean:.3f} ± {self.auc_std:.3f}   (folds: {folds})")
        lines.append(self.verdict())
        shown = self.features[:top]
        width = max([len("feature")] + [len(f.name) for f in shown])
        lines.append("")
        lines.append(f"{'feature'.ljust(width)}  {'kind':11}  {'gain':>6}  {'drift':>9}  missing train/test")
        for f in shown:
            lines.append(f"{f.name.ljust(width)}  {f.kind:11}  {f.importance:6.1%}  "
                         f"{f.statistic.upper():>3} {f.drift:5.3f}  {f.train_missing:.1%} / {f.test_missing:.1%}")
        if len(self.features) > top:
            lines.append(f"... and {len(self.features) - top} more (in the JSON)")
        if self.drop_path:
            lines.append("")
            lines.append(f"drop loop (drop the top feature, refit): start AUC {self.auc_mean:.3f}")
            for s in self.drop_path:
                lines.append(f"  - {s.dropped.ljust(width)}  -> AUC {s.auc_mean:.3f} ± {s.auc_std:.3f}")
        lines.append("")
        if len(self.test_like_rows):
            cutoff = self.scores["adversarial_score"][len(self.test_like_rows) - 1]
            lines.append(f"{len(self.test_like_rows):,} most test-like train rows "
                         f"(out-of-fold test probability >= {cutoff:.3f})")
        return "\n".join(lines)


@dataclass(frozen=True)
class AdversarialFiles:
    """What `write_report` wrote."""

    png: Path
    json: Path
    test_like: Path


def plot(report: AdversarialReport, top: int = 12):
    """A matplotlib Figure: AUC per fold, the top features (gain and drift), the drop loop."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.8), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3, width_ratios=(1, 1.4, 1.2))
    k = len(report.fold_aucs)
    ax1.bar(range(1, k + 1), report.fold_aucs, color="#4c72b0")
    ax1.axhline(report.auc_mean, color="#c44e52", label=f"mean {report.auc_mean:.3f} ± {report.auc_std:.3f}")
    ax1.axhline(0.5, color="grey", ls="--", label="0.5: indistinguishable")
    ax1.set(xlabel="fold", ylabel="AUC (train vs test)", title="adversarial AUC per fold",
            ylim=(min(0.4, min(report.fold_aucs) - 0.05), 1.0), xticks=range(1, k + 1))
    ax1.legend(loc="lower right", fontsize=8)

    feats = report.features[:top][::-1]
    pos = np.arange(len(feats))
    ax2.barh(pos + 0.2, [f.importance for f in feats], height=0.4, color="#4c72b0", label="gain share")
    ax2.barh(pos - 0.2, [f.drift for f in feats], height=0.4, color="#dd8452", label="drift (KS / TV)")
    ax2.set_yticks(pos, [f"{f.name} ({f.statistic.upper()})" for f in feats], fontsize=8)
    ax2.set(xlim=(0, 1), xlabel="0 = no difference, 1 = total", title=f"top {len(feats)} drifters")
    ax2.legend(loc="lower right", fontsize=8)

    steps = ["all features", *[f"- {s.dropped}" for s in report.drop_path]]
    aucs = [report.auc_mean, *[s.auc_mean for s in report.drop_path]]
    stds = [report.auc_std, *[s.auc_std for s in report.drop_path]]
    ax3.errorbar(range(len(aucs)), aucs, yerr=stds, marker="o", color="#4c72b0", capsize=3)
    ax3.axhline(report.threshold, color="#c44e52", ls=":", label=f"threshold {report.threshold}")
    ax3.axhline(0.5, color="grey", ls="--")
    ax3.set_xticks(range(len(aucs)), steps, rotation=35, ha="right", rotation_mode="anchor", fontsize=8)
    ax3.set(ylabel="AUC", title="drop loop: drop the top feature, refit", ylim=(0.4, 1.0))
    ax3.legend(loc="upper right", fontsize=8)
    return fig


def write_report(report: AdversarialReport, out_dir: str | os.PathLike) -> AdversarialFiles:
    """Write adversarial.png, adversarial.json and adversarial_test_like.parquet (atomically)."""
    out = Path(out_dir)
    fig = plot(report)
    png = write_atomic(out / "adversarial.png", lambda p: fig.savefig(p, format="png", dpi=110))
    pq = write_atomic(out / "adversarial_test_like.parquet", lambda p: report.scores.write_parquet(p))
    data = report.to_dict()
    data["test_like"]["file"] = pq.name
    js = write_json(out / "adversarial.json", data)
    return AdversarialFiles(png, js, pq)


def default_out_dir(runs_dir: str | os.PathLike) -> Path:
    """`<runs>/adversarial`: every report of a competition lives in its runs folder, where
    `kit run` writes the same report, so there is one place to look."""
    return Path(runs_dir) / "adversarial"
