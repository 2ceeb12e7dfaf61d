"""`kit explain` end to end on tiny twins: every tabular competition and every table model kind,
the page and the numbers it writes, `--drop` on train, and the one-line errors."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from kit.cli import main

pytestmark = pytest.mark.slow

FAST = {"lgbm": ["--param", "n_estimators=40", "--param", "learning_rate=0.2"],
        "rf": ["--param", "n_estimators=12", "--param", "max_samples=3000"],
        "nn": ["--param", "epochs=2"]}


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """Plumbing, not accuracy: fewer rounds for the drop tests' quick model, fewer drop tests."""
    import kit.explain.context
    import kit.explain.redundancy

    monkeypatch.setattr(kit.explain.context, "FAST_ROUNDS", 30)
    monkeypatch.setattr(kit.explain.redundancy, "MAX_DROP_TESTS", 4)


def _train(comp, data, runs, model, *extra):
    assert main(["train", comp, "--model", model, *FAST[model], "--data-dir", str(data), "--runs-dir", str(runs),
                 "--threads", "1", *extra]) == 0


def _explain(comp, data, runs, *args):
    return main(["explain", comp, *args, "--data-dir", str(data), "--runs-dir", str(runs), "--threads", "1",
                 "--sample", "1500", "--repeats", "2"])


def _page(run_dir):
    page = (run_dir / "explain" / "report.html").read_text()
    assert page.startswith("<!doctype html>")
    assert "src='data:image/png;base64," in page and "src='explain" not in page  # self-contained
    return page


def test_bulldozers_forest_every_part_with_its_numbers(tiny_twin, tmp_path, capsys):
    data, runs = tiny_twin("bulldozers"), tmp_path / "runs"
    _train("bulldozers", data, runs, "rf")
    assert _explain("bulldozers", data, runs, "rf", "--by", "ProductSize", "--pair", "YearMade", "saledate_elapsed",
                    "--group", "ProductSize=Large", "--group", "ProductSize=Mini") == 0
    out = runs / "rf" / "explain"
    page = _page(runs / "rf")
    for title in ("Which features matter", "Redundant features", "How predictions move with a feature",
                  "One row explained", "Where the model is unsure", "What extrapolates", "Learned embeddings"):
        assert title in page
    assert "embeddings come from the entity-embedding network" in page  # said, not silently missing
    for f in ("importance.png", "importance.parquet", "dendrogram.png", "correlation.parquet", "dependence.png",
              "dependence_2d.png", "row.png", "row.json", "groups.png", "confidence.png", "confidence.parquet",
              "extrapolation.png", "extrapolation.json", "explain.json"):
        assert (out / f).exists(), f
    imp = pl.read_parquet(out / "importance.parquet")
    assert imp["drop_mean"].is_sorted(descending=True) and imp["model_importance"].null_count() == 0
    conf = pl.read_parquet(out / "confidence.parquet")
    assert {"Large", "Mini"} <= set(conf["label"].to_list())  # labelled by level, not by code
    row = json.loads((out / "row.json").read_text())
    assert abs(row["bias"] + sum(r["contribution"] for r in row["contributions"]) - row["prediction"]) < 1e-6
    assert "rf: wrote" in capsys.readouterr().out
    # one part again: the others stay, in the folder and on the page
    assert _explain("bulldozers", data, runs, "rf", "--parts", "confidence", "--by", "state") == 0
    assert "kept from the last explanation: importance, redundancy" in capsys.readouterr().out
    assert (out / "importance.png").exists() and "Which features matter" in _page(runs / "rf")
    assert pl.read_parquet(out / "confidence.parquet")["by"][0] == "state"


def test_rossmann_network_embeddings_and_dropped_columns(tiny_twin, tmp_path):
    data, runs = tiny_twin("rossmann"), tmp_path / "runs"
    _train("rossmann", data, runs, "nn", "--drop", "Date_week", "CompetitionDistance")
    config = json.loads((runs / "nn" / "config.json").read_text())
    assert config["dropped"] == ["Date_week", "CompetitionDistance"]
    assert _explain("rossmann", data, runs, "nn", "--parts", "embeddings", "importance", "row") == 0
    out = runs / "nn" / "explain"
    page = _page(runs / "nn")
    assert "trained without Date_week, CompetitionDistance" in page
    assert "contributions need trees" in page
    emb = pl.read_parquet(out / "embeddings" / "StoreType.parquet")
    assert {"feature", "code", "label", "x", "y", "emb0"} <= set(emb.columns)
    assert set(emb["label"].to_list()) <= {"a", "b", "c", "d"}
    # the network codes the feature code's codes: its labels go through both (0 = missing stays missing)
    promo = pl.read_parquet(out / "embeddings" / "PromoInterval.parquet")["label"].to_list()
    assert set(promo) <= {"(empty)", "missing", "Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"}
    assert "Jan,Apr,Jul,Oct" in promo
    assert "Date_week" not in pl.read_parquet(out / "importance.parquet")["feature"].to_list()


@pytest.mark.parametrize("comp", ["favorita", "porto_seguro"])
def test_lightgbm_runs_of_the_other_competitions(comp, tiny_twin, tmp_path):
    data, runs = tiny_twin(comp), tmp_path / "runs"
    _train(comp, data, runs, "lgbm")
    assert _explain(comp, data, runs, "--parts", "importance", "dependence", "row", "redundancy") == 0
    out = runs / "lgbm" / "explain"
    row = json.loads((out / "row.json").read_text())
    assert abs(row["bias"] + sum(r["contribution"] for r in row["contributions"]) - row["prediction"]) < 1e-6
    assert pl.read_parquet(out / "dependence.parquet").height > 0


def test_explain_errors_are_one_line(tiny_twin, tmp_path, capsys):
    data, runs = tiny_twin("rossmann"), tmp_path / "runs"
    assert _explain("rossmann", data, runs) == 2
    assert "no trained runs of lgbm, rf or nn" in capsys.readouterr().err
    _train("rossmann", data, runs, "lgbm")
    cases = [(["nope"], r"no run 'nope' in .* \(runs there: lgbm\)"),
             (["lgbm", "--row", "999999999"], r"--row 999999999 is not a test id"),
             (["lgbm", "--group", "StoreType=a"], r"--group compares two groups; give it twice"),
             (["lgbm", "--parts", "everything"], r"unknown part everything; the parts are importance"),
             (["lgbm", "--parts", "row", "--group", "Nope=1", "--group", "StoreType=a"], r"--group takes COLUMN=VALUE")]
    for args, message in cases:
        assert _explain("rossmann", data, runs, *args) == 2, args
        err = capsys.readouterr().err
        assert re.search(message, err) and err.count("\n") == 1 and "Traceback" not in err, err
    assert main(["train", "rossmann", "--model", "lgbm", "--drop", "Nope", "--name", "x", "--data-dir", str(data),
                 "--runs-dir", str(runs)]) == 2
    assert "--drop names Nope, not a feature of this competition" in capsys.readouterr().err


def test_images_are_refused(tmp_path, capsys):
    assert main(["explain", "planet", "--data-dir", str(tmp_path)]) == 2
    assert "inputs are images" in capsys.readouterr().err
