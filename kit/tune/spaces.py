"""Search spaces: one function per model that draws its hyperparameters from an Optuna trial.

Each returns keyword arguments of the model's estimator, drawn on top of the competition's
defaults (competitions/<name>/features.py MODELS). A value the user fixes with --param is
not searched: the study's sampler is wrapped in Optuna's PartialFixedSampler (kit.tune.storage),
so `trial.suggest_*` returns the fixed value; `check_fixed` says beforehand whether the search
can hold each fixed value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kit.errors import KitError

__all__ = ["SPACES", "space_lgbm", "space_rf", "space_nn", "space_cnn", "search_space", "check_fixed"]


def space_lgbm(trial) -> dict:
    """Leaves, rate, leaf size, row and column sampling, L2 and categorical smoothing; the
    round count is left to early stopping."""
    return {
        "num_leaves": trial.suggest_int("num_leaves", 7, 255, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 500, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
    }


def space_rf(trial) -> dict:
    """Features per split and leaf size (fast.ai's two knobs); tree count and row sampling stay."""
    return {
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 50, log=True),
    }


def space_nn(trial) -> dict:
    """Two hidden layers (width, half width), their dropout, embedding dropout, rate, decay."""
    width = trial.suggest_int("width", 64, 1024, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    return {
        "layers": (width, max(8, width // 2)),
        "dropout": (dropout, dropout),
        "emb_dropout": trial.suggest_float("emb_dropout", 0.0, 0.5),
        "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 0.3, log=True),
    }


def space_cnn(trial) -> dict:
    """Width of the ResNet, rate and decay; image size and epochs stay (they set the cost)."""
    return {
        "width": trial.suggest_categorical("width", [16, 24, 32]),
        "lr": trial.suggest_float("lr", 1e-3, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 0.1, log=True),
    }


SPACES: dict[str, Callable[[Any], dict]] = {"lgbm": space_lgbm, "rf": space_rf, "nn": space_nn, "cnn": space_cnn}


def search_space(model: str) -> dict:
    """The Optuna distribution of each searched name of `model`'s space (drawn once, in memory)."""
    import optuna

    from kit.tune.storage import quiet_optuna

    quiet_optuna()
    trial = optuna.create_study().ask()
    SPACES[model](trial)
    return dict(trial.distributions)


def check_fixed(model: str, fixed: Mapping[str, Any]) -> list[str]:
    """Check that the search can hold each fixed value of one of its names (a categorical
    name only its choices); returns a note for each number outside the searched range (used as
    given). A fixed key the space does not search is not checked: it reaches the model as is.

    >>> check_fixed("lgbm", {"num_leaves": 31, "n_estimators": 300})
    []
    >>> check_fixed("lgbm", {"num_leaves": 1000})
    ['--param num_leaves=1000 is outside the searched range [7, 255]: every trial uses it as given']
    """
    from optuna.distributions import CategoricalDistribution

    notes = []
    for name, dist in search_space(model).items():
        if name not in fixed:
            continue
        value = fixed[name]
        if isinstance(dist, CategoricalDistribution):
            if value not in dist.choices:
                raise KitError(f"--param {name}={value!r}: the {model} search draws {name} from "
                               f"{list(dist.choices)}; fix it to one of those, or leave it out to search it")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise KitError(f"--param {name}={value!r}: the {model} search draws {name} as a number in "
                           f"[{dist.low}, {dist.high}]; give a number (e.g. --param {name}={dist.low})")
        if not dist.low <= value <= dist.high:
            notes.append(f"--param {name}={value} is outside the searched range [{dist.low}, {dist.high}]: "
                         "every trial uses it as given")
    return notes
