"""Per-feature contributions of tree models: each prediction split into a bias plus one share per
feature, summing exactly to it (what `kit explain` draws as one row's waterfall).

Two decompositions, both additive:

- the path decomposition (the "tree interpreter", Saabas) for scikit-learn trees: a row's bias
  is the root node's value, and each split on its path adds value[child] - value[parent] to the
  split feature. Per tree it is one sparse product, decision_path (rows x nodes) times the node
  deltas (nodes x features), so the work is a loop over trees, never over rows.
- TreeSHAP for LightGBM boosters, through LightGBM's own `predict(pred_contrib=True)`.

Every function returns (n, n_features + 1) float64 with the bias in the LAST column, the
layout LightGBM's pred_contrib uses.

>>> import numpy as np
>>> from sklearn.tree import DecisionTreeRegressor
>>> X = np.array([[0, 5], [0, 6], [1, 5], [1, 6]], np.float32)
>>> tree = DecisionTreeRegressor(max_depth=1).fit(X, [1.0, 1.0, 3.0, 3.0])
>>> path_contributions(tree, X, node_values(tree)).tolist()
[[-1.0, 0.0, 2.0], [-1.0, 0.0, 2.0], [1.0, 0.0, 2.0], [1.0, 0.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kit.errors import KitError


def node_values(tree: Any, *, positive_class: Any = None) -> np.ndarray:
    """What each node of a fitted scikit-learn tree predicts, (n_nodes,) float64.

    Regression: the node's (weighted) mean target. Classification (`positive_class` given, e.g.
    1): the node's share of that class. scikit-learn 1.4+ stores classifier values as weighted
    class fractions, older releases as counts; dividing by the row sum reads both. A class the
    tree never saw has probability 0 at every node.
    """
    value = np.asarray(tree.tree_.value, np.float64)
    if value.shape[1] != 1:
        raise KitError(f"contributions explain one output, but this tree has {value.shape[1]}; "
                       "explain one label at a time (fit a model on that label's column)")
    if positive_class is None:
        return value[:, 0, 0]
    hit = np.flatnonzero(np.asarray(tree.classes_) == positive_class)
    if not hit.size:
        return np.zeros(value.shape[0])
    counts = value[:, 0, :]
    return counts[:, hit[0]] / counts.sum(axis=1)


def path_contributions(tree: Any, X: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The path decomposition of one fitted scikit-learn tree on the float32 matrix X.

    Args:
        tree: a fitted DecisionTreeRegressor / DecisionTreeClassifier (or a forest's tree).
        X: (n, f) float32, the columns the tree was fitted on.
        values: (n_nodes,) what each node predicts (`node_values`).

    Returns:
        (n, f + 1): the contribution of each feature, then the bias (the root's value); a row
        sums to values[leaf of that row], which is the tree's prediction.
    """
    from scipy import sparse

    t = tree.tree_
    n_nodes, n_features = t.node_count, X.shape[1]
    left, right = t.children_left, t.children_right
    inner = np.flatnonzero(left >= 0)
    # each non-root node's parent, and so the feature whose split led to it
    children = np.concatenate([left[inner], right[inner]])
    parents = np.concatenate([inner, inner])
    delta = values[children] - values[parents]
    D = sparse.csr_matrix((delta, (children, t.feature[parents])), shape=(n_nodes, n_features))
    paths = tree.decision_path(np.ascontiguousarray(X, dtype=np.float32), check_input=False)
    out = np.empty((X.shape[0], n_features + 1))
    out[:, :n_features] = (paths @ D).toarray()
    out[:, n_features] = values[0]
    return out


def forest_contributions(trees: Sequence[Any], X: np.ndarray, *, positive_class: Any = None) -> np.ndarray:
    """The path decomposition averaged over a forest's trees: rows sum to the forest's mean
    prediction (regression) or mean P(positive_class) (classification), as predict_proba does."""
    if not trees:
        raise KitError("the forest has no trees; fit it before asking for contributions")
    total = np.zeros((X.shape[0], X.shape[1] + 1))
    for tree in trees:
        total += path_contributions(tree, X, node_values(tree, positive_class=positive_class))
    return total / len(trees)


def check_single_output(n_outputs: int, model: str) -> None:
    """A KitError for a multilabel model: its contributions would be one table per label."""
    if n_outputs != 1:
        raise KitError(f"contributions explain a single output, but this {model} has {n_outputs} labels; "
                       f"explain one label's model: fit the model on y[:, j] for label j")


def one_booster(boosters: Sequence[Any], model: str) -> Any:
    """The single booster of a one-output LightGBM model (a multilabel one has one per label)."""
    check_single_output(len(boosters), model)
    return boosters[0]


def booster_contributions(booster: Any, X: np.ndarray, *, num_iteration: int | None = None,
                          average: bool = False) -> np.ndarray:
    """TreeSHAP of a LightGBM booster on the matrix it was trained on (n, f + 1), bias last.

    Rows sum to the raw score: the prediction (regression) or the log-odds (binary). LightGBM's
    random-forest mode (boosting="rf") predicts the MEAN of its trees, but pred_contrib
    (LightGBM 4.7, checked in tests/explain/test_contributions.py) returns their SUM; with
    `average=True` it is divided by the number of trees used, so rows sum to the prediction
    again (the raw log-odds for a binary objective, which rf mode averages before the sigmoid).
    """
    out = np.asarray(booster.predict(X, num_iteration=num_iteration, pred_contrib=True), np.float64)
    if average:
        used = booster.current_iteration() if not num_iteration else min(num_iteration, booster.current_iteration())
        out = out / used
    return out


def contribution_scale(model: Any) -> str:
    """What a fitted kit tree model's `contributions` add up to: "prediction" (regressors),
    "probability of 1" (scikit-learn's forest classifier, whose trees average probabilities) or
    "log-odds of 1" (LightGBM classifiers, boosted or rf, whose trees add raw scores)."""
    from sklearn.base import is_classifier

    if not is_classifier(model):
        return "prediction"
    return "log-odds of 1" if hasattr(model, "boosters_") and getattr(model, "backend_", "lightgbm") == "lightgbm" \
        else "probability of 1"
