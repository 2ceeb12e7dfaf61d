"""Partial dependence and ICE: hand-computed cases, invariants, scikit-learn agreement, errors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kit.errors import KitError
from kit.explain.dependence import (Dependence, partial_dependence, partial_dependence_2d, plot_dependence,
                                    plot_dependence_2d)


def _frame(n: int = 200, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"a": rng.uniform(0, 10, n), "b": rng.normal(size=n),
                         "k": rng.integers(0, 50, n), "c": rng.integers(0, 4, n)})


def _log_a_plus_b(f: pl.DataFrame) -> np.ndarray:
    return np.log1p(f["a"].to_numpy()) + f["b"].to_numpy()


class _Counting:
    """A predict callable that records how often, and on how many rows, it was called."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, f: pl.DataFrame) -> np.ndarray:
        self.calls.append(f.height)
        return self.fn(f)


# (a) a known monotone function -------------------------------------------------------------

def test_pd_of_a_known_function_is_the_hand_computed_mean_in_one_batched_call():
    X = _frame()
    before = X.clone()
    predict = _Counting(_log_a_plus_b)
    dep = partial_dependence(predict, X, "a", grid_size=8, max_rows=1000, ice_rows=15)
    assert predict.calls == [200 * 8]  # one call over the stacked frame
    assert X.equals(before)  # the caller's frame untouched
    a = X["a"].to_numpy()
    assert np.allclose(dep.grid, np.quantile(a, np.linspace(0.05, 0.95, 8)))
    assert np.allclose(dep.average, np.log1p(dep.grid) + X["b"].mean())
    assert np.all(np.diff(dep.average) > 0)
    assert dep.n_rows == 200 and dep.ice.shape == (15, 8) and not dep.categorical and dep.labels is None
    rows = dep.ice_rows
    assert np.allclose(dep.ice, np.log1p(dep.grid)[None, :] + X["b"].to_numpy()[rows][:, None])


def test_sampling_is_seeded_and_the_average_is_the_mean_of_the_ice_lines_when_all_are_kept():
    X = _frame(500)
    one = partial_dependence(_log_a_plus_b, X, "a", grid_size=5, max_rows=50, ice_rows=50, seed=3)
    two = partial_dependence(_log_a_plus_b, X, "a", grid_size=5, max_rows=50, ice_rows=50, seed=3)
    other = partial_dependence(_log_a_plus_b, X, "a", grid_size=5, max_rows=50, ice_rows=50, seed=4)
    assert one.n_rows == 50 and len(set(one.ice_rows.tolist())) == 50
    assert np.array_equal(one.average, two.average) and np.array_equal(one.ice_rows, two.ice_rows)
    assert not np.array_equal(one.ice_rows, other.ice_rows)
    assert np.allclose(one.average, one.ice.mean(axis=0))
    assert np.allclose(one.average, np.log1p(one.grid) + X["b"].to_numpy()[one.ice_rows].mean())


def test_integer_column_grid_is_whole_numbers_cast_back_and_few_values_are_used_as_they_are():
    X = _frame()
    seen = []

    def predict(f):
        seen.append(f.schema["k"])
        return f["k"].to_numpy() * 1.0

    dep = partial_dependence(predict, X, "k", grid_size=5)
    assert seen == [pl.Int64]
    assert np.array_equal(dep.grid, np.unique(np.rint(np.quantile(X["k"].to_numpy(), np.linspace(.05, .95, 5)))))
    assert np.allclose(dep.average, dep.grid)  # the model saw exactly the grid values
    few = partial_dependence(predict, X, "c", grid_size=20)
    assert few.grid.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_grid_override_and_frames():
    X = _frame(30)
    dep = partial_dependence(_log_a_plus_b, X, "a", grid=[1.0, 2.0, 5.0], ice_rows=4)
    assert dep.grid.tolist() == [1.0, 2.0, 5.0]
    frame = dep.to_frame()
    assert frame.columns == ["feature", "value", "label", "average"]
    assert frame["label"].null_count() == 3 and frame["feature"].to_list() == ["a"] * 3
    ice = dep.ice_frame()
    assert ice.columns == ["row", "value", "prediction"] and ice.height == 4 * 3
    assert set(ice["row"].to_list()) == set(dep.ice_rows.tolist())
    first = ice.filter(pl.col("row") == int(dep.ice_rows[0]))
    assert np.allclose(first["prediction"].to_numpy(), dep.ice[0])


