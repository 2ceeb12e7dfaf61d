"""One row explained: model contributions that sum to the prediction, the row table, the group
comparison and their plots."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from kit.errors import KitError
from kit.explain.contributions import compare_groups, explain_row, plot_groups, plot_waterfall
from kit.models import ForestClassifier, ForestRegressor, LightGBMClassifier, LightGBMRegressor
from kit.models.tree_paths import contribution_scale, forest_contributions, node_values, path_contributions


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 600
    X = pl.DataFrame({"shop": rng.choice(["a", "b", "c"], n), "x0": rng.normal(size=n),
                      "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    shop = (X["shop"] == "b").to_numpy()
    y = 2 * X["x0"].to_numpy() + X["x1"].to_numpy() ** 2 + shop + 0.1 * rng.normal(size=n)
    return X, y, (y > np.median(y)).astype(int)


def _logit(p):
    return np.log(p / (1 - p))


def test_lightgbm_regression_sums_to_predict(data):
    X, y, _ = data
    m = LightGBMRegressor(n_estimators=40, n_jobs=1, cat_features=["shop"]).fit(X[:500], y[:500],
                                                                                  eval_set=(X[500:], y[500:]))
    c = m.contributions(X[500:])
    assert c.shape == (100, 5)  # shop, x0, x1, x2, bias
    np.testing.assert_allclose(c.sum(1), m.predict(X[500:]), rtol=1e-9, atol=1e-9)
    assert np.ptp(c[:, -1]) == 0  # one expected value for every row
    # the noise column gets far less than the signal
    assert np.abs(c[:, 3]).mean() < 0.2 * np.abs(c[:, 1]).mean()
    assert contribution_scale(m) == "prediction"


def test_lightgbm_binary_sums_to_the_log_odds(data):
    X, _, yb = data
    m = LightGBMClassifier(n_estimators=30, n_jobs=1, cat_features=["shop"]).fit(X, yb)
    c = m.contributions(X[:50])
    np.testing.assert_allclose(c.sum(1), _logit(m.predict_proba(X[:50])[:, 1]), rtol=1e-7, atol=1e-7)
    assert contribution_scale(m) == "log-odds of 1"


def test_multilabel_asks_for_one_label(data):
    X, y, yb = data
    Y = np.column_stack([yb, (y > 0).astype(int)])
    for m in (LightGBMClassifier(n_estimators=5, n_jobs=1, cat_features=["shop"]),
              ForestClassifier(n_estimators=3, n_jobs=1, cat_features=["shop"])):
        m.fit(X, Y)
        with pytest.raises(KitError, match=r"single output, but this \w+ has 2 labels; explain one label's model"):
            m.contributions(X[:5])


def test_sklearn_forest_regression_sums_to_predict(data):
    X, y, _ = data
    m = ForestRegressor(n_estimators=20, max_samples=300, n_jobs=1, cat_features=["shop"]).fit(X, y)
    c = m.contributions(X[:80])
    assert c.shape == (80, 5)
    np.testing.assert_allclose(c.sum(1), m.predict(X[:80]), rtol=1e-9, atol=1e-9)
    # the bias is the mean of the trees' root values, the same for every row
    roots = np.mean([t.tree_.value[0, 0, 0] for t in m.estimator_.estimators_])
    np.testing.assert_allclose(c[:, -1], roots)
    assert np.abs(c[:, 3]).mean() < 0.2 * np.abs(c[:, 1]).mean()


def test_sklearn_forest_binary_sums_to_the_probability(data):
    X, _, yb = data
    m = ForestClassifier(n_estimators=20, max_samples=300, n_jobs=1, cat_features=["shop"]).fit(X, yb)
    c = m.contributions(X[:80])
    np.testing.assert_allclose(c.sum(1), m.predict_proba(X[:80])[:, 1], rtol=1e-9, atol=1e-9)
    assert 0.3 < c[0, -1] < 0.7  # the bias: the share of class 1 at the roots
    assert contribution_scale(m) == "probability of 1"


def test_lightgbm_forest_averages_its_trees(data):
    """LightGBM's pred_contrib sums rf trees while rf predict averages them; contributions divide."""
    X, y, yb = data
    reg = ForestRegressor(n_estimators=10, backend="lightgbm", device="cpu", n_jobs=1,
                          cat_features=["shop"]).fit(X, y)
    c = reg.contributions(X[:60])
    np.testing.assert_allclose(c.sum(1), reg.predict(X[:60]), rtol=1e-7, atol=1e-7)
    raw = reg.boosters_[0].predict(reg.schema_.encode(X[:60]).matrix(), pred_contrib=True)
    np.testing.assert_allclose(raw.sum(1) / 10, reg.predict(X[:60]), rtol=1e-7)  # the LightGBM behaviour
    clf = ForestClassifier(n_estimators=10, backend="lightgbm", device="cpu", n_jobs=1,
                           cat_features=["shop"]).fit(X, yb)
    c = clf.contributions(X[:60])
    np.testing.assert_allclose(c.sum(1), _logit(clf.predict_proba(X[:60])[:, 1]), rtol=1e-6, atol=1e-6)
    assert contribution_scale(clf) == "log-odds of 1"


