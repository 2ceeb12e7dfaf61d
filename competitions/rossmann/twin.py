"""Synthetic twin of Rossmann Store Sales.

Every store gets a hidden sales model on the log scale, evaluated on a stores x days grid
(2013-01-01..2015-09-17) and cut into train (..2015-07-31) and test (48 days):

    log Sales = store level (type, assortment, competitor distance, Promo2)
              + day-of-week profile (Monday high, Saturday low, Sunday closed for most)
              + promo (+20-30 %, more on Mondays) + Promo2 in its PromoInterval months
              + yearly season (pre-Christmas surge, January slump) + day of month
              + school holidays + surges before and after holiday closures
              + competitor opening (a drop from that month, larger when close)
              + per-store trend with kinks + slow AR(1) drift + noise

Holidays come from each store's German state (store_states.csv), so stores close on
different days. Customers follow Sales through a per-store basket size. The file quirks of
the real download are kept: CRLF, R-style quoting, StateHoliday "0"/"a"/"b"/"c", blanks in
test Open and in store.csv, 180 (scaled) stores without 2014-07..12, one missing first day.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from kit.synth import CsvWriter, rng, usage_split, write_csv, write_solution

from competitions.rossmann.spec import SPEC

SIZES = {
    # stores: all stores; gap_stores: stores without 2014-07-01..2014-12-31;
    # test_stores: stores in test.csv; chunk_days: train days per written chunk
    "tiny": {"stores": 20, "gap_stores": 3, "test_stores": 15, "chunk_days": 1000},
    "small": {"stores": 200, "gap_stores": 32, "test_stores": 154, "chunk_days": 200},
    # the real counts: 1,115 x 942 days - 180 x 184 gap days - 1 missing row = 1,017,209
    "full": {"stores": 1115, "gap_stores": 180, "test_stores": 856, "chunk_days": 60},
}

START = np.datetime64("2013-01-01")
TRAIN_END = np.datetime64("2015-07-31")
TEST_END = np.datetime64("2015-09-17")
GAP = (np.datetime64("2014-07-01"), np.datetime64("2014-12-31"))
EASTER = {2013: "2013-03-31", 2014: "2014-04-20", 2015: "2015-04-05"}

STATES = ("BE", "BW", "BY", "HB,NI", "HE", "HH", "NW", "RP", "SH", "SN", "ST", "TH")
# stores per state in the real store_states.csv (approximate)
STATE_WEIGHTS = (92, 138, 180, 73, 112, 28, 284, 40, 16, 75, 56, 36)
HOLIDAY_CODES = np.array(["0", "a", "b", "c"])
TYPES = np.array(["a", "b", "c", "d"])
TYPE_WEIGHTS = np.array([602, 17, 148, 348]) / 1115
INTERVALS = np.array(["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"])
INTERVAL_WEIGHTS = np.array([335, 130, 106]) / 571
PROMO2_WEEKS = np.array([1, 5, 9, 10, 13, 14, 18, 22, 23, 26, 27, 31, 35, 36, 37, 39, 40, 44, 45, 48, 49])


# ---------------------------------------------------------------- calendar


def _dow(d: np.ndarray) -> np.ndarray:
    """1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday)."""
    return (d.astype("datetime64[D]").astype(np.int64) + 3) % 7 + 1


class _Calendar:
    """Day-level arrays over the whole twin period."""

    def __init__(self) -> None:
        self.days = np.arange(START, TEST_END + 1)
        self.n = len(self.days)
        self.dow = _dow(self.days)
        self.year = self.days.astype("datetime64[Y]").astype(np.int64) + 1970
        self.month = self.days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        self.dom = (self.days - self.days.astype("datetime64[M]")).astype(np.int64) + 1
        self.doy = (self.days - self.days.astype("datetime64[Y]")).astype(np.int64) + 1
        self.t = (self.days - START).astype(np.int64) / 365.25
        self.train = self.days <= TRAIN_END

    def index(self, day) -> int:
        return int((np.datetime64(day, "D") - START).astype(np.int64))

    def mark(self, row: np.ndarray, first, last, value=True) -> None:
        """Set the days first..last (inclusive) of `row` (last axis), clipped to the calendar."""
        a = max(self.index(first), 0)
        b = min(self.index(last), self.n - 1)
        if a <= b:
            row[..., a:b + 1] = value


def _state_holidays(cal: _Calendar) -> np.ndarray:
    """Codes 0 (none), 1 'a' public, 2 'b' Easter, 3 'c' Christmas, per state and day."""
    hol = np.zeros((len(STATES), cal.n), dtype=np.int8)
    by_state = {s: i for i, s in enumerate(STATES)}
    for year, easter in EASTER.items():
        e = np.datetime64(easter)
        nov22 = np.datetime64(f"{year}-11-22")
        repentance = nov22 - (_dow(nov22) - 3) % 7  # the Wednesday before Nov 23
        corpus_christi = e + 60
        public = [np.datetime64(f"{year}-01-01"), np.datetime64(f"{year}-05-01"), e + 39, e + 50,
                  np.datetime64(f"{year}-10-03")]
        regional = {
            "BW": [f"{year}-01-06", corpus_christi, f"{year}-11-01"],
            "BY": [f"{year}-01-06", corpus_christi, f"{year}-08-15", f"{year}-11-01"],
            "ST": [f"{year}-01-06", f"{year}-10-31"],
            "HE": [corpus_christi],
            "NW": [corpus_christi, f"{year}-11-01"],
            "RP": [corpus_christi, f"{year}-11-01"],
            "SN": [f"{year}-10-31", repentance],
            "TH": [f"{year}-10-31"],
        }
        for day in public:
            cal.mark(hol, day, day, 1)  # every state
        for state, days in regional.items():
            for day in days:
                cal.mark(hol[by_state[state]], day, day, 1)
        for day in (e - 2, e + 1):
            cal.mark(hol, day, day, 2)
        cal.mark(hol, f"{year}-12-25", f"{year}-12-26", 3)
    return hol


def _school_holidays(cal: _Calendar, gen: np.random.Generator) -> np.ndarray:
    """Per state and day: school holidays (Christmas, winter, Easter, Whitsun, summer, autumn)."""
    school = np.zeros((len(STATES), cal.n), dtype=bool)
    for i, state in enumerate(STATES):
        winter = gen.random() < 0.5
        for year in (2012, 2013, 2014, 2015):
            row = school[i]
            shift = int(gen.integers(0, 3))
            cal.mark(row, np.datetime64(f"{year}-12-22") + shift, np.datetime64(f"{year + 1}-01-05") + shift)
            if year not in EASTER:
                continue
            e = np.datetime64(EASTER[year])
            if winter:
                w0 = np.datetime64(f"{year}-02-01") + int(gen.integers(0, 21))
                cal.mark(row, w0, w0 + 6)
            e0 = e - 9 + int(gen.integers(-3, 4))
            cal.mark(row, e0, e0 + int(gen.integers(11, 15)))
            if state in ("BY", "BW"):  # two Whitsun weeks in the south
                cal.mark(row, e + 49, e + 61)
            # Summer: the south always last (Aug..mid Sep), the others rotate by year
            if state == "BY":
                s0 = np.datetime64(f"{year}-07-31")
            elif state == "BW":
                s0 = np.datetime64(f"{year}-07-28")
            else:
                s0 = np.datetime64(f"{year}-06-20") + int((i * 9 + (year - 2013) * 13) % 38)
            cal.mark(row, s0, s0 + 41)
            a0 = np.datetime64(f"{year}-10-01") + int(gen.integers(0, 24))
            cal.mark(row, a0, a0 + int(gen.integers(6, 13)))
    return school


def _promo_days(cal: _Calendar, gen: np.random.Generator) -> np.ndarray:
    """The chain-wide Promo calendar: Monday..Friday of one week in every 2 (sometimes 3).

    Anchored on facts of the real files: the last train week (from 2015-07-27) and the
    last test week (from 2015-09-14) are promo weeks.
    """
    promo = np.zeros(cal.n, dtype=np.int8)
    mondays = [np.datetime64(d) for d in ("2015-07-27", "2015-08-10", "2015-08-24", "2015-09-14")]
    monday = mondays[0]
    while monday >= START:
        monday -= 7 * int(gen.choice([2] * 9 + [3]))
        mondays.append(monday)
    for monday in mondays:
        cal.mark(promo, monday, monday + 4, 1)
    return promo


# ---------------------------------------------------------------- stores


def _stores(n: int, gen: np.random.Generator) -> dict[str, np.ndarray]:
    """store.csv's columns plus the state of each store."""
    stype = gen.choice(TYPES, size=n, p=TYPE_WEIGHTS)
    stype[gen.integers(n)] = "b"  # at least one type-b store (the rare busy station shops)
    assort = np.where(gen.random(n) < 0.53, "a", "c")
    b = stype == "b"
    assort[b] = gen.choice(["a", "b", "c"], size=int(b.sum()), p=[0.4, 0.5, 0.1])
    dist = np.clip(np.round(np.exp(gen.normal(np.log(2300), 1.2, n)) / 10) * 10, 20, 75860)
    dist_missing = np.zeros(n, dtype=bool)
    dist_missing[gen.choice(n, max(1, round(3 * n / 1115)), replace=False)] = True
    since_missing = (gen.random(n) < 0.32) | dist_missing
    years = np.arange(1990, 2016)
    weights = np.where(years < 2000, 6.0, 50.0)
    weights[years == 2012] = 82
    weights[years == 2013] = 83
    weights[years == 2014] = 70
    weights[years == 2015] = 38
    comp_year = gen.choice(years, size=n, p=weights / weights.sum())
    comp_month = gen.integers(1, 13, n)
    comp_month[comp_year == 2015] = gen.integers(1, 10, int((comp_year == 2015).sum()))
    has_since = np.flatnonzero(~since_missing)
    if len(has_since):
        comp_year[has_since[-1]] = 1900  # the real file's outlier year
    promo2 = gen.random(n) < 571 / 1115
    p2_year = gen.choice(np.arange(2009, 2016), size=n, p=np.array([73, 64, 128, 81, 120, 95, 10]) / 571)
    p2_week = gen.choice(PROMO2_WEEKS, size=n)
    p2_week[p2_year == 2015] = gen.choice(PROMO2_WEEKS[:8], size=int((p2_year == 2015).sum()))
    interval = gen.choice(INTERVALS, size=n, p=INTERVAL_WEIGHTS)
    w = np.array(STATE_WEIGHTS, dtype=float)
    state = gen.choice(len(STATES), size=n, p=w / w.sum())
    return {
        "StoreType": stype, "Assortment": assort, "dist": dist, "dist_missing": dist_missing,
        "since_missing": since_missing, "comp_year": comp_year, "comp_month": comp_month,
        "promo2": promo2, "p2_year": p2_year, "p2_week": p2_week, "interval": interval,
        "state": state,
    }


