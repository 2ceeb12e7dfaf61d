"""The Porto Seguro twin: exact file formats, the real data's quirks, and a weak but real signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import kit.spec
import kit.synth
from kit.metrics import normalized_gini

NAME = "porto_seguro"

# Header lines of the real files, copied as facts (bytes, LF endings, no quotes).
FEATURES_HEADER = (
    "ps_ind_01,ps_ind_02_cat,ps_ind_03,ps_ind_04_cat,ps_ind_05_cat,ps_ind_06_bin,ps_ind_07_bin,"
    "ps_ind_08_bin,ps_ind_09_bin,ps_ind_10_bin,ps_ind_11_bin,ps_ind_12_bin,ps_ind_13_bin,ps_ind_14,"
    "ps_ind_15,ps_ind_16_bin,ps_ind_17_bin,ps_ind_18_bin,ps_reg_01,ps_reg_02,ps_reg_03,"
    "ps_car_01_cat,ps_car_02_cat,ps_car_03_cat,ps_car_04_cat,ps_car_05_cat,ps_car_06_cat,"
    "ps_car_07_cat,ps_car_08_cat,ps_car_09_cat,ps_car_10_cat,ps_car_11_cat,ps_car_11,ps_car_12,"
    "ps_car_13,ps_car_14,ps_car_15,ps_calc_01,ps_calc_02,ps_calc_03,ps_calc_04,ps_calc_05,"
    "ps_calc_06,ps_calc_07,ps_calc_08,ps_calc_09,ps_calc_10,ps_calc_11,ps_calc_12,ps_calc_13,"
    "ps_calc_14,ps_calc_15_bin,ps_calc_16_bin,ps_calc_17_bin,ps_calc_18_bin,ps_calc_19_bin,"
    "ps_calc_20_bin")
HEADERS = {
    "train.csv": b"id,target," + FEATURES_HEADER.encode() + b"\n",
    "test.csv": b"id," + FEATURES_HEADER.encode() + b"\n",
    "sample_submission.csv": b"id,target\n",
}
FLOAT_COLUMNS = {"ps_reg_01", "ps_reg_02", "ps_reg_03", "ps_car_12", "ps_car_13", "ps_car_14",
                 "ps_car_15", "ps_calc_01", "ps_calc_02", "ps_calc_03"}
FILES = ("train.csv", "test.csv", "sample_submission.csv", "solution/solution.csv")


@pytest.fixture(scope="module")
def comp():
    return kit.spec.get(NAME)


@pytest.fixture(scope="module")
def data(tiny_twin) -> Path:
    return tiny_twin(NAME)


@pytest.fixture(scope="module")
def tables(data):
    read = lambda name: pl.read_csv(data / name, infer_schema_length=None)  # noqa: E731
    return {name: read(name) for name in FILES}


@pytest.fixture(scope="module")
def small(small_twin):
    # the signal is weak (Gini ~0.3 at best) and 10k tiny rows hold only ~360 positives,
    # so signal checks use "small" (100k/150k rows, a few seconds)
    folder = small_twin(NAME)
    return {name: pl.read_csv(folder / name, infer_schema_length=None)
            for name in ("train.csv", "test.csv", "solution/solution.csv")}


def test_headers_are_the_real_ones(data, comp):
    for name, header in HEADERS.items():
        raw = (data / name).read_bytes()
        assert raw.startswith(header), name
        assert b"\r" not in raw and b'"' not in raw, name
        assert ",".join(comp.spec.file(name).column_names) == header.decode().strip()
    assert (data / "solution/solution.csv").read_bytes().startswith(b"id,target,Usage\n")


def test_spec_facts(comp):
    from competitions.porto_seguro.twin import SIZES

    spec = comp.spec
    assert spec.metric == "gini" and spec.task == "binary" and spec.validation == "stratified_kfold"
    assert spec.time_column is None and spec.horizon_days is None
    assert len(spec.train_file.columns) == 59 and len(spec.test_file.columns) == 58
    assert SIZES["full"]["train"] == spec.train_file.real_rows == 595_212
    assert SIZES["full"]["test"] == spec.test_file.real_rows == 892_816


def test_inferred_types_match_the_spec(tables, comp):
    kinds = {pl.Int64: "int", pl.Float64: "float", pl.String: "str", pl.Boolean: "bool"}
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        file = comp.spec.file(name)
        inferred = {c: kinds[t] for c, t in tables[name].schema.items()}
        declared = {c.name: "str" if c.type in ("date", "datetime") else c.type for c in file.columns}
        assert inferred == declared, name
    floats = {c.name for c in comp.spec.train_file.columns if c.type == "float"}
    assert floats == FLOAT_COLUMNS


def test_missing_values_are_minus_one_at_real_rates(tables, data):
    train = tables["train.csv"]
    rates = {"ps_reg_03": 0.181, "ps_car_03_cat": 0.691, "ps_car_05_cat": 0.448,
             "ps_car_14": 0.0716, "ps_car_07_cat": 0.0193, "ps_ind_05_cat": 0.0098}
    for col, real in rates.items():
        assert train[col].min() == -1
        assert abs((train[col] == -1).mean() - real) < max(0.02, real * 0.3), col
    # nothing below -1 anywhere: -1 is the only negative code
    assert train.select(pl.all().exclude("id", "target").min()).min_horizontal().item() == -1
    # car_03 and car_05 records go missing together more often than by chance
    both = ((train["ps_car_03_cat"] == -1) & (train["ps_car_05_cat"] == -1)).mean()
    assert both > 1.1 * (train["ps_car_03_cat"] == -1).mean() * (train["ps_car_05_cat"] == -1).mean()
    # missing floats are written "-1.0", missing ints "-1" (e.g. ",-1.0," for ps_reg_03)
    lines = (data / "train.csv").read_text().splitlines()[1:2000]
    reg_03 = [line.split(",")[22] for line in lines]
    car_03 = [line.split(",")[25] for line in lines]
    assert "-1.0" in reg_03 and "-1" not in reg_03
    assert "-1" in car_03 and "-1.0" not in car_03


def test_value_grids_and_float_noise(tables, data):
    train = tables["train.csv"]
    for col in ("ps_reg_01", "ps_reg_02", "ps_calc_01", "ps_calc_02", "ps_calc_03"):
        tenths = train[col].to_numpy() * 10
        assert np.allclose(tenths, np.rint(tenths)), col
    assert train["ps_reg_01"].max() <= 0.9 and train["ps_reg_02"].max() <= 1.8
    # continuous columns are sqrt(k)/scale for integer k, rounded to 10 decimals
    for col, scale in (("ps_reg_03", 40), ("ps_car_12", 100), ("ps_car_13", 220),
                       ("ps_car_14", 100), ("ps_car_15", 1)):
        x = train[col].to_numpy()
        k = (x[x > 0] * scale) ** 2
        assert np.abs(k - np.rint(k)).max() < 1e-4 * scale**2, col
    assert set(np.rint(train["ps_car_15"].to_numpy() ** 2).astype(int)) <= set(range(15))
    # the real writer left values like 0.7180703307999999 and 3.6055512755000003
    fields = [f for line in (data / "train.csv").read_text().splitlines()[1:500]
              for f in line.split(",")[22:39]]
    long = [f for f in fields if "." in f and len(f.split(".")[1]) > 10]
    short = [f for f in fields if "." in f and len(f.split(".")[1]) <= 10]
    assert long and len(long) < len(short)


def test_structure_of_binary_groups_and_categories(tables):
    train = tables["train.csv"]
    onehot = train.select(pl.sum_horizontal(f"ps_ind_{i:02d}_bin" for i in range(6, 10)))
    assert (onehot.to_series() == 1).all()
    flags = train.select(pl.sum_horizontal(f"ps_ind_{i:02d}_bin" for i in range(10, 14)))
    assert (flags.to_series() == train["ps_ind_14"]).all()
    assert set(train["ps_car_11_cat"].unique()) == set(range(1, 105))
    assert train["ps_car_11_cat"].mode().item() == 104
    for col in train.columns:
        if col.endswith("_bin"):
            assert set(train[col].unique()) <= {0, 1}, col
    assert 0.03 < train["target"].mean() < 0.045


def test_correlated_feature_groups(tables):
    train = tables["train.csv"]
    known = train.filter((pl.col("ps_reg_03") >= 0) & (pl.col("ps_car_14") >= 0))
    assert known.select(pl.corr("ps_car_13", "ps_car_12")).item() > 0.5
    assert known.select(pl.corr("ps_reg_03", "ps_reg_01")).item() > 0.4
    assert known.select(pl.corr("ps_reg_03", "ps_reg_02")).item() > 0.35
    calc = [c for c in train.columns if c.startswith("ps_calc")]
    corr = np.corrcoef(train.select(calc + ["ps_car_13", "ps_reg_03"]).to_numpy(), rowvar=False)
    off = corr[np.triu_indices(len(calc) + 2, k=1)]
    assert np.abs(off).max() < 0.05  # calc columns are independent of each other and of the rest


def test_ids_interleave_and_solution_matches_test(tables):
    train, test = tables["train.csv"], tables["test.csv"]
    sample, solution = tables["sample_submission.csv"], tables["solution/solution.csv"]
    ids = np.sort(np.concatenate([train["id"].to_numpy(), test["id"].to_numpy()]))
    assert np.array_equal(ids, np.arange(train.height + test.height))  # disjoint, no gaps
    assert train["id"].is_sorted() and test["id"].is_sorted()
    assert train["id"].min() < test["id"].max() and test["id"].min() < train["id"].max()
    assert solution["id"].to_list() == test["id"].to_list() == sample["id"].to_list()
    assert solution.columns == ["id", "target", "Usage"]
    assert set(solution["Usage"]) == {"Public", "Private"}
    assert abs((solution["Usage"] == "Public").mean() - 0.3) < 0.01
    assert (sample["target"] == 0.0364).all()


def test_sample_submission_raw_value(data):
    assert (data / "sample_submission.csv").read_text().splitlines()[1].endswith(",0.0364")


def test_same_seed_same_bytes_other_seed_differs(tmp_path, comp, data):
    kit.synth.generate(comp, tmp_path / "a", size="tiny", seed=0)
    kit.synth.generate(comp, tmp_path / "b", size="tiny", seed=1)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (data / name).read_bytes(), name
    assert (tmp_path / "b" / "train.csv").read_bytes() != (data / "train.csv").read_bytes()
    assert (tmp_path / "b" / "solution/solution.csv").read_bytes() != \
        (data / "solution/solution.csv").read_bytes()


def test_no_train_test_shift(tables):
    """Adversarial validation: the test is a random sample of the same population."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    feats = [c for c in tables["test.csv"].columns if c != "id"]
    X = np.vstack([tables[name].select(feats).to_numpy() for name in ("train.csv", "test.csv")])
    is_test = np.r_[np.zeros(tables["train.csv"].height), np.ones(tables["test.csv"].height)]
    half = np.random.default_rng(0).random(len(X)) < 0.5
    # one thread: OpenMP threads spin against each other on a busy 2-core runner
    model = lgb.LGBMClassifier(n_estimators=50, verbose=-1, n_jobs=1).fit(X[half], is_test[half])
    auc = roc_auc_score(is_test[~half], model.predict_proba(X[~half])[:, 1])
    # measured 0.49-0.51 on seeds 0-5
    assert abs(auc - 0.5) < 0.04