def test_stump_by_hand():
    # x0 splits {0, 0} (y = 1) from {1, 1} (y = 3): the root mean 2 is the bias, each leaf moves by 1
    X = np.array([[0, 5], [0, 6], [1, 5], [1, 6]], np.float32)
    tree = DecisionTreeRegressor(max_depth=1).fit(X, [1.0, 1.0, 3.0, 3.0])
    c = path_contributions(tree, X, node_values(tree))
    np.testing.assert_array_equal(c, [[-1, 0, 2], [-1, 0, 2], [1, 0, 2], [1, 0, 2]])


def test_two_level_tree_by_hand():
    # root mean 2.5; x0 = 0 -> mean 1.5 (x0: -1), then x1 splits 1 from 2 (x1: -0.5 / +0.5)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    tree = DecisionTreeRegressor().fit(X, [1.0, 2.0, 3.5, 3.5])
    c = path_contributions(tree, X, node_values(tree))
    np.testing.assert_allclose(c, [[-1, -0.5, 2.5], [-1, 0.5, 2.5], [1, 0, 2.5], [1, 0, 2.5]])


def test_classifier_node_values_are_class_one_shares():
    X = np.array([[0], [0], [1], [1], [1]], np.float32)
    tree = DecisionTreeClassifier(max_depth=1).fit(X, [0, 1, 1, 1, 0])
    c = path_contributions(tree, X, node_values(tree, positive_class=1))
    # root 3/5, left leaf 1/2, right leaf 2/3
    np.testing.assert_allclose(c[:, 1], 0.6)
    np.testing.assert_allclose(c[:, 0], [0.5 - 0.6] * 2 + [2 / 3 - 0.6] * 3)
    np.testing.assert_allclose(forest_contributions([tree, tree], X, positive_class=1), c)


def test_explain_row_by_hand():
    levels = {"shop": ["a", "b", "c"]}
    e = explain_row(np.array([0.5, -2.0, 0.25, 10.0]), names=["shop", "x0", "x1"],
                    row={"shop": 2, "x0": 1.23456789, "x1": None}, row_id=7, scale="log1p(price)", levels=levels)
    assert e.values == ("b", "1.23457", "missing")
    assert e.bias == 10.0 and e.prediction == pytest.approx(8.75) and e.row_id == "7"
    f = e.to_frame()
    assert f["feature"].to_list() == ["x0", "shop", "x1", "(bias)", "(prediction)"]
    assert f["kind"].to_list() == ["feature"] * 3 + ["bias", "prediction"]
    assert f["contribution"][:-1].sum() == pytest.approx(f["contribution"][-1])
    d = e.to_dict()
    assert d["contributions"][0] == {"feature": "x0", "value": "1.23457", "contribution": -2.0}
    # a one-row frame works as the row; code 0 is "missing"
    e2 = explain_row(np.array([[0.0, 0.0, 0.0, 1.0]]), names=["shop", "x0", "x1"],
                     row=pl.DataFrame({"x1": [3.0], "shop": [0], "x0": [1]}), row_id="r", scale="p", levels=levels)
    assert e2.values == ("missing", "1", "3")


