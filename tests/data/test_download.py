"""`kit download` through the official kaggle client, against the loopback stub in tests/kaggle_stub.py.

Every failure must end in a clear KitError and a folder with nothing half-written that
looks complete: no manifest, no staging folder, no partial data file.
"""

import collections
import errno
import io
import json
import shutil
import time
import zipfile

import pytest

from kaggle_stub import kaggle_home, kaggle_stub, stub_server  # noqa: F401 - fixtures
from kit.data import download as dl
from kit.data.download import MANIFEST, STAGING, download, fingerprint, read_manifest
from kit.data.tables import scan_table
from kit.errors import KitError
from kit.kaggle_api import Kaggle, Retry
from kit.spec import get, registry

NAMES = sorted(registry())

FAST = Retry(tries=3, base_delay=0.001)
ROSSMANN = get("rossmann").spec


Usage = collections.namedtuple("Usage", "total used free")  # what shutil.disk_usage returns


def leftovers(folder):
    """What is in the folder besides the lock file (which carries no data)."""
    return sorted(p.name for p in folder.iterdir() if p.name != dl.LOCK) if folder.exists() else []


@pytest.fixture()
def rossmann(kaggle_stub, tiny_twin):
    kaggle_stub.add(ROSSMANN, tiny_twin("rossmann"))
    return kaggle_stub


@pytest.fixture()
def no_sleep(monkeypatch):
    """Skip the waits of kit's retries and of the client's own download retries (2, 4, 8... s)."""
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


@pytest.mark.parametrize("name", NAMES)
def test_download_everything_gives_the_twin_back(kaggle_stub, tiny_twin, tmp_path, name):
    spec = get(name).spec
    twin = tiny_twin(name)
    kaggle_stub.add(spec, twin)
    result = download(spec, tmp_path / name)
    assert [m for m, _ in kaggle_stub.log] == ["ListDataFiles", "DownloadDataFiles", "file"]
    assert result.fetched == (f"{spec.slug}.zip",) and not result.up_to_date
    shipped = sorted(p.name for p in twin.iterdir() if not p.name.startswith(".") and p.name != "solution")
    assert list(result.files) == shipped
    # byte for byte what the twin holds, archives inside archives (7z, tar.7z, zip) unpacked
    manifest = read_manifest(tmp_path / name)
    assert manifest["complete"] and manifest["sources"] == {"*": shipped}
    for entry in shipped:
        assert manifest["entries"][entry] == fingerprint(twin / entry), entry
    assert leftovers(tmp_path / name) == sorted([".kit-cache", MANIFEST, *shipped])
    # tables are cached: later commands read Parquet
    assert set(result.cached) == {f.name for f in spec.files if f.columns and f.name in shipped}
    assert "parquet" in scan_table(spec, spec.train, tmp_path / name).explain().lower()


def test_rerun_after_success_sends_nothing(rossmann, tmp_path, monkeypatch):
    download(ROSSMANN, tmp_path)
    sent = len(rossmann.log)
    monkeypatch.delenv("KAGGLE_KEY")  # no credentials needed either: the manifest answers
    again = download(ROSSMANN, tmp_path)
    assert again.up_to_date and again.fetched == () and again.reason == ""
    assert len(rossmann.log) == sent


def test_changed_file_is_fetched_again(rossmann, tmp_path, tiny_twin):
    download(ROSSMANN, tmp_path)
    data = bytearray((tmp_path / "store.csv").read_bytes())
    data[-3] = ord("9") if data[-3] != ord("9") else ord("8")  # same size, other bytes
    (tmp_path / "store.csv").write_bytes(bytes(data))
    again = download(ROSSMANN, tmp_path)
    assert again.reason == "store.csv changed since it was downloaded (sha256 differs)"
    assert (tmp_path / "store.csv").read_bytes() == (tiny_twin("rossmann") / "store.csv").read_bytes()
    (tmp_path / "test.csv").unlink()
    assert download(ROSSMANN, tmp_path).reason == "test.csv is missing"


def test_interrupted_run_restarts_cleanly(rossmann, tmp_path, tiny_twin, monkeypatch):
    # a run killed while extracting: staging is removed, nothing moved in, no manifest
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(dl.archive, "extract", killed)
        with pytest.raises(KeyboardInterrupt):
            download(ROSSMANN, tmp_path)
    assert leftovers(tmp_path) == []
    # a run killed harder (no cleanup): a partial zip and a resume marker in staging, a truncated
    # train.csv in place; none of it may be taken for complete
    for dead in (STAGING, f"{STAGING}-999999-abc"):  # staging folders of killed runs, old and new names
        staging = tmp_path / dead / "fetch-0"
        staging.mkdir(parents=True)
        (staging / "rossmann-store-sales.zip").write_bytes(b"PK\x03\x04 half")
        (staging / "rossmann-store-sales.zip.kaggle-partial").write_text('{"validator": "x", "size": 9}')
    (tmp_path / "train.csv").write_bytes((tiny_twin("rossmann") / "train.csv").read_bytes()[:1000])
    result = download(ROSSMANN, tmp_path)
    assert result.reason.startswith("no manifest")
    assert (tmp_path / "train.csv").read_bytes() == (tiny_twin("rossmann") / "train.csv").read_bytes()
    assert not [name for name in leftovers(tmp_path) if name.startswith(STAGING)]


