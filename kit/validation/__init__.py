"""Validation: splitters that mimic the test set, and adversarial validation."""

from kit.validation.adversarial import AdversarialReport, adversarial_for, run_adversarial
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
