"""The registry finds the competitions, and every spec is internally consistent."""

import sys
import textwrap

import pytest

import competitions
from kit import spec as spec_mod
from kit.errors import KitError
from kit.metrics import METRICS
from kit.spec import get, registry

EXPECTED = {"bulldozers", "favorita", "planet", "porto_seguro", "rossmann"}


def test_five_competitions():
    assert EXPECTED <= set(registry())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_consistent(name):
    s = get(name).spec
    assert s.metric in METRICS
    names = [f.name for f in s.files]
    assert len(names) == len(set(names))
    for role, fname in (("train", s.train), ("sample_submission", s.sample_submission)):
        assert s.file(fname).role == role
    assert s.test in names
    assert s.id_column in s.test_file.column_names
    for t in s.target_columns:
        assert t in s.train_file.column_names
    assert s.submission.columns == s.sample_submission_file.column_names
    if s.time_column:
        assert s.time_column in s.train_file.column_names
        assert s.horizon_days and s.horizon_days > 0
        assert dict(s.train_file.date_formats).get(s.time_column) or s.train_file.column(s.time_column).type == "date"
    if s.task == "multilabel":
        assert s.submission.kind == "tags" and len(s.submission.labels) == 17
    for f in s.files:
        for col, _fmt in f.date_formats:
            assert f.column(col).type in ("date", "datetime")
    assert s.slug in s.url and s.rules_url.endswith("/rules")


def test_unknown_competition_lists_known():
    with pytest.raises(KitError, match=r"unknown competition 'nope'; known competitions: .*rossmann"):
        get("nope")


def test_lookup_by_slug():
    assert get("rossmann-store-sales").name == "rossmann"


def test_sixth_competition_is_just_a_folder(tmp_path, monkeypatch):
    """Adding a folder with a spec.py is all it takes for the registry to find a competition."""
    pkg = tmp_path / "competitions" / "sixth"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "spec.py").write_text(textwrap.dedent('''
        from kit.spec import Column, CompetitionSpec, FileSpec, SubmissionSpec
        SPEC = CompetitionSpec(
            name="sixth", title="Sixth", slug="sixth-comp", task="binary", metric="gini",
            files=(FileSpec("train.csv", "train", (Column("id", "int"), Column("target", "int"))),
                   FileSpec("test.csv", "test", (Column("id", "int"),)),
                   FileSpec("sample_submission.csv", "sample_submission",
                            (Column("id", "int"), Column("target", "float")))),
            train="train.csv", test="test.csv", sample_submission="sample_submission.csv",
            id_column="id", target_columns=("target",),
            submission=SubmissionSpec(("id", "target")))
    '''))
    monkeypatch.setattr(competitions, "__path__", [*competitions.__path__, str(tmp_path / "competitions")])
    spec_mod.registry.cache_clear()
    try:
        assert "sixth" in registry()
        assert get("sixth-comp").spec.metric == "gini"
    finally:
        spec_mod.registry.cache_clear()
        for mod in [m for m in sys.modules if m.startswith("competitions.sixth")]:
            del sys.modules[mod]
