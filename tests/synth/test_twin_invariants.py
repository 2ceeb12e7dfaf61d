"""Invariants every twin must keep, whatever the competition (each also has its own tests
in tests/competitions/ against the real files' formats)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from kit import baseline
from kit.data.tables import read_table
from kit.metrics import METRICS
from kit.spec import get
from kit.submission import load_solution, score, weights
from kit.submission import load_test_ids

from kit.spec import registry

NAMES = sorted(registry())

_INFERRED = {"int": pl.Int64, "float": pl.Float64, "str": pl.String, "bool": pl.Boolean,
             "date": pl.String, "datetime": pl.String}


def _tables(name):
    return [f for f in get(name).spec.files if f.columns and f.required]


@pytest.mark.parametrize("name", NAMES)
def test_files_match_spec(name, tiny_twin):
    """Header = spec columns; one line ending throughout; polars infers the spec's types."""
    folder = tiny_twin(name)
    for f in _tables(name):
        raw = (folder / f.name).read_bytes()
        header = raw.split(b"\n", 1)[0].rstrip(b"\r").decode()
        names = [h.strip('"') for h in header.split(",")]
        assert names == list(f.column_names), f.name
        lf, crlf = raw.count(b"\n"), raw.count(b"\r\n")
        assert crlf == (lf if f.line_terminator == "\r\n" else 0), f"{f.name}: mixed line endings"
        if f.quote_style in ("non_numeric", "columns"):
            assert header.startswith('"'), f"{f.name}: header should be quoted"
        inferred = pl.read_csv(folder / f.name, infer_schema_length=None).schema
        for col in f.columns:
            if inferred[col.name] == pl.Null:  # an all-empty column in a tiny twin
                continue
            if col.type == "float" and inferred[col.name] == pl.Int64:
                continue  # a float column spelled as whole numbers (kit reads it as float)
            assert inferred[col.name] == _INFERRED[col.type], f"{f.name}.{col.name}"
        # and the typed reader (dates parsed) accepts the file
        read_table(get(name).spec, f.name, folder)


@pytest.mark.parametrize("name", NAMES)
def test_solution_and_sample_cover_the_test(name, tiny_twin):
    spec = get(name).spec
    folder = tiny_twin(name)
    ids = load_test_ids(spec, folder)
    sol = load_solution(spec, folder)
    assert sol.columns == [*spec.submission.columns, "Usage"]
    assert sorted(sol[spec.submission.id_column].to_list()) == sorted(ids.to_list())
    assert set(sol["Usage"].unique()) == {"Public", "Private"}
    sample = pl.read_csv(folder / spec.sample_submission, infer_schema_length=0)
    assert sample.columns == list(spec.submission.columns)
    assert sorted(sample[spec.submission.id_column].to_list()) == sorted(ids.to_list())


@pytest.mark.parametrize("name", NAMES)
def test_solution_scores_perfect(name, tiny_twin):
    spec = get(name).spec
    folder = tiny_twin(name)
    sol = load_solution(spec, folder).select(spec.submission.columns)
    if spec.submission.nonnegative:  # Favorita's returns: a submission may not be negative
        v = spec.submission.value_column
        sol = sol.with_columns(pl.col(v).cast(pl.Float64).clip(lower_bound=0).cast(pl.String))
    s = score(spec, sol, folder)
    perfect = 1.0 if METRICS[spec.metric].greater_is_better else 0.0
    assert s.public == pytest.approx(perfect) and s.private == pytest.approx(perfect)


def _by_hand(metric: str, truth, const, w=None) -> float:
    """The metric of a constant prediction, written out independently of kit.metrics."""
    if metric == "rmsle":
        return float(np.sqrt(np.mean((np.log1p(const) - np.log1p(truth)) ** 2)))
    if metric == "nwrmsle":
        t = np.maximum(truth, 0)
        return float(np.sqrt(np.sum(w * (np.log1p(const) - np.log1p(t)) ** 2) / np.sum(w)))
    if metric == "rmspe":
        t = truth[truth != 0]
        return float(np.sqrt(np.mean(((t - const) / t) ** 2)))
    if metric == "gini":
        # all predictions tie, so Kaggle's sort keeps file order
        def g(a):
            n = len(a)
            return np.sum(np.cumsum(a) / a.sum()) / n - (n + 1) / (2 * n)
        return float(g(truth) / g(np.sort(truth)[::-1]))
    raise AssertionError(metric)


@pytest.mark.parametrize("name", NAMES)
def test_constant_baseline_scores_as_computed_by_hand(name, tiny_twin):
    spec = get(name).spec
    folder = tiny_twin(name)
    sub = baseline.submission(spec, folder)
    s = score(spec, sub.select(pl.all().cast(pl.String)), folder)
    sol = load_solution(spec, folder)
    public = sol.filter(pl.col("Usage") == "Public")
    v = spec.submission.value_column
    if spec.submission.kind == "tags":
        pred = set(sub[v][0].split())
        f2 = []
        for tags in public[v].to_list():
            t = set(tags.split())
            tp, fp, fn = len(t & pred), len(pred - t), len(t - pred)
            f2.append(1.0 if tp + fp + fn == 0 else 5 * tp / (5 * tp + 4 * fn + fp))
        assert s.public == pytest.approx(np.mean(f2))
        return
    const = float(sub[v][0])
    w = weights(spec, folder, public[spec.submission.id_column])
    assert s.public == pytest.approx(_by_hand(spec.metric, public[v].cast(pl.Float64).to_numpy(), const, w))
