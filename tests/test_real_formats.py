"""`kit run` end to end on tiny folders written in the real Kaggle files' exact spellings.

The twins already write most real quirks (CRLF, R's quoting, "7.0" unit sales); these tests add
what the twins do not: float-spelled integers and prices (Kaggle's ValidSolution.csv spells
31000.0 and 46173.199999999997), optional files absent, and the errors a real folder meets.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from kit.cli import main
from kit.data.schema import require
from kit.data.tables import read_table
from kit.errors import KitError
from kit.spec import get
from kit.submission import score

# end-to-end runs
pytestmark = pytest.mark.slow

FAST = ["--param", "lgbm.n_estimators=40", "--param", "lgbm.learning_rate=0.2", "--threads", "1",
        "--no-adversarial"]
FAST_CNN = ["--model", "cnn", "--param", "cnn.epochs=1", "--param", "cnn.width=8", "--param", "cnn.tta=false",
            "--threads", "1", "--no-adversarial"]
#: the files each competition may lack (FileSpec.required=False), deleted as a user may never fetch them
OPTIONAL = {
    "bulldozers": ("Valid.csv", "ValidSolution.csv", "TrainAndValid.csv", "Machine_Appendix.csv",
                   "median_benchmark.csv"),
    "rossmann": ("store_states.csv",),
}


def _real_folder(tiny_twin, name: str, tmp_path: Path) -> Path:
    """A copy of the tiny twin without the twin's marker, cache and runs, optional files deleted."""
    data = tmp_path / name
    shutil.copytree(tiny_twin(name), data, ignore=shutil.ignore_patterns("runs", ".kit-cache", ".kit-twin.json"))
    for optional in OPTIONAL.get(name, ()):
        (data / optional).unlink()
    return data


def _run(name: str, data: Path, tmp_path: Path, *args: str) -> pl.DataFrame:
    out = tmp_path / "submission.csv"
    code = main(["run", name, "--data-dir", str(data), "--runs-dir", str(tmp_path / "runs"), *args, "-o", str(out)])
    assert code == 0
    spec = get(name).spec
    sub = pl.read_csv(out, infer_schema_length=0)
    ids = pl.read_csv(data / spec.test, infer_schema_length=0)[spec.id_column]
    assert sub.height == ids.len() and sorted(sub[spec.id_column].to_list()) == sorted(ids.to_list())
    if (data / "solution").exists():
        s = score(spec, out, data)
        assert s.public is not None and s.private is not None
    return sub


def _float_prices(path: Path) -> None:
    """Train.csv's SalePrice (second field) spelled as ValidSolution.csv spells it: 31000.0, and
    one price with a float's full digits. CRLF endings kept."""
    lines = path.read_bytes().split(b"\r\n")
    for i in range(1, len(lines)):
        if lines[i]:
            sales_id, price, rest = lines[i].split(b",", 2)
            lines[i] = b",".join([sales_id, b"46173.199999999997" if i == 3 else price + b".0", rest])
    path.write_bytes(b"\r\n".join(lines))


def test_bulldozers_float_prices_crlf_and_no_optional_files(tiny_twin, tmp_path, capsys):
    data = _real_folder(tiny_twin, "bulldozers", tmp_path)
    _float_prices(data / "Train.csv")
    assert b"\r\n" in (data / "Train.csv").read_bytes()[:2000]
    prices = read_table(get("bulldozers").spec, "Train.csv", data)["SalePrice"]
    assert prices.dtype == pl.Float64 and prices[2] == pytest.approx(46173.2)
    _run("bulldozers", data, tmp_path, "--model", "lgbm", *FAST)
    assert "Machine_Appendix.csv (optional) is absent" in capsys.readouterr().out


def test_rossmann_r_quoting_without_store_states(tiny_twin, tmp_path, capsys):
    data = _real_folder(tiny_twin, "rossmann", tmp_path)
    # R's write.csv: quoted header, quoted factor columns, CRLF (as in the real test.csv)
    assert (data / "test.csv").read_bytes().startswith(b'"Id","Store","DayOfWeek","Date","Open"')
    _run("rossmann", data, tmp_path, "--model", "lgbm", *FAST)
    assert "store_states.csv (optional, external) is absent" in capsys.readouterr().out


