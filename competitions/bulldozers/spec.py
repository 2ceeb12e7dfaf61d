"""Blue Book for Bulldozers as data: files, columns, formats and the submission."""

from __future__ import annotations

from kit.spec import Column, CompetitionSpec, FileSpec, SubmissionSpec

CRLF = "\r\n"
SALEDATE_FORMAT = "%m/%d/%Y %H:%M"  # "1/5/2012 0:00": polars' strptime accepts unpadded fields

# The 43 columns from fiModelDesc on are the same, in the same order, in every sales file.
_MACHINE_COLUMNS = (
    Column("fiModelDesc"), Column("fiBaseModel"), Column("fiSecondaryDesc"), Column("fiModelSeries"),
    Column("fiModelDescriptor"), Column("ProductSize"), Column("fiProductClassDesc"), Column("state"),
    Column("ProductGroup"), Column("ProductGroupDesc"), Column("Drive_System"), Column("Enclosure"),
    Column("Forks"), Column("Pad_Type"), Column("Ride_Control"), Column("Stick"), Column("Transmission"),
    Column("Turbocharged"), Column("Blade_Extension"), Column("Blade_Width"), Column("Enclosure_Type"),
    Column("Engine_Horsepower"), Column("Hydraulics"), Column("Pushblock"), Column("Ripper"),
    Column("Scarifier"), Column("Tip_Control"), Column("Tire_Size"), Column("Coupler"),
    Column("Coupler_System"), Column("Grouser_Tracks"), Column("Hydraulics_Flow"), Column("Track_Type"),
    Column("Undercarriage_Pad_Width"), Column("Stick_Length"), Column("Thumb"), Column("Pattern_Changer"),
    Column("Grouser_Type"), Column("Backhoe_Mounting"), Column("Blade_Type"), Column("Travel_Controls"),
    Column("Differential_Type"), Column("Steering_Controls"),
)

# auctioneerID and MachineHoursCurrentMeter have blanks but are written as integers ("3", "68").
_SALE_COLUMNS = (
    Column("MachineID", "int"), Column("ModelID", "int"), Column("datasource", "int"),
    Column("auctioneerID", "int"), Column("YearMade", "int"), Column("MachineHoursCurrentMeter", "int"),
    Column("UsageBand"), Column("saledate", "datetime"),
)

#: Valid.csv and Test.csv: no price
FEATURE_COLUMNS = (Column("SalesID", "int"), *_SALE_COLUMNS, *_MACHINE_COLUMNS)
#: Train.csv and TrainAndValid.csv: the price second; whole dollars in Train.csv, but a float as
#: the target (ValidSolution.csv spells prices 31000.0, one 46173.199999999997)
TRAIN_COLUMNS = (Column("SalesID", "int"), Column("SalePrice", "float"), *_SALE_COLUMNS, *_MACHINE_COLUMNS)

APPENDIX_COLUMNS = (
    Column("MachineID", "int"), Column("ModelID", "int"), Column("fiModelDesc"), Column("fiBaseModel"),
    Column("fiSecondaryDesc"), Column("fiModelSeries"), Column("fiModelDescriptor"),
    Column("fiProductClassDesc"), Column("ProductGroup"), Column("ProductGroupDesc"),
    Column("MfgYear", "int"), Column("fiManufacturerID", "int"), Column("fiManufacturerDesc"),
    Column("PrimarySizeBasis"), Column("PrimaryLower", "float"), Column("PrimaryUpper", "float"),
)

_DATES = (("saledate", SALEDATE_FORMAT),)
_PRICE = (Column("SalesID", "int"), Column("SalePrice", "float"))

SPEC = CompetitionSpec(
    name="bulldozers",
    title="Blue Book for Bulldozers",
    slug="bluebook-for-bulldozers",
    task="regression",
    metric="rmsle",
    files=(
        FileSpec("Train.csv", "train", TRAIN_COLUMNS, archive="Train.zip", line_terminator=CRLF,
                 date_formats=_DATES, real_rows=401_125,
                 description="auction sales 1989-01-17..2011-12-30 with SalePrice"),
        FileSpec("Valid.csv", "extra", FEATURE_COLUMNS, line_terminator=CRLF, date_formats=_DATES,
                 real_rows=11_573, required=False,
                 description="sales 2012-01-01..2012-04-28 without price (the public leaderboard set)"),
        FileSpec("ValidSolution.csv", "extra",
                 (Column("SalesID", "int"), Column("SalePrice", "float"), Column("Usage")),
                 line_terminator=CRLF, real_rows=11_573, required=False,
                 description="prices of Valid.csv, Usage PublicTest/PrivateTest"),
        FileSpec("TrainAndValid.csv", "extra", TRAIN_COLUMNS, line_terminator=CRLF, date_formats=_DATES,
                 real_rows=412_698, required=False, description="Train.csv then Valid.csv with prices"),
        FileSpec("Test.csv", "test", FEATURE_COLUMNS, line_terminator=CRLF, date_formats=_DATES,
                 real_rows=12_457, description="sales 2012-05-01..2012-11-16 to price"),
        FileSpec("random_forest_benchmark_test.csv", "sample_submission", _PRICE, line_terminator=CRLF,
                 real_rows=12_457, description="a benchmark submission for Test.csv"),
        FileSpec("median_benchmark.csv", "extra", _PRICE, line_terminator=CRLF, real_rows=11_573,
                 required=False, description="constant median price (24000.0) for the Valid.csv ids"),
        FileSpec("Machine_Appendix.csv", "extra", APPENDIX_COLUMNS, line_terminator=CRLF,
                 real_rows=341_027, required=False,
                 description="one row per MachineID: model, manufacturer, MfgYear, size range"),
        FileSpec("Data Dictionary.xlsx", "extra", required=False,
                 description="column descriptions (documentation)"),
    ),
    train="Train.csv",
    test="Test.csv",
    sample_submission="random_forest_benchmark_test.csv",
    id_column="SalesID",
    target_columns=("SalePrice",),
    submission=SubmissionSpec(columns=("SalesID", "SalePrice"), kind="float", nonnegative=True),
    time_column="saledate",
    horizon_days=200,  # 2012-05-01..2012-11-16 inclusive
    validation="time_holdout",
    description=(
        "Predict the hammer price of used heavy equipment (excavators, loaders, dozers, "
        "graders, backhoes) sold at US auctions. Train has 401k sales from 1989 to 2011 with "
        "53 mostly categorical columns, many empty or 'None or Unspecified', YearMade 1000 for "
        "unknown and MachineHoursCurrentMeter 0 for unreported; Valid (Jan-Apr 2012) and Test "
        "(May-Nov 2012) follow in time, so validate on the latest months. Scored by RMSLE: "
        "fit log1p(SalePrice)."
    ),
)
