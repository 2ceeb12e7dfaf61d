"""Rossmann Store Sales as data: files, formats and quirks of the real download."""

from kit.spec import Column, CompetitionSpec, FileSpec, SubmissionSpec

# Kaggle's bundle from `kaggle competitions download -c rossmann-store-sales`.
_ARCHIVE = "rossmann-store-sales.zip"
_ISO = "%Y-%m-%d"

TRAIN = FileSpec(
    name="train.csv",
    role="train",
    columns=(
        Column("Store", "int"),
        Column("DayOfWeek", "int"),  # 1 = Monday ... 7 = Sunday
        Column("Date", "date"),
        Column("Sales", "float"),  # whole euros, read as a float: the target
        Column("Customers", "int"),
        Column("Open", "int"),
        Column("Promo", "int"),
        # "0", "a" (public), "b" (Easter), "c" (Christmas): polars reads text
        Column("StateHoliday", "str"),
        # quoted "0"/"1" in the file, but polars infers an integer from quoted digits
        Column("SchoolHoliday", "int"),
    ),
    archive=_ARCHIVE,
    # The original is written like test.csv (R's write.csv: CRLF, quoted header and
    # quoted factor columns); the sample we have was a copy with quotes stripped.
    line_terminator="\r\n",
    quote_style="columns",
    quoted_columns=("StateHoliday", "SchoolHoliday"),
    date_formats=(("Date", _ISO),),
    real_rows=1_017_209,
    description="daily sales and customers per store, 2013-01-01..2015-07-31, "
                "sorted by Date descending then Store; 180 stores lack 2014-07-01..2014-12-31",
)

TEST = FileSpec(
    name="test.csv",
    role="test",
    columns=(
        Column("Id", "int"),
        Column("Store", "int"),
        Column("DayOfWeek", "int"),
        Column("Date", "date"),
        Column("Open", "int"),  # a few blanks (unknown; the store was open)
        Column("Promo", "int"),
        Column("StateHoliday", "str"),  # "0" and "a" (Assumption Day in Bavaria)
        Column("SchoolHoliday", "int"),
    ),
    archive=_ARCHIVE,
    line_terminator="\r\n",
    quote_style="columns",
    quoted_columns=("StateHoliday", "SchoolHoliday"),
    date_formats=(("Date", _ISO),),
    real_rows=41_088,
    description="856 stores x 48 days (2015-08-01..2015-09-17), Id 1 = latest day, "
                "sorted by Date descending then Store",
)

STORE = FileSpec(
    name="store.csv",
    role="extra",
    columns=(
        Column("Store", "int"),
        Column("StoreType", "str"),  # a, b, c, d
        Column("Assortment", "str"),  # a basic, b extra (type b stores only), c extended
        Column("CompetitionDistance", "int"),  # metres; blank for 3 stores
        Column("CompetitionOpenSinceMonth", "int"),  # blank for about a third of stores
        Column("CompetitionOpenSinceYear", "int"),
        Column("Promo2", "int"),
        Column("Promo2SinceWeek", "int"),  # blank where Promo2 = 0
        Column("Promo2SinceYear", "int"),
        Column("PromoInterval", "str"),  # "Jan,Apr,Jul,Oct" ...; "" (quoted) where Promo2 = 0
    ),
    archive=_ARCHIVE,
    line_terminator="\r\n",
    quote_style="non_numeric",
    real_rows=1_115,
    description="one row per store: type, assortment, nearest competitor, Promo2 participation",
)

SAMPLE_SUBMISSION = FileSpec(
    name="sample_submission.csv",
    role="sample_submission",
    columns=(Column("Id", "int"), Column("Sales", "float")),
    archive=_ARCHIVE,
    line_terminator="\r\n",
    quote_style="non_numeric",
    real_rows=41_088,
    description="the test Ids in test order with Sales 0",
)

STORE_STATES = FileSpec(
    name="store_states.csv",
    role="extra",
    columns=(Column("Store", "int"), Column("State", "str")),
    archive=None,
    line_terminator="\r\n",
    quote_style="necessary",  # unquoted, except the one state code with a comma, "HB,NI"
    real_rows=1_115,
    required=False,
    description="external data (fast.ai / 3rd place): the German state of each store, "
                "which decides its public and school holidays",
)

SPEC = CompetitionSpec(
    name="rossmann",
    title="Rossmann Store Sales",
    slug="rossmann-store-sales",
    task="regression",
    metric="rmspe",
    files=(TRAIN, TEST, STORE, SAMPLE_SUBMISSION, STORE_STATES),
    train="train.csv",
    test="test.csv",
    sample_submission="sample_submission.csv",
    id_column="Id",
    target_columns=("Sales",),
    submission=SubmissionSpec(columns=("Id", "Sales"), kind="float", nonnegative=True),
    time_column="Date",
    horizon_days=48,
    validation="time_holdout",
    description=(
        "Forecast daily sales of 1,115 Rossmann drugstores in Germany for the 48 days after "
        "2015-07-31, from 2.6 years of daily sales with promotions, state and school holidays, "
        "and per-store facts (type, assortment, nearest competitor, continuing Promo2). "
        "Scored by RMSPE over the test days whose true sales are not zero, so closed days "
        "do not count. Sales move with the day of week, promotions, holidays (with surges "
        "before and after closures), the season and a slow per-store trend; 180 stores have "
        "no data for the second half of 2014."),
    extra={
        "public_fraction": 0.39,
        "state_holidays": {"0": "none", "a": "public holiday", "b": "Easter", "c": "Christmas"},
    },
)
