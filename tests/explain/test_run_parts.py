"""The glue of `kit explain`: labels through two codings, the noise band, which clusters get a
drop test, the page."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.explain.context import RunModels
from kit.explain.html import Section, render
from kit.explain.redundancy import groups_to_test
from kit.explain.parts import ExplainOptions, embedding_levels, noise_band


def _fake_run(levels):
    run = SimpleNamespace(prepared=SimpleNamespace(levels=levels))
    run.labels = lambda feature, values: RunModels.labels(run, feature, values)
    return run


def test_network_codes_of_feature_codes_are_labelled_through_both():
    from kit.models import EmbeddingNetRegressor

    # the feature code coded "size" 0 (missing), 1 = "S", 2 = "L"; the network codes those codes again
    X = pl.DataFrame({"size": np.tile([0, 1, 2], 40), "x": np.linspace(0, 1, 120)})
    m = EmbeddingNetRegressor(cat_features=["size"], epochs=1, layers=(4,), dropout=(0.0,), device="cpu").fit(
        X, np.arange(120.0))
    assert m.schema_.levels[0].to_list() == [0, 1, 2]
    assert embedding_levels(_fake_run({"size": ("S", "L")}), m) == {"size": ["missing", "S", "L"]}


def test_labels_of_codes_numbers_and_empty_levels():
    run = _fake_run({"c": ("", "b")})
    assert RunModels.labels(run, "c", [0, 1, 2, 9]) == ["missing", "(empty)", "b", "missing"]
    assert RunModels.labels(run, "x", [1.5, None, 3]) == ["1.5", "missing", "3"]


def test_noise_band_is_what_a_reseeded_refit_changes():
    a, b = [0.100, 0.120, 0.140], [0.101, 0.118, 0.144]
    d = np.subtract(b, a)
    assert noise_band(a, b) == pytest.approx(max(abs(d.mean()), d.std(ddof=1) / np.sqrt(3)))
    assert noise_band([0.2], [0.203]) == pytest.approx(0.003)  # one fold: the change itself
    assert noise_band([0.3, 0.3], [0.3, 0.3]) == pytest.approx(3e-5)  # never zero


def test_drop_tests_go_to_the_tightest_clusters_of_important_features():
    groups = [("a", "b", "z"), ("c", "d"), ("e", "f"), ("y", "z2")]
    assert groups_to_test(groups, list("abcdef"), 4) == [("a", "b"), ("c", "d")]
    assert groups_to_test(groups, list("abcdef"), 10) == [("a", "b"), ("c", "d"), ("e", "f")]


def test_unknown_parts_are_refused():
    with pytest.raises(KitError, match="unknown part pdp; the parts are importance, redundancy"):
        ExplainOptions(parts=("pdp",))


def test_the_page_embeds_its_pictures_and_says_what_was_skipped(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "a.png")
    page = render(tmp_path, "Explaining x", ["meta <b>"], [
        Section("one", "First", "lead", ["finding 1.5"], ["a.png"],
                [("t", pl.DataFrame({"f": ["a", "b"], "v": [0.123456, 6.6e-19]}))]),
        Section("two", "Second", "lead two", skipped="needs a forest")])
    assert page.count("data:image/png;base64,") == 1 and "a.png'" in page  # alt text only, no file link
    assert "meta &lt;b&gt;" in page and "0.1235" in page and "needs a forest" in page
    assert "<td class=''>0</td>" in page and "e-19" not in page
    assert page.index("First") < page.index("Second")


def test_drifters_are_suggested_only_as_a_set_checked_together():
    from kit.explain.extrapolation import Extrapolation, drop_together

    # "year" and "elapsed" each help a little alone, but carry the same trend: together they cost
    scores = {("elapsed",): 0.099, ("year",): 0.0995, ("elapsed", "year"): 0.120, ("elapsed", "week"): 0.1004,
              ("elapsed", "week", "year"): 0.121}
    run = SimpleNamespace(metric="rmspe", fast_score=lambda cols: scores[tuple(sorted(cols))])
    table = pl.DataFrame({"feature": ["elapsed", "year", "week", "store"], "score": [0.099, 0.0995, 0.1003, 0.13],
                          "cost": [-0.001, -0.0005, 0.0003, 0.03], "verdict": ["drop", "can go", "can go", "keep"]})
    e = drop_together(run, Extrapolation("rmspe", False, 1.0, 0.0, 0.1, 0.001, table), 1.0, None)
    assert e.suggested == ("elapsed",) and e.together == 0.099  # year with elapsed costs; week alone costs
    assert e.droppable() == ("elapsed", "year", "week")


def test_a_suggested_drop_is_checked_with_the_runs_own_model(tmp_path):
    from kit.explain.parts import CONFIRM_SECONDS, Parts

    seen = []

    def own_scores(cols):
        seen.append(tuple(cols))
        return {("a",): [0.199, 0.200], ("b",): [0.203, 0.201]}[tuple(cols)]

    run = SimpleNamespace(model="lgbm", metric="rmse", greater_is_better=False, features=("a", "b"),
                          comp=SimpleNamespace(spec=SimpleNamespace(name="c")), own_scores=own_scores,
                          metrics={"folds": [0.2, 0.2], "seconds": 10.0})
    parts = Parts(run, ExplainOptions(), tmp_path, lambda *_: None)
    ok, said = parts.confirm(["a"], allowed=0.0)
    assert ok and "0.20000 -> 0.19950 (confirmed); act on it with `kit train --drop a`" in said
    ok, said = parts.confirm(["b"], allowed=0.001)
    assert ok is False and "worse: keep them" in said and "--drop" not in said
    run.metrics["seconds"] = CONFIRM_SECONDS + 1
    ok, said = parts.confirm(["a"], allowed=0.0)
    assert ok is None and "not checked with the run's own lgbm" in said and seen == [("a",), ("b",)]
