"""`kit explain`: reading a fitted model, as the fast.ai lessons do in their interpretation sessions.

    from kit.explain import load_run, explain, ExplainOptions
    run = load_run(comp, "data/bulldozers", "lgbm")          # the run, its data, folds and models
    explain(run, ExplainOptions(row="1227829"))              # RUN/explain/report.html + PNGs + numbers

Each part is also a plain function on arrays and callables, usable without a run folder:
`importance.permutation_importance`, `redundancy.rank_correlation` / `clusters` / `drop_test`,
`dependence.partial_dependence`, `contributions.explain_row` (with the models' own
`contributions(X)`), `confidence.confidence_by`, `extrapolation.extrapolation`,
`embeddings.embedding_projections`.
"""

from kit.explain.context import TABLE_MODELS, RunModels, load_run
from kit.explain.run import PARTS, ExplainOptions, ExplainResult, explain

__all__ = ["TABLE_MODELS", "RunModels", "load_run", "PARTS", "ExplainOptions", "ExplainResult", "explain"]