def test_download_one_file(rossmann, tmp_path, tiny_twin):
    result = download(ROSSMANN, tmp_path, files=["train.csv"])
    # Kaggle zips large files it sends one by one: the URL names train.csv.zip
    assert result.fetched == ("train.csv.zip",) and result.files == ("train.csv",)
    assert ("DownloadDataFile", json.dumps({"competitionName": ROSSMANN.slug, "fileName": "train.csv"},
                                           sort_keys=True)) in rossmann.log
    assert (tmp_path / "train.csv").read_bytes() == (tiny_twin("rossmann") / "train.csv").read_bytes()
    assert leftovers(tmp_path) == [".kit-cache", MANIFEST, "train.csv"]
    manifest = read_manifest(tmp_path)
    assert manifest["sources"] == {"train.csv": ["train.csv"]} and not manifest["complete"]
    assert download(ROSSMANN, tmp_path, files=["train.csv"]).up_to_date
    small = download(ROSSMANN, tmp_path, files=["store.csv"])  # under the zip threshold: sent as is
    assert small.fetched == ("store.csv",)
    full = download(ROSSMANN, tmp_path)
    assert full.reason == "only some files were downloaded before" and read_manifest(tmp_path)["complete"]


def test_download_one_file_from_a_7z(kaggle_stub, tiny_twin, tmp_path):
    spec = get("favorita").spec
    kaggle_stub.add(spec, tiny_twin("favorita"))
    result = download(spec, tmp_path, files=["items.csv"])  # the spec's name; Kaggle lists items.csv.7z
    assert result.fetched == ("items.csv.7z",) and result.files == ("items.csv",)
    assert (tmp_path / "items.csv").read_bytes() == (tiny_twin("favorita") / "items.csv").read_bytes()


def test_unknown_file_lists_what_there_is(rossmann, tmp_path):
    with pytest.raises(KitError, match=r"Kaggle lists no file 'nope.csv' for rossmann-store-sales; its files: "
                                       r"sample_submission.csv, store.csv, store_states.csv, test.csv, train.csv"):
        download(ROSSMANN, tmp_path, files=["nope.csv"])
    assert leftovers(tmp_path) == []


def test_server_errors_are_retried(rossmann, tmp_path, capfd):
    rossmann.fail("DownloadDataFiles", 500, 503)
    rossmann.fail("file:rossmann-store-sales.zip", 502)
    result = download(ROSSMANN, tmp_path, kaggle=Kaggle(retry=Retry(tries=4, base_delay=0.001)))
    assert not result.up_to_date and read_manifest(tmp_path)["complete"]
    assert rossmann.calls("DownloadDataFiles") == 4 and rossmann.calls("file") == 2
    assert capfd.readouterr().err.splitlines() == [
        f"kit: Kaggle answered HTTP {code} while downloading rossmann-store-sales; retrying in 0.0s (try {n} of 4)"
        for code, n in ((500, 2), (503, 3), (502, 4))]


def test_server_errors_forever_leave_nothing(rossmann, tmp_path):
    rossmann.fail("DownloadDataFiles", *[500] * 10)
    with pytest.raises(KitError, match=r"Kaggle answered HTTP 500 3 times in a row while downloading "
                                       r"rossmann-store-sales .*try again later"):
        download(ROSSMANN, tmp_path, kaggle=Kaggle(retry=FAST))
    assert rossmann.calls("DownloadDataFiles") == 3
    assert leftovers(tmp_path) == []


def test_cut_transfer_is_resumed(rossmann, tmp_path, tiny_twin, no_sleep):
    rossmann.cut("rossmann-store-sales.zip")
    result = download(ROSSMANN, tmp_path)
    # the client noticed the short read, waited, and asked for the rest with a Range request
    assert ("cut", "rossmann-store-sales.zip") in rossmann.log
    assert any(m == "range" for m, _ in rossmann.log) and no_sleep and no_sleep[0] >= 2
    assert read_manifest(tmp_path)["complete"] and not result.up_to_date
    assert (tmp_path / "train.csv").read_bytes() == (tiny_twin("rossmann") / "train.csv").read_bytes()


