"""Twin files appear whole or not at all, under temporary names no two writers share."""

import polars as pl
import pytest

from kit.spec import FileSpec
from kit.synth import CsvWriter, write_csv

SPEC = FileSpec(name="train.csv", role="extra")


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_write_csv_replaces_whole_and_leaves_no_temp(tmp_path):
    (tmp_path / "train.csv").write_text("old\n")
    write_csv(pl.DataFrame({"a": [1, 2]}), tmp_path, SPEC)
    assert (tmp_path / "train.csv").read_text() == "a\n1\n2\n"
    assert names(tmp_path) == ["train.csv"]


def test_chunked_writer_appears_only_when_done(tmp_path):
    with CsvWriter(tmp_path, SPEC) as w:
        w.write(pl.DataFrame({"a": [1]}))
        assert names(tmp_path) != ["train.csv"] and not (tmp_path / "train.csv").exists()
        w.write(pl.DataFrame({"a": [2]}))
    assert (tmp_path / "train.csv").read_text() == "a\n1\n2\n" and w.rows == 2
    assert names(tmp_path) == ["train.csv"]


def test_chunked_writer_error_keeps_the_old_file(tmp_path):
    (tmp_path / "train.csv").write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with CsvWriter(tmp_path, SPEC) as w:
            w.write(pl.DataFrame({"a": [1]}))
            raise RuntimeError("boom")
    assert (tmp_path / "train.csv").read_text() == "old\n" and names(tmp_path) == ["train.csv"]


def test_two_writers_of_one_file_do_not_share_a_temp(tmp_path):
    with CsvWriter(tmp_path, SPEC) as a, CsvWriter(tmp_path, SPEC) as b:
        a.write(pl.DataFrame({"a": [1]}))
        b.write(pl.DataFrame({"a": [2]}))
        assert len(names(tmp_path)) == 2  # one temporary file each
    assert (tmp_path / "train.csv").read_text() == "a\n1\n"  # the last to finish (a) wins whole
    assert names(tmp_path) == ["train.csv"]