def _store_frame(st: dict[str, np.ndarray]) -> pl.DataFrame:
    n = len(st["state"])
    p2 = st["promo2"]
    return pl.DataFrame({
        "Store": np.arange(1, n + 1),
        "StoreType": st["StoreType"],
        "Assortment": st["Assortment"],
        "CompetitionDistance": pl.Series(st["dist"].astype(np.int64)).scatter(
            np.flatnonzero(st["dist_missing"]), None),
        "CompetitionOpenSinceMonth": pl.Series(st["comp_month"]).scatter(
            np.flatnonzero(st["since_missing"]), None),
        "CompetitionOpenSinceYear": pl.Series(st["comp_year"]).scatter(
            np.flatnonzero(st["since_missing"]), None),
        "Promo2": p2.astype(np.int64),
        "Promo2SinceWeek": pl.Series(st["p2_week"]).scatter(np.flatnonzero(~p2), None),
        "Promo2SinceYear": pl.Series(st["p2_year"]).scatter(np.flatnonzero(~p2), None),
        # quoted empty string, not a blank, where a store has no Promo2 (as in the real file)
        "PromoInterval": np.where(p2, st["interval"], ""),
    })


# ---------------------------------------------------------------- the sales model


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """a shifted along days: out[:, d] = a[:, d + k], False/0 beyond the ends."""
    out = np.zeros_like(a)
    if k > 0:
        out[:, :-k] = a[:, k:]
    else:
        out[:, -k:] = a[:, :k]
    return out


