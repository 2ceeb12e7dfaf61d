"""The stages after feature code, one module each:

    folds.py      make, save and load the competition's folds (computed once, shared by every model)
    cv.py         cross_validate(estimator, X, y, folds, X_test): the one fold engine
    train.py      one model of a competition on its folds, scored by its metric: `kit train`
    artifacts.py  the run folder: one writer, one reader
    blend.py      weights fitted out of fold: `kit blend`
    pipeline.py   twin -> adversarial -> models -> blend -> submission -> score: `kit run`

    folds  = load_folds(comp, prepared, runs_dir)
    run    = train(comp, prepared, folds, "lgbm", runs_dir / "lgbm")
    blend  = blend_runs(comp, prepared, [run.path, other.path], runs_dir / "blend")
    kit.submission.write_submission(comp.spec, folder, prepared, blend.test, "sub.csv", blend.thresholds)
"""

from kit.runs.artifacts import RunResult, read_config, read_run, write_run
from kit.runs.blend import blend_runs, ensemble_selection, ranks
from kit.runs.cv import CVResult, choose_round, cross_validate, predict, take
from kit.runs.folds import Folds, ValidationPlan, load_folds, make_folds, plan_validation, read_folds, save_folds
from kit.runs.pipeline import RunSummary, StepTime, run_all
from kit.runs.train import (build_model, fit_folds, metric_of, model_params, oof_score, refit_rounds,
                             refit_with_round, score_rows, stop_split, train)

__all__ = [
    "RunResult", "read_config", "read_run", "write_run", "blend_runs", "ensemble_selection", "ranks",
    "CVResult", "cross_validate", "predict", "take", "Folds", "ValidationPlan", "plan_validation", "load_folds", "make_folds", "read_folds",
    "save_folds", "RunSummary", "StepTime", "run_all", "build_model", "fit_folds", "metric_of", "model_params",
    "refit_with_round", "refit_rounds", "choose_round",
    "oof_score", "score_rows", "stop_split", "train",
]
