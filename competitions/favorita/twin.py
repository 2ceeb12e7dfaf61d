"""Synthetic twin of Corporacion Favorita: daily unit sales per (store, item), absent when zero.

How a day is made. Every (store, item) cell that can sell that day (store open, item
launched and not discontinued, item carried by the store) gets a log demand rate

    log lambda = store (type, cluster, city) + item (family, class, own) + store x item
                 + slow item and store x item drifts + family x day (weekends, December,
                 school season by region, earthquake) + local holidays + promotion lift
                 + new-item ramp-up.

Whether a cell sells is `log lambda + Gumbel noise > tau_day`, which is exactly "a Poisson
count with mean exp(log lambda - tau_day) is positive"; `tau_day` is set so that the day has
its planned number of rows `N_day`. `N_day` carries the national day effects (trend, day of
week, paydays, December, national holidays, oil) and lets `full` hit the real 125,497,040
train rows exactly. A selected cell sells a zero-truncated-Poisson-like number of units (a
kilo weight with three decimals for produce and meat sold by weight); a few rows are returns.

The test period (2017-08-16..31) continues the same process for every (store, item) pair
of the items still sold, with more promotions and some brand-new items: the shift an
adversarial validation finds in the real data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from kit.synth import CsvWriter, rng, write_csv, write_solution

from .spec import SPEC

# ---------------------------------------------------------------------------------------
# Facts about the real data
# ---------------------------------------------------------------------------------------

#: the real stores.csv: (store_nbr, city, state, type, cluster)
STORES: tuple[tuple[int, str, str, str, int], ...] = (
    (1, "Quito", "Pichincha", "D", 13), (2, "Quito", "Pichincha", "D", 13),
    (3, "Quito", "Pichincha", "D", 8), (4, "Quito", "Pichincha", "D", 9),
    (5, "Santo Domingo", "Santo Domingo de los Tsachilas", "D", 4),
    (6, "Quito", "Pichincha", "D", 13), (7, "Quito", "Pichincha", "D", 8),
    (8, "Quito", "Pichincha", "D", 8), (9, "Quito", "Pichincha", "B", 6),
    (10, "Quito", "Pichincha", "C", 15), (11, "Cayambe", "Pichincha", "B", 6),
    (12, "Latacunga", "Cotopaxi", "C", 15), (13, "Latacunga", "Cotopaxi", "C", 15),
    (14, "Riobamba", "Chimborazo", "C", 7), (15, "Ibarra", "Imbabura", "C", 15),
    (16, "Santo Domingo", "Santo Domingo de los Tsachilas", "C", 3),
    (17, "Quito", "Pichincha", "C", 12), (18, "Quito", "Pichincha", "B", 16),
    (19, "Guaranda", "Bolivar", "C", 15), (20, "Quito", "Pichincha", "B", 6),
    (21, "Santo Domingo", "Santo Domingo de los Tsachilas", "B", 6),
    (22, "Puyo", "Pastaza", "C", 7), (23, "Ambato", "Tungurahua", "D", 9),
    (24, "Guayaquil", "Guayas", "D", 1), (25, "Salinas", "Santa Elena", "D", 1),
    (26, "Guayaquil", "Guayas", "D", 10), (27, "Daule", "Guayas", "D", 1),
    (28, "Guayaquil", "Guayas", "E", 10), (29, "Guayaquil", "Guayas", "E", 10),
    (30, "Guayaquil", "Guayas", "C", 3), (31, "Babahoyo", "Los Rios", "B", 10),
    (32, "Guayaquil", "Guayas", "C", 3), (33, "Quevedo", "Los Rios", "C", 3),
    (34, "Guayaquil", "Guayas", "B", 6), (35, "Playas", "Guayas", "C", 3),
    (36, "Libertad", "Guayas", "E", 10), (37, "Cuenca", "Azuay", "D", 2),
    (38, "Loja", "Loja", "D", 4), (39, "Cuenca", "Azuay", "B", 6),
    (40, "Machala", "El Oro", "C", 3), (41, "Machala", "El Oro", "D", 4),
    (42, "Cuenca", "Azuay", "D", 2), (43, "Esmeraldas", "Esmeraldas", "E", 10),
    (44, "Quito", "Pichincha", "A", 5), (45, "Quito", "Pichincha", "A", 11),
    (46, "Quito", "Pichincha", "A", 14), (47, "Quito", "Pichincha", "A", 14),
    (48, "Quito", "Pichincha", "A", 14), (49, "Quito", "Pichincha", "A", 11),
    (50, "Ambato", "Tungurahua", "A", 14), (51, "Guayaquil", "Guayas", "A", 17),
    (52, "Manta", "Manabi", "A", 11), (53, "Manta", "Manabi", "D", 13),
    (54, "El Carmen", "Manabi", "C", 3),
)

#: stores that open during the train period (approximate first sale days); store 52 is
#: the one that opened in 2017, a few months before the test
STORE_OPENED: dict[int, str] = {
    20: "2015-02-13", 21: "2015-07-24", 22: "2015-10-09", 29: "2015-03-20",
    36: "2013-05-09", 42: "2015-08-21", 52: "2017-04-20", 53: "2014-05-29",
}

#: the one store that sells on January 1st (all others are closed; all are closed on Dec 25)
JAN1_OPEN = 25

#: states in the highlands (Sierra and Amazon), where school starts in September; the coast
#: (Costa) starts in April
SIERRA = frozenset({"Pichincha", "Cotopaxi", "Chimborazo", "Imbabura", "Bolivar", "Pastaza",
                    "Tungurahua", "Azuay", "Loja"})


@dataclass(frozen=True)
class _Family:
    name: str
    items: int  # items of the family in the real items.csv (4,100 in all)
    perishable: int
    class_base: int  # the family's classes are drawn from class_base .. class_base + 39 (or more)
    classes: int
    level: float  # log demand of a typical item, relative to GROCERY I
    promo: float  # how often its items are promoted, relative to the average
    by_weight: float = 0.0  # share of items sold by the kilo (fractional unit_sales)


#: the 33 families with their real item counts; perishable ones weigh 1.25 in the metric
FAMILIES: tuple[_Family, ...] = (
    _Family("GROCERY I", 1334, 0, 1002, 80, 0.0, 1.2),
    _Family("BEVERAGES", 613, 0, 1114, 25, 0.3, 1.3),
    _Family("CLEANING", 446, 0, 3002, 30, -0.2, 1.3),
    _Family("PRODUCE", 306, 1, 2002, 20, 0.5, 0.9, 0.6),
    _Family("DAIRY", 242, 1, 2112, 20, 0.3, 1.1),
    _Family("PERSONAL CARE", 153, 0, 4102, 25, -0.5, 1.2),
    _Family("BREAD/BAKERY", 134, 1, 2702, 12, 0.2, 0.7),
    _Family("HOME CARE", 108, 0, 3102, 12, -0.6, 1.0),
    _Family("DELI", 91, 1, 2636, 12, -0.1, 0.8, 0.4),
    _Family("MEATS", 84, 1, 2302, 10, 0.0, 0.8, 0.7),
    _Family("HOME AND KITCHEN I", 77, 0, 6202, 12, -1.2, 0.6),
    _Family("LIQUOR,WINE,BEER", 73, 0, 1318, 10, -0.5, 1.0),
    _Family("FROZEN FOODS", 55, 0, 2502, 8, -0.6, 0.8),
    _Family("POULTRY", 54, 1, 2402, 6, 0.3, 0.8, 0.7),
    _Family("HOME AND KITCHEN II", 45, 0, 6302, 10, -1.3, 0.6),
    _Family("EGGS", 41, 1, 2602, 4, 0.1, 0.6),
    _Family("CELEBRATION", 31, 0, 2902, 8, -1.2, 0.6),
    _Family("LAWN AND GARDEN", 26, 0, 5102, 6, -1.4, 0.4),
    _Family("PREPARED FOODS", 26, 1, 2802, 6, -0.5, 0.5),
    _Family("LADIESWEAR", 21, 0, 4402, 6, -1.5, 0.4),
    _Family("AUTOMOTIVE", 20, 0, 6702, 6, -1.5, 0.4),
    _Family("LINGERIE", 20, 0, 4302, 6, -1.6, 0.4),
    _Family("BEAUTY", 19, 0, 4202, 6, -1.3, 0.6),
    _Family("PLAYERS AND ELECTRONICS", 17, 0, 6802, 5, -1.6, 0.4),
    _Family("SCHOOL AND OFFICE SUPPLIES", 15, 0, 4602, 5, -1.8, 0.4),
    _Family("GROCERY II", 14, 0, 1202, 5, -0.8, 0.8),
    _Family("PET SUPPLIES", 14, 0, 3202, 5, -1.2, 0.6),
    _Family("MAGAZINES", 6, 0, 4802, 3, -1.6, 0.1),
    _Family("SEAFOOD", 8, 1, 2416, 3, -0.8, 0.5, 0.7),
    _Family("HARDWARE", 4, 0, 6902, 3, -1.8, 0.3),
    _Family("BABY CARE", 1, 0, 4902, 1, -1.5, 0.3),
    _Family("BOOKS", 1, 0, 4952, 1, -2.0, 0.1),
    _Family("HOME APPLIANCES", 1, 0, 6952, 1, -2.0, 0.2),
)
_FAMILY_INDEX = {f.name: k for k, f in enumerate(FAMILIES)}

FIRST_DAY = dt.date(2013, 1, 1)  # the real train's first day
LAST_TRAIN_DAY = dt.date(2017, 8, 15)
TEST_DAYS = 16
PUBLIC_UNTIL = dt.date(2017, 8, 20)  # the public leaderboard was the first 5 test days
PROMO_KNOWN_FROM = dt.date(2014, 4, 1)  # onpromotion is empty before this day
EARTHQUAKE = dt.date(2016, 4, 16)
ITEM_NBR_RANGE = (96_995, 2_134_244)


@dataclass(frozen=True)
class TwinSize:
    """What one size of the twin holds."""

    #: stores to keep (store numbers); None keeps all 54
    stores: tuple[int, ...] | None
    #: rows of items.csv (items of train and test)
    items: int
    #: first train day (the last is always 2017-08-15)
    start: dt.date
    #: share of sellable (store, item, day) cells that have a sale on an average day
    #: (ignored where `train_rows` is set: the density that gives those rows is solved for)
    density: float
    #: exact train rows (full: the real count); None lets `density` decide
    train_rows: int | None = None
    #: items first sold in the test period (never seen in train)
    new_items: int = 0
    #: items discontinued during the train period (absent from the test)
    gone_items: int = 0
    #: share of train rows that are returns (negative unit_sales)
    return_rate: float = 1e-4
    #: exact transactions.csv rows (full: the real count); None drops `missing_transactions`
    transactions_rows: int | None = None
    missing_transactions: float = 0.005
    #: days simulated per written chunk (bounds memory for full)
    chunk_days: int = 32


SIZES: dict[str, TwinSize] = {
    # 10 stores of all five types, with store 52 opening on 2017-04-20 inside the range
    "tiny": TwinSize(stores=(1, 3, 9, 24, 25, 28, 37, 44, 47, 52), items=50,
                     start=dt.date(2017, 1, 28), density=0.42, new_items=2, gone_items=2,
                     return_rate=2e-3, chunk_days=256),
    "small": TwinSize(stores=None, items=400, start=dt.date(2016, 8, 1), density=0.42,
                      new_items=6, gone_items=20, return_rate=3e-4),
    # 54 x (4,100 - 199) = 210,654 test pairs x 16 days = 3,370,464 test rows, as real
    "full": TwinSize(stores=None, items=4_100, start=FIRST_DAY, density=0.42,
                     train_rows=125_497_040, new_items=64, gone_items=199,
                     return_rate=6.2e-5, transactions_rows=83_488, chunk_days=16),
}

# National day effects on the number of rows (log scale), Monday first
_DOW = np.array([-0.1, -0.15, -0.08, -0.16, 0.0, 0.2, 0.24])
# How much a day's number of rows follows its demand: fast sellers sell every day anyway,
# so a busy day has more rows but not proportionally more (this keeps weekends ~1.4x Thursdays)
_ROWS_ELASTICITY = 0.5
_PROMO_PRESENCE = 0.6  # a promoted cell counts as 1.6 cells when planning a day's rows
_BLOCK = 14  # promotion campaigns run in blocks of two weeks


def generate(out: Path, *, size: str, seed: int) -> None:
    """Write every file of the twin (and solution/solution.csv) into `out`."""
    write_twin(Path(out), SIZES[size], seed=seed)


def write_twin(out: Path, size: TwinSize, *, seed: int) -> None:
    """`generate` for any `TwinSize` (tests use short custom ranges)."""
    out = Path(out)
    holidays = holidays_table()
    oil = _oil(seed)
    stores = _stores(size)
    items = _items(size, seed)
    # Python's spelling of booleans, as the real file has it (polars would write true/false)
    write_csv(holidays.with_columns(_bool_text("transferred")), out, SPEC.file("holidays_events.csv"))
    write_csv(oil, out, SPEC.file("oil.csv"))
    write_csv(stores.select("store_nbr", "city", "state", "type", "cluster"), out, SPEC.file("stores.csv"))
    write_csv(items.select("item_nbr", "family", "class", "perishable"), out, SPEC.file("items.csv"))
    world = _World.build(size, seed, stores, items, holidays, oil)
    sold_per_store_day, n_train, test = _simulate(out, world, seed)
    write_csv(_transactions(world, sold_per_store_day, seed), out, SPEC.file("transactions.csv"))
    test = test.with_columns(pl.int_range(n_train, n_train + test.height, dtype=pl.Int64).alias("id"))
    write_csv(test.select("id", "date", "store_nbr", "item_nbr", "onpromotion"), out, SPEC.test_file)
    write_csv(test.select("id", pl.lit(0, dtype=pl.Int64).alias("unit_sales")), out,
              SPEC.sample_submission_file)
    public = pl.col("date") <= PUBLIC_UNTIL
    write_solution(test.select("id", "unit_sales",
                               pl.when(public).then(pl.lit("Public")).otherwise(pl.lit("Private"))
                               .alias("Usage")), out)


def _bool_text(column: str) -> pl.Expr:
    """Booleans spelled True/False as in the real files (null stays empty)."""
    return (pl.when(pl.col(column)).then(pl.lit("True")).when(~pl.col(column)).then(pl.lit("False"))
            .otherwise(pl.lit(None, dtype=pl.String)).alias(column))


# ---------------------------------------------------------------------------------------
# Calendar tables (the same for every size: they are small and cover the real range)
# ---------------------------------------------------------------------------------------

def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th `weekday` (0 = Monday) of a month; n = -1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


# Local and regional holidays: (month, day, type, locale, locale_name, description)
_LOCAL_HOLIDAYS = (
    (3, 2, "Holiday", "Local", "Manta", "Fundacion de Manta"),
    (4, 1, "Holiday", "Regional", "Cotopaxi", "Provincializacion de Cotopaxi"),
    (4, 12, "Holiday", "Local", "Cuenca", "Fundacion de Cuenca"),
    (4, 14, "Holiday", "Local", "Libertad", "Cantonizacion de Libertad"),
    (4, 21, "Holiday", "Local", "Riobamba", "Cantonizacion de Riobamba"),
    (5, 12, "Holiday", "Local", "Puyo", "Cantonizacion del Puyo"),
    (6, 23, "Holiday", "Local", "Guaranda", "Cantonizacion de Guaranda"),
    (6, 25, "Holiday", "Regional", "Imbabura", "Provincializacion de Imbabura"),
    (6, 25, "Holiday", "Local", "Latacunga", "Cantonizacion de Latacunga"),
    (6, 25, "Holiday", "Local", "Machala", "Fundacion de Machala"),
    (7, 3, "Holiday", "Local", "Santo Domingo", "Fundacion de Santo Domingo"),
    (7, 3, "Holiday", "Local", "El Carmen", "Cantonizacion de El Carmen"),
    (7, 23, "Holiday", "Local", "Cayambe", "Cantonizacion de Cayambe"),
    (7, 24, "Additional", "Local", "Guayaquil", "Fundacion de Guayaquil-1"),
    (7, 25, "Holiday", "Local", "Guayaquil", "Fundacion de Guayaquil"),
    (8, 5, "Holiday", "Local", "Esmeraldas", "Fundacion de Esmeraldas"),
    (8, 15, "Holiday", "Local", "Riobamba", "Fundacion de Riobamba"),
    (8, 24, "Holiday", "Local", "Ambato", "Fundacion de Ambato"),
    (9, 28, "Holiday", "Local", "Ibarra", "Fundacion de Ibarra"),
    (10, 7, "Holiday", "Local", "Quevedo", "Cantonizacion de Quevedo"),
    (11, 6, "Holiday", "Regional", "Santo Domingo de los Tsachilas", "Provincializacion de Santo Domingo"),
    (11, 7, "Holiday", "Regional", "Santa Elena", "Provincializacion Santa Elena"),
    (11, 10, "Holiday", "Local", "Guaranda", "Independencia de Guaranda"),
    (11, 11, "Holiday", "Local", "Latacunga", "Independencia de Latacunga"),
    (11, 12, "Holiday", "Local", "Ambato", "Independencia de Ambato"),
    (12, 5, "Additional", "Local", "Quito", "Fundacion de Quito-1"),
    (12, 6, "Holiday", "Local", "Quito", "Fundacion de Quito"),
    (12, 8, "Holiday", "Local", "Loja", "Fundacion de Loja"),
    (12, 22, "Holiday", "Local", "Salinas", "Cantonizacion de Salinas"),
)
# National civic holidays on Tuesday..Thursday move to that week's Friday (a Transfer row)
_MOVABLE = ("Batalla de Pichincha", "Primer Grito de Independencia", "Independencia de Guayaquil")
# Since the 2016 holiday law, these cities' foundation days move to Friday too
_MOVABLE_LOCAL_FROM_2017 = ("Fundacion de Cuenca", "Fundacion de Guayaquil", "Fundacion de Ibarra",
                            "Fundacion de Quito")
# 2014 World Cup matches (Ecuador's games and the knockout rounds)
_MUNDIAL = (
    ("2014-06-12", "Inauguracion Mundial de futbol Brasil"),
    ("2014-06-15", "Mundial de futbol Brasil: Ecuador-Suiza"),
    ("2014-06-20", "Mundial de futbol Brasil: Ecuador-Honduras"),
    ("2014-06-25", "Mundial de futbol Brasil: Ecuador-Francia"),
    *((f"2014-06-{d}", "Mundial de futbol Brasil: Octavos de Final") for d in (28, 29, 30)),
    ("2014-07-01", "Mundial de futbol Brasil: Octavos de Final"),
    *((f"2014-07-0{d}", "Mundial de futbol Brasil: Cuartos de Final") for d in (4, 5)),
    *((f"2014-07-0{d}", "Mundial de futbol Brasil: Semifinales") for d in (8, 9)),
    ("2014-07-12", "Mundial de futbol Brasil: Tercer y cuarto lugar"),
    ("2014-07-13", "Mundial de futbol Brasil: Final"),
)
_HOLIDAYS_FROM, _HOLIDAYS_TO = dt.date(2012, 3, 2), dt.date(2017, 12, 26)
_NATIONAL_FROM = dt.date(2012, 8, 1)
_EARTHQUAKE_DAYS = 31  # "Terremoto Manabi" and "+1" .. "+30"


def holidays_table() -> pl.DataFrame:
    """holidays_events.csv: Ecuador's holidays and events 2012-03-02..2017-12-26 (350 rows).

    Built from the calendar's rules (fixed days, Easter, Mother's Day, Christmas run-up,
    transfers of civic holidays to Fridays, bridges with make-up Saturdays), so it is the
    same for every size and seed.
    """
    rows: list[tuple[dt.date, str, str, str, str, bool]] = []

    def add(day, kind, description, locale="National", name="Ecuador", transferred=False):
        rows.append((day, kind, locale, name, description, transferred))

    def add_moved(day, description, locale="National", name="Ecuador"):
        """A holiday on Tuesday..Thursday, moved to Friday: two rows."""
        add(day, "Holiday", description, locale, name, transferred=True)
        friday = day + dt.timedelta(days=4 - day.weekday())
        add(friday, "Transfer", f"Traslado {description}", locale, name)

    for year in range(2012, 2018):
        for month, day, kind, locale, name, description in _LOCAL_HOLIDAYS:
            holiday = dt.date(year, month, day)
            if name == "Guayaquil" and year == 2012:
                continue  # the real table lists Guayaquil's foundation from 2013
            if year >= 2017 and description in _MOVABLE_LOCAL_FROM_2017 and holiday.weekday() in (1, 2, 3):
                add_moved(holiday, description, locale, name)
            else:
                add(holiday, kind, description, locale, name)
        easter = _easter(year)
        add(easter - dt.timedelta(days=48), "Holiday", "Carnaval")
        add(easter - dt.timedelta(days=47), "Holiday", "Carnaval")
        add(easter - dt.timedelta(days=2), "Holiday", "Viernes Santo")
        new_year = dt.date(year, 1, 1)
        if new_year.weekday() == 6:  # a Sunday New Year is observed on Monday
            add(new_year, "Holiday", "Primer dia del ano", transferred=True)
            add(new_year + dt.timedelta(days=1), "Transfer", "Traslado Primer dia del ano")
        else:
            add(new_year, "Holiday", "Primer dia del ano")
        add(dt.date(year, 5, 1), "Holiday", "Dia del Trabajo")
        for month, day, description in ((5, 24, "Batalla de Pichincha"),
                                        (8, 10, "Primer Grito de Independencia"),
                                        (10, 9, "Independencia de Guayaquil")):
            holiday = dt.date(year, month, day)
            if holiday.weekday() in (1, 2, 3):
                add_moved(holiday, description)
            else:
                add(holiday, "Holiday", description)
        add(dt.date(year, 11, 2), "Holiday", "Dia de Difuntos")
        add(dt.date(year, 11, 3), "Holiday", "Independencia de Cuenca")
        mother = _nth_weekday(year, 5, 6, 2)
        add(mother - dt.timedelta(days=1), "Additional", "Dia de la Madre-1")
        add(mother, "Event", "Dia de la Madre")
        if 2014 <= year <= 2016:
            black_friday = _nth_weekday(year, 11, 3, 4)
            add(black_friday, "Event", "Black Friday")
            add(black_friday + dt.timedelta(days=3), "Event", "Cyber Monday")
        for k in (4, 3, 2, 1):
            add(dt.date(year, 12, 25 - k), "Additional", f"Navidad-{k}")
        add(dt.date(year, 12, 25), "Holiday", "Navidad")
        add(dt.date(year, 12, 26), "Additional", "Navidad+1")
        add(dt.date(year, 12, 31), "Additional", "Primer dia del ano-1")
        # a holiday on a Tuesday or Thursday gets a bridge day, made up two Saturdays later
        for holiday, name in ((dt.date(year, 12, 25), "Navidad"),
                              (dt.date(year, 1, 1), "Primer dia del ano"),
                              (dt.date(year, 11, 3), "Dia de Difuntos")):
            if holiday.weekday() not in (1, 3):
                continue
            bridge = holiday + dt.timedelta(days=-1 if holiday.weekday() == 1 else 1)
            if name == "Dia de Difuntos" and bridge.day == 2:
                continue  # Nov 2 is a holiday already
            add(bridge, "Bridge", f"Puente {name}")
            saturday = bridge + dt.timedelta(days=(5 - bridge.weekday()) % 7 + 7)
            add(saturday, "Work Day", f"Recupero puente {name}")
    for day, description in _MUNDIAL:
        add(dt.date.fromisoformat(day), "Event", description)
    for k in range(_EARTHQUAKE_DAYS):
        add(EARTHQUAKE + dt.timedelta(days=k), "Event", "Terremoto Manabi" + (f"+{k}" if k else ""))
    table = pl.DataFrame(rows, schema=["date", "type", "locale", "locale_name", "description",
                                       "transferred"], orient="row")
    # the real table starts with local holidays in March 2012; national ones from August 2012
    national_from = (pl.col("locale") != "National") | (pl.col("date") >= _NATIONAL_FROM)
    return (table.filter(pl.col("date").is_between(_HOLIDAYS_FROM, _HOLIDAYS_TO), national_from)
            .with_row_index("_order").sort("date", "_order").drop("_order"))


def _us_market_holidays(year: int) -> list[dt.date]:
    """Days the WTI price is not quoted (NYSE holidays), hence blank in oil.csv."""
    def observed(day: dt.date) -> dt.date:
        return day + dt.timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))
    return [observed(dt.date(year, 1, 1)), _nth_weekday(year, 1, 0, 3), _nth_weekday(year, 2, 0, 3),
            _easter(year) - dt.timedelta(days=2), _nth_weekday(year, 5, 0, -1),
            observed(dt.date(year, 7, 4)), _nth_weekday(year, 9, 0, 1), _nth_weekday(year, 11, 3, 4),
            observed(dt.date(year, 12, 25))]


# Rough shape of the oil price: about 95 until mid 2014, the crash to 45-50, a low near 30
# in early 2016, then 45-52
_OIL_KNOTS = (("2013-01-01", 93.0), ("2013-09-01", 106.0), ("2014-06-20", 106.0),
              ("2015-01-15", 47.0), ("2015-06-01", 60.0), ("2015-08-25", 40.0),
              ("2016-02-11", 28.0), ("2016-06-08", 50.0), ("2016-12-31", 53.0),
              ("2017-06-20", 43.0), ("2017-08-31", 47.0))


def _oil(seed: int) -> pl.DataFrame:
    """oil.csv: weekday prices 2013-01-01..2017-08-31, blank on US market holidays."""
    days = np.arange(np.datetime64(FIRST_DAY), np.datetime64(LAST_TRAIN_DAY + dt.timedelta(days=TEST_DAYS + 1)))
    days = days[np.is_busday(days)]
    x = days.astype(np.int64)
    knots = np.array([np.datetime64(d) for d, _ in _OIL_KNOTS]).astype(np.int64)
    level = np.interp(x, knots, [v for _, v in _OIL_KNOTS])
    g = rng(seed, "oil")
    # an AR(1) wobble around the trend: day-to-day moves of about a dollar
    shocks = g.normal(0, 0.9, len(x))
    wobble = np.zeros(len(x))
    for k in range(1, len(x)):  # 1,218 steps: the recursion is sequential by nature
        wobble[k] = 0.97 * wobble[k - 1] + shocks[k]
    price = np.round(np.maximum(level + wobble, 20.0), 2)
    closed = {np.datetime64(d) for y in range(FIRST_DAY.year, LAST_TRAIN_DAY.year + 1)
              for d in _us_market_holidays(y)}
    blank = np.isin(days, np.array(sorted(closed)))
    return pl.DataFrame({"date": days.astype("datetime64[D]"),
                         "dcoilwtico": np.where(blank, np.nan, price)}).with_columns(
        pl.col("date").cast(pl.Date), pl.col("dcoilwtico").fill_nan(None))


# ---------------------------------------------------------------------------------------
# Stores and items
# ---------------------------------------------------------------------------------------

def _stores(size: TwinSize) -> pl.DataFrame:
    table = pl.DataFrame(list(STORES), schema=["store_nbr", "city", "state", "type", "cluster"],
                         orient="row")
    if size.stores is not None:
        table = table.filter(pl.col("store_nbr").is_in(list(size.stores)))
    return table.sort("store_nbr")


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to `weights` that sum to `total` (largest remainders)."""
    exact = total * weights / weights.sum()
    out = np.floor(exact).astype(np.int64)
    short = total - int(out.sum())
    if short:
        out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


