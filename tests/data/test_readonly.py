"""Read-only data folders (issue 12 C): where caches and run folders go, tried on a real
read-only bind mount (tests/faults/readonly.py; skipped where mounting is not permitted)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kit.data import cache
from kit.data.tables import read_table
from kit.errors import KitError
from kit.images import cache_path, load_images
from kit.spec import get
from tests.faults.readonly import MOUNTED, read_only, read_only_folder  # noqa: F401 (a fixture)


@pytest.fixture()
def env(tmp_path, monkeypatch):
    """No KIT_CACHE, the per-user cache in tmp_path/xdg, the working directory tmp_path/work."""
    monkeypatch.delenv("KIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


@pytest.fixture()
def rossmann(tiny_twin, tmp_path):
    folder = tmp_path / "rossmann"
    folder.mkdir()
    for name in ("train.csv", "test.csv", "store.csv", "sample_submission.csv"):
        shutil.copy2(tiny_twin("rossmann") / name, folder / name)
    return folder


def test_writable_is_found_by_trying_and_leaves_nothing(tmp_path, read_only_folder):
    (tmp_path / "ro").mkdir()
    assert cache.writable(tmp_path / "rw" / "deeper")  # asked of the nearest folder there, creating none
    assert cache.writable(tmp_path) and sorted(tmp_path.iterdir()) == [tmp_path / "ro"]
    ro = read_only_folder(tmp_path / "ro")
    assert cache.why_not_writable(ro) == "Read-only file system"  # root as we are: the mode bits say yes
    assert not cache.writable(ro / "sub")  # nor can a folder be made inside it


def test_read_only_mount_is_gone_after_the_block(tmp_path):
    with read_only(tmp_path) as ro:
        assert ro in MOUNTED and not cache.writable(ro)
    assert not MOUNTED and cache.writable(tmp_path)


def test_cache_beside_writable_data_else_user_cache_said_once(env, rossmann, read_only_folder, capsys):
    spec = get("rossmann").spec
    assert cache.cache_dir(rossmann) == rossmann / ".kit-cache"
    read_only_folder(rossmann)
    direct = read_table(spec, "store.csv", rossmann, cache=False)
    assert read_table(spec, "store.csv", rossmann).equals(direct)
    assert read_table(spec, "test.csv", rossmann).height > 0
    where = env / "xdg" / "kit" / cache.key(rossmann)
    assert cache.cache_dir(rossmann) == where and (where / "store.csv.parquet").exists()
    assert cache.is_fresh(rossmann / "store.csv", {"columns": [[c.name, c.type] for c in spec.file("store.csv").columns],
                                                   "dates": []})
    err = capsys.readouterr().err.splitlines()
    assert err == [f"kit: {rossmann} cannot be written: its caches go to {where} (set KIT_CACHE=DIR to choose)"]


def test_kit_cache_wins_and_keys_each_data_folder(env, rossmann, tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "kc"))
    other = tmp_path / "elsewhere" / "rossmann"
    assert cache.cache_dir(rossmann).parent == tmp_path / "kc"
    assert cache.cache_dir(rossmann) != cache.cache_dir(other)  # same name, another folder
    assert cache.cache_dir(rossmann).name.startswith("rossmann-")


def test_kit_cache_that_cannot_be_written_is_one_clear_error(env, tmp_path, monkeypatch, read_only_folder):
    (tmp_path / "ro").mkdir()
    read_only_folder(tmp_path / "ro")
    monkeypatch.setenv("KIT_CACHE", str(tmp_path / "ro" / "cache"))
    with pytest.raises(KitError, match=r"^KIT_CACHE=.*/ro/cache cannot be written \(Read-only file system\); "
                                       r"point KIT_CACHE at a writable folder, or unset it"):
        cache.cache_dir(tmp_path / "data")


def test_images_cache_in_user_cache_for_read_only_folder(env, tmp_path, read_only_folder):
    from PIL import Image

    jpg = tmp_path / "planet" / "train-jpg"
    jpg.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (32, 32), (i * 80, 0, 0)).save(jpg / f"train_{i}.jpg")
    files = sorted(jpg.glob("*.jpg"))
    read_only_folder(tmp_path / "planet")
    first = load_images(files, 16)
    target = cache_path(files, 16)
    assert target.parent == env / "xdg" / "kit" / cache.key(tmp_path / "planet") / "images"
    assert target.exists() and np.array_equal(load_images(files, 16), first)


def test_runs_go_to_the_working_directory_else_the_user_cache(env, rossmann, read_only_folder, capsys):
    assert cache.runs_dir(rossmann) == rossmann / "runs"
    assert cache.runs_dir(rossmann, "given") == Path("given")
    read_only_folder(rossmann)
    assert cache.runs_dir(rossmann) == env / "work" / "runs" / "rossmann"
    assert "run folders go to" in capsys.readouterr().err
    read_only_folder(env / "work")  # a working directory that cannot be written either
    assert cache.runs_dir(rossmann) == env / "xdg" / "kit" / cache.key(rossmann) / "runs"


def test_cli_train_on_read_only_data(env, rossmann, read_only_folder, capsys):
    from kit.cli import main

    read_only_folder(rossmann)
    code = main(["train", "rossmann", "--model", "lgbm", "--data-dir", str(rossmann), "--threads", "1",
                 "--param", "n_estimators=10"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (env / "work" / "runs" / "rossmann" / "lgbm" / "metrics.json").exists()
    assert err.count("run folders go to") == 1 and err.count("its caches go to") == 1
