"""Models behind one interface: random forest, LightGBM, entity-embedding network; a CNN for images.

Every model is a scikit-learn estimator (a Regressor and a Classifier class each; the
classifier takes a binary 0/1 vector or a multilabel (n, k) 0/1 matrix), fits on polars or
pandas frames, numpy matrices or kit.tabular.Processed objects, and is seeded by random_state.
`make_model(name, task, **params)` picks the class for a competition's task:

>>> type(make_model("lgbm", "binary", n_estimators=50)).__name__
'LightGBMClassifier'

Importing this package loads scikit-learn's base classes only; torch and LightGBM load when a
model is fitted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kit.errors import KitError
from kit.models._base import FitProgress, KitEstimator, TabularModel
from kit.models.cnn import CNNClassifier
from kit.models.embedding import EmbeddingNetClassifier, EmbeddingNetRegressor
from kit.models.forest import ForestClassifier, ForestPrediction, ForestRegressor
from kit.models.gbm import LightGBMClassifier, LightGBMRegressor

TASKS = ("regression", "binary", "multilabel")


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its classes by kind of target."""

    #: None for a model without a regression form (the CNN)
    regressor: type[TabularModel] | None
    classifier: type[TabularModel] | type[CNNClassifier]
    #: one line for listings
    description: str
    #: the tasks it fits
    tasks: tuple[str, ...] = TASKS
    #: what X is: "table" (frames, matrices, Processed objects) or "images" (paths or uint8 arrays)
    inputs: str = "table"
    #: its fit weighs rows (sample_weight); the others refuse weights
    sample_weight: bool = True
    #: it trains with torch, whose threads a run caps to --threads
    torch: bool = False
    #: its fit chooses something on eval_set (the round, the epoch), so a run gives it rows of
    #: its own training part, never the rows that score it
    stops_early: bool = True
    #: it splits a categorical column as a set of categories (LightGBM), so ordered categories
    #: (date parts) go in as numbers instead; see `categorical_for`
    set_splits: bool = False
    #: it records its eval_set loss per round and can predict at another round (`curves_`,
    #: `set_rounds`), so with several folds each is scored at the round the others chose
    nested_rounds: bool = False

    def for_task(self, task: str) -> type[TabularModel] | type[CNNClassifier]:
        if task not in TASKS:
            raise KitError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if task not in self.tasks:
            raise KitError(f"{self.classifier.__name__} does not fit {task} targets; it fits {', '.join(self.tasks)}")
        return self.regressor if task == "regression" else self.classifier


MODELS: dict[str, ModelEntry] = {
    "rf": ModelEntry(ForestRegressor, ForestClassifier,
                     "random forest (scikit-learn; LightGBM's rf mode on a GPU)", stops_early=False),
    "lgbm": ModelEntry(LightGBMRegressor, LightGBMClassifier,
                       "LightGBM gradient boosting, early stopping, native categorical splits",
                       set_splits=True, nested_rounds=True),
    "nn": ModelEntry(EmbeddingNetRegressor, EmbeddingNetClassifier,
                     "entity-embedding network (torch; CUDA when available)", sample_weight=False, torch=True),
    "cnn": ModelEntry(None, CNNClassifier,
                      "small ResNet on images (torch; CUDA when available), D4 augmentation and TTA, F2 thresholds",
                      tasks=("multilabel",), inputs="images", sample_weight=False, torch=True),
}


def categorical_for(name: str, cat_features: Sequence[str], ordered: Sequence[str] = ()) -> list[str]:
    """The columns model `name` treats as categories: `cat_features`, less the `ordered` ones
    (codes with a natural order, like date parts) for a model that splits categories as sets.

    >>> categorical_for("lgbm", ["Store", "Date_month"], ["Date_month"])
    ['Store']
    >>> categorical_for("nn", ["Store", "Date_month"], ["Date_month"])
    ['Store', 'Date_month']
    """
    if name in MODELS and MODELS[name].set_splits:
        skip = set(ordered)
        return [c for c in cat_features if c not in skip]
    return list(cat_features)


def make_model(name: str, task: str, **params) -> TabularModel:
    """A fresh model `name` ("rf", "lgbm", "nn", "cnn") for `task` with `params` as hyperparameters.

    An unknown hyperparameter is an error naming the ones the model takes.
    """
    if name not in MODELS:
        raise KitError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    cls = MODELS[name].for_task(task)
    allowed = cls().get_params()
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise KitError(f"{cls.__name__} has no hyperparameter {', '.join(map(repr, unknown))}; "
                       f"it takes {', '.join(sorted(allowed))}")
    return cls(**params)


__all__ = [
    "MODELS", "TASKS", "ModelEntry", "make_model", "categorical_for", "FitProgress", "KitEstimator", "ForestRegressor", "ForestClassifier", "ForestPrediction",
    "LightGBMRegressor", "LightGBMClassifier", "EmbeddingNetRegressor", "EmbeddingNetClassifier", "CNNClassifier",
]
