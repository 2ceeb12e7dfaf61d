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
from kit.explain.parts import ExplainOptions, embedding_levels, tolerance_of


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


def test_noise_band_is_half_a_standard_error_or_a_thousandth():
    s = [0.10, 0.12, 0.14]
    assert tolerance_of(s) == pytest.approx(0.5 * np.std(s, ddof=1) / np.sqrt(3))
    assert tolerance_of([0.2]) == pytest.approx(2e-4)  # one fold: no spread to go by
    assert tolerance_of([0.3, 0.3]) == pytest.approx(3e-4)


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
        Section("one", "First", "lead", ["finding 1.5"], ["a.png"], [("t", pl.DataFrame({"f": ["a"], "v": [0.123456]}))]),
        Section("two", "Second", "lead two", skipped="needs a forest")])
    assert page.count("data:image/png;base64,") == 1 and "a.png'" in page  # alt text only, no file link
    assert "meta &lt;b&gt;" in page and "0.1235" in page and "needs a forest" in page
    assert page.index("First") < page.index("Second")
