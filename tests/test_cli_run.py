"""`kit run`, `kit train` and `kit blend` end to end on a tiny twin (fast hyperparameters)."""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from kit.cli import main
from kit.spec import get
from kit.submission import score

# end-to-end runs
pytestmark = pytest.mark.slow

FAST = ["--param", "lgbm.n_estimators=80", "--param", "lgbm.learning_rate=0.1",
        "--param", "rf.n_estimators=20", "--threads", "1"]


def test_run_twice_same_submission_and_it_beats_the_baseline(tiny_twin, tmp_path, capsys):
    data = tiny_twin("rossmann")
    subs = []
    for i in range(2):
        out = tmp_path / f"sub{i}.csv"
        assert main(["run", "rossmann", "--data-dir", str(data), "--runs-dir", str(tmp_path / f"runs{i}"),
                     "--model", "lgbm", "--model", "rf", *FAST, "-o", str(out)]) == 0
        subs.append(out.read_bytes())
    assert subs[0] == subs[1]
    text = capsys.readouterr().out
    for word in ("adversarial", "lgbm", "rf", "blend", "submission", "hidden solution", "constant baseline"):
        assert word in text
    s = score(get("rossmann").spec, tmp_path / "sub0.csv", data)
    assert s.public < 0.2  # the constant baseline is near 0.4 on the twin (test_twins)
    runs = tmp_path / "runs0"
    assert sorted(p.name for p in runs.iterdir()) == ["adversarial", "blend", "folds.json", "folds.parquet", "lgbm",
                                                      "rf"]


def test_run_writes_the_twin_when_the_folder_is_empty(tmp_path, capsys):
    data = tmp_path / "porto"
    assert main(["run", "porto_seguro", "--size", "tiny", "--data-dir", str(data), "--model", "lgbm",
                 "--param", "lgbm.n_estimators=40", "--threads", "1", "--no-adversarial"]) == 0
    out = capsys.readouterr().out
    assert "writing the tiny twin" in out and (data / "runs" / "submission.csv").exists()
    sub = pl.read_csv(data / "runs" / "submission.csv")
    assert sub.columns == ["id", "target"] and sub["target"].is_between(0, 1).all()


def test_train_then_blend_from_the_command_line(tiny_twin, tmp_path, capsys):
    data = tiny_twin("rossmann")
    runs = tmp_path / "runs"
    common = ["--data-dir", str(data), "--runs-dir", str(runs), "--threads", "1"]
    assert main(["train", "rossmann", "--model", "lgbm", "--param", "n_estimators=60", *common]) == 0
    assert main(["train", "rossmann", "--model", "lgbm", "--name", "lgbm_small", "--param", "num_leaves=4",
                 "--param", "n_estimators=60", *common]) == 0
    assert main(["blend", "rossmann", "lgbm", "lgbm_small", *[c for c in common if c != "--threads" and c != "1"]]) == 0
    text = capsys.readouterr().out
    assert "out-of-fold RMSPE" in text and (runs / "blend" / "submission.csv").exists()
    score(get("rossmann").spec, runs / "blend" / "submission.csv", data)  # valid, or it raises


def test_bad_params_are_one_clear_line(tiny_twin, tmp_path, capsys):
    data = tiny_twin("rossmann")
    assert main(["train", "rossmann", "--model", "lgbm", "--param", "n_trees", "--data-dir", str(data),
                 "--runs-dir", str(tmp_path)]) == 2
    assert "--param takes KEY=VALUE, got 'n_trees'" in capsys.readouterr().err
    assert main(["run", "rossmann", "--model", "lgbm", "--param", "rf.n_estimators=3", "--data-dir", str(data),
                 "--runs-dir", str(tmp_path), "--no-adversarial"]) == 2
    assert "--param names rf, which this run does not train (lgbm)" in capsys.readouterr().err
    assert main(["blend", "rossmann", "nope", "--data-dir", str(data), "--runs-dir", str(tmp_path)]) == 2
    assert "is not a finished run" in capsys.readouterr().err


def test_run_never_writes_a_twin_over_real_files(tiny_twin, tmp_path, capsys):
    # a real-data folder (no twin marker) with the test but not the train file: refuse, don't overwrite
    data = tmp_path / "d"
    shutil.copytree(tiny_twin("rossmann"), data, ignore=shutil.ignore_patterns("runs", ".kit-cache", ".kit-twin.json"))
    (data / "train.csv").unlink()
    before = sorted(p.name for p in data.iterdir())
    assert main(["run", "rossmann", "--data-dir", str(data), "--no-adversarial"]) == 2
    err = capsys.readouterr().err
    assert "but no train.csv; finish the download with `kit download rossmann" in err
    assert sorted(p.name for p in data.iterdir()) == before
