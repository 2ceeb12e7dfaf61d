"""Submission checks and offline scoring on a hand-made four-row competition."""

import math
from pathlib import Path

import polars as pl
import pytest

from kit.errors import KitError
from kit.spec import Column, CompetitionSpec, FileSpec, SubmissionSpec
from kit.submission import score, validate, load_test_ids, write_atomic

SPEC = CompetitionSpec(
    name="toy", title="Toy", slug="toy", task="regression", metric="rmsle",
    files=(FileSpec("train.csv", "train", (Column("Id", "int"), Column("y", "float"))),
           FileSpec("test.csv", "test", (Column("Id", "int"),)),
           FileSpec("sample.csv", "sample_submission", (Column("Id", "int"), Column("y", "float")))),
    train="train.csv", test="test.csv", sample_submission="sample.csv", id_column="Id",
    target_columns=("y",), submission=SubmissionSpec(("Id", "y"), nonnegative=True))

TAGS = CompetitionSpec(
    name="tags", title="Tags", slug="tags", task="multilabel", metric="mean_f2",
    files=(FileSpec("test.csv", "test", (Column("name", "str"),)),),
    train="test.csv", test="test.csv", sample_submission="test.csv", id_column="name",
    target_columns=("tags",), submission=SubmissionSpec(("name", "tags"), kind="tags", labels=("a", "b", "c")))


@pytest.fixture()
def toy(tmp_path: Path) -> Path:
    (tmp_path / "solution").mkdir()
    (tmp_path / "test.csv").write_text("Id\n1\n2\n3\n4\n")
    (tmp_path / "solution" / "solution.csv").write_text(
        "Id,y,Usage\n1,0,Public\n2,1,Public\n3,3,Private\n4,7,Private\n")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    p = folder / "sub.csv"
    p.write_text(text)
    return p


def test_solution_scores_perfect(toy):
    s = score(SPEC, write(toy, "Id,y\n1,0\n2,1\n3,3\n4,7\n"), toy)
    assert (s.public, s.private, s.overall) == (0.0, 0.0, 0.0)
    assert (s.n_public, s.n_private) == (2, 2)


def test_constant_by_hand(toy):
    # predict 1 everywhere: log1p errors: log2-log1=log2, 0, log2-log4=-log2, log2-log8=-2log2
    s = score(SPEC, write(toy, "Id,y\n4,1\n3,1\n2,1\n1,1\n"), toy)   # any row order
    l2 = math.log(2)
    assert s.public == pytest.approx(math.sqrt((l2**2 + 0) / 2))
    assert s.private == pytest.approx(math.sqrt((l2**2 + 4 * l2**2) / 2))
    assert s.overall == pytest.approx(math.sqrt(6 * l2**2 / 4))


@pytest.mark.parametrize("text, match", [
    ("Id,SalePrice\n1,1\n2,1\n3,1\n4,1\n", r"header is Id,SalePrice but toy expects Id,y"),
    ("Id,y\n1,1\n2,1\n3,1\n", r"has 3 rows but the test has 4 ids \(fewer"),
    ("Id,y\n1,1\n2,1\n3,1\n4,1\n5,1\n", r"has 5 rows but the test has 4 ids \(more"),
    ("Id,y\n1,1\n2,1\n2,1\n4,1\n", r"Id '2' appears 2 times .*lines 3, 4"),
    ("Id,y\n1,1\n2,1\n3,1\n9,1\n", r"line 5: Id '9' is not a test id"),
    ("Id,y\n1,1\n2,NaN\n3,1\n4,1\n", r"line 3: y is 'NaN' .*finite"),
    ("Id,y\n1,1\n2,inf\n3,1\n4,1\n", r"line 3: y is 'inf'"),
    ("Id,y\n1,1\n2,abc\n3,1\n4,1\n", r"line 3: y 'abc' is not a number"),
    ("Id,y\n1,1\n2,\n3,1\n4,1\n", r"line 3: y is empty"),
    ("Id,y\n1,1\n2,1\n3,-0.5\n4,1\n", r"line 4: y -0.5 is negative .*RMSLE needs predictions >= 0"),
])
def test_malformed_submissions(toy, text, match):
    with pytest.raises(KitError, match=match):
        score(SPEC, write(toy, text), toy)


def test_missing_file_and_solution(toy, tmp_path):
    with pytest.raises(KitError, match="does not exist"):
        score(SPEC, toy / "nope.csv", toy)
    (toy / "solution" / "solution.csv").unlink()
    with pytest.raises(KitError, match="no solution at .*kit submit"):
        score(SPEC, write(toy, "Id,y\n1,0\n2,1\n3,3\n4,7\n"), toy)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KitError, match="test.csv is missing.*kit generate toy"):
        score(SPEC, write(toy, "Id,y\n1,0\n"), empty)


def test_tags_validation_and_scoring(tmp_path):
    (tmp_path / "solution").mkdir()
    (tmp_path / "test.csv").write_text("name\nx\ny\n")
    (tmp_path / "solution" / "solution.csv").write_text("name,tags,Usage\nx,a b,Public\ny,c,Private\n")
    with pytest.raises(KitError, match=r"line 3: unknown tag 'd' in tags 'c d'"):
        score(TAGS, write(tmp_path, "name,tags\nx,a\ny,c d\n"), tmp_path)
    s = score(TAGS, write(tmp_path, "name,tags\nx,a  b\ny,\n"), tmp_path)  # double space ok, empty row ok
    assert s.public == 1.0 and s.private == 0.0


def test_validate_never_mutates_and_types(toy):
    sub = pl.DataFrame({"Id": ["1", "2", "3", "4"], "y": ["1", "2.5", "3", "4"]})
    before = sub.clone()
    out = validate(SPEC, sub, load_test_ids(SPEC, toy))
    assert out["value"].dtype == pl.Float64 and out["value"].to_list() == [1, 2.5, 3, 4]
    assert sub.equals(before)


def test_write_atomic_leaves_no_temp(tmp_path):
    p = write_atomic(pl.DataFrame({"a": [1]}), tmp_path / "out" / "s.csv")
    assert p.read_text() == "a\n1\n"
    assert [q.name for q in p.parent.iterdir()] == ["s.csv"]