def test_rossmann_with_a_20_day_test(tiny_twin, tmp_path, capsys):
    data = _real_folder(tiny_twin, "rossmann", tmp_path)
    test = pl.read_csv(data / "test.csv", infer_schema_length=0)
    days = sorted(test["Date"].unique())[:20]
    kept = set(test.filter(pl.col("Date").is_in(days))["Id"].to_list())
    for rel in ("test.csv", "sample_submission.csv", "solution/solution.csv"):
        # cut line by line, so the file keeps its quoting and line endings
        lines = (data / rel).read_bytes().splitlines(keepends=True)
        body = [line for line in lines[1:] if line.split(b",", 1)[0].strip(b'"').decode() in kept]
        (data / rel).write_bytes(b"".join([lines[0], *body]))
    sub = _run("rossmann", data, tmp_path, "--model", "lgbm", *FAST)
    assert sub.height == len(kept)
    assert "validation window is 20 days" in capsys.readouterr().out


def test_favorita_real_spellings(tiny_twin, tmp_path):
    data = _real_folder(tiny_twin, "favorita", tmp_path)
    # unit sales always with a decimal point, as in the real train.csv ("0,2013-01-01,25,103665,7.0,")
    assert (data / "train.csv").read_text().splitlines()[1].split(",")[4].endswith(".0")
    _run("favorita", data, tmp_path, "--model", "lgbm", *FAST)


def test_porto_seguro_real_spellings(tiny_twin, tmp_path):
    data = _real_folder(tiny_twin, "porto_seguro", tmp_path)
    _run("porto_seguro", data, tmp_path, "--model", "lgbm", *FAST)


def test_planet_real_spellings(tiny_twin, tmp_path):
    data = _real_folder(tiny_twin, "planet", tmp_path)
    sub = _run("planet", data, tmp_path, *FAST_CNN)
    assert sub.columns == ["image_name", "tags"]


def test_a_missing_sample_submission_is_one_line_with_the_download_command(tiny_twin, tmp_path, capsys):
    data = _real_folder(tiny_twin, "bulldozers", tmp_path)
    (data / "random_forest_benchmark_test.csv").unlink()
    assert main(["run", "bulldozers", "--data-dir", str(data), "--runs-dir", str(tmp_path / "runs"),
                 "--model", "lgbm", *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "random_forest_benchmark_test.csv (`kit download bulldozers --file random_forest_benchmark_test.csv`)" in err
    assert "Valid.csv" not in err  # optional files are not asked for


def test_require_lists_every_missing_file_at_once(tmp_path):
    spec = get("rossmann").spec
    with pytest.raises(KitError, match=r"lacks 4 required files: train.csv \(`kit download rossmann --file "
                                       r"train.csv`\), test.csv .*sample_submission.csv \(`kit download rossmann "
                                       r"--file sample_submission.csv`\)"):
        require(spec, tmp_path)


def test_a_non_integral_id_names_file_line_column_and_value(tiny_twin, tmp_path, capsys):
    data = _real_folder(tiny_twin, "bulldozers", tmp_path)
    lines = (data / "Test.csv").read_bytes().split(b"\r\n")
    lines[4] = b"46173.2" + lines[4][lines[4].index(b","):]  # line 5: the header is line 1
    (data / "Test.csv").write_bytes(b"\r\n".join(lines))
    assert main(["run", "bulldozers", "--data-dir", str(data), "--runs-dir", str(tmp_path / "runs"),
                 "--model", "lgbm", *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Test.csv line 5: column SalesID holds '46173.2', which is not a whole number" in err


@pytest.mark.parametrize("spelling, value", [("31000.0", 31000), ("1e5", 100000), (" 7 ", 7), ('"12"', 12),
                                             ("9007199254740993", 9007199254740993), ("", None)])
def test_integer_columns_take_any_lossless_spelling(tmp_path, spelling, value):
    spec = get("rossmann").spec
    (tmp_path / "store_states.csv").write_text(f"Store,State\r\n{spelling},HE\r\n2,BY\r\n")
    table = read_table(spec, "store_states.csv", tmp_path, cache=False)
    assert table.schema["Store"] == pl.Int64 and table["Store"].to_list() == [value, 2]


@pytest.mark.parametrize("spelling", ["46173.2", "1e300", "nan", "x1"])
def test_integer_columns_refuse_what_they_cannot_hold(tmp_path, spelling):
    spec = get("rossmann").spec
    (tmp_path / "store_states.csv").write_text(f"Store,State\r\n1,HE\r\n2,BY\r\n{spelling},NW\r\n")
    with pytest.raises(KitError, match=rf"store_states.csv line 4: column Store holds '{spelling}', which is not a "
                                       r"whole number .*fix the value in the file"):
        read_table(spec, "store_states.csv", tmp_path)
    assert not (tmp_path / ".kit-cache" / "store_states.csv.json").exists()  # no cache vouches for it