def _items(size: TwinSize, seed: int) -> pl.DataFrame:
    """items.csv rows plus what the generator needs per item (launch, discontinuation, effects)."""
    g = rng(seed, "items")
    counts = _allocate(size.items, np.array([f.items for f in FAMILIES], dtype=float))
    fam = np.repeat(np.arange(len(FAMILIES)), counts)
    n = len(fam)
    classes = np.empty(n, dtype=np.int64)
    class_effect = np.empty(n)
    for k, f in enumerate(FAMILIES):  # 33 families; vectorised within each
        pick = fam == k
        pool = f.class_base + g.choice(max(40, f.classes + 20), size=f.classes, replace=False)
        chosen = g.integers(0, f.classes, pick.sum())
        classes[pick] = pool[chosen]
        class_effect[pick] = g.normal(0, 0.35, f.classes)[chosen]
    level = np.array([f.level for f in FAMILIES])[fam]
    # launch days: about 62% of items were on sale before 2013, the others launch over time
    first = np.datetime64(FIRST_DAY).astype(np.int64)
    last = np.datetime64(LAST_TRAIN_DAY).astype(np.int64)
    old = g.random(n) < 0.62
    launch = np.where(old, first - g.integers(30, 1500, n), g.integers(first, last - 7, n))
    gone = np.full(n, np.iinfo(np.int64).max)
    order = g.permutation(n)
    new = order[: size.new_items]
    launch[new] = last + 1 + g.integers(0, 6, size.new_items)
    start = np.datetime64(size.start).astype(np.int64)
    lost = order[size.new_items: size.new_items + size.gone_items]
    span = last - 20 - start
    gone[lost] = start + 10 + g.integers(0, max(span - 10, 1), size.gone_items)
    launch[lost] = np.minimum(launch[lost], gone[lost] - 60)
    # item numbers grow with launch day: old items below ~1.16 million, newer ones above
    rank = np.argsort(np.argsort(launch + g.random(n), kind="stable"), kind="stable")
    lo, hi = ITEM_NBR_RANGE
    n_old = int((launch < first).sum())
    numbers = np.concatenate([
        np.sort(g.choice(np.arange(lo + 1, 1_160_000), n_old - 1, replace=False)),
        np.sort(g.choice(np.arange(1_160_000, hi), n - n_old - 1, replace=False))])
    numbers = np.concatenate([[lo], numbers, [hi]])
    by_weight_share = np.array([f.by_weight for f in FAMILIES])[fam]
    promo_share = np.array([f.promo for f in FAMILIES])[fam]
    return pl.DataFrame({
        "item_nbr": numbers[rank],
        "family": [FAMILIES[k].name for k in fam],
        "class": classes,
        "perishable": np.array([f.perishable for f in FAMILIES])[fam],
        "_family": fam.astype(np.int32),
        "_launch": launch,
        "_gone": gone,
        "_level": level + class_effect + g.normal(0, 1.5, n),
        "_by_weight": g.random(n) < by_weight_share,
        "_promo": promo_share * np.exp(g.normal(0, 0.5, n)),
        "_lift": np.clip(g.normal(1.2, 0.25, n), 0.4, 2.2),
    }).sort("item_nbr")