def _simulate(cal: _Calendar, st: dict, hol: np.ndarray, school: np.ndarray, promo: np.ndarray,
              test_mask: np.ndarray, null_open_store: int, gen: np.random.Generator) -> dict:
    """Open, Sales and Customers on the stores x days grid."""
    n, d = len(st["state"]), cal.n
    stype, assort = st["StoreType"], st["Assortment"]
    is_b = stype == "b"
    hol_s = hol[st["state"]]
    school_s = school[st["state"]]
    dow = cal.dow[None, :]

    # --- who opens when
    sunday_store = is_b | (gen.random(n) < 0.015)
    holiday_store = is_b | (gen.random(n) < 0.02)  # station shops open on public holidays
    opened = np.ones((n, d), dtype=bool)
    opened &= ~((dow == 7) & ~sunday_store[:, None])
    opened &= ~((hol_s > 0) & ~((hol_s == 1) & holiday_store[:, None]))
    # long refurbishment closures in train, with a clearance before and a rush after
    refurb = np.zeros((n, d))
    lo, hi = cal.index("2013-02-01"), cal.index("2015-06-30")
    for s in np.flatnonzero(gen.random(n) < 0.06):
        length = int(gen.integers(14, 150))
        c0 = int(gen.integers(lo, hi - length))
        opened[s, c0:c0 + length] = False
        refurb[s, max(c0 - 7, 0):c0] += 0.08
        after = np.arange(c0 + length, min(c0 + length + 30, d))
        refurb[s, after] += 0.35 * np.exp(-(after - c0 - length) / 8)
    opened &= gen.random((n, d)) >= 0.0015  # odd single-day closures
    # the store whose Open is blank in test was open on those days
    blank_days = np.flatnonzero(test_mask & (cal.days >= np.datetime64("2015-09-05")) & (cal.dow != 7))
    opened[null_open_store, blank_days] = True

    # --- store-level effects
    dist = st["dist"]
    level = (np.log(5900) + np.select([is_b, stype == "c", stype == "d"], [0.35, 0.02, -0.02], 0.0)
             + np.select([assort == "b", assort == "c"], [-0.10, 0.08], 0.0)
             - 0.06 * (np.log(dist) - np.log(2300)) - 0.07 * st["promo2"]
             + gen.normal(0, 0.28, n))
    basket = np.select([is_b, stype == "c", stype == "d"], [5.2, 9.2, 11.2], 9.0) * np.exp(gen.normal(0, 0.1, n))
    dow_eff = np.array([0.14, 0.03, 0.0, 0.0, 0.04, -0.08, 0.10])[None, :] + gen.normal(0, 0.03, (n, 7))
    promo_eff = np.clip(gen.normal(0.25, 0.06, n), 0.05, 0.5)
    school_eff = gen.normal(0.02, 0.04, n) + 0.05 * is_b
    season_amp = gen.uniform(0.7, 1.3, n)
    slope = gen.normal(0.02, 0.06, n)
    kink_t = gen.uniform(0.8, 2.4, n)
    kink = np.where(gen.random(n) < 0.4, gen.normal(0, 0.12, n), 0.0)
    noise_sd = gen.uniform(0.05, 0.11, n)

    # --- day-level shapes shared by all stores
    season = 0.03 * np.cos(2 * np.pi * ((cal.doy - 1) / 365 - 0.95))
    dec = (cal.month == 12) & (cal.dom <= 23)
    season = season + dec * (0.03 + 0.30 * np.clip((cal.dom - 10) / 13, 0, 1) ** 2)
    season = season - 0.06 * ((cal.month == 1) & (cal.dom <= 15)) - 0.03 * np.isin(cal.month, (7, 8))
    season = season - 0.15 * ((cal.month == 12) & (cal.dom == 24)) - 0.10 * ((cal.month == 12) & (cal.dom == 31))
    dom_eff = np.select([cal.dom <= 3, (cal.dom >= 15) & (cal.dom <= 17), (cal.dom >= 20) & (cal.dom <= 26),
                         cal.dom >= 29], [0.05, 0.03, -0.03, 0.02], 0.0)

    log_s = np.broadcast_to(level[:, None], (n, d)).copy()
    log_s += np.take_along_axis(dow_eff, np.broadcast_to(dow - 1, (n, d)), axis=1)
    log_s += promo[None, :] * (promo_eff[:, None] + 0.05 * (dow == 1))
    log_s += season_amp[:, None] * season[None, :] + dom_eff[None, :]
    log_s += school_s * school_eff[:, None]
    # shoppers stock up before a holiday closure and catch up after it
    hol_closed = (hol_s > 0) & ~opened
    log_s += 0.12 * _shift(hol_closed, 1) + 0.06 * _shift(hol_closed, 2)
    log_s += 0.08 * _shift(hol_closed, -1) + 0.04 * _shift(hol_closed, -2)
    log_s += refurb

    # a competitor opening inside the period takes a share from its month on
    comp_day = (np.array([f"{y:04d}-{m:02d}" for y, m in zip(st["comp_year"], st["comp_month"])],
                         dtype="datetime64[M]").astype("datetime64[D]"))
    comp_new = ~st["since_missing"] & (comp_day > START)
    drop = np.clip(0.04 + 0.16 * np.exp(-dist / 1500) + gen.normal(0, 0.02, n), 0, None) * comp_new
    ramp = np.clip((cal.days[None, :] - comp_day[:, None]).astype(np.int64) / 30, 0, 1)
    log_s -= drop[:, None] * ramp

    # Promo2 refreshes coupons in the first month of each quarter of its interval
    p2_start = (np.array([f"{y:04d}-01-04" for y in st["p2_year"]], dtype="datetime64[D]"))
    p2_start = p2_start - (_dow(p2_start) - 1) + 7 * (st["p2_week"] - 1)
    first_month = np.select([st["interval"] == INTERVALS[1], st["interval"] == INTERVALS[2]], [2, 3], 1)
    in_interval = (cal.month[None, :] - first_month[:, None]) % 3 == 0
    p2_on = st["promo2"][:, None] & (cal.days[None, :] >= p2_start[:, None]) & in_interval
    log_s += 0.04 * p2_on

    # a slow per-store trend (some stores turn) and a mean-reverting drift
    t = cal.t[None, :]
    log_s += slope[:, None] * t + kink[:, None] * np.clip(t - kink_t[:, None], 0, None)
    drift = np.empty((n, d))
    shocks = gen.normal(0, 0.006, (n, d))
    drift[:, 0] = gen.normal(0, 0.04, n)
    for j in range(1, d):  # over days, vectorised over stores
        drift[:, j] = 0.99 * drift[:, j - 1] + shocks[:, j]
    log_s += drift
    log_s += gen.normal(0, 1, (n, d)) * noise_sd[:, None]

    log_c = log_s - np.log(basket)[:, None] - 0.4 * promo[None, :] * promo_eff[:, None]
    log_c += gen.normal(0, 0.04, (n, d))
    sales = np.where(opened, np.round(np.exp(log_s)), 0).astype(np.int64)
    customers = np.where(opened, np.maximum(np.round(np.exp(log_c)), 1), 0).astype(np.int64)
    return {"open": opened, "sales": sales, "customers": customers, "hol": hol_s, "school": school_s}


