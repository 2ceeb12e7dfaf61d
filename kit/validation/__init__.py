"""Validation: splitters that mimic the test set, and adversarial validation.

    splits.py              KFold, StratifiedKFold, GroupKFold, MultilabelStratifiedKFold (and the
                           time splitters re-exported), default_splitter, fold_ids
    time_splits.py         TimeHoldout, WalkForward: validate on the future, by date ranges
    adversarial.py         run_adversarial / AdversarialConfig: can a classifier tell train from test?
    adversary.py           its classifier (LightGBM as a scikit-learn estimator)
    drift.py               drift statistics (KS, total variation), encoding, columns derived from the date
    adversarial_report.py  the report, its plot and files
"""

from kit.validation.adversarial import AdversarialConfig, AdversarialReport, adversarial_for, run_adversarial
from kit.validation.splits import (
    GroupKFold,
    KFold,
    MultilabelStratifiedKFold,
    StratifiedKFold,
    TimeHoldout,
    TimeWindow,
    WalkForward,
    default_splitter,
    fold_ids,
)

__all__ = [
    "AdversarialConfig",
    "AdversarialReport",
    "adversarial_for",
    "run_adversarial",
    "GroupKFold",
    "KFold",
    "MultilabelStratifiedKFold",
    "StratifiedKFold",
    "TimeHoldout",
    "TimeWindow",
    "WalkForward",
    "default_splitter",
    "fold_ids",
]
