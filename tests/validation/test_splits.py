"""Splitters: invariants over every splitter, hand-computed folds, errors, real twins."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from split_checks import check_splits, day_numbers, rate_spread

from kit.data.tables import read_table
from kit.errors import KitError
from kit.spec import get
from kit.validation import (
    GroupKFold,
    KFold,
    MultilabelStratifiedKFold,
    StratifiedKFold,
    TimeHoldout,
    TimeWindow,
    WalkForward,
    default_splitter,
    fold_ids,
)
from kit.validation.splits import _greedy_counts

START = dt.date(2013, 1, 1)


def panel(stores: int = 30, days: int = 300, seed: int = 0) -> pl.DataFrame:
    """stores x days rows (10% dropped at random, so dates have uneven row counts), shuffled."""
    rng = np.random.default_rng(seed)
    dates = pl.date_range(START, START + dt.timedelta(days=days - 1), eager=True)
    frame = pl.DataFrame({"store": np.repeat(np.arange(stores), days), "date": pl.concat([dates] * stores)})
    n = frame.height
    tags = rng.random((n, 4)) < np.array([0.6, 0.2, 0.05, 0.01])
    frame = frame.with_columns(
        target=pl.Series((rng.random(n) < 0.1).astype(np.int64)),
        tags=pl.Series([" ".join(t for t, on in zip(("a", "b", "c", "d"), row) if on) for row in tags]),
        datetime=pl.col("date").cast(pl.Datetime("us")) + pl.duration(hours=rng.integers(0, 24, n)),
    )
    keep = rng.random(n) > 0.1
    return frame.filter(pl.Series(keep)).sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.fixture(scope="module")
def X() -> pl.DataFrame:
    return panel()


# ---- invariants over every splitter -----------------------------------------------------------
TIME_SPLITTERS = [
    TimeHoldout("date", horizon_days=48),
    TimeHoldout("date", horizon_days=30, gap_days=7),
    TimeHoldout("datetime", horizon_days=16, gap_days=2),
    WalkForward("date", n_splits=4, horizon_days=30),
    WalkForward("date", n_splits=3, horizon_days=20, gap_days=5, window_days=60),
    WalkForward("datetime", n_splits=5, horizon_days=7, gap_days=1),
]


@pytest.mark.parametrize("splitter", TIME_SPLITTERS, ids=repr)
def test_time_splitters_keep_the_invariants(splitter, X):
    folds = check_splits(splitter, X, dates=X[splitter.date_col], gap_days=splitter.gap_days)
    days = day_numbers(X[splitter.date_col])
    end = days.max() + 1
    # the last fold validates on exactly the last horizon_days days
    assert days[folds[-1][1]].min() == end - splitter.horizon_days
    # walk-forward folds are consecutive stretches of horizon_days, later ones later
    starts = [days[v].min() for _, v in folds]
    assert np.all(np.diff(starts) == splitter.horizon_days)


@pytest.mark.parametrize("splitter", TIME_SPLITTERS[:3], ids=repr)
def test_time_splitters_take_pandas_frames_and_bare_dates(splitter, X):
    ref = list(splitter.split(X))
    for same in (X.to_pandas(), X[splitter.date_col], X[splitter.date_col].to_numpy()):
        got = list(splitter.split(same))
        assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(ref, got))


def random_cases(X):
    y = X["target"]
    return [
        (KFold(5), {}),
        (KFold(3, shuffle=False), {}),
        (StratifiedKFold(5), {"y": y}),
        (StratifiedKFold(4, shuffle=False), {"y": y.to_numpy()}),
        (StratifiedKFold(5, target_col="target"), {}),
        (GroupKFold(5), {"groups": X["store"]}),
        (GroupKFold(4, group_col="store", shuffle=False), {}),
        (MultilabelStratifiedKFold(5), {"y": X["tags"]}),
        (MultilabelStratifiedKFold(3, target_col="tags", random_state=7), {}),
    ]


@pytest.mark.parametrize("case", range(9))
def test_random_splitters_keep_the_invariants(case, X):
    splitter, kw = random_cases(X)[case]
    groups = kw.get("groups", X["store"] if getattr(splitter, "group_col", None) else None)
    folds = check_splits(splitter, X, kw.get("y"), kw.get("groups"), covers_all=True)
    sizes = [len(v) for _, v in folds]
    if groups is not None:
        g = groups.to_numpy()
        for train, valid in folds:
            assert not set(g[train]) & set(g[valid])
        assert max(sizes) - min(sizes) <= np.bincount(g).max()
    else:
        assert max(sizes) - min(sizes) <= 1
    # pandas in, same folds out
    again = list(splitter.split(X.to_pandas(), kw.get("y"), kw.get("groups")))
    assert all(np.array_equal(v, w) for (_, v), (_, w) in zip(folds, again))


def test_stratified_keeps_the_class_rate_to_one_row_per_fold(X):
    y = X["target"].to_numpy()
    folds = check_splits(StratifiedKFold(5), X, y, covers_all=True)
    positives = [int(y[v].sum()) for _, v in folds]
    assert max(positives) - min(positives) <= 1
    assert rate_spread(y, folds)[0] < 2 / len(folds[0][1])
    # random K-fold is much looser on the same data (sanity: the check can fail)
    loose = rate_spread(y, list(KFold(5, random_state=3).split(X)))[0]
    assert loose > rate_spread(y, folds)[0]


def test_multilabel_keeps_every_label_rate(X):
    Y = np.column_stack([X["tags"].str.contains(t).to_numpy() for t in "abcd"])
    folds = check_splits(MultilabelStratifiedKFold(5), X, Y, covers_all=True)
    counts = np.array([Y[v].sum(0) for _, v in folds])  # (fold, label)
    # each label is spread over the folds to within one row (iterative stratification)
    assert (counts.max(0) - counts.min(0) <= 1).all(), counts
    assert (rate_spread(Y, folds) < 0.003).all()
    # the tags column gives the same folds as the matrix it spells
    by_tags = list(MultilabelStratifiedKFold(5).split(X, X["tags"]))
    assert all(np.array_equal(v, w) for (_, v), (_, w) in zip(folds, by_tags))


def test_multilabel_beats_random_folds_on_rare_labels():
    rng = np.random.default_rng(1)
    Y = rng.random((2000, 6)) < np.array([0.5, 0.1, 0.03, 0.01, 0.008, 0.005])
    X = np.zeros((2000, 1))
    strat = rate_spread(Y, list(MultilabelStratifiedKFold(5).split(X, Y)))
    rand = rate_spread(Y, list(KFold(5).split(X)))
    assert (strat <= rand + 1e-12).all() and strat.sum() < rand.sum() / 3


def test_multilabel_deals_a_tiny_label_one_row_per_fold():
    # 5 rows carry label 0; the other 15 carry none: one label-0 row per fold, 4 rows per fold
    Y = np.zeros((20, 1), int)
    Y[[0, 3, 7, 12, 19], 0] = 1
    fold = MultilabelStratifiedKFold(5).folds(np.zeros(20), Y)
    assert sorted(fold[Y[:, 0] == 1]) == [0, 1, 2, 3, 4]
    assert np.bincount(fold).tolist() == [4] * 5


def test_greedy_counts_match_the_one_at_a_time_greedy():
    rng = np.random.default_rng(0)
    for _ in range(200):
        k, m = rng.integers(2, 7), rng.integers(0, 40)
        first, second = rng.random(k) * 10, rng.random(k) * 10  # no ties
        got = _greedy_counts(first, second, m, rng)
        f, s, want = first.copy(), second.copy(), np.zeros(k, int)
        for _ in range(m):
            j = max(range(k), key=lambda i: (f[i], s[i]))
            want[j] += 1
            f[j] -= 1
            s[j] -= 1
        assert got.tolist() == want.tolist()


# ---- hand-computed folds ----------------------------------------------------------------------
def two_stores(days: int = 10) -> pl.DataFrame:
    d = pl.date_range(START, START + dt.timedelta(days=days - 1), eager=True)
    return pl.DataFrame({"date": pl.concat([d, d]), "store": [1] * days + [2] * days})


def test_time_holdout_by_hand():
    X = two_stores()  # rows 0-9 store 1 days 1..10, rows 10-19 store 2
    (train, valid), = TimeHoldout("date", horizon_days=3, gap_days=1).split(X)
    assert valid.tolist() == [7, 8, 9, 17, 18, 19]  # Jan 8, 9, 10
    assert train.tolist() == [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]  # Jan 1..6; Jan 7 is the gap
    w, = TimeHoldout("date", horizon_days=3, gap_days=1).windows(X)
    assert w == TimeWindow(dt.date(2013, 1, 1), dt.date(2013, 1, 7), dt.date(2013, 1, 8), dt.date(2013, 1, 11))


def test_walk_forward_windows_by_hand():
    X = two_stores(20)  # Jan 1..20
    expanding = WalkForward("date", n_splits=3, horizon_days=4, gap_days=1).windows(X)
    d = lambda day: dt.date(2013, 1, day)  # noqa: E731
    assert expanding == (TimeWindow(d(1), d(8), d(9), d(13)), TimeWindow(d(1), d(12), d(13), d(17)),
                         TimeWindow(d(1), d(16), d(17), d(21)))
    sliding = WalkForward("date", n_splits=3, horizon_days=4, gap_days=1, window_days=5).windows(X)
    assert [(w.train_start, w.train_end) for w in sliding] == [(d(3), d(8)), (d(7), d(12)), (d(11), d(16))]
    folds = list(WalkForward("date", n_splits=3, horizon_days=4, gap_days=1, window_days=5).split(X))
    assert folds[0][0].tolist() == [2, 3, 4, 5, 6, 22, 23, 24, 25, 26]  # Jan 3..7, both stores
    assert folds[2][1].tolist() == [16, 17, 18, 19, 36, 37, 38, 39]


def test_kfold_by_hand():
    folds = list(KFold(3, shuffle=False).split(np.zeros(10)))
    assert [v.tolist() for _, v in folds] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert folds[1][0].tolist() == [0, 1, 2, 3, 7, 8, 9]


def test_stratified_by_hand():
    y = np.array([1] * 10 + [0] * 90)
    folds = list(StratifiedKFold(5, random_state=1).split(np.zeros(100), y))
    assert [int(y[v].sum()) for _, v in folds] == [2] * 5
    assert [len(v) for _, v in folds] == [20] * 5


def test_group_kfold_keeps_groups_whole_and_balances():
    groups = np.repeat(np.arange(12), 10)  # 12 groups of 10 rows
    folds = check_splits(GroupKFold(4), np.zeros(120), groups=groups, covers_all=True)
    assert [len(v) for _, v in folds] == [30] * 4  # 3 whole groups per fold


def test_seeds_change_random_folds_and_only_them():
    X = np.zeros(200)
    a = KFold(5, random_state=0).folds(X)
    assert np.array_equal(a, KFold(5, random_state=0).folds(X))
    assert not np.array_equal(a, KFold(5, random_state=1).folds(X))


def test_fold_ids():
    X = two_stores()
    ids = fold_ids(TimeHoldout("date", horizon_days=3), X)
    assert ids.tolist() == [-1] * 7 + [0] * 3 + [-1] * 7 + [0] * 3
    k = fold_ids(KFold(4), np.zeros(40))
    assert np.bincount(k).tolist() == [10] * 4


# ---- errors -----------------------------------------------------------------------------------
def days_frame(first: dt.date, days: int) -> pl.DataFrame:
    return pl.DataFrame({"date": pl.date_range(first, first + dt.timedelta(days=days - 1), eager=True)})


def test_walk_forward_that_does_not_fit_names_the_numbers():
    X = days_frame(START, 200)
    with pytest.raises(KitError, match=r"walk-forward needs 5 folds of 48 days after at least 1 training "
                                       r"day, but the data spans 200 days \(2013-01-01\.\.2013-07-19\)"):
        list(WalkForward("date", n_splits=5, horizon_days=48).split(X))
    with pytest.raises(KitError, match=r"needs 4 folds of 48 days and a 10-day gap .* spans 200 days"):
        list(WalkForward("date", n_splits=4, horizon_days=48, gap_days=10).split(X))
    assert len(list(WalkForward("date", n_splits=4, horizon_days=48, gap_days=7).split(X))) == 4


def test_horizon_longer_than_the_data():
    X = days_frame(START, 30)
    with pytest.raises(KitError, match=r"time holdout needs 48 validation days after at least 1 training "
                                       r"day, but the data spans 30 days \(2013-01-01\.\.2013-01-30\)"):
        list(TimeHoldout("date", horizon_days=48).split(X))
    with pytest.raises(KitError, match=r"needs 20 validation days and a 10-day gap"):
        list(TimeHoldout("date", horizon_days=20, gap_days=10).split(X))


def test_a_fold_over_a_hole_in_the_data_is_named():
    X = days_frame(START, 100).filter(~pl.col("date").is_between(dt.date(2013, 3, 1), dt.date(2013, 3, 20)))
    # data Jan 1..Feb 28 and Mar 21..Apr 10: four 10-day folds start on Mar 2
    with pytest.raises(KitError, match=r"fold 1 of 4 validates on 2013-03-02\.\.2013-03-11, where the data has no rows"):
        list(WalkForward("date", n_splits=4, horizon_days=10).split(X))
    with pytest.raises(KitError, match=r"fold 1 of 2 trains on 2013-03-06\.\.2013-03-20, where the data has no rows"):
        list(WalkForward("date", n_splits=2, horizon_days=10, gap_days=1, window_days=15).split(X))


def test_more_folds_than_rows_groups_or_positives():
    with pytest.raises(KitError, match=r"5-fold needs at least 5 rows for 5 folds, but there are 3"):
        list(KFold(5).split(np.zeros(3)))
    with pytest.raises(KitError, match=r"group 5-fold needs at least 5 groups for 5 folds, but there are 3"):
        list(GroupKFold(5).split(np.zeros(30), groups=np.repeat([1, 2, 3], 10)))
    y = np.array([1, 1, 1] + [0] * 97)
    with pytest.raises(KitError, match=r"stratified 5-fold needs at least 5 rows of each class, but class 1 "
                                       r"has 3 \(of 100 rows\); use at most 3 folds"):
        list(StratifiedKFold(5).split(np.zeros(100), y))
    with pytest.raises(KitError, match=r"multilabel stratified 5-fold needs at least 5 rows"):
        list(MultilabelStratifiedKFold(5).split(np.zeros(4), np.ones((4, 2))))
    with pytest.raises(KitError, match=r"leaves 3 fold\(s\) empty: the largest group holds 90 of 100 rows"):
        list(GroupKFold(5, shuffle=False).split(np.zeros(100), groups=[0] * 90 + list(range(1, 11))))


def test_bad_inputs_get_one_clear_message(X):
    with pytest.raises(KitError, match=r"date column 'Date' is not in X \(columns: store, date"):
        list(TimeHoldout("Date", 10).split(X))
    with pytest.raises(KitError, match=r"date column 'tags' is String, not a date; parse it first"):
        list(TimeHoldout("tags", 10).split(X))
    nulls = days_frame(START, 10).with_columns(pl.when(pl.col("date").dt.day() < 3).then(None)
                                                 .otherwise(pl.col("date")).alias("date"))
    with pytest.raises(KitError, match=r"date column 'date' has 2 missing dates"):
        list(TimeHoldout("date", 3).split(nulls))
    with pytest.raises(KitError, match=r"horizon_days must be an integer >= 1, got 0"):
        TimeHoldout("date", 0)
    with pytest.raises(KitError, match=r"n_splits must be an integer >= 2, got 1"):
        KFold(1)
    with pytest.raises(KitError, match=r"stratified 5-fold needs the target: pass split\(X, y\) or set target_col"):
        list(StratifiedKFold(5).split(X))
    with pytest.raises(KitError, match=r"y has 3 values but X has 100 rows"):
        list(StratifiedKFold(2).split(np.zeros(100), [0, 1, 0]))
    with pytest.raises(KitError, match=r"needs class labels, but y has non-integer values"):
        list(StratifiedKFold(2).split(np.zeros(100), np.linspace(0, 1, 100)))
    with pytest.raises(KitError, match=r"needs groups: pass split\(X, groups=...\)"):
        list(GroupKFold(2).split(np.zeros(10)))
    with pytest.raises(KitError, match=r"needs 0/1 labels, but y holds 2"):
        list(MultilabelStratifiedKFold(2).split(np.zeros(4), np.array([[0, 2], [1, 0], [1, 1], [0, 0]])))


# ---- competitions and their twins -------------------------------------------------------------
@pytest.mark.parametrize("name", ["rossmann", "favorita", "bulldozers"])
def test_default_time_holdout_on_the_twins(name, tiny_twin):
    spec = get(name).spec
    train = read_table(spec, spec.train, tiny_twin(name))
    splitter = default_splitter(spec)
    assert isinstance(splitter, TimeHoldout)
    assert (splitter.date_col, splitter.horizon_days) == (spec.time_column, spec.horizon_days)
    (tr, va), = check_splits(splitter, train, dates=train[spec.time_column])
    days = day_numbers(train[spec.time_column])
    first_valid = days.max() + 1 - spec.horizon_days  # Bulldozers' sale days are sparse
    assert days[va].min() >= first_valid > days[tr].max()
    w, = splitter.windows(train)
    assert (w.valid_end - w.valid_start).days == spec.horizon_days and w.train_end == w.valid_start
    if name == "rossmann":  # every store on each of the last 48 days
        assert len(va) == train["Store"].n_unique() * 48
    # walk-forward on the same twin
    wf = WalkForward(spec.time_column, n_splits=3, horizon_days=spec.horizon_days, gap_days=1)
    check_splits(wf, train, dates=train[spec.time_column], gap_days=1)


def test_default_stratified_on_porto_seguro(tiny_twin):
    spec = get("porto_seguro").spec
    train = read_table(spec, spec.train, tiny_twin("porto_seguro"))
    splitter = default_splitter(spec)
    assert isinstance(splitter, StratifiedKFold) and splitter.target_col == "target"
    folds = check_splits(splitter, train, covers_all=True)
    y = train["target"].to_numpy()
    positives = [int(y[v].sum()) for _, v in folds]
    assert max(positives) - min(positives) <= 1


def test_default_multilabel_on_planet(tiny_twin):
    spec = get("planet").spec
    train = read_table(spec, spec.train, tiny_twin("planet"))
    splitter = default_splitter(spec)
    assert isinstance(splitter, MultilabelStratifiedKFold) and splitter.target_col == "tags"
    folds = check_splits(splitter, train, covers_all=True)
    labels = [lab for lab in get("planet").spec.submission.labels
              if train["tags"].str.split(" ").list.contains(lab).any()]
    Y = np.column_stack([train["tags"].str.split(" ").list.contains(lab).to_numpy() for lab in labels])
    # 200 rows, 40 per fold: every label within 2.5 rows of its expected count in every fold
    # (the commonest label, handled last, is the hardest), and much closer than random folds
    spread = rate_spread(Y, folds)
    assert (spread < 2.5 / 40).all(), dict(zip(labels, spread.round(3)))
    assert spread.sum() < rate_spread(Y, list(KFold(5).split(train))).sum() / 2


def test_default_splitter_for_every_spec():
    from kit.spec import registry

    for comp in registry().values():
        splitter = default_splitter(comp)  # a Competition works as well as its spec
        assert splitter.get_n_splits() == (1 if comp.spec.validation == "time_holdout" else 5)
    assert default_splitter(get("rossmann").spec, gap_days=2, horizon_days=10).gap_days == 2
    assert KFold().random_state == 0 and "KFold(n_splits=5" in repr(default_splitter(_kfold_spec()))


def _kfold_spec():
    from dataclasses import replace

    return replace(get("porto_seguro").spec, validation="kfold")
