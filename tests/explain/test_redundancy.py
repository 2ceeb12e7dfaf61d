"""Rank correlation, clusters and the drop test on hand-built columns: copies cluster,
independent columns do not, monotone transforms have rho 1, constants give no NaN, and the
drop test keeps one member of a group whose members are each free to drop."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.explain.redundancy import (DropTest, clusters, drop_test, plot_dendrogram, plot_drop_test,
                                    rank_correlation)


@pytest.fixture
def X() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    n = 2000
    a, b, c = rng.normal(size=(3, n))
    return pl.DataFrame({"a": a, "b": b, "a_copy": a, "c": c, "a_noisy": a + 0.01 * rng.normal(size=n),
                         "d": rng.normal(size=n)})


def _rho(corr, x: str, y: str) -> float:
    return corr.rho[corr.names.index(x), corr.names.index(y)]


def test_copies_cluster_and_independent_columns_do_not(X):
    corr = rank_correlation(X)
    assert clusters(corr, threshold=0.8) == (("a", "a_copy", "a_noisy"),)
    assert corr.names == tuple(X.columns) and corr.n_rows == 2000
    assert abs(_rho(corr, "a", "b")) < 0.1
    assert _rho(corr, "a", "a_copy") == pytest.approx(1.0)


def test_tightest_group_first():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 1000))
    X = pl.DataFrame({"b": b, "b_loose": b + 0.5 * rng.normal(size=1000), "a": a, "a_twin": a})
    assert clusters(rank_correlation(X), threshold=0.8) == (("a", "a_twin"), ("b", "b_loose"))


def test_monotone_transform_has_rho_one_and_negation_minus_one():
    x = np.random.default_rng(2).normal(size=500)
    corr = rank_correlation(pl.DataFrame({"x": x, "exp_x": np.exp(x), "neg": -x ** 3}))
    assert _rho(corr, "x", "exp_x") == pytest.approx(1.0)
    assert _rho(corr, "x", "neg") == pytest.approx(-1.0)
    # |rho| clusters a reversed column with its original
    assert clusters(corr, threshold=0.99) == (("x", "exp_x", "neg"),)


def test_rho_against_scipy_spearman_with_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, size=300)
    y = x + rng.integers(0, 3, size=300)
    corr = rank_correlation(pl.DataFrame({"x": x, "y": y}))
    assert _rho(corr, "x", "y") == pytest.approx(spearmanr(x, y).statistic)


def test_constant_and_missing_columns_give_no_nan():
    X = pl.DataFrame({"const": [1.0] * 6, "x": [1.0, 2.0, None, 4.0, float("nan"), 6.0],
                      "y": [1, 2, 3, 4, 5, 6], "empty": pl.Series([None] * 6, dtype=pl.Float64),
                      "flag": [True, False, True, False, True, False],
                      "cat": pl.Series(list("abcabc"), dtype=pl.Categorical)})
    corr = rank_correlation(X)
    assert np.isfinite(corr.rho).all() and np.isfinite(corr.linkage).all()
    assert np.allclose(np.diag(corr.rho), 1.0)
    assert _rho(corr, "const", "y") == 0.0 and _rho(corr, "empty", "x") == 0.0
    assert np.allclose(corr.rho, corr.rho.T)
    # a missing value (null or NaN) takes the mean rank of its column: x ranks 1,2,2.5,3,2.5,4
    expected = np.corrcoef([1, 2, 2.5, 3, 2.5, 4], [1, 2, 3, 4, 5, 6])[0, 1]
    assert _rho(corr, "x", "y") == pytest.approx(expected)


def test_sampling_is_seeded_and_bounded(X):
    a = rank_correlation(X, max_rows=300, seed=5)
    b = rank_correlation(X, max_rows=300, seed=5)
    assert a.n_rows == 300 and np.array_equal(a.rho, b.rho)
    assert not np.array_equal(a.rho, rank_correlation(X, max_rows=300, seed=6).rho)


def test_to_frame_long_form(X):
    corr = rank_correlation(X.select("a", "b", "c"))
    frame = corr.to_frame()
    assert frame.select("a", "b").rows() == [("a", "b"), ("a", "c"), ("b", "c")]
    assert frame["rho"][0] == pytest.approx(_rho(corr, "a", "b"))


def test_rank_correlation_errors():
    with pytest.raises(KitError, match="at least 2 feature columns, got 1"):
        rank_correlation(pl.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(KitError, match="at least 2 rows, got 1"):
        rank_correlation(pl.DataFrame({"a": [1], "b": [2]}))
    with pytest.raises(KitError, match=r"tags \(List\(String\)\) are not; drop or encode"):
        rank_correlation(pl.DataFrame({"a": [1, 2], "tags": [["x"], ["y"]]}))
    corr = rank_correlation(pl.DataFrame({"a": [1, 2, 3], "b": [3, 1, 2]}))
    with pytest.raises(KitError, match="threshold is an |rho| between 0 and 1, got 1.5"):
        clusters(corr, threshold=1.5)


def _fake(costs: dict[tuple[str, ...], float]):
    calls = []

    def score_without(dropped):
        calls.append(tuple(dropped))
        return costs[tuple(sorted(dropped))]

    return score_without, calls


def test_drop_test_keeps_one_of_two_free_twins():
    score_without, calls = _fake({(): 1.0, ("a",): 1.0, ("b",): 1.0, ("a", "b"): 1.5})
    dt = drop_test(score_without, [["a", "b"]], metric="rmse", greater_is_better=False, tolerance=0.01)
    assert dt.table["verdict"].to_list() == ["can go", "can go"]
    assert len(dt.suggested()) == 1 and dt.suggested()[0] in ("a", "b")
    assert calls == [(), ("a",), ("b",), dt.suggested()]
    assert dt.baseline == 1.0 and dt.together == 1.0 and dt.together_cost == 0.0


def test_drop_test_costs_signs_and_suggestions():
    scores = {(): 0.80, ("a",): 0.79, ("b",): 0.80, ("c",): 0.70, ("d",): 0.60, ("e",): 0.81,
              ("a", "b", "e"): 0.78}
    score_without, calls = _fake(scores)
    lines = []
    dt = drop_test(score_without, [["a", "b", "c"], ["d", "e"]], metric="auc", greater_is_better=True,
                   tolerance=0.02, log=lines.append)
    assert dt.table.columns == ["group", "feature", "score", "cost", "verdict"]
    assert dt.table["group"].to_list() == [1, 1, 1, 2, 2]
    assert dt.table["cost"].to_list() == pytest.approx([0.01, 0.0, 0.10, 0.20, -0.01])
    assert dt.table["verdict"].to_list() == ["can go", "can go", "keep", "keep", "can go"]
    assert dt.suggested() == ("a", "b", "e")  # c and d are kept on their own merit
    assert dt.together == 0.78 and dt.together_cost == pytest.approx(0.02)
    assert len(lines) == 7 and lines[0].startswith("drop test: 1/6 scores, without every feature: auc 0.8")
    d = json.loads(json.dumps(dt.to_dict()))
    assert d["suggested"] == ["a", "b", "e"] and len(d["rows"]) == 5


def test_drop_test_when_nothing_can_go():
    score_without, calls = _fake({(): 1.0, ("a",): 1.2, ("b",): 1.3})
    dt = drop_test(score_without, [["a", "b"]], metric="rmse", greater_is_better=False, tolerance=0.0)
    assert dt.suggested() == () and dt.together is None and len(calls) == 3


def test_drop_test_errors():
    score_without, _ = _fake({(): 1.0})
    with pytest.raises(KitError, match="must be >= 0, got -0.1"):
        drop_test(score_without, [["a", "b"]], metric="m", greater_is_better=False, tolerance=-0.1)
    with pytest.raises(KitError, match="feature 'b' is in group 1 and group 2"):
        drop_test(score_without, [["a", "b"], ["b", "c"]], metric="m", greater_is_better=False, tolerance=0)
    with pytest.raises(KitError, match="group 1 is the text 'ab'"):
        drop_test(score_without, ["ab"], metric="m", greater_is_better=False, tolerance=0)


def test_plots(X, tmp_path):
    from matplotlib.figure import Figure

    corr = rank_correlation(X)
    groups = clusters(corr)
    fig = plot_dendrogram(corr, groups=groups)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = {t.get_text(): t.get_color() for t in ax.get_yticklabels()}
    assert set(labels) == set(X.columns)
    assert labels["a_copy"] != labels["b"]  # group members highlighted
    assert "Spearman" in ax.get_xlabel()
    many = pl.DataFrame({f"f{i}": np.arange(10) * (i + 1) % 7 for i in range(60)})
    assert plot_dendrogram(rank_correlation(many)).get_figheight() > 10  # 60 labels get room
    score_without, _ = _fake({(): 1.0, ("a",): 1.0, ("a_copy",): 1.2, ("a_noisy",): 1.0,
                              ("a", "a_noisy"): 1.0})
    dt = drop_test(score_without, groups, metric="rmse", greater_is_better=False, tolerance=0.01)
    fig2 = plot_drop_test(dt)
    assert "cost in RMSE" in fig2.axes[0].get_xlabel()
    fig2.savefig(tmp_path / "drop.png", dpi=50)
    empty = DropTest(metric="rmse", greater_is_better=False, baseline=1.0, tolerance=0.0,
                     table=dt.table.clear(), together=None)
    assert plot_drop_test(empty).axes[0].texts