@pytest.mark.slow
def test_missingness_raises_risk(small):
    # -1 in ps_car_07_cat and ps_ind_05_cat roughly doubles the claim rate (as on Kaggle);
    # measured on small seeds 0-2: car_07 x1.52-1.80, ind_05 x1.87-2.06
    rows = pl.concat([small["train.csv"].select("target", "ps_car_07_cat", "ps_ind_05_cat"),
                      small["test.csv"].select("ps_car_07_cat", "ps_ind_05_cat").with_columns(
                          target=small["solution/solution.csv"]["target"])], how="diagonal")
    rate = rows["target"].mean()
    for col in ("ps_car_07_cat", "ps_ind_05_cat"):
        assert rows.filter(pl.col(col) == -1)["target"].mean() > 1.3 * rate, col


@pytest.mark.slow
def test_lightgbm_learns_signal_and_calc_is_noise(small):
    import lightgbm as lgb

    train, test, solution = small["train.csv"], small["test.csv"], small["solution/solution.csv"]
    y, truth = train["target"].to_numpy(), solution["target"].to_numpy()
    feats = [c for c in test.columns if c != "id"]
    calc = [c for c in feats if c.startswith("ps_calc")]

    def gini(cols):
        # one thread: OpenMP threads spin against each other on a busy 2-core runner
        # (20x slower); the model is the same
        model = lgb.LGBMClassifier(verbose=-1, n_jobs=1).fit(train.select(cols).to_numpy(), y)
        return normalized_gini(truth, model.predict_proba(test.select(cols).to_numpy())[:, 1])

    baseline = normalized_gini(truth, np.full(len(truth), 0.0364))  # the sample submission
    # measured on "small", seeds 0-2: all features 0.217-0.232 (about 0.27 at full size, the
    # Kaggle level), calc only -0.021..-0.009, constant ~0; margins leave room for seeds
    assert abs(baseline) < 0.02
    assert gini(feats) > baseline + 0.15
    assert abs(gini(calc)) < 0.04
