"""Issue 12, part A, where a `Case` cannot say it: OSErrors a user fixes (disk full, read-only,
permission denied) told in one line, KIT_DEBUG, SIGTERM as Ctrl-C, and CSVs that must still read."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from kit.data.tables import check_unique_ids, read_table
from kit.errors import KitError
from kit.spec import get
from tests.faults.harness import LEFTOVER, run_kit, snapshot

ROSSMANN = get("rossmann").spec


@pytest.fixture()
def data(tiny_twin, tmp_path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(tiny_twin("rossmann"), folder)
    return folder


def _fail_replace(monkeypatch, code: int, name: str = "sub.csv") -> None:
    """os.replace raises OSError(code) for a destination named `name`, as a full disk or a
    read-only mount would at the last step of an atomic write; every other rename works."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def _leftovers(root: Path) -> list[str]:
    return [p for p in snapshot(root) if LEFTOVER.search(Path(p).name)]


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"),
                                         (errno.EROFS, "the file system is read-only"),
                                         (errno.EACCES, "permission denied")])
def test_os_errors_a_user_fixes_are_one_line(data, tmp_path, monkeypatch, code, words):
    monkeypatch.delenv("KIT_DEBUG", raising=False)
    _fail_replace(monkeypatch, code)
    out = tmp_path / "sub.csv"
    r = run_kit(["baseline", "rossmann", "--data-dir", str(data), "-o", str(out)])
    assert r.code == 2, r.err
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    assert lines[0].startswith(f"kit baseline: error: {words} ({out}, errno {code});"), lines[0]
    assert "--runs-dir" in lines[0] and "KIT_CACHE" in lines[0]
    assert not out.exists() and not _leftovers(tmp_path)


