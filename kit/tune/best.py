"""The best trial's parameters: stored with the study as it goes, read back by `--params best`.

The best trial's model parameters are the study's user attribute `best_params` (and
`<runs>/tune/<study>/best_params.json`); `kit train/run --params best` read the study.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from kit.atomic import write_json
from kit.errors import KitError
from kit.spec import Competition
from kit.tune.storage import open_study

__all__ = ["record_best", "best_params", "best_params_for"]


def record_best(s, out_dir: Path | None = None) -> float | None:
    """Store the best trial's parameters with the study (and in out_dir/best_params.json);
    returns its value, None before any trial completes."""
    from optuna.trial import TrialState

    if not s.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    best = s.best_trial
    params = best.user_attrs.get("params", {})
    s.set_user_attr("best_params", params)
    s.set_user_attr("best_value", best.value)
    s.set_user_attr("best_trial", best.number)
    if out_dir is not None:
        write_json(Path(out_dir) / "best_params.json",
                   {"study": s.study_name, "trial": best.number, "value": best.value, "params": params})
    return best.value


def best_params(comp: Competition, model: str, runs_dir: str | os.PathLike, *, storage: str | None = None,
                study: str | None = None) -> dict:
    """The model parameters of the study's best trial (what `--params best` uses); a KitError
    when there is no such study or it has no complete trial."""
    s = open_study(comp, model, Path(runs_dir), storage=storage, study=study, create=False)
    stored = s.user_attrs.get("best_params")
    if stored is None:
        raise KitError(f"study {s.study_name!r} has no finished trial yet; run `kit tune {comp.spec.name} "
                       f"--model {model}` until one completes")
    if s.user_attrs.get("model", model) != model:
        raise KitError(f"study {s.study_name!r} tunes {s.user_attrs['model']}, not {model}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()}


def best_params_for(comp: Competition, models: Iterable[str], runs_dir: str | os.PathLike, *,
                    storage: str | None = None, study: str | None = None,
                    params: Mapping[str, Mapping] | None = None, log=print) -> dict[str, dict]:
    """`--params best` for several models: each model with a study starts from its best trial,
    under its explicit `params` (which win); a model without one keeps its defaults (one log
    line says why). `study` is a prefix: model M's study is PREFIX-M (default COMPETITION-M).

    Returns {model: params} for every model in `params` or with a study; `params` is not changed.
    """
    out = {m: dict(p) for m, p in (params or {}).items()}
    for model in models:
        try:
            best = best_params(comp, model, runs_dir, storage=storage,
                               study=f"{study}-{model}" if study else None)
        except KitError as err:
            log(f"--params best: {model} keeps its defaults ({err})")
            continue
        out[model] = {**best, **out.get(model, {})}
        log(f"--params best: {model} uses its study's best trial")
    return out
