"""Permutation importance against hand computations: a signal column's drop, a noise column's
zero, the sign under greater_is_better, seeds, errors, and the plot."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from kit import progress
from kit.errors import KitError
from kit.explain.importance import Importance, Part, permutation_importance, plot_importance


def _mse_part(x0: np.ndarray, noise: np.ndarray) -> Part:
    X = pl.DataFrame({"x0": x0, "noise": noise})
    y = 3 * x0
    return Part(predict=lambda f: 3 * f["x0"].to_numpy(), X=X, score=lambda p: float(np.mean((p - y) ** 2)))


@pytest.fixture
def parts() -> list[Part]:
    rng = np.random.default_rng(42)
    return [_mse_part(rng.normal(size=1500), rng.normal(size=1500)) for _ in range(2)]


def _drop(imp: Importance, feature: str) -> float:
    return imp.table.filter(pl.col("feature") == feature)["drop_mean"].item()


def test_signal_drop_matches_hand_computation_and_noise_is_zero(parts):
    imp = permutation_importance(parts, metric="mse", greater_is_better=False, n_repeats=3)
    # shuffled MSE = 9 mean((x0 - x0_shuffled)^2) ~ 18 var(x0); the base MSE is 0
    expected = np.mean([18 * p.X["x0"].var() for p in parts])
    assert imp.base_score == 0.0
    assert _drop(imp, "x0") == pytest.approx(expected, rel=0.15)
    assert abs(_drop(imp, "noise")) < 0.01 * _drop(imp, "x0")
    assert imp.table["feature"].to_list() == ["x0", "noise"]
    assert imp.n_rows == 3000 and imp.n_repeats == 3
    assert imp.table["drop_std"].to_list()[1] == 0.0


def test_drop_exact_for_one_known_shuffle():
    # three rows, one repeat: the drop is exactly the MSE of the seeded shuffle
    x0 = np.array([0.0, 1.0, 2.0])
    part = _mse_part(x0, np.zeros(3))
    imp = permutation_importance([part], metric="mse", greater_is_better=False, n_repeats=1, seed=7)
    perm = np.random.default_rng(7).permutation(3)
    assert _drop(imp, "x0") == pytest.approx(9 * np.mean((x0 - x0[perm]) ** 2))
    assert imp.table["drop_std"].null_count() == 2  # one repeat: no spread to report


def test_greater_is_better_flips_the_sign(parts):
    lower = permutation_importance(parts, metric="mse", greater_is_better=False, n_repeats=2)
    neg = [Part(p.predict, p.X, (lambda s: lambda pred: -s(pred))(p.score)) for p in parts]
    higher = permutation_importance(neg, metric="neg_mse", greater_is_better=True, n_repeats=2)
    assert _drop(higher, "x0") == pytest.approx(_drop(lower, "x0"))
    assert _drop(higher, "x0") > 0
    # the same score read with the wrong direction says shuffling helps
    wrong = permutation_importance(parts, metric="mse", greater_is_better=True, n_repeats=2)
    assert _drop(wrong, "x0") == pytest.approx(-_drop(lower, "x0"))


def test_same_seed_same_table_and_inputs_untouched(parts):
    before = [p.X.clone() for p in parts]
    a = permutation_importance(parts, metric="mse", greater_is_better=False, seed=3)
    b = permutation_importance(parts, metric="mse", greater_is_better=False, seed=3)
    c = permutation_importance(parts, metric="mse", greater_is_better=False, seed=4)
    assert a.table.equals(b.table)
    assert not a.table.equals(c.table)
    assert all(p.X.equals(x) for p, x in zip(parts, before))


def test_dtype_kept_and_one_predict_per_feature_repeat_part():
    seen = []
    X = pl.DataFrame({"i": pl.Series([1, 2, 3, 4], dtype=pl.Int16), "c": pl.Series(list("abab"), dtype=pl.Categorical)})

    def predict(f: pl.DataFrame) -> np.ndarray:
        seen.append(f.schema)
        return f["i"].cast(pl.Float64).to_numpy()

    parts = [Part(predict, X, lambda p: float(p.sum()))] * 2
    permutation_importance(parts, metric="s", greater_is_better=True, n_repeats=3)
    assert len(seen) == 2 + 2 * 3 * 2  # base per part, then feature x repeat x part
    assert all(s == X.schema for s in seen)


def test_model_importance_and_serialisation(parts):
    imp = permutation_importance(parts, metric="mse", greater_is_better=False, n_repeats=2,
                                 model_importance={"x0": 90.0, "unused": 1.0})
    assert imp.table.schema["model_importance"] == pl.Float64
    assert imp.table["model_importance"].to_list() == [90.0, None]
    assert imp.to_frame().columns == ["feature", "drop_mean", "drop_std", "model_importance"]
    d = json.loads(json.dumps(imp.to_dict()))
    assert d["features"][0]["feature"] == "x0" and d["greater_is_better"] is False


def test_features_subset_and_log(parts, monkeypatch):
    monkeypatch.setattr(progress, "EVERY", 0.0)
    lines = []
    imp = permutation_importance(parts, metric="mse", greater_is_better=False, n_repeats=2,
                                 features=["noise"], log=lines.append)
    assert imp.table["feature"].to_list() == ["noise"]
    assert lines and lines[0].startswith("permutation importance: 0/1 features")


def test_errors(parts):
    with pytest.raises(KitError, match="at least one part"):
        permutation_importance([], metric="mse", greater_is_better=False)
    with pytest.raises(KitError, match="n_repeats must be at least 1, got 0"):
        permutation_importance(parts, metric="mse", greater_is_better=False, n_repeats=0)
    with pytest.raises(KitError, match=r"feature 'x9' is not a column of part 0's X \(2 columns: x0, noise\)"):
        permutation_importance(parts, metric="mse", greater_is_better=False, features=["x0", "x9"])
    other = Part(parts[0].predict, parts[0].X.drop("noise"), parts[0].score)
    with pytest.raises(KitError, match="feature 'noise' is not a column of part 1's X"):
        permutation_importance([parts[0], other], metric="mse", greater_is_better=False)


def test_plot_has_two_panels_and_says_when_no_model_importance(parts, tmp_path):
    from matplotlib.figure import Figure

    imp = permutation_importance(parts, metric="rmspe", greater_is_better=False, n_repeats=2)
    fig = plot_importance(imp, top=1)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    left, right = fig.axes
    assert "drop in RMSPE when shuffled" in left.get_xlabel()
    assert [t.get_text() for t in left.get_yticklabels()] == ["x0"]
    assert any("no built-in importance" in t.get_text() for t in right.texts)
    with_model = permutation_importance(parts, metric="mse", greater_is_better=False, n_repeats=2,
                                        model_importance={"x0": 3.0, "noise": 1.0})
    plot_importance(with_model).savefig(tmp_path / "imp.png", dpi=50)
    assert (tmp_path / "imp.png").stat().st_size > 0


def test_plot_top_must_be_positive(parts):
    imp = permutation_importance(parts, metric="mse", greater_is_better=False, n_repeats=1)
    with pytest.raises(KitError, match="at least 1, got 0"):
        plot_importance(imp, top=0)
