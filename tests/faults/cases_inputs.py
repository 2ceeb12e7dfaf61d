"""Bad input gets one clear line (issue 12, part A): hyperparameters, options, broken tables,
submissions that are folders. Each case names what it breaks; the harness checks the rest."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import Case

TRAIN = ["train", "rossmann", "--model", "lgbm", "--data-dir", "{data}", "--runs-dir", "{tmp}/runs"]
BASELINE = ["baseline", "rossmann", "--data-dir", "{data}", "-o", "{tmp}/sub.csv"]


def _edit(name: str, change):
    """A setup that rewrites `name` in the data folder with change(bytes) -> bytes."""

    def setup(tmp: Path, data: Path) -> None:
        path = data / name
        path.write_bytes(change(path.read_bytes()))

    return setup


def _header_only(raw: bytes) -> bytes:
    return raw.split(b"\n", 1)[0] + b"\n"


def _rename_sales(raw: bytes) -> bytes:
    head, rest = raw.split(b"\n", 1)
    return head.replace(b'"Sales"', b'"sales"') + b"\n" + rest


def _dmy_on_line_5(raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    lines[4] = lines[4].replace(b"2015-07-31", b"31/07/2015")
    return b"\n".join(lines)


def _cut_fields(raw: bytes) -> bytes:
    """The last row cut after its fifth field, as an interrupted copy leaves it."""
    lines = raw.rstrip(b"\r\n").split(b"\n")
    lines[-1] = b",".join(lines[-1].split(b",")[:5])
    return b"\n".join(lines)


def _cut_in_quote(raw: bytes) -> bytes:
    """The last row cut inside its last quoted field: every field there, one quote open."""
    return raw.rstrip(b"\r\n")[:-1]


def _lines(raw: bytes) -> int:
    return raw.count(b"\n") + (not raw.endswith(b"\n"))


def _line_is_last(name: str):
    """A check that the message names the file's last line, as an editor counts it."""

    def check(tmp: Path, data: Path, result) -> None:
        n = _lines((data / name).read_bytes())
        assert f"line {n} " in result.err, (n, result.err)

    return check


def _duplicate_id(raw: bytes) -> bytes:
    lines = raw.split(b"\n")
    lines[2] = b"1," + lines[2].split(b",", 1)[1]  # line 3 repeats line 2's Id 1
    return b"\n".join(lines)


def _cache_then_cut(tmp: Path, data: Path) -> None:
    """Parse train.csv into the Parquet cache first, then cut it: the cache must not hide the cut."""
    from kit.data.tables import read_table
    from kit.spec import get

    read_table(get("rossmann").spec, "train.csv", data)
    path = data / "train.csv"
    path.write_bytes(_cut_fields(path.read_bytes()))


