"""The estimator contract, run over every model x task (and the forest's LightGBM path)."""

from __future__ import annotations

import pickle

import numpy as np
import polars as pl
import pytest
from sklearn.base import clone, is_classifier, is_regressor

from kit.errors import KitError
from kit.models import MODELS, TASKS, make_model

from model_cases import FAST, synthetic

#: (registry name, extra params) for every model path the kit ships
PATHS = {
    "rf": ("rf", {}),
    "rf-lightgbm": ("rf", {"backend": "lightgbm", "device": "cpu"}),
    "lgbm": ("lgbm", {}),
    "nn": ("nn", {}),
}
CASES = [(path, task) for path in PATHS for task in TASKS]


def make(path: str, task: str, **extra):
    name, params = PATHS[path]
    return make_model(name, task, cat_features=["shop", "color"], **FAST[name], **params, **extra)


def outputs(model, task, X) -> np.ndarray:
    return model.predict(X) if task == "regression" else model.predict_proba(X)


@pytest.fixture(scope="module")
def fitted():
    """Each (path, task) fitted once on its synthetic data."""
    out = {}
    for path, task in CASES:
        d = synthetic(task)
        out[path, task] = (make(path, task).fit(d.X, d.y), d)
    return out


def test_every_registered_model_is_covered():
    # the table models run here; the image model (cnn) runs the same contract in test_cnn.py
    assert {PATHS[p][0] for p in PATHS} == {name for name, entry in MODELS.items() if entry.inputs == "table"}
    assert {name for name, entry in MODELS.items() if entry.inputs == "images"} == {"cnn"}


@pytest.mark.parametrize("path,task", CASES)
def test_clone_copies_params_not_state(fitted, path, task):
    model, _ = fitted[path, task]
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert not hasattr(twin, "schema_")
    assert is_classifier(model) == (task != "regression")
    assert is_regressor(model) == (task == "regression")


@pytest.mark.parametrize("path,task", CASES)
def test_same_seed_same_predictions(fitted, path, task):
    model, d = fitted[path, task]
    again = clone(model).fit(d.X, d.y)
    np.testing.assert_allclose(outputs(again, task, d.X_valid), outputs(model, task, d.X_valid), rtol=0, atol=1e-6)


@pytest.mark.parametrize("path", ["rf", "rf-lightgbm", "nn"])
def test_another_seed_other_predictions(fitted, path):
    # the seed reaches the randomness (LightGBM's boosting here has none: no bagging)
    model, d = fitted[path, "regression"]
    other = clone(model).set_params(random_state=1).fit(d.X, d.y)
    assert not np.allclose(other.predict(d.X_valid), model.predict(d.X_valid))


@pytest.mark.parametrize("path,task", CASES)
def test_output_shapes_and_probabilities(fitted, path, task):
    model, d = fitted[path, task]
    n = d.X_valid.height
    pred = model.predict(d.X_valid)
    if task == "regression":
        assert pred.shape == (n,) and np.isfinite(pred).all()
        return
    proba = model.predict_proba(d.X_valid)
    if task == "binary":
        assert proba.shape == (n, 2)
        np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-9)
        assert pred.shape == (n,)
        np.testing.assert_array_equal(pred, (proba[:, 1] >= 0.5).astype(int))
    else:
        assert proba.shape == (n, 3) and pred.shape == (n, 3)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert set(np.unique(pred)) <= {0, 1}


@pytest.mark.parametrize("path,task", CASES)
def test_learns_the_signal(fitted, path, task):
    model, d = fitted[path, task]
    if task == "regression":
        base = np.mean((d.y_valid - d.y.mean()) ** 2)
        assert np.mean((model.predict(d.X_valid) - d.y_valid) ** 2) < 0.6 * base
    else:
        # accuracy against always predicting each label's majority
        majority = (d.y.mean(0) >= 0.5).astype(int)
        base = np.mean(d.y_valid == majority)
        assert np.mean(model.predict(d.X_valid) == d.y_valid) > base + 0.1


