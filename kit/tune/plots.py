"""Pictures of a study: history.png (each trial's value, the best so far) and importance.png."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kit.atomic import write_atomic

__all__ = ["plot_study"]


def plot_study(s, out_dir: Path, metric: str) -> tuple[Path, ...]:
    """history.png (each trial's value, pruned ones marked, the best so far) and
    importance.png (fANOVA parameter importances, with 3 or more complete trials); each
    written atomically, so workers of several commands may draw them at once."""
    from optuna.trial import TrialState

    trials = s.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if not done:
        return ()
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    out_dir = Path(out_dir)
    paths = [_history(s, done, pruned, out_dir / "history.png", metric)]
    if len(done) >= 3:
        importance = _importance(s, len(done), out_dir / "importance.png")
        if importance is not None:
            paths.append(importance)
    return tuple(paths)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _pyplot()
    try:
        return write_atomic(path, lambda p: fig.savefig(p, dpi=110))
    finally:
        plt.close(fig)


def _history(s, done: list, pruned: list, path: Path, metric: str) -> Path:
    maximize = s.direction.name == "MAXIMIZE"
    fig, ax = _pyplot().subplots(figsize=(8, 4.5))
    xs = [t.number for t in done]
    ys = [t.value for t in done]
    ax.scatter(xs, ys, s=18, color="#1f77b4", label="complete")
    if pruned:  # no final value to plot: a faint line at the trial's number
        ax.vlines([t.number for t in pruned], *ax.get_ylim(), colors="#d62728", alpha=0.2, label="pruned")
    order = np.argsort(xs)
    ys_sorted = np.asarray(ys)[order]
    best = np.maximum.accumulate(ys_sorted) if maximize else np.minimum.accumulate(ys_sorted)
    ax.step(np.asarray(xs)[order], best, where="post", color="#ff7f0e", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric.upper()} out of fold ({'higher' if maximize else 'lower'} is better)")
    ax.set_title(f"{s.study_name}: {len(done)} complete, {len(pruned)} pruned")
    ax.legend(loc="best")
    fig.tight_layout()
    return _save(fig, path)


def _importance(s, n_done: int, path: Path) -> Path | None:
    import optuna

    from optuna.trial import TrialState

    done = s.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    # a fixed (--param) name has one value in every trial: nothing to tell about it
    names = set.intersection(*(set(t.params) for t in done))
    varied = sorted(k for k in names if len({repr(t.params[k]) for t in done}) > 1)
    try:
        imp = optuna.importance.get_param_importances(s, params=varied) if varied else {}
    except (RuntimeError, ValueError):  # too few distinct values to tell
        imp = {}
    if not imp:
        return None
    names = list(imp)[::-1]
    fig, ax = _pyplot().subplots(figsize=(7, 0.4 * len(names) + 1.2))
    ax.barh(names, [imp[n] for n in names], color="#2ca02c")
    ax.set_xlabel("importance (fANOVA share of the variance of the objective)")
    ax.set_title(f"{s.study_name}: which parameters matter ({n_done} trials)")
    fig.tight_layout()
    return _save(fig, path)