CASES = [
    # 1. hyperparameters and options
    Case("param-not-a-number", [*TRAIN, "--param", "num_leaves=abc"],
         r"num_leaves takes a whole number, got 'abc'.*--param num_leaves=31"),
    Case("param-out-of-range", [*TRAIN, "--param", "num_leaves=1"], r"num_leaves must be in 2\.\.131072, got 1"),
    Case("param-fraction-out-of-range", [*TRAIN, "--param", "subsample=1.5"],
         r"subsample must be a fraction in \(0, 1\], got 1\.5"),
    Case("rf-param-not-a-number", ["train", "rossmann", "--model", "rf", "--data-dir", "{data}", "--runs-dir",
                                   "{tmp}/runs", "--param", "n_estimators=ten"],
         r"n_estimators takes a whole number, got 'ten'"),
    Case("tune-param-not-a-number", ["tune", "rossmann", "--model", "lgbm", "--trials", "1", "--data-dir", "{data}",
                                     "--runs-dir", "{tmp}/runs", "--param", "num_leaves=abc"],
         r"num_leaves"),
    Case("threads-zero", [*TRAIN, "--threads", "0"], r"kit train: error: --threads must be at least 1, got 0"),
    Case("threads-zero-tune", ["tune", "rossmann", "--model", "lgbm", "--threads", "0", "--data-dir", "{data}"],
         r"kit tune: error: --threads must be at least 1, got 0"),
    Case("seed-negative-generate", ["generate", "rossmann", "--size", "tiny", "--seed", "-1", "--data-dir",
                                    "{data}"], r"kit generate: error: --seed must be at least 0, got -1",
         competition=None),
    Case("seed-negative-train", [*TRAIN, "--seed", "-3"], r"kit train: error: --seed must be at least 0, got -3"),
    # 2. empty and renamed tables
    Case("train-0-bytes", BASELINE, r"train\.csv is empty \(0 bytes.*kit download rossmann --file train\.csv",
         setup=_edit("train.csv", lambda raw: b"")),
    Case("train-header-only", BASELINE, r"train\.csv has a header but no rows.*kit download rossmann --file train\.csv",
         setup=_edit("train.csv", _header_only)),
    Case("train-header-only-train", TRAIN, r"train\.csv has a header but no rows",
         setup=_edit("train.csv", _header_only)),
    Case("train-column-renamed", BASELINE,
         r"train\.csv does not parse as the spec says: its header lacks column Sales; unexpected column sales.*kit download rossmann --file train\.csv",
         setup=_edit("train.csv", _rename_sales)),
    Case("train-column-renamed-train", TRAIN, r"train\.csv does not parse as the spec says: its header lacks column Sales; unexpected column sales",
         setup=_edit("train.csv", _rename_sales)),
    Case("test-id-renamed", BASELINE, r"test\.csv does not parse as the spec says: its header lacks column Id; unexpected column id",
         setup=_edit("test.csv", lambda raw: raw.replace(b'"Id"', b'"id"', 1))),
    Case("sample-submission-0-bytes", BASELINE, r"sample_submission\.csv is empty",
         setup=_edit("sample_submission.csv", lambda raw: b"")),
    Case("sample-submission-renamed-train", TRAIN,
         r"sample_submission\.csv does not parse as the spec says: its header lacks column Id; unexpected column ID"
         r".*kit download rossmann --file sample_submission\.csv",
         setup=_edit("sample_submission.csv", lambda raw: raw.replace(b'"Id"', b'"ID"', 1).replace(b"Id,", b"ID,", 1))),
    # 3. dates in another format
    Case("date-day-first", BASELINE, r"train\.csv line 5: column Date holds '31/07/2015', which is not a date in the format %Y-%m-%d \(e\.g\. 2015-07-31\)",
         setup=_edit("train.csv", _dmy_on_line_5)),
    Case("date-day-first-test", TRAIN, r"test\.csv line 5: column Date holds '17/09/2015'.*%Y-%m-%d",
         setup=_edit("test.csv", lambda raw: b"\n".join(
             ln.replace(b"2015-09-17", b"17/09/2015") if i == 4 else ln for i, ln in enumerate(raw.split(b"\n"))))),
    # 4. a file cut short
    Case("train-cut-fields", BASELINE, r"train\.csv line \d+ has 5 of the header's 9 fields: the file was cut short",
         setup=_edit("train.csv", _cut_fields), check=_line_is_last("train.csv")),
    Case("train-cut-in-quote", BASELINE, r"train\.csv line \d+ ends inside a quoted field",
         setup=_edit("train.csv", _cut_in_quote), check=_line_is_last("train.csv")),
    Case("train-cut-after-cache", TRAIN, r"train\.csv line \d+ has 5 of the header's 9 fields",
         setup=_cache_then_cut, check=_line_is_last("train.csv")),
    Case("test-cut-fields", BASELINE, r"test\.csv line \d+ has 5 of the header's 8 fields",
         setup=_edit("test.csv", _cut_fields), check=_line_is_last("test.csv")),
    Case("run-test-cut-in-quote", ["run", "rossmann", "--data-dir", "{data}", "--size", "tiny", "--runs-dir",
                                   "{tmp}/runs"], r"kit run: error: \S*test\.csv line \d+ ends inside a quoted field",
         setup=_edit("test.csv", _cut_in_quote), check=_line_is_last("test.csv")),
    # 8. a test id twice
    Case("test-duplicate-id", BASELINE, r"test\.csv: test id Id 1 appears on lines 2 and 3",
         setup=_edit("test.csv", _duplicate_id)),
    Case("test-duplicate-id-train", TRAIN, r"test\.csv: test id Id 1 appears on lines 2 and 3",
         setup=_edit("test.csv", _duplicate_id)),
    # 9. a folder for a submission
    Case("test-blank-lines-at-end", BASELINE, r"test\.csv lines \d+\.\.\d+ are blank, after the last row",
         setup=_edit("test.csv", lambda raw: raw + b"\r\n\r\n")),
    Case("score-a-folder", ["score", "rossmann", "{data}", "--data-dir", "{data}"],
         r"kit score: error: \S+ is a folder; give the submission CSV file"),
]
