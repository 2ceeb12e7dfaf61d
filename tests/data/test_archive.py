"""Safe extraction: hostile entries are refused and nothing lands outside the data folder."""

import io
import os
import tarfile
import zipfile

import pytest

from kit.data.archive import extract
from kit.errors import KitError


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def make_tar(path, entries, link=None):
    with tarfile.open(path, "w") as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type = tarfile.SYMTYPE
            info.linkname = link[1]
            tf.addfile(info)
    return path


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_zip_extracts_into_target(tmp_path):
    arc = make_zip(tmp_path / "train.csv.zip", [("train.csv", "a,b\n1,2\n")])
    out = tmp_path / "data"
    produced = extract(arc, out)
    assert [p.name for p in produced] == ["train.csv"]
    assert (out / "train.csv").read_text() == "a,b\n1,2\n"
    assert listing(out) == ["train.csv"]  # no staging left behind


@pytest.mark.parametrize("evil, why", [
    ("../evil.csv", "climbs out"),
    ("sub/../../evil.csv", "climbs out"),
    ("/tmp/evil.csv", "absolute path"),
])
def test_zip_escape_refused_and_nothing_written(tmp_path, evil, why):
    arc = make_zip(tmp_path / "bad.zip", [("good.csv", "x"), (evil, "pwned")])
    out = tmp_path / "data"
    with pytest.raises(KitError, match=f"refusing to extract bad.zip: entry .* {why}.*nothing was extracted"):
        extract(arc, out)
    assert listing(out) == []
    assert not (tmp_path / "evil.csv").exists()


def test_tar_symlink_refused(tmp_path):
    arc = make_tar(tmp_path / "imgs.tar", [("a.jpg", b"x")], link=("link.jpg", "/etc/passwd"))
    with pytest.raises(KitError, match="'link.jpg' is a link"):
        extract(arc, tmp_path / "data")
    assert listing(tmp_path / "data") == []


def test_tar_7z_both_layers(tmp_path):
    py7zr = pytest.importorskip("py7zr")
    tar = make_tar(tmp_path / "train-jpg.tar", [("train-jpg/train_0.jpg", b"jpeg"), ("train-jpg/train_1.jpg", b"jpg2")])
    arc = tmp_path / "train-jpg.tar.7z"
    with py7zr.SevenZipFile(arc, "w") as z:
        z.write(tar, "train-jpg.tar")
    out = tmp_path / "data"
    extract(arc, out)
    assert listing(out) == ["train-jpg", "train-jpg/train_0.jpg", "train-jpg/train_1.jpg"]


def test_tar_7z_inner_escape_refused(tmp_path):
    py7zr = pytest.importorskip("py7zr")
    tar = make_tar(tmp_path / "x.tar", [("../../escape.jpg", b"x")])
    arc = tmp_path / "x.tar.7z"
    with py7zr.SevenZipFile(arc, "w") as z:
        z.write(tar, "x.tar")
    with pytest.raises(KitError, match="climbs out"):
        extract(arc, tmp_path / "data")
    assert listing(tmp_path / "data") == []
    assert not (tmp_path.parent / "escape.jpg").exists()


def test_truncated_zip_is_a_clear_error(tmp_path):
    arc = make_zip(tmp_path / "t.zip", [("t.csv", "x" * 10000)])
    data = arc.read_bytes()
    arc.write_bytes(data[: len(data) // 2])
    with pytest.raises(KitError, match="not a complete zip archive.*download again"):
        extract(arc, tmp_path / "data")
    assert listing(tmp_path / "data") == []


def test_reextract_replaces(tmp_path):
    out = tmp_path / "data"
    extract(make_zip(tmp_path / "a.zip", [("f.csv", "v1")]), out)
    extract(make_zip(tmp_path / "b.zip", [("f.csv", "v2")]), out)
    assert (out / "f.csv").read_text() == "v2"
    assert os.listdir(out) == ["f.csv"]
