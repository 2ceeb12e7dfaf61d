"""Corporacion Favorita Grocery Sales Forecasting as data: files, formats and quirks of the real download."""

from kit.spec import Column, CompetitionSpec, FileSpec, SubmissionSpec, WeightSpec

_ISO = "%Y-%m-%d"

TRAIN = FileSpec(
    name="train.csv",
    role="train",
    columns=(
        Column("id", "int"),
        Column("date", "date"),
        Column("store_nbr", "int"),
        Column("item_nbr", "int"),
        # always written with a decimal point ("7.0"); kilo items have fractions
        # ("2.924"); returns are negative
        Column("unit_sales", "float"),
        # empty before 2014-04-01, then "True"/"False" (polars infers a boolean)
        Column("onpromotion", "bool"),
    ),
    archive="train.csv.7z",
    date_formats=(("date", _ISO),),
    real_rows=125_497_040,
    description="one row per (date, store, item) with a sale, 2013-01-01..2017-08-15, sorted by "
                "date, store_nbr, item_nbr; days without sales are absent; no rows on Dec 25",
)

TEST = FileSpec(
    name="test.csv",
    role="test",
    columns=(
        Column("id", "int"),
        Column("date", "date"),
        Column("store_nbr", "int"),
        Column("item_nbr", "int"),
        Column("onpromotion", "bool"),  # "True"/"False", known for every row
    ),
    archive="test.csv.7z",
    date_formats=(("date", _ISO),),
    real_rows=3_370_464,
    description="every (store, item) pair of 54 stores x 3,901 items for each of the 16 days "
                "2017-08-16..2017-08-31; ids continue after train's; some items never sold in train",
)

SAMPLE_SUBMISSION = FileSpec(
    name="sample_submission.csv",
    role="sample_submission",
    columns=(Column("id", "int"), Column("unit_sales", "float")),  # written 0; predictions are floats
    archive="sample_submission.csv.7z",
    real_rows=3_370_464,
    description="the test ids in test order with unit_sales 0",
)

ITEMS = FileSpec(
    name="items.csv",
    role="extra",
    columns=(
        Column("item_nbr", "int"),  # large sparse numbers, 96995..2134244
        Column("family", "str"),  # 33 families; "LIQUOR,WINE,BEER" is quoted for its commas
        Column("class", "int"),
        Column("perishable", "int"),  # 1 weighs 1.25 in the metric
    ),
    archive="items.csv.7z",
    real_rows=4_100,
    description="one row per item (train and test items), sorted by item_nbr",
)

STORES = FileSpec(
    name="stores.csv",
    role="extra",
    columns=(
        Column("store_nbr", "int"),
        Column("city", "str"),
        Column("state", "str"),
        Column("type", "str"),  # A..E
        Column("cluster", "int"),  # 1..17, groups of similar stores
    ),
    archive="stores.csv.7z",
    real_rows=54,
    description="the 54 stores: city, state, type and cluster",
)

OIL = FileSpec(
    name="oil.csv",
    role="extra",
    columns=(Column("date", "date"), Column("dcoilwtico", "float")),
    archive="oil.csv.7z",
    date_formats=(("date", _ISO),),
    real_rows=1_218,
    description="daily WTI oil price on weekdays 2013-01-01..2017-08-31 (Ecuador's economy "
                "depends on oil); blank on US market holidays",
)

HOLIDAYS = FileSpec(
    name="holidays_events.csv",
    role="extra",
    columns=(
        Column("date", "date"),
        Column("type", "str"),  # Holiday, Transfer, Additional, Bridge, Work Day, Event
        Column("locale", "str"),  # Local, Regional, National
        Column("locale_name", "str"),  # a city (Local), a state (Regional) or Ecuador
        Column("description", "str"),
        # True: the holiday was moved to the day of the matching "Transfer" row
        Column("transferred", "bool"),
    ),
    archive="holidays_events.csv.7z",
    line_terminator="\r\n",
    date_formats=(("date", _ISO),),
    real_rows=350,
    description="holidays and events 2012-03-02..2017-12-26, with transfers, bridges, "
                "make-up work days, Christmas run-up days and the 2016-04-16 earthquake",
)

TRANSACTIONS = FileSpec(
    name="transactions.csv",
    role="extra",
    columns=(Column("date", "date"), Column("store_nbr", "int"), Column("transactions", "int")),
    archive="transactions.csv.7z",
    date_formats=(("date", _ISO),),
    real_rows=83_488,
    description="tickets per open store and day over the train period, sorted by date, "
                "store_nbr; a few store-days are missing",
)

SPEC = CompetitionSpec(
    name="favorita",
    title="Corporacion Favorita Grocery Sales Forecasting",
    slug="favorita-grocery-sales-forecasting",
    task="regression",
    metric="nwrmsle",
    files=(TRAIN, TEST, SAMPLE_SUBMISSION, ITEMS, STORES, OIL, HOLIDAYS, TRANSACTIONS),
    train="train.csv",
    test="test.csv",
    sample_submission="sample_submission.csv",
    id_column="id",
    target_columns=("unit_sales",),
    submission=SubmissionSpec(columns=("id", "unit_sales"), kind="float", nonnegative=True),
    time_column="date",
    horizon_days=16,
    validation="time_holdout",
    weights=WeightSpec(table="items.csv", on="item_nbr", column="perishable",
                       values=((0, 1.0), (1, 1.25))),
    description=(
        "Forecast daily unit sales of 3,901 items in 54 Ecuadorian stores for the 16 days after "
        "2017-08-15, from 4.6 years of sales where days without a sale are absent rows. Scored "
        "by NWRMSLE: RMSLE weighted 1.25 for perishable items; true returns count as 0. The "
        "public leaderboard was the first 5 test days (2017-08-16..20), the private one the last "
        "11. Promotions, day of week, paydays (15th and month end), holidays and new items drive "
        "sales. The twin keeps the real formats and the 2017-08-15 end; its tiny and small sizes "
        "cover fewer stores and items over the last ~200 days and ~1 year, full covers "
        "2013-01-01..2017-08-15 with the real row counts."
    ),
    extra={"public_until": "2017-08-20"},
)