@pytest.mark.parametrize("path,task", CASES)
def test_column_order_pandas_numpy_and_pickle(fitted, path, task):
    model, d = fitted[path, task]
    want = outputs(model, task, d.X_valid)
    np.testing.assert_allclose(outputs(model, task, d.X_valid.select(reversed(d.X_valid.columns))), want)
    np.testing.assert_allclose(outputs(model, task, d.X_valid.to_pandas()), want)
    np.testing.assert_allclose(outputs(pickle.loads(pickle.dumps(model)), task, d.X_valid), want)


@pytest.mark.parametrize("path", PATHS)
def test_unseen_and_missing_categories_predict(fitted, path):
    model, d = fitted[path, "regression"]
    X = d.X_valid.head(3).with_columns(pl.Series("shop", [99, None, 3]), pl.Series("color", ["mauve", None, "red"]))
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("path,task", CASES)
def test_fit_leaves_inputs_alone(path, task):
    d = synthetic(task, n=120)
    X_np = d.X.select("shop", "x1", "x2").to_numpy()
    X_before, y_before = X_np.copy(), d.y.copy()
    name, params = PATHS[path]
    make_model(name, task, cat_features=[0], **FAST[name], **params).fit(X_np, d.y)
    np.testing.assert_array_equal(X_np, X_before)
    np.testing.assert_array_equal(d.y, y_before)


# -- bad input: one clear KitError each -------------------------------------------------------

@pytest.mark.parametrize("path,task", CASES)
def test_wrong_columns_at_predict(fitted, path, task):
    model, d = fitted[path, task]
    with pytest.raises(KitError, match=r"lacks column 'x2'; pass the same feature columns"):
        model.predict(d.X_valid.drop("x2"))
    with pytest.raises(KitError, match=r"has column 'extra' that fit did not see"):
        model.predict(d.X_valid.with_columns(extra=pl.lit(1.0)))


@pytest.mark.parametrize("path,task", CASES)
def test_nan_target(path, task):
    d = synthetic(task, n=60)
    y = d.y.astype(np.float64)
    y[[3, 7]] = np.nan
    with pytest.raises(KitError, match=r"y has 2 rows with NaN or infinite targets; drop those rows"):
        make(path, task).fit(d.X, y)


@pytest.mark.parametrize("path,task", CASES)
def test_wrong_target_shape(path, task):
    d = synthetic(task, n=60)
    with pytest.raises(KitError, match=r"y has 59 rows but X has 60"):
        make(path, task).fit(d.X, d.y[:-1])
    if task == "regression":
        with pytest.raises(KitError, match=r"must be one column of numbers, got shape \(60, 2\)"):
            make(path, task).fit(d.X, np.column_stack([d.y, d.y]))
    else:
        bad = d.y.copy()
        bad[0] = 2 if bad.ndim == 1 else bad[0]
        if bad.ndim == 2:
            bad[0, 0] = 2
        with pytest.raises(KitError, match=r"must hold only 0 and 1 .* but it has \[2\.0\]"):
            make(path, task).fit(d.X, bad)


@pytest.mark.parametrize("path", PATHS)
def test_undeclared_text_column_and_unknown_cat_feature(path):
    d = synthetic("regression", n=60)
    name, params = PATHS[path]
    with pytest.raises(KitError, match=r"non-numeric columns not declared categorical \('color' is String\)"):
        make_model(name, "regression", cat_features=["shop"], **FAST[name], **params).fit(d.X, d.y)
    with pytest.raises(KitError, match=r"cat_features names 'colour', which is not a column of X"):
        make_model(name, "regression", cat_features=["colour"], **FAST[name], **params).fit(d.X, d.y)


def test_predict_before_fit_and_registry_errors():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make_model("lgbm", "regression").predict(np.zeros((2, 2)))
    with pytest.raises(KitError, match=r"unknown model 'xgb'; known models: rf, lgbm, nn, cnn"):
        make_model("xgb", "regression")
    with pytest.raises(KitError, match=r"task must be one of regression, binary, multilabel, got 'multiclass'"):
        make_model("rf", "multiclass")
    with pytest.raises(KitError, match=r"ForestRegressor has no hyperparameter 'n_trees'; it takes .*n_estimators"):
        make_model("rf", "regression", n_trees=10)