def test_kit_debug_keeps_the_traceback(data, tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_DEBUG", "1")
    _fail_replace(monkeypatch, errno.ENOSPC)
    with pytest.raises(OSError) as info:
        run_kit(["baseline", "rossmann", "--data-dir", str(data), "-o", str(tmp_path / "sub.csv")])
    assert info.value.errno == errno.ENOSPC


def test_other_os_errors_are_bugs_and_keep_their_traceback(data, tmp_path, monkeypatch):
    monkeypatch.delenv("KIT_DEBUG", raising=False)
    _fail_replace(monkeypatch, errno.EIO)
    with pytest.raises(OSError) as info:
        run_kit(["baseline", "rossmann", "--data-dir", str(data), "-o", str(tmp_path / "sub.csv")])
    assert info.value.errno == errno.EIO


def test_sigterm_is_an_interrupt(tmp_path):
    """`kill PID` mid-run: the interrupted line, exit 130 (not 143), no temp files left."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("KIT_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "kit.cli", "run", "rossmann", "--data-dir", str(tmp_path / "d"),
                             "--size", "tiny", "--threads", "1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait until the run is under way (the twin is written), then stop it as a scheduler would
    deadline = time.monotonic() + 60
    while not (tmp_path / "d" / "train.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("kit: ")]
    assert lines == ["kit run: interrupted; nothing half-written was left in place"], err[-2000:]
    assert not _leftovers(tmp_path)
    assert not list(tmp_path.rglob(".staging-*"))


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
@pytest.mark.parametrize("last_newline", [True, False])
def test_whole_csvs_still_read(data, ending, last_newline):
    """CRLF or LF, a last newline or none, quoted fields with commas and doubled quotes: all whole."""
    rows = [b'"Store","StoreType","Assortment","CompetitionDistance","CompetitionOpenSinceMonth",'
            b'"CompetitionOpenSinceYear","Promo2","Promo2SinceWeek","Promo2SinceYear","PromoInterval"',
            b'1,"c","a",1270,9,2008,0,,,""',
            b'2,"a","a",570,11,2007,1,13,2010,"Jan,Apr,Jul,Oct"',
            b'3,"a","a",14130,12,2006,1,14,2011,"say ""Jan"",Apr"']
    (data / "store.csv").write_bytes(ending.join(rows) + (ending if last_newline else b""))
    frame = read_table(ROSSMANN, "store.csv", data, cache=False)
    assert frame.height == 3
    assert frame["PromoInterval"].to_list()[1:] == ["Jan,Apr,Jul,Oct", 'say "Jan",Apr']
    assert read_table(ROSSMANN, "store.csv", data).height == 3  # through the Parquet cache too


def test_blank_lines_at_the_end_are_named(data):
    """polars reads each blank line at the end as a row of nulls (a null test id): refused, named."""
    path = data / "test.csv"
    n = path.read_bytes().count(b"\n")
    path.write_bytes(path.read_bytes() + b"\r\n\r\n")
    with pytest.raises(KitError, match=rf"test\.csv lines {n + 1}\.\.{n + 2} are blank, after the last row"):
        read_table(ROSSMANN, "test.csv", data, cache=False)


def test_a_cut_file_is_found_though_its_cache_is_fresh_before(data):
    read_table(ROSSMANN, "train.csv", data)  # cache the whole file
    path = data / "train.csv"
    raw = path.read_bytes().rstrip(b"\r\n")
    path.write_bytes(raw[: raw.rfind(b",")])  # the last field gone
    with pytest.raises(KitError, match=r"train\.csv line \d+ has 8 of the header's 9 fields"):
        read_table(ROSSMANN, "train.csv", data)


def test_duplicate_ids_name_the_value_and_both_lines(tmp_path):
    ids = pl.Series(["5", "7", "9", "7", "5"])
    with pytest.raises(KitError, match=r"test\.csv: test id Id 5 appears on lines 2 and 6"):
        check_unique_ids(ROSSMANN, tmp_path / "test.csv", ids)
    check_unique_ids(ROSSMANN, tmp_path / "test.csv", pl.Series(["1", "2"]))


def test_lightgbm_refusals_of_parameters_are_one_line():
    """A parameter kit passes to LightGBM unchecked (min_data_in_bin is not one of the model's
    own) still reaches the user as LightGBM's reason in one line, not a LightGBMError traceback."""
    import numpy as np

    from kit.models.gbm import train_boosters

    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(KitError, match=r"LightGBM refused its parameters: .*min_data_in_bin.*; fix that --param"):
        train_boosters({"objective": "regression", "verbose": -1, "min_data_in_bin": "abc"}, X, X[:, :1],
                       rounds=2, cat_idx=[])


def test_polars_io_errors_are_read_for_their_os_error():
    """polars says a full disk as OSError('... (os error 28)') without errno, or as a ComputeError."""
    from kit.cli import os_error_message

    assert os_error_message(OSError("No space left on device (os error 28)")).startswith(
        "the disk is full (No space left on device (os error 28), errno 28); free some space")
    assert os_error_message(pl.exceptions.ComputeError(
        "parquet: underlying IO error: Read-only file system (os error 30)")).startswith("the file system is read-only")
    assert os_error_message(pl.exceptions.ComputeError("something else (os error 5)")) is None
    assert os_error_message(ValueError("(os error 28)")) is None  # not an I/O error at all
    assert os_error_message(OSError(errno.ENOSPC, "No space left on device", "/x/y.csv")).startswith(
        "the disk is full (/x/y.csv, errno 28)")


def test_a_full_disk_under_polars_is_one_line(data, tmp_path, monkeypatch):
    """The submission written by polars onto a full disk (/dev/full answers every write with ENOSPC)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    monkeypatch.delenv("KIT_DEBUG", raising=False)
    real = os.replace

    def replace(src, dst, *args, **kwargs):  # the atomic writer's rename lands on /dev/full's write
        if Path(dst).name == "sub.csv":
            pl.DataFrame({"a": list(range(100_000))}).write_csv("/dev/full")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    r = run_kit(["baseline", "rossmann", "--data-dir", str(data), "-o", str(tmp_path / "sub.csv")])
    assert r.code == 2 and "Traceback" not in r.err, r.err
    assert r.err.startswith("kit baseline: error: the disk is full (No space left on device"), r.err
    assert not _leftovers(tmp_path)


def test_sigterm_swallowed_by_native_code_still_ends_as_an_interrupt(monkeypatch, capsys):
    """A KeyboardInterrupt raised inside native code (polars parsing a dtype, say) can come out as
    another exception; the command still ends as interrupted, exit 130, not with a traceback."""
    import argparse

    import kit.cli as cli

    def command(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except KeyboardInterrupt:
            raise TypeError("'<unprintable str object>' is not a Polars data type") from None
        return 0

    def parser():
        p = argparse.ArgumentParser(prog="kit")
        p.add_subparsers(dest="command").add_parser("native").set_defaults(func=command)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)
    monkeypatch.delenv("KIT_DEBUG", raising=False)
    assert cli.main(["native"]) == 130
    assert capsys.readouterr().err == "kit native: interrupted; nothing half-written was left in place\n"
