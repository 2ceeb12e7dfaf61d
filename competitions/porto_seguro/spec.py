"""Porto Seguro's Safe Driver Prediction as data: files, columns, formats, metric."""

from __future__ import annotations

from kit.spec import Column, CompetitionSpec, FileSpec, SubmissionSpec

# The 57 anonymised features in file order, with the type polars infers from the real file.
# Suffixes say what a column is: `_cat` categorical codes, `_bin` 0/1 flags, none ordinal
# or continuous. Groups: ind (driver), reg (region), car, calc (engineered; pure noise).
# -1 means missing everywhere (written "-1" in int columns, "-1.0" in float columns).
_FLOAT = {"ps_reg_01", "ps_reg_02", "ps_reg_03", "ps_car_12", "ps_car_13", "ps_car_14",
          "ps_car_15", "ps_calc_01", "ps_calc_02", "ps_calc_03"}


def _feature_names() -> tuple[str, ...]:
    ind = ["ps_ind_01", "ps_ind_02_cat", "ps_ind_03", "ps_ind_04_cat", "ps_ind_05_cat"]
    ind += [f"ps_ind_{i:02d}_bin" for i in range(6, 14)]
    ind += ["ps_ind_14", "ps_ind_15", "ps_ind_16_bin", "ps_ind_17_bin", "ps_ind_18_bin"]
    reg = ["ps_reg_01", "ps_reg_02", "ps_reg_03"]
    car = [f"ps_car_{i:02d}_cat" for i in range(1, 12)]
    car += ["ps_car_11", "ps_car_12", "ps_car_13", "ps_car_14", "ps_car_15"]
    calc = [f"ps_calc_{i:02d}" for i in range(1, 15)]
    calc += [f"ps_calc_{i:02d}_bin" for i in range(15, 21)]
    return tuple(ind + reg + car + calc)


FEATURES: tuple[str, ...] = _feature_names()
FEATURE_COLUMNS: tuple[Column, ...] = tuple(
    Column(n, "float" if n in _FLOAT else "int") for n in FEATURES)

# Share of missing values (-1) per column in the real train.csv, from the data page and
# the many public EDAs; the twin draws missingness at these rates.
MISSING_RATES: dict[str, float] = {
    "ps_ind_02_cat": 216 / 595_212,
    "ps_ind_04_cat": 83 / 595_212,
    "ps_ind_05_cat": 5_809 / 595_212,
    "ps_reg_03": 107_772 / 595_212,
    "ps_car_01_cat": 107 / 595_212,
    "ps_car_02_cat": 5 / 595_212,
    "ps_car_03_cat": 411_231 / 595_212,
    "ps_car_05_cat": 266_551 / 595_212,
    "ps_car_07_cat": 11_489 / 595_212,
    "ps_car_09_cat": 569 / 595_212,
    "ps_car_11": 5 / 595_212,
    "ps_car_12": 1 / 595_212,
    "ps_car_14": 42_620 / 595_212,
}

SPEC = CompetitionSpec(
    name="porto_seguro",
    title="Porto Seguro's Safe Driver Prediction",
    slug="porto-seguro-safe-driver-prediction",
    task="binary",
    metric="gini",
    files=(
        FileSpec(
            name="train.csv", role="train",
            columns=(Column("id", "int"), Column("target", "int"), *FEATURE_COLUMNS),
            # the competition's download is one zip holding the three CSVs
            archive="porto-seguro-safe-driver-prediction.zip",
            real_rows=595_212,
            description="one row per policy holder: id, target (claim filed: 1) and 57 "
                        "anonymised features; -1 means missing"),
        FileSpec(
            name="test.csv", role="test",
            columns=(Column("id", "int"), *FEATURE_COLUMNS),
            archive="porto-seguro-safe-driver-prediction.zip",
            real_rows=892_816,
            description="the policy holders to score, same features without target; "
                        "ids interleave with train's (together they are 0..1,488,027)"),
        FileSpec(
            name="sample_submission.csv", role="sample_submission",
            columns=(Column("id", "int"), Column("target", "float")),
            archive="porto-seguro-safe-driver-prediction.zip",
            real_rows=892_816,
            description="test ids in test order with the constant 0.0364 (the train rate)"),
    ),
    train="train.csv",
    test="test.csv",
    sample_submission="sample_submission.csv",
    id_column="id",
    target_columns=("target",),
    # any score works: normalized Gini only looks at the order of the predictions
    submission=SubmissionSpec(columns=("id", "target"), kind="float", nonnegative=False),
    time_column=None,
    horizon_days=None,
    validation="stratified_kfold",
    description=(
        "Predict the probability that a car-insurance policy holder files a claim in the next "
        "year. 595k training rows, 893k test rows, 57 anonymised features in groups ind "
        "(driver), reg (region), car and calc; suffix _cat marks categorical codes, _bin "
        "flags, -1 marks missing values. Only 3.6% of rows are positive and the signal is "
        "weak (winning normalized Gini about 0.29), so out-of-fold scores are noisy: use "
        "stratified k-fold and compare models on several seeds. The test is a random sample "
        "of the same population (no shift); the public leaderboard used 30% of it. The "
        "ps_calc_* columns are known to carry no signal."),
    extra={
        "missing_value": -1,
        "missing_rates": MISSING_RATES,
        "target_rate": 21_694 / 595_212,
        "sample_submission_value": 0.0364,
        "public_fraction": 0.3,
        "noise_columns": tuple(n for n in FEATURES if n.startswith("ps_calc_")),
        # continuous columns are square roots of integers on a fixed grid:
        # value = sqrt(k) / scale (public EDA finding), written rounded to 10 decimals
        "sqrt_grids": {"ps_reg_03": 40, "ps_car_12": 100, "ps_car_13": 220,
                       "ps_car_14": 100, "ps_car_15": 1},
    },
)