# (b) a kit LightGBM ------------------------------------------------------------------------

def test_lightgbm_pd_rises_with_the_signal_and_is_flat_in_noise():
    from kit.models import LightGBMRegressor

    rng = np.random.default_rng(1)
    X = pl.DataFrame({"a": rng.uniform(0, 1, 400), "noise": rng.normal(size=400)})
    y = 2 * X["a"].to_numpy() + rng.normal(scale=0.05, size=400)
    model = LightGBMRegressor(n_estimators=100, n_jobs=1).fit(X, y)
    in_a = partial_dependence(model.predict, X, "a", grid_size=10)
    in_noise = partial_dependence(model.predict, X, "noise", grid_size=10)
    assert np.all(np.diff(in_a.average) >= -1e-3)
    span_a = np.ptp(in_a.average)
    assert span_a > 1.2  # 2 * (q95 - q05) of U(0, 1) = 1.8, shrunk a little by the trees
    assert np.ptp(in_noise.average) < 0.1 * span_a


# (c) agreement with scikit-learn -----------------------------------------------------------

def test_average_equals_sklearn_brute_partial_dependence_on_the_same_grid():
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.inspection import partial_dependence as sk_pd

    rng = np.random.default_rng(2)
    M = rng.normal(size=(150, 3))
    y = M[:, 0] ** 2 + M[:, 1] * M[:, 2]
    est = GradientBoostingRegressor(n_estimators=20, max_depth=2, random_state=0).fit(M, y)
    X = pl.from_numpy(M, schema=["x0", "x1", "x2"])
    for j in (0, 1):
        dep = partial_dependence(lambda f: est.predict(f.to_numpy()), X, f"x{j}", grid_size=7, max_rows=1000)
        ref = sk_pd(est, M, [j], custom_values={j: dep.grid}, kind="average", method="brute")
        assert np.allclose(ref["grid_values"][0], dep.grid)
        assert np.allclose(ref["average"][0], dep.average, rtol=1e-10, atol=1e-12)


# (d) categorical ---------------------------------------------------------------------------

def test_categorical_grid_is_the_most_frequent_codes_sorted_with_labels_and_missing():
    codes = [0] * 3 + [1] * 5 + [2] * 1 + [3] * 4 + [4] * 2
    X = pl.DataFrame({"g": codes, "b": np.arange(15.0)})
    effect = np.array([-1.0, 10.0, 20.0, 30.0, 40.0])

    def predict(f):
        return effect[f["g"].to_numpy()] + f["b"].to_numpy()

    dep = partial_dependence(predict, X, "g", grid_size=3, categorical=True, levels=["red", "green", "blue", "grey"])
    assert dep.grid.tolist() == [0.0, 1.0, 3.0]  # counts 5, 4, 3 beat 2 and 1
    assert dep.labels == ("missing", "red", "blue") and dep.categorical
    assert np.allclose(dep.average, effect[[0, 1, 3]] + 7.0)
    assert dep.to_frame()["label"].to_list() == ["missing", "red", "blue"]
    plain = partial_dependence(predict, X, "g", grid_size=10, categorical=True)
    assert plain.labels == ("missing", "1", "2", "3", "4")


def test_categorical_codes_beyond_the_levels_are_refused():
    X = pl.DataFrame({"g": [0, 1, 2, 5]})
    with pytest.raises(KitError, match=r"feature 'g' has code 5 but levels has only 2 entries \(codes 1..2\)"):
        partial_dependence(lambda f: np.zeros(f.height), X, "g", categorical=True, levels=["x", "y"])


# (e) two-way -------------------------------------------------------------------------------

