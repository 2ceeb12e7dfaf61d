"""The parts of `kit explain`, each a method that computes (with the part's own module), draws,
writes its numbers (Parquet or JSON) beside its PNG into the explanation's folder and returns a
`kit.explain.html.Section`. A part that does not apply to the model (contributions need trees,
embeddings need the network) says so in its section instead of failing or vanishing.

Parts share what several of them need: the importance order (the dependence plots and the drop
tests take the most important features) and the quick model's baseline score (kit.explain.context).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kit.atomic import write_json
from kit.errors import KitError
from kit.explain.html import Section

__all__ = ["PARTS", "ExplainOptions", "Parts", "noise_band", "embedding_levels", "check_options"]

PARTS = ("importance", "redundancy", "dependence", "row", "confidence", "extrapolation", "embeddings")


@dataclass(frozen=True)
class ExplainOptions:
    """What `explain` computes, and on how many rows."""

    #: the parts to run, in page order (a subset of PARTS)
    parts: tuple[str, ...] = PARTS
    #: the test id whose prediction is explained (default: the first test row)
    row: str | None = None
    #: two filters "COLUMN=VALUE" (a level or a code) whose rows' contributions are compared
    groups: tuple[str, str] | None = None
    #: two features for a two-way partial dependence plot
    pair: tuple[str, str] | None = None
    #: the category the forest's confidence is summarised by (default: the most important categorical)
    by: str | None = None
    #: features in the partial dependence plots
    top: int = 6
    #: validation rows scored per permutation, all folds together (a predict per feature, repeat and fold:
    #: 2,000 rows of a 300-tree LightGBM take 0.09 s, so 71 features cost about a minute at 6,000)
    sample: int = 6_000
    repeats: int = 3
    #: |Spearman rho| at which features count as one cluster
    threshold: float = 0.8

    def __post_init__(self) -> None:
        unknown = [p for p in self.parts if p not in PARTS]
        if unknown:
            raise KitError(f"unknown part {', '.join(unknown)}; the parts are {', '.join(PARTS)}")



#: a drop the quick model suggests is checked by refitting the run's own model on the folds, when the
#: run trained in at most this many seconds (its fold fits take less)
CONFIRM_SECONDS = 300


def noise_band(scores: Sequence[float], reseeded: Sequence[float]) -> float:
    """The change in the quick model's validation score counted as noise: what refitting it with
    another seed on the same rows changes (fold by fold, like a drop test): the larger of the mean
    change and its standard error over folds, and at least 0.01% of the score. (The spread of the
    fold scores themselves would be far too wide: on real Rossmann rows one 48-day window differs
    from the next by 0.03, while a drop test compares the same windows.)"""
    a, b = np.asarray(scores, np.float64), np.asarray(reseeded, np.float64)
    d = b - a
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return max(abs(float(d.mean())), se, 1e-4 * abs(float(a.mean())))


def _save(fig, out: Path, name: str) -> str:
    fig.savefig(out / name, format="png", dpi=110)
    return name


class _TableParts:
    """The parts of one explanation, sharing what several of them need (the importance order,
    the quick model's baseline)."""

    def __init__(self, run, options: ExplainOptions, out: Path, log: Callable[[str], None]):
        self.run, self.options, self.out, self.log = run, options, out, log
        self.order: list[str] = list(run.features)
        self._baseline: list[float] | None = None

    def baseline(self) -> list[float]:
        """The quick model's fold scores with every feature (the drop tests' baseline)."""
        if self._baseline is None:
            self.log("  quick model with every feature, twice (the drop tests' baseline and noise) ...")
            self._baseline = self.run.fast_scores(())
            self._noise = noise_band(self._baseline, self.run.fast_scores((), reseed=1))
        return self._baseline

    def noise(self) -> float:
        """The drop tests' noise band (see noise_band)."""
        self.baseline()
        return self._noise

    def confirm(self, cols: Sequence[str], *, allowed: float) -> tuple[bool | None, str]:
        """Refit the run's own model on the folds without `cols` (kit.explain.context.own_scores):
        whether its validation cost stays within `allowed`, and the sentence that says so (None
        when the run trains too long to check here)."""
        run = self.run
        base, took = run.metrics.get("folds"), float(run.metrics.get("seconds", 0.0))
        if not base or took > CONFIRM_SECONDS:
            return None, (f"not checked with the run's own {run.model} (it trains in {took:.0f}s): check with "
                          f"`kit train {run.comp.spec.name} --model {run.model} --name {run.model}_drop --drop "
                          f"{' '.join(cols)}` and compare its validation")
        self.log(f"  checking with the run's own {run.model}, refitted on the folds without {', '.join(cols)} ...")
        a, b = float(np.mean(base)), float(np.mean(run.own_scores(cols)))
        cost = (a - b) if run.greater_is_better else (b - a)
        ok = cost <= allowed
        return ok, (f"the run's own {run.model} refitted without them: validation {run.metric.upper()} {a:.5f} -> "
                    f"{b:.5f} ({'confirmed' if ok else 'worse: keep them'})"
                    + (f"; act on it with `kit train --drop {' '.join(cols)}`" if ok else ""))

    def importance(self) -> Section:
        from kit.explain.importance import permutation_importance, plot_importance

        run, o = self.run, self.options
        imp = permutation_importance(run.parts(o.sample), metric=run.metric, greater_is_better=run.greater_is_better,
                                     n_repeats=o.repeats, seed=run.seed, model_importance=run.model_importance(),
                                     log=self.log)
        self.order = imp.table["feature"].to_list()
        imp.to_frame().write_parquet(self.out / "importance.parquet")
        noise = imp.table.filter(pl.col("drop_mean") <= pl.col("drop_std"))["feature"].to_list()
        top = imp.table.head(3).iter_rows(named=True)
        return Section("importance", "Which features matter",
                       f"Permutation importance: each feature's column shuffled on the out-of-fold rows, each fold "
                       f"model scored by the competition's metric ({run.metric.upper()}); the drop in score is what "
                       f"the model loses without the feature's information ({o.repeats} repeats, "
                       f"{imp.n_rows:,} rows). Beside it, the model's own importance (gain or impurity), which "
                       "counts splits, not what they are worth on new rows.",
                       [f"base {run.metric.upper()} on these rows: {imp.base_score:.5f}",
                        "most important: " + "; ".join(f"{r['feature']} ({r['drop_mean']:+.5f})" for r in top),
                        f"{len(noise)} feature(s) within their own noise (drop <= its spread): "
                        + (", ".join(noise[:12]) + (" ..." if len(noise) > 12 else "") if noise else "none")],
                       [_save(plot_importance(imp), self.out, "importance.png")],
                       [("permutation importance", imp.table)], files=["importance.parquet"])

    def redundancy(self) -> Section:
        from kit.explain.redundancy import (MAX_DROP_TESTS, TESTED_TOP, clusters, drop_test, groups_to_test,
                                           plot_dendrogram, plot_drop_test, rank_correlation)

        run, o = self.run, self.options
        corr = rank_correlation(run.prepared.X, seed=run.seed)  # text and categories rank by code
        groups = clusters(corr, threshold=o.threshold)
        corr.to_frame().write_parquet(self.out / "correlation.parquet")
        figs = [_save(plot_dendrogram(corr, groups=groups, threshold=o.threshold), self.out, "dendrogram.png")]
        findings = [f"{len(groups)} cluster(s) of features with |Spearman rho| >= {o.threshold}: "
                    + ("; ".join(", ".join(g) for g in groups) if groups else "none")]
        tables = []
        tested = groups_to_test(groups, self.order[:TESTED_TOP], MAX_DROP_TESTS)
        if len(tested) < len(groups) or sum(map(len, tested)) < sum(map(len, groups)):
            findings.append(f"drop-tested: the members among the {TESTED_TOP} most important features of the tightest "
                            f"clusters, at most {MAX_DROP_TESTS} ({sum(map(len, tested))} here); the others matter "
                            "less, so keeping or dropping them changes little")
        groups = tested
        if groups:
            base = self.baseline()
            tol = self.noise()
            cache = {(): float(np.mean(base))}

            def score_without(cols: Sequence[str]) -> float:
                key = tuple(sorted(cols))
                if key not in cache:
                    cache[key] = run.fast_score(key)
                return cache[key]

            dt = drop_test(score_without, groups, metric=run.metric, greater_is_better=run.greater_is_better,
                           tolerance=tol, log=self.log)
            write_json(self.out / "drop_test.json", dt.to_dict())
            figs.append(_save(plot_drop_test(dt), self.out, "drop_test.png"))
            can = dt.suggested()
            findings.append(f"quick model, every feature: {dt.baseline:.5f}; noise band ± {tol:.5f}")
            findings.append("can go: " + (", ".join(can) if can else "none"))
            if can:
                ok = dt.together_cost <= tol
                findings.append(f"all of them dropped together: {dt.together:.5f} (cost {dt.together_cost:+.5f}, "
                                + ("within noise)" if ok else "beyond noise: drop them one cluster at a time and check)"))
                if ok:
                    findings.append(self.confirm(can, allowed=tol)[1])
            tables.append(("drop test", dt.table))
        return Section("redundancy", "Redundant features",
                       "Features that rank rows alike (Spearman rank correlation) carry the same information; the "
                       "dendrogram joins them. For each tight cluster a quick LightGBM is refitted on the shared "
                       "folds without each member in turn: a member whose drop costs nothing beyond noise can go.",
                       findings, figs, tables, files=["correlation.parquet"] + (["drop_test.json"] if groups else []))

    def dependence(self) -> Section:
        from kit.explain.dependence import (partial_dependence, partial_dependence_2d, plot_dependence,
                                            plot_dependence_2d)

        run, o = self.run, self.options
        X = run.prepared.X
        rows = run.sample(np.arange(run.prepared.n_rows), 5_000, salt=3)
        sample = X[rows]
        feats = [f for f in self.order if _plottable(X, f)][:o.top]
        if not feats:
            return Section("dependence", "How predictions move with a feature", "Partial dependence.",
                           skipped="no numeric feature with more than one value to vary")
        deps = [partial_dependence(run.predict, sample, f, categorical=self._categorical(f),
                                   levels=run.prepared.levels.get(f), seed=run.seed) for f in feats]
        pl.concat([d.to_frame() for d in deps]).write_parquet(self.out / "dependence.parquet")
        pl.concat([d.ice_frame().with_columns(pl.lit(d.feature).alias("feature")) for d in deps]).write_parquet(
            self.out / "ice.parquet")
        figs = [_save(plot_dependence(deps, ylabel=f"prediction ({run.scale})"), self.out, "dependence.png")]
        findings = [f"{d.feature}: prediction {d.average.min():.4g} .. {d.average.max():.4g} over its range "
                    f"(a span of {np.ptp(d.average):.4g})" for d in deps]
        files = ["dependence.parquet", "ice.parquet"]
        if o.pair is not None:
            a, b = o.pair
            d2 = partial_dependence_2d(run.predict, sample, a, b,
                                       categorical=(self._categorical(a), self._categorical(b)),
                                       levels=(run.prepared.levels.get(a), run.prepared.levels.get(b)), seed=run.seed)
            d2.to_frame().write_parquet(self.out / "dependence_2d.parquet")
            figs.append(_save(plot_dependence_2d(d2, zlabel=f"prediction ({run.scale})"), self.out,
                              "dependence_2d.png"))
            files.append("dependence_2d.parquet")
        return Section("dependence", "How predictions move with a feature",
                       f"Partial dependence: the model's mean prediction over {deps[0].n_rows:,} sampled training rows "
                       "with the feature set to each value of a grid (thick line), and the same for single rows "
                       "(ICE, thin lines): parallel lines mean the feature acts alone, crossing lines mean it "
                       "interacts. The most important features, in order.", findings, figs, files=files)

    def _categorical(self, feature: str) -> bool:
        return feature in self.run.prepared.cat_features and feature not in self.run.prepared.ordered_features


def _plottable(X: pl.DataFrame, feature: str) -> bool:
    """A numeric column with at least two values (text categories have no grid to set)."""
    t = X.schema[feature]
    return (t.is_numeric() or t == pl.Boolean) and X[feature].n_unique() > 1


class Parts(_TableParts):
    """Every part of one explanation (those on the features above, those that read the model here)."""

    def row(self) -> Section:
        from kit.explain.contributions import compare_groups, explain_row, plot_groups, plot_waterfall

        run, o = self.run, self.options
        lead = ("Why one row got its prediction: each feature's contribution, from the bias (the mean "
                "prediction) to the row's prediction; they sum to it exactly. "
                + ("TreeSHAP (LightGBM's own pred_contrib)" if run.model == "lgbm" else
                   "The tree interpreter (each split's change in the node mean, along the row's path)")
                + f", on the model's scale ({self._contrib_scale()}).")
        if run.model not in ("lgbm", "rf"):
            return Section("row", "One row explained", lead, skipped="contributions need trees and this run is the "
                           "network; explain a LightGBM or forest run of the same data (`kit explain COMP lgbm`)")
        ids = run.prepared.test_ids
        at = 0 if o.row is None else _find_id(ids, o.row)
        X1 = run.prepared.X_test[at:at + 1]
        contrib = self._contributions(X1)
        expl = explain_row(contrib[0], names=run.features, row=X1, row_id=str(ids[at]), scale=self._contrib_scale(),
                           levels=run.prepared.levels)
        write_json(self.out / "row.json", expl.to_dict())
        figs = [_save(plot_waterfall(expl), self.out, "row.png")]
        top = expl.to_frame().head(3).iter_rows(named=True)
        findings = [f"test id {ids[at]}" + (" (the first test row; pass --row ID for another)" if o.row is None else "")
                    + f": prediction {expl.prediction:.4g} = bias {expl.bias:.4g} + contributions; largest: "
                    + "; ".join(f"{r['feature']} = {r['value']} ({r['contribution']:+.4g})" for r in top)]
        files = ["row.json"]
        if o.groups is not None:
            masks = [_group_mask(run, g) for g in o.groups]
            rows = [run.sample(np.flatnonzero(m), 500, salt=11 + i) for i, m in enumerate(masks)]
            parts = [self._contributions(run.prepared.X[r]) for r in rows]
            cmp = compare_groups(parts[0], parts[1], names=run.features, labels=o.groups, scale=self._contrib_scale())
            write_json(self.out / "groups.json", cmp.to_dict())
            figs.append(_save(plot_groups(cmp), self.out, "groups.png"))
            files.append("groups.json")
            gap = float(parts[1].sum(1).mean() - parts[0].sum(1).mean())
            findings.append(f"{o.groups[1]} vs {o.groups[0]} ({cmp.n[1]:,} and {cmp.n[0]:,} training rows): mean "
                            f"prediction differs by {gap:+.4g}, mostly through "
                            + ", ".join(cmp.table["feature"].head(3).to_list()))
        return Section("row", "One row explained", lead, findings, figs, files=files)

    def _contrib_scale(self) -> str:
        run = self.run
        if run.comp.spec.task == "binary" and run.model == "lgbm":
            return f"log-odds of {run.comp.spec.target_columns[0]} = 1"
        return run.scale

    def _contributions(self, X) -> np.ndarray:
        """The mean of the final models' contributions (they add up like the predictions)."""
        out = None
        for m in self.run.final:
            c = m.contributions(X)
            out = c if out is None else out + c
        return out / len(self.run.final)

    def confidence(self) -> Section:
        from kit.explain.confidence import confidence_by, plot_confidence

        run, o = self.run, self.options
        lead = ("How sure the forest is: the spread (standard deviation) of its trees' predictions for each "
                "out-of-fold row, summarised by a category; where the trees disagree the model is unsure, often "
                "where it has seen few rows.")
        if run.model != "rf":
            return Section("confidence", "Where the model is unsure", lead,
                           skipped=f"the spread of trees needs a random forest and this run is {run.model}; train one "
                                   f"with `kit train {run.comp.spec.name} --model rf` and explain it")
        by = o.by or next((f for f in self.order if f in run.prepared.cat_features
                           and run.prepared.X[f].n_unique() <= 30), self.order[0])
        if by not in run.features:
            raise KitError(f"--by {by!r} is not a feature of this run; pass one of {', '.join(run.features[:12])} ...")
        preds, stds, cats = [], [], []
        for k, ((_, va), m) in enumerate(zip(run.folds.splits, run.fold_models)):
            rows = run.sample(va, max(1, o.sample // len(run.folds)), salt=k)
            p = m.predict_with_std(run.prepared.X[rows])
            preds.append(p.value)
            stds.append(p.std)
            cat = run.prepared.X[by][rows]
            # a coded category the feature code keeps as a number (ProductSize: ordered sizes) reads as its codes
            cats.append(cat.cast(pl.Int64) if by in run.prepared.levels and cat.dtype.is_float() else cat)
        c = confidence_by(np.concatenate(preds), np.concatenate(stds), pl.concat(cats), by=by, scale=run.scale,
                          levels=run.prepared.levels.get(by))
        c.to_frame().write_parquet(self.out / "confidence.parquet")
        worst = c.table.row(0, named=True)
        return Section("confidence", "Where the model is unsure", lead,
                       [f"by {by}: least sure on {worst['label']} ({worst['rows']:,} rows, spread "
                        f"{worst['mean_std']:.4g} against {c.overall_std:.4g} overall)"],
                       [_save(plot_confidence(c), self.out, "confidence.png")], [(f"confidence by {by}", c.table)],
                       files=["confidence.parquet"])

    def extrapolation(self) -> Section:
        from kit.explain.extrapolation import extrapolation, plot_extrapolation

        run = self.run
        base = self.baseline()
        e = extrapolation(run, baseline_scores=base, tolerance=self.noise(), log=self.log)
        write_json(self.out / "extrapolation.json", e.to_dict())
        raw = run.path.parent / "adversarial" / "adversarial.png"
        links = [("the raw files' adversarial report (kit adversarial)", "../../adversarial/adversarial.png")] \
            if raw.exists() else []
        go = e.suggested
        checked = self.confirm(go, allowed=0.0)[1] if go else None
        return Section("extrapolation", "What extrapolates",
                       "A classifier learns to tell the model's training rows from its test rows on the model's own "
                       "features (out-of-fold AUC: 0.5 = alike). The features it leans on take test values training "
                       "did not see; each is dropped in turn from a quick model on the shared folds: one whose drop "
                       "costs nothing, or helps, is one to drop.",
                       [f"train vs test AUC {e.auc:.3f} ± {e.auc_std:.3f}",
                        "drifting, each free to drop alone (within noise): " + (", ".join(e.droppable()) or "none"),
                        "to drop together (the quick model without the set at once is no worse): "
                        + (", ".join(go) + f", {run.metric.upper()} {e.baseline:.5f} -> {e.together:.5f}" if go
                           else "none"), *([checked] if checked else [])],
                       [_save(plot_extrapolation(e), self.out, "extrapolation.png")], [("drifting features", e.table)],
                       links, files=["extrapolation.json"])

    def embeddings(self) -> Section:
        from kit.explain.embeddings import code_counts, embedding_projections, plot_projection

        run = self.run
        lead = ("What the network learned: each categorical's embedding vectors projected on their first two "
                "principal components; levels the network treats alike sit together (states near each other, "
                "weekdays in order). The vectors are in Parquet, to use as features in other models.")
        if run.model != "nn":
            return Section("embeddings", "Learned embeddings", lead,
                           skipped=f"embeddings come from the entity-embedding network and this run is {run.model}")
        model = run.final[0]
        projs = embedding_projections(model, levels=embedding_levels(run, model), counts=code_counts(model, run.prepared.X))
        (self.out / "embeddings").mkdir(exist_ok=True)
        rank = {f: i for i, f in enumerate(self.order)}
        figs = []
        for p in sorted(projs, key=lambda p: rank.get(p.feature, len(rank))):
            p.to_frame().write_parquet(self.out / "embeddings" / f"{p.feature}.parquet")
            if len(figs) < 8:
                figs.append(_save(plot_projection(p, ordered=p.feature in run.prepared.ordered_features), self.out,
                                  f"embeddings/{p.feature}.png"))
        return Section("embeddings", "Learned embeddings", lead,
                       [f"{len(projs)} categoricals projected; the {len(figs)} most important shown"], figs,
                       files=[f"embeddings/{p.feature}.parquet" for p in projs])


def embedding_levels(run, model) -> dict[str, list[str]]:
    """The label of each of the network's codes. The network codes the values it was given, which are
    the feature code's own codes where the feature code coded a column (0 = missing there too), so
    a label is the feature code's level of the network's level."""
    schema = model.schema_
    if schema.levels is None:  # it was given a Processed object: its codes are the feature code's
        return {c: list(map(str, run.prepared.levels[c])) for c in schema.cat_names if c in run.prepared.levels}
    return {c: run.labels(c, values) for c, values in zip(schema.cat_names, schema.levels) if c in run.prepared.levels}


def _find_id(ids: pl.Series, wanted: str) -> int:
    hits = np.flatnonzero((ids.cast(pl.String) == str(wanted)).to_numpy())
    if not len(hits):
        raise KitError(f"--row {wanted} is not a test id; the test ids run {ids[0]}, {ids[1]}, ... ({len(ids):,} rows)")
    return int(hits[0])


def _group_mask(run, spec: str) -> np.ndarray:
    """The training rows a filter "COLUMN=VALUE" picks (VALUE a level, or a code)."""
    col, sep, value = spec.partition("=")
    if not sep or col not in run.features:
        raise KitError(f"--group takes COLUMN=VALUE with a feature column, got {spec!r} (e.g. --group ProductSize=Large)")
    s = run.prepared.X[col]
    levels = run.prepared.levels.get(col)
    if levels is not None and value in [str(v) for v in levels]:
        mask = (s == [str(v) for v in levels].index(value) + 1).to_numpy()
    else:
        mask = (s.cast(pl.String) == value).to_numpy()
    if not mask.any():
        shown = ", ".join(map(str, levels[:10])) if levels else ", ".join(s.cast(pl.String).unique().head(10).to_list())
        raise KitError(f"--group {spec} matches no training row; values of {col}: {shown}")
    return mask


def check_options(run, o: ExplainOptions) -> None:
    """Every feature, group and test id the options name exists: checked before minutes of work."""
    named = [*(o.pair or ()), *([o.by] if o.by else [])]
    unknown = [f for f in named if f not in run.features]
    if unknown:
        feats = ", ".join(run.features[:15]) + (f", ... ({len(run.features)} in all)" if len(run.features) > 15 else "")
        raise KitError(f"{', '.join(unknown)} is not a feature of run {run.name}; its features are {feats}")
    if o.pair is not None and not all(_plottable(run.prepared.X, f) for f in o.pair):
        raise KitError(f"--pair needs two numeric features with more than one value, got {' and '.join(o.pair)}")
    for g in o.groups or ():
        _group_mask(run, g)
    if o.row is not None:
        _find_id(run.prepared.test_ids, o.row)