# ---------------------------------------------------------------- writing


def _rows(exists: np.ndarray, day_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(store, day) indices of the existing cells on `day_idx`, each day's stores ascending."""
    n = exists.shape[0]
    ss = np.tile(np.arange(n), len(day_idx))
    dd = np.repeat(day_idx, n)
    keep = exists[ss, dd]
    return ss[keep], dd[keep]


def _frame(cal: _Calendar, sim: dict, ss: np.ndarray, dd: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({
        "Store": ss + 1,
        "DayOfWeek": cal.dow[dd],
        "Date": pl.Series(cal.days[dd]),
        "Sales": sim["sales"][ss, dd],
        "Customers": sim["customers"][ss, dd],
        "Open": sim["open"][ss, dd].astype(np.int64),
        "Promo": sim["promo"][dd].astype(np.int64),
        "StateHoliday": HOLIDAY_CODES[sim["hol"][ss, dd]],
        "SchoolHoliday": sim["school"][ss, dd].astype(np.int64),
    })


def generate(out: Path, *, size: str, seed: int) -> None:
    """Write train.csv, test.csv, store.csv, sample_submission.csv, store_states.csv and
    solution/solution.csv under `out`."""
    conf = SIZES[size]
    out = Path(out)
    n = conf["stores"]
    cal = _Calendar()

    st = _stores(n, rng(seed, "rossmann", "stores"))
    pick = rng(seed, "rossmann", "split")
    test_stores = np.sort(pick.choice(n, conf["test_stores"], replace=False))
    by = STATES.index("BY")
    if not (st["state"][test_stores] == by).any():
        # Assumption Day (Aug 15, Bavaria) is the test's only state holiday: keep an "a" there
        st["state"][test_stores[0]] = by
    null_open_store = int(test_stores[pick.integers(len(test_stores))])
    gap_stores = np.sort(pick.choice(n, conf["gap_stores"], replace=False))
    missing_first = int(pick.choice(np.setdiff1d(np.arange(n), gap_stores)))

    hol = _state_holidays(cal)
    school = _school_holidays(cal, rng(seed, "rossmann", "school"))
    promo = _promo_days(cal, rng(seed, "rossmann", "promo"))
    test_mask = ~cal.train
    sim = _simulate(cal, st, hol, school, promo, test_mask, null_open_store, rng(seed, "rossmann", "sales"))
    sim["promo"] = promo

    exists = np.broadcast_to(cal.train[None, :], (n, cal.n)).copy()
    in_gap = (cal.days >= GAP[0]) & (cal.days <= GAP[1])
    exists[np.ix_(gap_stores, np.flatnonzero(in_gap))] = False
    exists[missing_first, 0] = False  # one store lacks 2013-01-01, as in the real data

    # a few open days with zero sales (the real train has 54)
    zgen = rng(seed, "rossmann", "zeros")
    cand = np.flatnonzero((exists & sim["open"]).ravel())
    zero = zgen.choice(cand, max(1, round(54 * n / 1115)), replace=False)
    sim["sales"].ravel()[zero] = 0
    sim["customers"].ravel()[zero] = 0

    # train: Date descending, Store ascending, written in chunks of days
    train_file = SPEC.train_file
    train_days = np.flatnonzero(cal.train)[::-1]
    with CsvWriter(out, train_file, total=int(exists[:, cal.train].sum())) as w:
        for k in range(0, len(train_days), conf["chunk_days"]):
            ss, dd = _rows(exists, train_days[k:k + conf["chunk_days"]])
            w.write(_frame(cal, sim, ss, dd))

    # test: the same order, Id from 1 on the last day
    test_exists = np.zeros_like(exists)
    test_exists[np.ix_(test_stores, np.flatnonzero(test_mask))] = True
    ss, dd = _rows(test_exists, np.flatnonzero(test_mask)[::-1])
    full = _frame(cal, sim, ss, dd).with_columns(Id=pl.int_range(1, len(ss) + 1, dtype=pl.Int64))
    blank = (ss == null_open_store) & (cal.days[dd] >= np.datetime64("2015-09-05")) & (cal.dow[dd] != 7)
    test = full.with_columns(Open=pl.when(pl.Series(blank)).then(None).otherwise(pl.col("Open")))
    test = test.select(SPEC.test_file.column_names)
    write_csv(test, out, SPEC.test_file)

    write_csv(_store_frame(st), out, SPEC.file("store.csv"))
    write_csv(pl.DataFrame({"Id": test["Id"], "Sales": np.zeros(test.height, dtype=np.int64)}),
              out, SPEC.sample_submission_file)
    write_csv(pl.DataFrame({"Store": np.arange(1, n + 1), "State": np.array(STATES)[st["state"]]}),
              out, SPEC.file("store_states.csv"))

    usage = usage_split(test.height, SPEC.extra["public_fraction"], rng(seed, "rossmann", "usage"))
    write_solution(pl.DataFrame({"Id": test["Id"], "Sales": full["Sales"], "Usage": usage}), out)