# ---------------------------------------------------------------------------------------
# The world: every fixed effect and every day's plan
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _World:
    size: TwinSize
    stores: pl.DataFrame
    items: pl.DataFrame
    days: np.ndarray  # int64 days since 1970, train days then the 16 test days
    n_train_days: int
    base: np.ndarray  # (S, I) float32 log demand; -inf where the store does not carry the item
    part: np.ndarray  # (S, I) bool: the store joins the item's promotions
    open_: np.ndarray  # (D, S) bool
    active: np.ndarray  # (D, I) bool
    campaign: np.ndarray  # (D, I) bool: the item runs a promotion that day
    rows: np.ndarray  # (D,) planned rows with a sale
    family_day: np.ndarray  # (D, 2, F) log effect per region (Costa, Sierra) and family
    local_day: np.ndarray  # (D, S) local and regional holiday effects
    region: np.ndarray  # (S,) 0 Costa, 1 Sierra
    test_items: np.ndarray  # (I,) bool: items listed in the test

    @classmethod
    def build(cls, size, seed, stores, items, holidays, oil) -> "_World":
        g = rng(seed, "world")
        S, I = stores.height, items.height
        end = np.datetime64(LAST_TRAIN_DAY)
        train = np.arange(np.datetime64(size.start), end + 1)
        train = train[~((_month(train) == 12) & (_mday(train) == 25))]  # all stores close on Christmas
        test = np.arange(end + 1, end + 1 + TEST_DAYS)
        days = np.concatenate([train, test]).astype(np.int64)
        D = len(days)

        # stores: type, cluster and city levels; who carries what
        stype = stores["type"].to_numpy()
        type_level = {"A": 0.5, "B": 0.0, "C": -0.3, "D": 0.25, "E": -0.35}
        cluster_level = g.normal(0, 0.15, 18)[stores["cluster"].to_numpy()]
        city = stores["city"].to_numpy()
        store_level = (np.array([type_level[t] for t in stype]) + cluster_level
                       + np.where(city == "Quito", 0.1, 0.0) + np.where(city == "Guayaquil", 0.05, 0.0)
                       + g.normal(0, 0.1, S))
        carry_p = np.array([{"A": 0.95, "D": 0.92, "B": 0.88, "C": 0.82, "E": 0.8}[t] for t in stype])
        item_level = items["_level"].to_numpy()
        niche = np.where(item_level < -1.5, 0.85, 1.0)
        carried = g.random((S, I)) < carry_p[:, None] * niche[None, :]
        base = (store_level[:, None] + item_level[None, :] + g.normal(0, 0.5, (S, I))).astype(np.float32)
        base[~carried] = -np.inf
        part = carried & (g.random((S, I)) < 0.8)

        # openings, Jan 1 (one store), items' life
        nbr = stores["store_nbr"].to_numpy()
        opened = np.array([np.datetime64(STORE_OPENED.get(int(s), "2000-01-01")).astype(np.int64) for s in nbr])
        jan1 = (_month(days) == 1) & (_mday(days) == 1)
        open_ = (days[:, None] >= opened[None, :]) & (~jan1[:, None] | (nbr == JAN1_OPEN)[None, :])
        launch, gone = items["_launch"].to_numpy(), items["_gone"].to_numpy()
        active = (days[:, None] >= launch[None, :]) & (days[:, None] < gone[None, :])

        # promotion campaigns: two-week blocks per item, more frequent over time, and more
        # again in the test period (the real test has more promotions than train)
        rel = days - np.datetime64(FIRST_DAY).astype(np.int64)
        phase = g.integers(0, _BLOCK, I)
        block = (rel[:, None] + phase[None, :]) // _BLOCK
        years = rel / 365.25
        rate = (0.035 + 0.011 * years)[:, None] * items["_promo"].to_numpy()[None, :]
        draws = g.random((int(block.max()) + 1, I))
        campaign = draws[block, np.arange(I)[None, :]] < rate
        is_test = np.arange(D) >= len(train)
        extra = g.random(I) < 0.05 * items["_promo"].to_numpy()
        campaign |= is_test[:, None] & extra[None, :]

        # calendar effects; the national ones set each day's number of rows
        national, family_day, local_day = _day_effects(days, stores, holidays, oil)
        dow = (days + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        log_rate = national + _DOW[dow] + 0.055 * years
        eligible_f = open_.astype(np.float32) @ carried.astype(np.float32)  # (D, I) stores carrying
        promo_f = open_.astype(np.float32) @ part.astype(np.float32)
        cells = (eligible_f * active).sum(1)
        promo_cells = (promo_f * (active & campaign)).sum(1)
        effective = cells + _PROMO_PRESENCE * promo_cells
        n_train = len(train)

        def plan(density: float) -> np.ndarray:
            # the day's share of sellable cells that sell: `density` on an average day,
            # saturating (never above 1) on busy ones
            share = 1.0 - np.power(1.0 - density, np.exp(_ROWS_ELASTICITY * log_rate))
            return np.minimum(share * effective, 0.9 * cells)

        if size.train_rows is not None:
            lo_, hi_ = 0.01, 0.99  # bisect the density that gives the exact train rows
            for _ in range(60):
                mid = (lo_ + hi_) / 2
                lo_, hi_ = (mid, hi_) if plan(mid)[:n_train].sum() < size.train_rows else (lo_, mid)
            want = plan(hi_)
            rows = np.concatenate([_allocate(size.train_rows, want[:n_train]),
                                   np.round(want[n_train:]).astype(np.int64)])
        else:
            rows = np.round(plan(size.density)).astype(np.int64)
        region = np.array([s in SIERRA for s in stores["state"].to_list()], dtype=np.int64)
        return cls(size=size, stores=stores, items=items, days=days, n_train_days=n_train, base=base,
                   part=part, open_=open_, active=active, campaign=campaign, rows=rows,
                   family_day=family_day, local_day=local_day, region=region,
                   test_items=gone == np.iinfo(np.int64).max)


def _month(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days).astype("datetime64[D]")
    return (d.astype("datetime64[M]").astype(np.int64) % 12) + 1


def _mday(days: np.ndarray) -> np.ndarray:
    d = np.asarray(days).astype("datetime64[D]")
    return (d - d.astype("datetime64[M]")).astype(np.int64) + 1


def _day_effects(days, stores, holidays, oil):
    """National (D,), family x region (D, 2, F) and local (D, S) log effects of the calendar."""
    D, S, F = len(days), stores.height, len(FAMILIES)
    index = {int(d): k for k, d in enumerate(days)}
    month, mday = _month(days), _mday(days)
    month_end = _mday(days + 1) == 1
    national = np.zeros(D)
    # paydays: public wages come on the 15th and the last day of the month
    national += 0.07 * ((mday == 15) | month_end) + 0.04 * ((mday == 16) | (mday == 1))
    # December builds up to Christmas; January and February are quiet
    national += np.where(month == 12, 0.04 + 0.006 * np.minimum(mday, 24), 0.0)
    national += np.where((month == 1) | (month == 2), -0.04, 0.0)
    # oil: a weak pull (the economy follows the oil price)
    o = oil.drop_nulls()
    price = np.interp(days, o["date"].cast(pl.Int64).to_numpy(), o["dcoilwtico"].to_numpy())
    national += 0.04 * (price - 60.0) / 30.0

    family_day = np.zeros((D, 2, F))
    fam = _FAMILY_INDEX
    weekend = ((days + 3) % 7 >= 5)
    family_day[:, :, fam["LIQUOR,WINE,BEER"]] += 0.35 * weekend[:, None]
    family_day[:, :, fam["BEVERAGES"]] += 0.08 * weekend[:, None]
    family_day[:, :, fam["CELEBRATION"]] += 0.6 * (month == 12)[:, None]
    family_day[:, :, fam["LIQUOR,WINE,BEER"]] += 0.4 * (month == 12)[:, None]
    school = fam["SCHOOL AND OFFICE SUPPLIES"]
    family_day[:, 1, school] += 1.2 * ((month == 8) & (mday >= 10) | (month == 9) & (mday <= 15))
    family_day[:, 0, school] += 1.2 * ((month == 3) & (mday >= 20) | (month == 4) & (mday <= 20))
    # the 2016-04-16 earthquake: a spike of donations (water, food, cleaning) fading over weeks;
    # its "Terremoto Manabi" rows in the holiday table carry no effect of their own
    since_quake = days - np.datetime64(EARTHQUAKE).astype(np.int64)
    quake = np.where((since_quake >= 0) & (since_quake < 30), np.exp(-np.maximum(since_quake, 0) / 7), 0.0)
    national += 0.2 * quake
    for name in ("GROCERY I", "BEVERAGES", "CLEANING"):
        family_day[:, :, fam[name]] += 0.35 * quake[:, None]

    local_day = np.zeros((D, S))
    city, state = stores["city"].to_list(), stores["state"].to_list()
    effects = {"Holiday": (-0.05, 0.06), "Transfer": (-0.05, 0.06), "Additional": (0.1, 0.0),
               "Bridge": (0.03, 0.0), "Work Day": (-0.03, 0.0)}
    christmas = {"Navidad-4": 0.15, "Navidad-3": 0.2, "Navidad-2": 0.28, "Navidad-1": 0.35,
                 "Navidad+1": -0.1, "Primer dia del ano-1": 0.2, "Primer dia del ano": -0.4,
                 "Dia de la Madre-1": 0.08, "Dia de la Madre": 0.05, "Black Friday": 0.08,
                 "Cyber Monday": 0.04}
    for row in holidays.filter(~pl.col("transferred")).iter_rows(named=True):  # 338 rows
        k = index.get(int(np.datetime64(row["date"]).astype(np.int64)))
        before = index.get(int(np.datetime64(row["date"]).astype(np.int64)) - 1)
        on_day, eve = christmas.get(row["description"], None), 0.0
        if on_day is None:
            if row["type"] == "Event":
                on_day = -0.03 if row["description"].startswith("Mundial") else 0.0
            else:
                on_day, eve = effects[row["type"]]
        if row["locale"] == "National":
            if k is not None:
                national[k] += on_day
            if before is not None:
                national[before] += eve
        else:
            where = np.array([(c if row["locale"] == "Local" else s) == row["locale_name"]
                              for c, s in zip(city, state)])
            # a local holiday is a local feast: more shopping on the eve and the day itself
            if k is not None:
                local_day[k, where] += 0.1 if row["type"] == "Additional" else 0.05
            if before is not None:
                local_day[before, where] += 0.08
    return national, family_day, local_day


# ---------------------------------------------------------------------------------------
# The day-by-day simulation
# ---------------------------------------------------------------------------------------

def _simulate(out: Path, w: _World, seed: int) -> tuple[np.ndarray, int, pl.DataFrame]:
    """Write train.csv chunk by chunk; return sales per store-day, train rows and the test frame."""
    S, I = w.base.shape
    g0 = rng(seed, "drift0")
    # slow drifts: item popularity (AR(1), ~2 months memory) and store x item (~3 weeks)
    item_rho, item_sd, pair_rho, pair_sd = 0.985, 0.35, 0.95, 0.35
    z_item = g0.normal(0, item_sd, I).astype(np.float32)
    z_pair = g0.normal(0, pair_sd, (S, I)).astype(np.float32)
    items = w.items
    lift = items["_lift"].to_numpy().astype(np.float32)
    by_weight = items["_by_weight"].to_numpy()
    fam = items["_family"].to_numpy()
    launch = items["_launch"].to_numpy()
    store_nbr = w.stores["store_nbr"].to_numpy()
    item_nbr = items["item_nbr"].to_numpy()
    sold = np.zeros((w.n_train_days, S), dtype=np.int64)
    test_cols = np.flatnonzero(w.test_items)
    test_parts: list[pl.DataFrame] = []
    written = 0
    with CsvWriter(out, SPEC.train_file) as train_csv:
        for lo in range(0, len(w.days), w.size.chunk_days):
            chunk: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
            for d in range(lo, min(lo + w.size.chunk_days, len(w.days))):
                day = int(w.days[d])
                g = rng(seed, "day", day)
                z_item = item_rho * z_item + np.float32(np.sqrt(1 - item_rho ** 2) * item_sd) * \
                    g.standard_normal(I, dtype=np.float32)
                z_pair = pair_rho * z_pair + np.float32(np.sqrt(1 - pair_rho ** 2) * pair_sd) * \
                    g.standard_normal((S, I), dtype=np.float32)
                age = np.clip((day - launch) / 28.0, 0.0, 1.0)
                item_term = (z_item + np.log(0.3 + 0.7 * age)).astype(np.float32)
                family = w.family_day[d][:, fam].astype(np.float32)  # (2, I)
                promo = w.part & w.campaign[d][None, :]
                log_rate = (w.base + z_pair + item_term[None, :] + family[w.region]
                            + w.local_day[d].astype(np.float32)[:, None] + promo * lift[None, :])
                sellable = w.open_[d][:, None] & w.active[d][None, :]
                # standard Gumbel noise (uniforms kept off 0, where its log is infinite)
                u = np.maximum(g.random((S, I), dtype=np.float32), np.float32(1e-30))
                score = np.where(sellable, log_rate - np.log(-np.log(u)), -np.inf).ravel()
                n = int(min(w.rows[d], np.isfinite(score).sum()))
                cells = np.sort(np.argpartition(score, -n)[-n:]) if n else np.zeros(0, np.int64)
                tau = score[cells].min() if n else 0.0
                mean = np.exp(log_rate.ravel()[cells] - tau) * np.exp(g.normal(-0.03, 0.25, n))
                units = np.maximum(g.poisson(mean), 1).astype(np.float64)
                kilo = by_weight[cells % I]
                units[kilo] = np.round(0.05 + g.gamma(1.5, mean[kilo] / 1.5), 3)
                returns = g.random(n) < w.size.return_rate
                units[returns] = -np.where(kilo[returns], np.round(units[returns] * 0.5, 3),
                                           np.ceil(units[returns] * 0.5))
                if d < w.n_train_days:
                    chunk.append((day, cells, units, promo.ravel()[cells]))
                    sold[d] = np.bincount(cells // I, minlength=S)
                else:
                    truth = np.zeros(S * I)
                    truth[cells] = units
                    grid = np.ix_(np.arange(S), test_cols)
                    test_parts.append(pl.DataFrame({
                        "date": np.full(S * len(test_cols), day, dtype=np.int32),
                        "store_nbr": np.repeat(store_nbr, len(test_cols)),
                        "item_nbr": np.tile(item_nbr[test_cols], S),
                        "onpromotion": promo[grid].ravel(),
                        "unit_sales": truth.reshape(S, I)[grid].ravel(),
                    }))
            if chunk:
                frame = _train_frame(chunk, written, store_nbr, item_nbr, I)
                train_csv.write(frame)
                written += frame.height
    test = pl.concat(test_parts).with_columns(pl.col("date").cast(pl.Date), _bool_text("onpromotion"))
    return sold, written, test


def _train_frame(chunk, first_id, store_nbr, item_nbr, I) -> pl.DataFrame:
    """train.csv rows of a chunk of days, in date, store, item order."""
    days = np.concatenate([np.full(len(c), day, dtype=np.int32) for day, c, _, _ in chunk])
    cells = np.concatenate([c for _, c, _, _ in chunk])
    units = np.concatenate([u for _, _, u, _ in chunk])
    promo = np.concatenate([p for _, _, _, p in chunk])
    return pl.DataFrame({
        "id": np.arange(first_id, first_id + len(cells), dtype=np.int64),
        "date": days,
        "store_nbr": store_nbr[cells // I],
        "item_nbr": item_nbr[cells % I],
        "unit_sales": units,
        "promo": promo,
    }).with_columns(
        pl.col("date").cast(pl.Date),
        # the real file has no promotion data before April 2014: empty fields
        pl.when(pl.col("date") >= PROMO_KNOWN_FROM).then(_bool_text("promo"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("onpromotion"),
    ).drop("promo")


def _transactions(w: _World, sold: np.ndarray, seed: int) -> pl.DataFrame:
    """transactions.csv: tickets per open store-day, following the store's sales; a few missing."""
    g = rng(seed, "transactions")
    S = w.stores.height
    base = np.array([{"A": 3200, "B": 1500, "C": 1100, "D": 1700, "E": 1000}[t]
                     for t in w.stores["type"].to_list()]) * np.exp(g.normal(0, 0.25, S))
    open_ = w.open_[: w.n_train_days] & (sold > 0)
    typical = np.array([np.median(sold[open_[:, s], s]) if open_[:, s].any() else 1.0 for s in range(S)])
    ratio = np.where(open_, sold / np.maximum(typical, 1.0)[None, :], 1.0)
    tickets = base[None, :] * np.power(np.maximum(ratio, 1e-3), 0.8) * np.exp(g.normal(0, 0.06, sold.shape))
    d_idx, s_idx = np.nonzero(open_)
    keep = np.ones(len(d_idx), dtype=bool)
    if w.size.transactions_rows is not None:
        drop = len(d_idx) - w.size.transactions_rows
        if drop < 0:
            raise RuntimeError(f"only {len(d_idx)} open store-days for {w.size.transactions_rows} transactions rows")
    else:
        drop = int(round(len(d_idx) * w.size.missing_transactions))
    keep[g.choice(len(d_idx), drop, replace=False)] = False
    return pl.DataFrame({
        "date": w.days[d_idx[keep]].astype(np.int32),
        "store_nbr": w.stores["store_nbr"].to_numpy()[s_idx[keep]],
        "transactions": np.round(tickets[d_idx[keep], s_idx[keep]]).astype(np.int64),
    }).with_columns(pl.col("date").cast(pl.Date))
