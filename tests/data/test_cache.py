"""The Parquet cache: built once, read lazily, rebuilt when its CSV changes."""

import os

import polars as pl
import pytest

from kit.data import cache as pq
from kit.data.tables import read_table, scan_table
from kit.errors import KitError
from kit.spec import get


@pytest.fixture()
def rossmann(tiny_twin, tmp_path):
    # a private copy: these tests rewrite files
    src = tiny_twin("rossmann")
    for name in ("train.csv", "test.csv", "store.csv"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
    return tmp_path


def test_cache_matches_csv_and_is_typed(rossmann):
    spec = get("rossmann").spec
    direct = read_table(spec, "train.csv", rossmann, cache=False)
    cached = read_table(spec, "train.csv", rossmann)
    assert cached.equals(direct)
    assert cached.schema["Date"] == pl.Date and cached.schema["StateHoliday"] == pl.String
    parquet, meta = pq.paths(rossmann / "train.csv")
    assert parquet.exists() and meta.exists()
    # the second scan reads the Parquet file, not the CSV
    plan = scan_table(spec, "train.csv", rossmann).explain()
    assert "parquet" in plan.lower()


def test_cache_rebuilt_when_source_changes(rossmann):
    spec = get("rossmann").spec
    first = read_table(spec, "store.csv", rossmann)
    parquet, _ = pq.paths(rossmann / "store.csv")
    built = parquet.stat().st_mtime_ns
    text = (rossmann / "store.csv").read_bytes()
    lines = text.split(b"\r\n")
    (rossmann / "store.csv").write_bytes(b"\r\n".join(lines[:2] + [b""]))  # keep one store
    again = read_table(spec, "store.csv", rossmann)
    assert first.height > 1 and again.height == 1
    assert parquet.stat().st_mtime_ns != built


def test_unchanged_source_not_rebuilt(rossmann):
    spec = get("rossmann").spec
    read_table(spec, "test.csv", rossmann)
    parquet, _ = pq.paths(rossmann / "test.csv")
    built = parquet.stat().st_mtime_ns
    read_table(spec, "test.csv", rossmann)
    assert parquet.stat().st_mtime_ns == built


def test_bad_csv_is_a_clear_error_and_no_cache_left(rossmann):
    spec = get("rossmann").spec
    (rossmann / "store.csv").write_text('"Store","StoreType"\r\nx,y\r\n')
    with pytest.raises(KitError, match="store.csv does not parse as the spec says"):
        read_table(spec, "store.csv", rossmann)
    parquet, meta = pq.paths(rossmann / "store.csv")
    assert not parquet.exists() and not meta.exists()
    assert not parquet.parent.exists() or not [p for p in parquet.parent.iterdir() if ".tmp" in p.name]  # no temp file


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(KitError, match=r"train.csv is missing; make the twin with `kit generate rossmann"):
        read_table(get("rossmann").spec, "train.csv", tmp_path)


def test_cache_reads_numbers_in_any_lossless_spelling(rossmann):
    # 570.0 in an integer column, as Kaggle's ValidSolution.csv spells prices; padded; 1e3
    spec = get("rossmann").spec
    lines = (rossmann / "store.csv").read_bytes().split(b"\r\n")
    store, kind, assortment, _distance, rest = lines[1].split(b",", 4)
    lines[1] = b",".join([b" " + store + b".0 ", kind, assortment, b"1e3", rest])
    (rossmann / "store.csv").write_bytes(b"\r\n".join(lines))
    direct = read_table(spec, "store.csv", rossmann, cache=False)
    cached = read_table(spec, "store.csv", rossmann)
    assert cached.equals(direct) and cached.schema["Store"] == pl.Int64
    assert cached.row(0)[0] == int(store) and cached["CompetitionDistance"][0] == 1000
    assert pq.is_fresh(rossmann / "store.csv", {"columns": [[c.name, c.type] for c in spec.file("store.csv").columns],
                                                "dates": []})


def test_a_value_an_integer_cannot_hold_names_its_line(rossmann):
    spec = get("rossmann").spec
    lines = (rossmann / "store.csv").read_bytes().split(b"\r\n")
    lines[3] = b"46173.2" + lines[3][lines[3].index(b","):]
    (rossmann / "store.csv").write_bytes(b"\r\n".join(lines))
    with pytest.raises(KitError, match=r"store.csv line 4: column Store holds '46173.2', which is not a whole number"):
        read_table(spec, "store.csv", rossmann)
    assert not pq.paths(rossmann / "store.csv")[0].exists()


def test_warm_read_does_not_look_at_the_csv(rossmann, monkeypatch):
    # once the cache is fresh, a read is the Parquet file: no CSV scan is planned or checked
    from kit.data import tables

    spec = get("rossmann").spec
    first = read_table(spec, "train.csv", rossmann)

    def refuse(*_a, **_k):
        raise AssertionError("the CSV was scanned on a warm read")

    monkeypatch.setattr(tables, "scan_csv", refuse)
    monkeypatch.setattr(tables, "check_csv", refuse)
    assert read_table(spec, "train.csv", rossmann).equals(first)
    assert scan_table(spec, "train.csv", rossmann).collect().equals(first)


def test_first_read_parses_once_and_writes_the_cache_from_it(rossmann, monkeypatch):
    from kit.data import tables

    spec = get("rossmann").spec
    calls = []
    real = tables.scan_csv
    monkeypatch.setattr(tables, "scan_csv", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    frame = read_table(spec, "store.csv", rossmann)
    assert calls == ["store.csv"]
    parquet, _ = pq.paths(rossmann / "store.csv")
    assert pl.read_parquet(parquet).equals(frame)


@pytest.mark.parametrize("stream", [False, True], ids=["in memory", "streamed"])
def test_duplicate_test_ids_leave_no_cache_behind(rossmann, monkeypatch, stream):
    from kit.data import tables

    if stream:  # the path a CSV over STREAM_BYTES takes
        monkeypatch.setattr(tables, "STREAM_BYTES", 0)
    spec = get("rossmann").spec
    lines = (rossmann / "test.csv").read_bytes().split(b"\r\n")
    first_id = lines[1].split(b",", 1)[0]
    lines[3] = first_id + lines[3][lines[3].index(b","):]
    (rossmann / "test.csv").write_bytes(b"\r\n".join(lines))
    value = int(first_id.strip(b'"'))
    for _ in range(2):  # and again: no cache vouches for the file
        with pytest.raises(KitError, match=rf"test id Id {value} appears on lines 2 and 4"):
            read_table(spec, "test.csv", rossmann)
    parquet, meta = pq.paths(rossmann / "test.csv")
    assert not parquet.exists() and not meta.exists()


def test_streamed_cache_matches_the_parse(rossmann, monkeypatch):
    from kit.data import tables

    spec = get("rossmann").spec
    direct = read_table(spec, "train.csv", rossmann, cache=False)
    monkeypatch.setattr(tables, "STREAM_BYTES", 0)
    assert read_table(spec, "train.csv", rossmann).equals(direct)
    assert pq.paths(rossmann / "train.csv")[0].exists()