def test_transfer_cut_every_time_fails_cleanly(rossmann, tmp_path, no_sleep):
    rossmann.cut("rossmann-store-sales.zip", times=100)
    with pytest.raises(KitError, match=r"the transfer was cut short while downloading rossmann-store-sales, even "
                                       r"after the client's retries .*nothing incomplete was kept: rerun"):
        download(ROSSMANN, tmp_path)
    assert leftovers(tmp_path) == []
    rossmann.cuts.clear()
    assert read_manifest(download(ROSSMANN, tmp_path).folder)["complete"]


def test_rules_not_accepted(rossmann, tmp_path):
    rossmann.rules_accepted.clear()
    with pytest.raises(KitError, match=r"HTTP 403\) \(Kaggle says: You must accept this competition's rules.*\): "
                                       r"you have not accepted the rules of rossmann-store-sales; open "
                                       r"https://www\.kaggle\.com/competitions/rossmann-store-sales/rules"):
        download(ROSSMANN, tmp_path)
    assert leftovers(tmp_path) == []


def test_escaping_archive_entry_is_refused(rossmann, tmp_path, tiny_twin):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("train.csv", (tiny_twin("rossmann") / "train.csv").read_bytes())
        zf.writestr("../../escaped.txt", "outside")
    rossmann.add(ROSSMANN, tiny_twin("rossmann"), bundle=buf.getvalue())
    try:
        data = tmp_path / "a" / "data"
        with pytest.raises(KitError, match=r"refusing to extract rossmann-store-sales.zip: entry "
                                           r"'../../escaped.txt' climbs out of the folder"):
            download(ROSSMANN, data)
        assert leftovers(data) == []
        assert [p for p in tmp_path.rglob("*") if p.is_file() and p.name != dl.LOCK] == []
    finally:
        rossmann.competitions.pop(ROSSMANN.slug)  # the next test packages the twin afresh


def test_not_enough_space_stops_before_downloading(rossmann, tmp_path, monkeypatch):
    monkeypatch.setattr(dl.shutil, "disk_usage", lambda p: Usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(KitError, match=r"the download needs at least 0\.\d MB in \S+ \(more once extracted\) but "
                                       r"only 0\.0 MB are free: free some space or use --data-dir on a bigger disk"):
        download(ROSSMANN, tmp_path)
    assert rossmann.calls("DownloadDataFiles") == 0 and leftovers(tmp_path) == []


def test_disk_full_while_extracting(rossmann, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dl.archive, "extract", full)
    with pytest.raises(KitError, match=r"the disk is full while writing into .* \(No space left on device\): "
                                       r"free some space or use --data-dir on a bigger disk, then rerun"):
        download(ROSSMANN, tmp_path)
    assert leftovers(tmp_path) == []


def test_a_twin_is_not_overwritten_unless_forced(rossmann, tmp_path, tiny_twin):
    shutil.copytree(tiny_twin("rossmann"), tmp_path / "d")
    with pytest.raises(KitError, match=r"holds a synthetic twin .* or replace the twin with --force"):
        download(ROSSMANN, tmp_path / "d")
    assert rossmann.calls("ListDataFiles") == 0
    download(ROSSMANN, tmp_path / "d", force=True)
    # the twin's hidden answers and marker would now lie about the data: gone
    assert not (tmp_path / "d" / "solution").exists() and not (tmp_path / "d" / ".kit-twin.json").exists()


def test_cli_download_then_later_commands(rossmann, tmp_path, tiny_twin, capsys):
    from kit.cli import main

    data = tmp_path / "rossmann"
    assert main(["download", "rossmann", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "downloaded rossmann-store-sales.zip" in out and "verified against the rossmann spec" in out
    assert main(["download", "rossmann", "--data-dir", str(data)]) == 0
    assert "is up to date: 5 files match the manifest" in capsys.readouterr().out
    # the downloaded folder works like the twin: a baseline, and scores equal to the twin's
    sub = tmp_path / "sub.csv"
    assert main(["baseline", "rossmann", "--data-dir", str(data), "-o", str(sub)]) == 0
    shutil.copytree(tiny_twin("rossmann") / "solution", data / "solution")
    capsys.readouterr()
    assert main(["score", "rossmann", str(sub), "--data-dir", str(data)]) == 0
    downloaded = capsys.readouterr().out.split("\n", 1)[1]
    assert main(["score", "rossmann", str(sub), "--data-dir", str(tiny_twin("rossmann"))]) == 0
    assert capsys.readouterr().out.split("\n", 1)[1] == downloaded


def test_cli_download_error_is_one_line(rossmann, tmp_path, capsys):
    from kit.cli import main

    rossmann.rules_accepted.clear()
    assert main(["download", "rossmann", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kit download: error: Kaggle refused downloading rossmann-store-sales (HTTP 403)")
    assert err.count("\n") == 1 and "https://www.kaggle.com/competitions/rossmann-store-sales/rules" in err