def test_explain_row_errors():
    names = ["a", "b"]
    with pytest.raises(KitError, match=r"one value per feature plus the bias last \(2 names \+ 1 = 3\), got shape \(2,\)"):
        explain_row(np.zeros(2), names=names, row={"a": 1, "b": 2}, row_id="0", scale="p")
    with pytest.raises(KitError, match=r"row lacks 1 of the 2 features \('b'\)"):
        explain_row(np.zeros(3), names=names, row={"a": 1}, row_id="0", scale="p")
    with pytest.raises(KitError, match=r"feature 'a' has code 4, but its levels hold 2 values"):
        explain_row(np.zeros(3), names=names, row={"a": 4, "b": 2}, row_id="0", scale="p", levels={"a": ["x", "y"]})


def test_compare_groups_by_hand():
    a = np.array([[1.0, 0.0, 5.0], [3.0, 2.0, 5.0]])  # means 2, 1, bias 5 -> prediction 8
    b = np.array([[2.0, -3.0, 5.0]])                   # prediction 4
    g = compare_groups(a, b, names=["x", "y"], labels=("old", "new"))
    assert g.n == (2, 1) and g.labels == ("old", "new")
    np.testing.assert_allclose(g.mean_a, [2, 1, 5])
    assert g.table["feature"].to_list() == ["y", "x", "(bias)"]
    np.testing.assert_allclose(g.table["difference"], [-4, 0, 0])
    # the gap between mean predictions is the sum of the per-feature differences
    assert g.prediction_b - g.prediction_a == pytest.approx(g.table["difference"].sum()) == pytest.approx(-4)
    assert g.to_frame().columns == ["feature", "a", "b", "difference"]
    assert g.to_dict()["difference"] == pytest.approx(-4)


def test_compare_groups_errors():
    with pytest.raises(KitError, match=r"group 'B' has no rows"):
        compare_groups(np.zeros((2, 3)), np.zeros((0, 3)), names=["x", "y"])
    with pytest.raises(KitError, match=r"group 'A' must be a \(rows, 3\) matrix .* got shape \(2, 4\)"):
        compare_groups(np.zeros((2, 4)), np.zeros((1, 3)), names=["x", "y"])


def test_waterfall_folds_the_rest_into_one_step():
    rng = np.random.default_rng(3)
    names = [f"feature_{i}" for i in range(30)]
    contrib = np.append(rng.normal(size=30), 4.0)
    e = explain_row(contrib, names=names, row=dict.fromkeys(names, 1.5), row_id="42", scale="log-odds of 1")
    fig = plot_waterfall(e, top=12)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 1 + 12 + 1 + 1  # bias, 12 features, the fold, the prediction
    assert labels[-2] == "18 other features" and labels[1].endswith(" = 1.5")
    # the steps end where the prediction is
    widths = np.array([p.get_width() for p in ax.patches])
    assert widths.sum() == pytest.approx(e.prediction - e.bias)
    assert "42" in ax.get_title() and f"{e.prediction:.4g}" in ax.get_title()
    with pytest.raises(KitError, match="top must be at least 1"):
        plot_waterfall(e, top=0)


def test_plot_groups_draws_the_top_differences():
    rng = np.random.default_rng(4)
    g = compare_groups(rng.normal(size=(5, 21)), rng.normal(size=(6, 21)), names=[f"f{i}" for i in range(20)])
    ax = plot_groups(g, top=8).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == g.table.filter(pl.col("feature") != "(bias)")[
        "feature"].head(8).to_list()
    assert len(ax.patches) == 16