def test_2d_average_is_exact_for_an_additive_function_plus_an_interaction():
    X = _frame(60)

    def predict(f):
        a, b, k = (f[c].to_numpy().astype(float) for c in ("a", "b", "k"))
        return a ** 2 + 3 * b + a * b + k

    predict = _Counting(predict)
    dep = partial_dependence_2d(predict, X, "a", "c", grid_size=4, categorical=(False, True), levels=(None, "pqr"))
    assert predict.calls == [4 * 4 * 60]
    assert dep.average.shape == (4, 4) and dep.features == ("a", "c")
    assert dep.grid_b.tolist() == [0.0, 1.0, 2.0, 3.0] and dep.labels_b == ("missing", "p", "q", "r")
    b, k = X["b"].to_numpy(), X["k"].to_numpy()
    want = dep.grid_a[:, None] ** 2 + 3 * b.mean() + dep.grid_a[:, None] * b.mean() + k.mean()
    assert np.allclose(dep.average, np.broadcast_to(want, (4, 4)))  # c plays no part

    dep = partial_dependence_2d(predict, X, "a", "b", grid_size=3)
    a_i, b_j = dep.grid_a[:, None], dep.grid_b[None, :]
    assert np.allclose(dep.average, a_i ** 2 + 3 * b_j + a_i * b_j + k.mean())
    frame = dep.to_frame()
    assert frame.height == 9 and {"a", "b", "average"} <= set(frame.columns)
    row = frame.filter((pl.col("a") == dep.grid_a[2]) & (pl.col("b") == dep.grid_b[1]))
    assert row["average"].item() == pytest.approx(dep.average[2, 1])


# (f) errors --------------------------------------------------------------------------------

def _zero(f):
    return np.zeros(f.height)


@pytest.mark.parametrize(("call", "message"), [
    (lambda X: partial_dependence(_zero, X, "zz"),
     r"feature 'zz' is not a column of X \(4 columns: a, b, k, c\); pass one of those"),
    (lambda X: partial_dependence(_zero, X, "a", grid_size=1), r"grid_size must be at least 2 .*, got 1"),
    (lambda X: partial_dependence_2d(_zero, X, "a", "a"), r"two different features, got 'a' twice"),
    (lambda X: partial_dependence_2d(_zero, X, "a", "zz"), r"feature 'zz' is not a column of X"),
    (lambda X: partial_dependence(_zero, X.with_columns(pl.lit(None, pl.Float64).alias("a")), "a"),
     r"feature 'a' is null in all 10 rows"),
    (lambda X: partial_dependence(_zero, X.with_columns(pl.lit(float("nan")).alias("a")), "a"),
     r"feature 'a' is null in all 10 rows"),
    (lambda X: partial_dependence(_zero, X.with_columns(pl.lit("x").alias("a")), "a"),
     r"feature 'a' is String, not numbers"),
    (lambda X: partial_dependence(lambda f: np.zeros(3), X, "a"),
     r"predict must return one number per row \(\d+,\), got shape \(3,\)"),
    (lambda X: partial_dependence(_zero, X, "k", grid=[1.5]), r"grid= must be whole numbers, got \[1.5\]"),
    (lambda X: partial_dependence(_zero, X, "a", max_rows=0), r"max_rows must be at least 1, got 0"),
])
def test_errors_state_the_rule_the_values_and_the_fix(call, message):
    with pytest.raises(KitError, match=message):
        call(_frame(10))


# plots -------------------------------------------------------------------------------------

def test_plots_are_figures_with_one_panel_per_feature():
    from matplotlib.figure import Figure

    X = _frame(40)
    deps = [partial_dependence(_log_a_plus_b, X, f, grid_size=4, ice_rows=5) for f in ("a", "b", "k")]
    deps.append(partial_dependence(_log_a_plus_b, X, "c", categorical=True, levels=["one", "two", "three"]))
    fig = plot_dependence(deps, ylabel="prediction", centred=True)
    assert isinstance(fig, Figure)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == ["a", "b", "k", "c"]
    assert [t.get_text() for t in shown[3].get_xticklabels()] == ["missing", "one", "two", "three"]
    assert np.allclose(shown[0].lines[-1].get_ydata(), deps[0].average - deps[0].average[0])
    heat = plot_dependence_2d(partial_dependence_2d(_log_a_plus_b, X, "a", "b", grid_size=3), zlabel="prediction")
    assert isinstance(heat, Figure) and "a and b" in heat.axes[0].get_title()
    with pytest.raises(KitError, match="draws 1..12 features in one figure, got 0"):
        plot_dependence([], ylabel="y")


def test_dependence_is_frozen():
    dep = partial_dependence(_log_a_plus_b, _frame(10), "a", grid_size=3)
    assert isinstance(dep, Dependence)
    with pytest.raises(AttributeError):
        dep.feature = "b"
