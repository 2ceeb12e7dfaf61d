"""Synthetic twin of Blue Book for Bulldozers.

Auction sales of used machines. A catalogue of models (grouped in base-model families,
product classes and the six product groups) is drawn first; machines of those models
are sold at auction events (a date, a datasource, an auctioneer) from 1989 to 2012,
some machines several times. The log price is

    class size + family + model + options (enclosure, ripper, ...) + machine condition
    - depreciation(age) - heavy use + market(year: 2008-2009 dip) + season + state
    + auctioneer + datasource + noise,

rounded to the dollar steps auction prices come in and clipped to the real range
[4750, 142000]. What the files *report* is degraded the way the real ones are:
YearMade 1000 for unknown (more often for old machines), MachineHoursCurrentMeter blank
or 0, UsageBand blank, and the option columns only filled for the machine's product
group and for sales whose datasource recorded details (few before 2000).

Train/test shift, as in the real data: Valid/Test (2012) come from a different
datasource mix (datasource 132 gone, 173 new), their machines are younger, hours and
details are almost always filled, and models introduced in 2011-2012 appear there.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from kit.synth.core import rng
from kit.synth.io import CsvWriter, usage_split, write_csv, write_solution

from .spec import SALEDATE_FORMAT, SPEC

# Row counts are the real ones for "full"; smaller sizes keep the same proportions
# (valid/test a bit larger in "tiny" so the hidden-answer checks have rows to score).
SIZES = {
    "tiny": {"train": 5_000, "valid": 300, "test": 400, "models": 600, "sales_per_event": 6},
    "small": {"train": 50_000, "valid": 1_443, "test": 1_553, "models": 2_500, "sales_per_event": 25},
    "full": {"train": 401_125, "valid": 11_573, "test": 12_457, "models": 5_300, "sales_per_event": 70},
}
#: machines per sale in the real data (341,027 machines in Machine_Appendix for 425,155 sales)
MACHINES_PER_SALE = 341_027 / 425_155
CHUNK_ROWS = 50_000

_D = dt.date(1970, 1, 1)


def _day(y: int, m: int, d: int) -> int:
    return (dt.date(y, m, d) - _D).days


# Half-open day ranges of the three sale periods (Train, Valid, Test), as in the real files.
PERIODS = (
    (_day(1989, 1, 17), _day(2011, 12, 30) + 1),
    (_day(2012, 1, 1), _day(2012, 4, 28) + 1),
    (_day(2012, 5, 1), _day(2012, 11, 16) + 1),
)

# Real sales per year in Train (thousands): many more sales after 2000, most in 2008-2009.
YEAR_VOLUME = dict(zip(range(1989, 2012), (
    4.8, 4.5, 5.1, 5.5, 6.3, 7.9, 8.5, 8.8, 9.8, 13.0, 12.8, 17.4, 17.6, 17.2, 15.3, 19.9, 20.5,
    21.7, 32.2, 39.8, 43.8, 33.4, 35.2)))
# Market level (log price) by year: slow rise, the 2008-2009 dip, partial recovery.
MARKET = ((1989, -0.30), (1991, -0.33), (1995, -0.17), (2000, -0.06), (2003, -0.06), (2006, 0.07),
          (2007.5, 0.10), (2008.5, 0.03), (2009.5, -0.16), (2010.5, -0.08), (2011.5, 0.01),
          (2013, 0.05))

DATASOURCES = np.array([121, 132, 136, 149, 172, 173])
# Datasource mix by sale year (rows: knots, columns: DATASOURCES); 173 only in 2012, 132 gone.
_DS_KNOTS = np.array([1989, 1995, 2003, 2004, 2008, 2009, 2011.99, 2012])
_DS_MIX = np.array([
    [0.00, 0.95, 0.05, 0.00, 0.00, 0.00],
    [0.00, 0.85, 0.15, 0.00, 0.00, 0.00],
    [0.00, 0.80, 0.20, 0.00, 0.00, 0.00],
    [0.05, 0.60, 0.20, 0.15, 0.00, 0.00],
    [0.05, 0.45, 0.20, 0.20, 0.10, 0.00],
    [0.06, 0.35, 0.20, 0.12, 0.27, 0.00],
    [0.06, 0.35, 0.20, 0.12, 0.27, 0.00],
    [0.35, 0.00, 0.10, 0.10, 0.25, 0.20],
])
# SalesID blocks: each datasource numbers its sales from its own base, in time order.
_DS_ID_BASE = np.array([1_139_246, 1_300_000, 2_300_000, 2_600_000, 6_250_000, 6_400_000])
# How often a datasource leaves YearMade unknown (1000), and how diligent it is about details.
_DS_UNKNOWN_YEAR = np.array([0.20, 0.07, 0.05, 0.12, 0.10, 0.15])
_DS_DETAIL = np.array([1.0, 0.75, 1.0, 0.95, 1.0, 1.0])
_DS_EFFECT = np.array([0.03, 0.0, -0.03, 0.02, -0.02, 0.04])

AUCTIONEERS = np.array([*range(1, 29), 99, 0])

STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
    "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky",
    "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi",
    "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico",
    "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
    "Puerto Rico", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas",
    "Unspecified", "Utah", "Vermont", "Virginia", "Washington", "Washington DC", "West Virginia",
    "Wisconsin", "Wyoming",
)
# Big auction states get more sales (Florida first, as in the real data).
_STATE_WEIGHT = {"Florida": 10.0, "Texas": 6.5, "California": 5.5, "Washington": 3.0, "Georgia": 3.0,
                 "Maryland": 2.5, "Mississippi": 2.5, "Ohio": 2.5, "Arizona": 2.5, "Colorado": 2.5,
                 "Illinois": 2.0, "North Carolina": 2.0, "Tennessee": 2.0, "Pennsylvania": 2.0,
                 "Alabama": 2.0, "New Jersey": 1.8, "Louisiana": 1.8, "Minnesota": 1.5,
                 "Unspecified": 1.2, "Puerto Rico": 0.05, "Washington DC": 0.03, "Hawaii": 0.1,
                 "Vermont": 0.1, "Rhode Island": 0.1, "Alaska": 0.2, "Delaware": 0.2}

# Product groups: code, description, class name template, PrimarySizeBasis, class bounds,
# log price of the smallest and largest class (a 5-year-old machine in 2005), depreciation
# multiplier, share of sales, share of models with a blank ProductSize.
GROUPS = (
    ("TEX", "Track Excavators", "Hydraulic Excavator, Track - {} Metric Tons", "Weight - Metric Tons",
     (0, 2, 3, 4, 5, 6, 8, 11, 12, 14, 16, 19, 21, 24, 28, 33, 40, 50, 66, 90, 150, 300),
     9.4, 12.0, 1.0, 0.26, 0.03),
    ("WL", "Wheel Loader", "Wheel Loader - {} Horsepower", "Horsepower",
     (0, 40, 60, 80, 90, 100, 110, 120, 135, 150, 175, 200, 225, 250, 275, 350, 500, 1000),
     9.6, 11.9, 0.9, 0.18, 0.15),
    ("SSL", "Skid Steer Loaders", "Skid Steer Loader - {} Lb Operating Capacity",
     "Operating Capacity - Lbs", (0, 701, 976, 1251, 1351, 1601, 1751, 2201, 2701),
     9.8, 10.5, 1.1, 0.21, 1.0),
    ("TTT", "Track Type Tractors", "Track Type Tractor, Dozer - {} Horsepower", "Horsepower",
     (20, 75, 85, 105, 130, 160, 190, 260), 9.8, 12.0, 0.8, 0.13, 0.65),
    ("BL", "Backhoe Loaders", "Backhoe Loader - {} Ft Standard Digging Depth",
     "Standard Digging Depth - Ft", (0, 14, 15, 16), 10.2, 10.7, 0.9, 0.19, 1.0),
    ("MG", "Motor Graders", "Motorgrader - {} Horsepower", "Horsepower",
     (45, 130, 145, 170, 200), 10.6, 11.6, 0.7, 0.03, 1.0),
)
_SIZES = ("Mini", "Compact", "Small", "Medium", "Large / Medium", "Large")
_SIZE_CUTS = np.array([0.2, 0.27, 0.42, 0.6, 0.78])

# Manufacturers: id, name, share, price premium, base-model prefixes.
MAKERS = (
    (26, "Caterpillar", 0.28, 0.08, ("", "D", "", "", "CS", "TH")),
    (43, "John Deere", 0.14, 0.03, ("", "", "JD")),
    (25, "Case", 0.12, -0.02, ("", "CX", "SR")),
    (74, "Komatsu", 0.10, 0.0, ("PC", "WA", "D", "GD", "SK", "WB")),
    (99, "Bobcat", 0.07, -0.02, ("S", "T", "E", "")),
    (121, "Volvo", 0.05, 0.02, ("EC", "L", "G", "MC")),
    (95, "Hitachi", 0.05, 0.01, ("EX", "ZX")),
    (103, "JCB", 0.04, -0.03, ("JS", "", "ROBOT")),
    (55, "New Holland", 0.04, -0.04, ("LS", "L", "LB", "E")),
    (110, "Kobelco", 0.03, -0.01, ("SK", "ED")),
    (54, "Takeuchi", 0.03, -0.02, ("TB", "TL")),
    (138, "Kubota", 0.03, -0.03, ("KX", "SVL", "U")),
    (57, "Gehl", 0.02, -0.06, ("SL", "CTL", "")),
    (60, "Mustang", 0.01, -0.07, ("", "MTL")),
    (32, "Dresser", 0.01, -0.08, ("TD", "")),
    (13, "Ford", 0.01, -0.08, ("", "A")),
)
_SECONDARY = ("A", "B", "C", "D", "E", "F", "G", "H", "K", "L", "M", "N", "LC", "LT", "XL", "II", "SR",
              "CX", "ZTS", "R")
_SERIES = ("II", "III", "-5", "-6", "-1", "-2", "-3", "-7", "2", "5", "LC", "7", "IV", "-8")
_DESCRIPTOR = ("LGP", "L", "LC", "XL", "4WD", "CR", "XT", "LT", "2.0", "3", "AWD", "HD", "ZTS", "SR")
# share of models with a fiSecondaryDesc / fiModelDescriptor, by group (order of GROUPS)
_P_SECONDARY = (0.62, 0.82, 0.20, 0.97, 0.83, 0.88)
_P_DESCRIPTOR = (0.46, 0.03, 0.03, 0.50, 0.16, 0.01)

_STICK_LENGTHS = ("6' 3\"", "8' 2\"", "8' 6\"", "9' 5\"", "9' 6\"", "9' 7\"", "9' 8\"", "9' 10\"",
                  "10' 2\"", "10' 6\"", "10' 10\"", "11' 0\"", "12' 4\"", "12' 8\"", "12' 10\"",
                  "13' 7\"", "13' 9\"", "14' 1\"", "15' 4\"", "19' 8\"")
_PAD_WIDTHS = ("14 inch", "16 inch", "18 inch", "20 inch", "22 inch", "24 inch", "26 inch", "27 inch",
               "28 inch", "30 inch", "31 inch", "32 inch", "34 inch", "36 inch", "31.5 inch")
_NONE = "None or Unspecified"


def _spread(values, total: float, effect: float = 0.0):
    """Options sharing probability `total` equally, all with the same price effect."""
    return tuple((v, total / len(values), effect) for v in values)


# Machine options: column -> group -> ((value, probability, log price effect), ...).
# A column is filled only for the groups listed (the real files' pattern); Enclosure and
# Track_Type depend on the machine and are drawn separately.
OPTIONS = {
    "Drive_System": {"BL": (("Four Wheel Drive", 0.65, 0.12), ("Two Wheel Drive", 0.35, 0.0)),
                     "MG": (("No", 0.9, 0.0), ("All Wheel Drive", 0.1, 0.15))},
    "Forks": {g: ((_NONE, 0.85, 0.0), ("Yes", 0.15, 0.03)) for g in ("WL", "SSL", "BL")},
    "Pad_Type": {"BL": ((_NONE, 0.85, 0.0), ("Street", 0.07, 0.03), ("Reversible", 0.07, 0.04),
                        ("Grouser", 0.01, 0.0))},
    "Ride_Control": {"WL": ((_NONE, 0.75, 0.0), ("Yes", 0.25, 0.08)),
                     "BL": (("No", 0.9, 0.0), ("Yes", 0.05, 0.05), (_NONE, 0.05, 0.0))},
    "Stick": {"BL": (("Standard", 0.55, 0.0), ("Extended", 0.45, 0.07))},
    # "AutoShift" and "Autoshift" are both in the real files
    "Transmission": {"TTT": (("Hydrostatic", 0.5, 0.05), ("Powershift", 0.37, 0.03),
                             ("Standard", 0.12, 0.0), ("AutoShift", 0.01, 0.05)),
                     "BL": (("Standard", 0.69, 0.0), ("Powershuttle", 0.17, 0.04),
                            ("Hydrostatic", 0.08, 0.02), ("Powershift", 0.05, 0.05),
                            ("Autoshift", 0.01, 0.05)),
                     "MG": ((_NONE, 0.9, 0.0), ("Powershift", 0.1, 0.03))},
    "Turbocharged": {"BL": ((_NONE, 0.95, 0.0), ("Yes", 0.05, 0.03))},
    "Blade_Extension": {"MG": ((_NONE, 0.97, 0.0), ("Yes", 0.03, 0.05))},
    "Blade_Width": {"MG": (("14'", 0.6, 0.05), ("12'", 0.2, 0.0), ("16'", 0.07, 0.15), ("13'", 0.03, 0.02),
                           ("<12'", 0.02, -0.1), (_NONE, 0.08, 0.0))},
    "Enclosure_Type": {"MG": ((_NONE, 0.85, 0.0), ("High Profile", 0.1, 0.02), ("Low Profile", 0.05, 0.0))},
    "Engine_Horsepower": {"MG": (("No", 0.93, 0.0), ("Variable", 0.07, 0.04))},
    "Hydraulics": {"TEX": (("Auxiliary", 0.5, 0.04), ("Standard", 0.5, 0.0)),
                   "WL": (("2 Valve", 0.85, 0.0), ("3 Valve", 0.12, 0.05), ("4 Valve", 0.03, 0.05)),
                   "SSL": (("Auxiliary", 0.95, 0.0), ("Standard", 0.05, -0.05)),
                   "TTT": (("2 Valve", 0.85, 0.0), ("3 Valve", 0.08, 0.04), ("4 Valve", 0.07, 0.06)),
                   "MG": (("Base + 1 Function", 0.9, 0.0), ("Base + 2 Function", 0.03, 0.03),
                          ("Base + 3 Function", 0.02, 0.05), (_NONE, 0.05, 0.0))},
    "Pushblock": {"MG": ((_NONE, 0.75, 0.0), ("Yes", 0.25, 0.03))},
    "Ripper": {"TTT": ((_NONE, 0.8, 0.0), ("Single Shank", 0.15, 0.1), ("Multi Shank", 0.05, 0.12)),
               "MG": ((_NONE, 0.65, 0.0), ("Yes", 0.35, 0.05))},
    "Scarifier": {"MG": (("Yes", 0.7, 0.03), (_NONE, 0.3, 0.0))},
    "Tip_Control": {"MG": ((_NONE, 0.95, 0.0), ("Sideshift & Tip", 0.03, 0.03), ("Tip", 0.02, 0.0))},
    # tyre sizes with and without the inch mark, as in the real column
    "Tire_Size": {"WL": ((_NONE, 0.3, 0.0), ("20.5", 0.25, 0.02), ("23.5", 0.15, 0.06),
                         ("17.5", 0.08, -0.04), ("26.5", 0.1, 0.1), ("29.5", 0.08, 0.15),
                         ("15.5", 0.02, -0.08), ("23.1", 0.01, 0.0), ("20.5\"", 0.01, 0.02)),
                  "MG": (("14\"", 0.4, 0.0), ("17.5\"", 0.3, 0.05), (_NONE, 0.2, 0.0), ("13\"", 0.05, -0.03),
                         ("15.5\"", 0.05, 0.0))},
    "Coupler": {"TEX": ((_NONE, 0.75, 0.0), ("Manual", 0.16, 0.02), ("Hydraulic", 0.09, 0.05)),
                "WL": ((_NONE, 0.72, 0.0), ("Hydraulic", 0.23, 0.04), ("Manual", 0.05, 0.0)),
                "SSL": (("Manual", 0.95, 0.0), ("Hydraulic", 0.03, 0.03), (_NONE, 0.02, 0.0))},
    "Coupler_System": {"SSL": (("Yes", 0.97, 0.0), (_NONE, 0.03, 0.0))},
    "Grouser_Tracks": {"SSL": ((_NONE, 0.6, 0.0), ("Yes", 0.4, 0.15))},
    "Hydraulics_Flow": {"SSL": (("Standard", 0.89, 0.0), ("High Flow", 0.1, 0.1), (_NONE, 0.01, 0.0))},
    "Undercarriage_Pad_Width": {"TEX": ((_NONE, 0.66, 0.0), *_spread(_PAD_WIDTHS, 0.34, 0.02))},
    "Stick_Length": {"TEX": ((_NONE, 0.7, 0.0), *_spread(_STICK_LENGTHS, 0.3, 0.02))},
    "Thumb": {"TEX": ((_NONE, 0.77, 0.0), ("Manual", 0.14, 0.03), ("Hydraulic", 0.09, 0.06))},
    "Pattern_Changer": {"TEX": ((_NONE, 0.63, 0.0), ("Yes", 0.36, 0.02), ("No", 0.01, 0.0))},
    "Grouser_Type": {"TEX": (("Double", 0.9, 0.0), ("Triple", 0.08, 0.03), ("Single", 0.02, 0.0))},
    "Backhoe_Mounting": {"TTT": ((_NONE, 0.98, 0.0), ("Yes", 0.02, 0.0))},
    "Blade_Type": {"TTT": (("PAT", 0.58, 0.03), (_NONE, 0.15, 0.0), ("U", 0.06, 0.06), ("VPAT", 0.05, 0.04),
                           ("Semi U", 0.06, 0.05), ("Straight", 0.06, 0.0), ("Angle", 0.02, 0.0),
                           ("No", 0.01, -0.05), ("Landfill", 0.01, 0.05))},
    "Travel_Controls": {"TTT": ((_NONE, 0.7, 0.0), ("Lever", 0.12, 0.0), ("Differential Steer", 0.1, 0.1),
                                ("Finger Tip", 0.06, 0.03), ("2 Pedal", 0.01, 0.0), ("Pedal", 0.01, 0.0))},
    "Differential_Type": {"WL": (("Standard", 0.95, 0.0), ("Limited Slip", 0.03, 0.03),
                                 ("No Spin", 0.01, 0.0), ("Locking", 0.01, 0.0))},
    "Steering_Controls": {"WL": (("Conventional", 0.85, 0.0), ("Command Control", 0.13, 0.05),
                                 ("Four Wheel Standard", 0.01, 0.0), ("Wheel", 0.01, 0.0))},
}
# Enclosure by group: (EROPS w AC, EROPS, OROPS) shares for a machine made in 2000; newer
# machines more often have a cab with air conditioning.
ENCLOSURES = ("EROPS w AC", "EROPS", "OROPS", "EROPS AC", "NO ROPS", _NONE)
_ENCLOSURE_EFFECT = np.array([0.25, 0.1, 0.0, 0.2, -0.1, 0.0])
_ENCLOSURE_SHARE = {"TEX": (0.5, 0.45, 0.05), "WL": (0.6, 0.2, 0.2), "SSL": (0.05, 0.12, 0.83),
                    "TTT": (0.2, 0.12, 0.68), "BL": (0.15, 0.2, 0.65), "MG": (0.55, 0.3, 0.15)}


def _labels(categories, codes: np.ndarray) -> pl.Series:
    """Codes into a category column (an Enum keeps 400k-row frames small); -1 is a blank."""
    categories = list(categories)
    unique = list(dict.fromkeys(categories))  # several codes may share a label
    codes = np.asarray(codes, dtype=np.int64)
    if len(unique) < len(categories):
        where = {c: i for i, c in enumerate(unique)}
        codes = np.where(codes < 0, -1, np.array([where[c] for c in categories])[np.maximum(codes, 0)])
    cats = pl.Series(unique, dtype=pl.Enum(unique))
    return cats.gather(pl.Series(codes).cast(pl.UInt32, strict=False))


def _text(values: np.ndarray) -> pl.Series:
    """A column of (repeating) strings as an Enum."""
    cats, codes = np.unique(values.astype(str), return_inverse=True)
    return _labels(cats.tolist(), codes)


def _pick(r: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """n draws of an index with probabilities proportional to `weights`."""
    cum = np.cumsum(weights)
    return np.minimum(np.searchsorted(cum, r.random(n) * cum[-1], side="right"), len(cum) - 1)


def _year(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970


def _month(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1


def _classes() -> dict[str, np.ndarray | list]:
    """Product classes: one per size range of each group, plus its '+' and 'Unidentified' class."""
    group, rank, name, lower, upper = [], [], [], [], []
    for g, (_, _, template, _, bounds, *_rest) in enumerate(GROUPS):
        k = len(bounds)
        for i in range(k):
            if i + 1 < k:
                label = f"{bounds[i]:.1f} to {bounds[i + 1]:.1f}"
            else:  # the open top class is spelled "2701.0+ Lb" for skid steers, "260.0 + Hp" elsewhere
                label = f"{bounds[i]:.1f}+" if GROUPS[g][0] == "SSL" else f"{bounds[i]:.1f} +"
            group.append(g), rank.append(i / (k - 1)), name.append(template.format(label))
            lower.append(float(bounds[i])), upper.append(float(bounds[i + 1]) if i + 1 < k else np.nan)
        group.append(g), rank.append(0.5), name.append(template.split(" - ")[0] + " - Unidentified")
        lower.append(np.nan), upper.append(np.nan)
    rank_a = np.array(rank)
    unidentified = np.array([n.endswith("Unidentified") for n in name])
    # middle sizes sell most
    weight = np.where(unidentified, 0.0, np.exp(-((rank_a - 0.45) / 0.45) ** 2))
    return {"group": np.array(group), "rank": rank_a, "name": name, "lower": np.array(lower),
            "upper": np.array(upper), "weight": weight, "unidentified": unidentified}


def _catalogue(seed: int, n_models: int) -> dict[str, np.ndarray]:
    """Models with their family (fiBaseModel), class, names, maker, launch year and price effect."""
    r = rng(seed, "catalogue")
    cl = _classes()
    n_groups = len(GROUPS)
    shares = np.array([g[8] for g in GROUPS])

    # base-model families: a group, a maker, a home size class
    n_fam = max(4 * n_groups, int(n_models / 2.7))
    fam_group = np.concatenate([np.arange(n_groups), _pick(r, shares, n_fam - n_groups)])
    fam_class = np.empty(n_fam, dtype=np.int64)
    for g in range(n_groups):
        rows = np.flatnonzero(fam_group == g)
        choices = np.flatnonzero(cl["group"] == g)
        fam_class[rows] = choices[_pick(r, cl["weight"][choices], len(rows))]
    fam_maker = _pick(r, np.array([m[2] for m in MAKERS]), n_fam)
    pick = r.integers(0, 60, n_fam)
    prefix = [MAKERS[m][4][j % len(MAKERS[m][4])] for m, j in zip(fam_maker, pick)]
    # model numbers grow with size, like real series (D3 < D6 < D9, 310 < 330 < 385)
    number = (5 + 10 ** (1 + 1.6 * cl["rank"][fam_class] + r.normal(0, 0.2, n_fam))).astype(np.int64)
    fam_base = np.array([f"{p}{n}" for p, n in zip(prefix, number)], dtype=object)
    fam_effect = r.normal(0, 0.15, n_fam) + np.array([m[3] for m in MAKERS])[fam_maker]
    fam_launch = r.uniform(1950, 2010, n_fam)
    # typical hours per year of the family (UsageBand compares a machine with it)
    fam_rate = np.log(np.array([900.0, 1000, 500, 1100, 800, 1400]))[fam_group] + r.normal(0, 0.2, n_fam)

    # models: every family has one, the rest spread over the families
    fam = np.concatenate([np.arange(n_fam), r.integers(0, n_fam, n_models - n_fam)])
    group = fam_group[fam]
    cls = fam_class[fam] + r.choice(np.array([-1, 0, 0, 0, 1]), n_models)
    ok = (cls >= 0) & (cls < len(cl["group"]))
    cls = np.where(ok, cls, fam_class[fam])
    cls = np.where((cl["group"][cls] == group) & ~cl["unidentified"][cls], cls, fam_class[fam])
    unid = r.random(n_models) < 0.03
    unid_class = np.flatnonzero(cl["unidentified"])  # one per group, in group order
    cls = np.where(unid, unid_class[group], cls)
    lo = np.array([g[5] for g in GROUPS])[group]
    hi = np.array([g[6] for g in GROUPS])[group]
    effect = (lo + (hi - lo) * cl["rank"][cls] + np.where(unid, r.normal(0, 0.4, n_models), 0.0)
              + fam_effect[fam] + r.normal(0, 0.1, n_models))

    def optional(p: np.ndarray, k: int, decay: float) -> np.ndarray:
        return np.where(r.random(n_models) < p, _pick(r, (1.0 + np.arange(k)) ** -decay, n_models), -1)

    secondary = optional(np.array(_P_SECONDARY)[group], len(_SECONDARY), 0.7)
    series = optional(np.full(n_models, 0.15), len(_SERIES), 1.0)
    descriptor = optional(np.array(_P_DESCRIPTOR)[group], len(_DESCRIPTOR), 1.0)
    desc = (fam_base[fam] + np.array(["", *_SECONDARY], dtype=object)[secondary + 1]
            + np.array(["", *_SERIES], dtype=object)[series + 1]
            + np.array(["", *_DESCRIPTOR], dtype=object)[descriptor + 1])

    size = np.searchsorted(_SIZE_CUTS, cl["rank"][cls], side="right")
    size = np.where(group == 1, np.maximum(size, 1), size)  # no "Mini" wheel loaders
    blank = r.random(n_models) < np.array([g[9] for g in GROUPS])[group]
    size = np.where(blank | unid, -1, size)

    launch = np.minimum(fam_launch[fam] + r.exponential(4, n_models), 2012.5)
    new = r.random(n_models) < 0.01
    launch[new] = r.uniform(2010.5, 2012.5, int(new.sum()))  # models first sold in Valid/Test
    # newer models got higher ModelIDs, with some disorder
    order = np.argsort(launch + r.normal(0, 3, n_models), kind="stable")
    model_id = np.empty(n_models, dtype=np.int64)
    model_id[order] = np.sort(r.choice(np.arange(28, 37_199), n_models, replace=False))
    popularity = (shares[group] / np.bincount(group, minlength=n_groups)[group]
                  * (cl["weight"][cls] + 0.05) * r.lognormal(0, 1.0, n_models))
    return {"group": group, "family": fam, "cls": cls, "effect": effect, "model_id": model_id,
            "launch": launch, "popularity": popularity, "size": size, "secondary": secondary,
            "series": series, "descriptor": descriptor, "desc": desc, "base": fam_base[fam],
            "maker": fam_maker[fam], "rate": fam_rate[fam], "rank": cl["rank"][cls]}


def _events(r: np.random.Generator, period: int, n: int, sales_per_event: float):
    """Sale day, datasource, auctioneer and state of `n` sales in one period, clumped by auction."""
    start, end = PERIODS[period]
    days = np.arange(start, end)
    year = _year(days)
    volume = np.array([YEAR_VOLUME.get(int(y), 35.2) for y in range(1989, 2013)])[year - 1989]
    month_w = np.array([1.0, 1.3, 1.4, 1.2, 1.1, 1.0, 0.7, 0.8, 1.0, 1.1, 1.2, 1.1])
    dow_w = np.array([0.6, 1.0, 1.3, 1.4, 0.9, 0.5, 0.1])  # Monday first
    w = volume / np.where(year % 4 == 0, 366, 365) * month_w[_month(days) - 1] * dow_w[(days + 3) % 7]
    n_ev = max(2, int(round(n / sales_per_event)))
    ev_day = days[_pick(r, w, n_ev)]
    ev_day[:2] = start, end - 1  # the period's first and last days have sales, as in the real files
    ev_year = _year(ev_day) + (_month(ev_day) - 0.5) / 12
    mix = np.stack([np.interp(ev_year, _DS_KNOTS, _DS_MIX[:, k]) for k in range(len(DATASOURCES))], 1)
    cum = np.cumsum(mix / mix.sum(1, keepdims=True), 1)
    ev_ds = np.minimum((r.random(n_ev)[:, None] > cum).sum(1), len(DATASOURCES) - 1)
    auct_w = np.array([40.0, 10, 8, 5, 4, 3, 2.5, 2, 2, 2, *np.linspace(1.5, 0.3, 18), 3, 0.2])
    ev_auct = _pick(r, auct_w, n_ev)
    ev_auct = np.where((ev_ds == 0) & (r.random(n_ev) < 0.85), 2, ev_auct)  # datasource 121: auctioneer 3
    # the oldest datasource often did not record the auctioneer
    no_auct = (DATASOURCES[ev_ds] == 132) & (ev_year < 2000) & (r.random(n_ev) < 0.2)
    ev_auct = np.where(no_auct, -1, ev_auct)
    state_w = np.array([_STATE_WEIGHT.get(s, 1.0) for s in STATES])
    ev_state = _pick(r, state_w, n_ev)

    sale_ev = _pick(r, r.lognormal(0, 0.8, n_ev), n)
    sale_ev[:2] = 0, 1
    # most machines sell in the auction's state, some elsewhere (online listings)
    state = np.where(r.random(n) < 0.6, ev_state[sale_ev], _pick(r, state_w, n))
    return {"day": ev_day[sale_ev], "ds": ev_ds[sale_ev], "auct": ev_auct[sale_ev], "state": state,
            "period": np.full(n, period)}


def _machines(seed: int, day: np.ndarray) -> np.ndarray:
    """Which earlier sale's machine each sale sells again (its own index for a first sale)."""
    r = rng(seed, "resales")
    n = len(day)
    n_first = min(n, max(1, int(round(n * MACHINES_PER_SALE))))
    order = np.lexsort((r.random(n), day))
    resale = np.zeros(n, dtype=bool)
    resale[1 + r.choice(n - 1, n - n_first, replace=False)] = True
    firsts = np.flatnonzero(~resale)
    before = np.cumsum(~resale)  # first sales up to each position (>= 1: position 0 is one)
    # resold mostly a few years after the previous sale: pick among the recent first sales
    back = np.floor(r.exponential(0.15 * before + 1)).astype(np.int64)
    parent = firsts[np.clip(before - 1 - back, 0, None)]
    source = np.where(resale, parent, np.arange(n))
    machine = np.empty(n, dtype=np.int64)
    machine[order] = order[source]
    return machine


def _draw_options(r: np.random.Generator, group: np.ndarray, year_made: np.ndarray, rank: np.ndarray):
    """Option codes per column and their summed log price effect, for machines of `group`."""
    n = len(group)
    codes, cats = {}, {}
    effect = np.zeros(n)
    names = [g[0] for g in GROUPS]
    for col, by_group in OPTIONS.items():
        values = list(dict.fromkeys(v for opts in by_group.values() for v, _, _ in opts))
        code = np.full(n, -1)
        for g, opts in by_group.items():
            rows = np.flatnonzero(group == names.index(g))
            k = _pick(r, np.array([p for _, p, _ in opts]), len(rows))
            code[rows] = np.array([values.index(v) for v, _, _ in opts])[k]
            effect[rows] += np.array([e for _, _, e in opts])[k]
        codes[col], cats[col] = code, values
    # Enclosure: more cabs with AC on newer machines
    share = np.array([_ENCLOSURE_SHARE[g] for g in names])[group]
    tilt = np.clip((year_made - 2000) * 0.02, -0.3, 0.3)
    ac = np.clip(share[:, 0] + tilt, 0.01, 0.95)
    rest = share[:, 1:] / share[:, 1:].sum(1, keepdims=True) * (1 - ac)[:, None]
    probs = np.column_stack([ac, rest * 0.985, np.full(n, 0.015)])
    cum = np.cumsum(probs / probs.sum(1, keepdims=True), 1)
    enc = np.minimum((r.random(n)[:, None] > cum).sum(1), 3)
    odd = r.random(n)
    enc = np.where(enc == 3, np.where(odd < 0.6, 3, np.where(odd < 0.9, 4, 5)), enc)
    codes["Enclosure"], cats["Enclosure"] = enc, list(ENCLOSURES)
    effect += _ENCLOSURE_EFFECT[enc]
    # rubber tracks on mini excavators, steel on the rest
    tex = group == 0
    rubber = r.random(n) < np.where(rank < 0.3, 0.9, 0.03)
    codes["Track_Type"] = np.where(tex, rubber.astype(np.int64), -1)
    cats["Track_Type"] = ["Steel", "Rubber"]
    effect += np.where(tex & rubber, -0.03, 0.0)
    return codes, cats, effect


def _build(seed: int, size: str) -> dict:
    """Every sale (Train, Valid and Test together) as arrays, plus the catalogue."""
    cfg = SIZES[size]
    cat = _catalogue(seed, cfg["models"])
    r = rng(seed, "events")
    parts = [_events(r, p, cfg[k], cfg["sales_per_event"]) for p, k in enumerate(("train", "valid", "test"))]
    s = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(s["day"])
    day, period = s["day"], s["period"]
    sale_year = _year(day)
    year_frac = sale_year + (_month(day) - 0.5) / 12

    # --- machines, drawn for every sale as if first sold there, then shared by resales
    r = rng(seed, "machines")
    age_draw = r.gamma(1.8, np.where(period == 0, 5.0, 4.0))  # 2012 machines are younger
    year_made = np.maximum(sale_year - np.floor(age_draw).astype(np.int64), 1950)
    by_launch = np.argsort(cat["launch"], kind="stable")
    launch = cat["launch"][by_launch]
    cum = np.concatenate([[0.0], np.cumsum(cat["popularity"][by_launch])])
    # a model on sale when the machine was made: launched at most 18 years before
    lo = np.searchsorted(launch, year_made - 18.0)
    hi = np.searchsorted(launch, year_made + 1.0)
    hi = np.maximum(hi, 1)
    lo = np.minimum(lo, hi - 1)
    target = cum[lo] + r.random(n) * (cum[hi] - cum[lo])
    model = by_launch[np.clip(np.searchsorted(cum, target, side="right") - 1, lo, hi - 1)]
    group = cat["group"][model]
    opt_codes, opt_cats, opt_effect = _draw_options(r, group, year_made, cat["rank"][model])
    condition = r.normal(0, 0.12, n)
    rate = cat["rate"][model] + r.normal(0, 0.45, n)

    machine = _machines(seed, day)
    model, group, year_made = model[machine], group[machine], year_made[machine]
    rate, condition, opt_effect = rate[machine], condition[machine], opt_effect[machine]
    opt_codes = {c: v[machine] for c, v in opt_codes.items()}

    # --- the price
    r = rng(seed, "prices")
    # age from the middle of the year of manufacture
    made = (year_made - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64) + 182
    age = np.clip((day - made) / 365.25, 0.05, None)
    a = np.minimum(age, 25.0)
    dep_mult = np.array([g[7] for g in GROUPS])[group]
    wear = rate - cat["rate"][model]
    state_eff = rng(seed, "state effects").normal(0, 0.06, len(STATES))
    # one more entry for the blank auctioneer (code -1)
    auct_eff = np.concatenate([rng(seed, "auctioneer effects").normal(0, 0.04, len(AUCTIONEERS)), [0.0]])
    log_price = (cat["effect"][model] - 0.1 + opt_effect + condition
                 - dep_mult * (0.09 * a - 0.0018 * a**2)
                 - 0.15 * np.clip(wear, -1.0, 1.0)
                 + np.interp(year_frac, *zip(*MARKET))
                 + 0.03 * np.cos(2 * np.pi * (_month(day) - 4) / 12)
                 + state_eff[s["state"]] + auct_eff[s["auct"]] + _DS_EFFECT[s["ds"]]
                 + r.normal(0, 0.18, n))
    raw = np.exp(log_price)
    step = np.where(raw >= 10_000, 500.0, 250.0)  # auction prices come in round steps
    price = np.clip(np.round(raw / step) * step, 4_750, 142_000).astype(np.int64)

    # --- what the files report
    r = rng(seed, "reporting")
    ds = s["ds"]
    unknown = r.random(n) < _DS_UNKNOWN_YEAR[ds] * np.clip(0.4 + age / 12, 0.3, 2.5)
    shown_year = np.where(unknown, 1000, year_made)
    recent = period > 0
    p_blank = np.where(recent, 0.01, np.interp(year_frac, [1989, 2000, 2004, 2008, 2011.5],
                                               [0.97, 0.95, 0.6, 0.35, 0.2]))
    p_blank = np.where(DATASOURCES[ds] == 132, np.minimum(1.0, p_blank * 1.3), p_blank)
    u = r.random(n)
    hours = np.round(np.exp(rate) * age * r.lognormal(0, 0.05, n)).astype(np.int64)
    hours = np.where(r.random(n) < 0.0005, hours * 100, hours)  # a few absurd meter readings
    hours = np.where(u < p_blank, -1, np.where(r.random(n) < np.where(recent, 0.18, 0.3), 0, hours))
    # UsageBand compares the hours with the family's average, where hours were reported
    ratio = np.log(np.maximum(hours, 1) / (age + 0.5)) - cat["rate"][model]
    band = np.where(ratio < -0.1, 0, np.where(ratio > 0.5, 2, 1))
    band = np.where((hours > 0) & (r.random(n) < np.where(recent, 1.0, 0.7)), band, -1)
    detail = r.random(n) < _DS_DETAIL[ds] * np.interp(year_frac, [1989, 1998, 2004, 2008, 2011.5, 2012],
                                                      [0.12, 0.2, 0.55, 0.8, 0.9, 0.98])
    keep_hydraulics = detail | (r.random(n) < 0.6)
    for col, code in opt_codes.items():
        if col == "Enclosure":
            opt_codes[col] = np.where(r.random(n) < 0.001, -1, code)
        else:
            opt_codes[col] = np.where(keep_hydraulics if col == "Hydraulics" else detail, code, -1)

    # --- ids: SalesID blocks per datasource in time order; one MachineID per machine
    r = rng(seed, "ids")
    sales_id = np.empty(n, dtype=np.int64)
    for k, base in enumerate(_DS_ID_BASE):
        rows = np.flatnonzero(ds == k)
        rows = rows[np.lexsort((r.random(len(rows)), day[rows]))]
        gaps = r.choice(np.array([1, 2, 3]), len(rows), p=[0.3, 0.5, 0.2])
        sales_id[rows] = base + np.cumsum(gaps) - (gaps[0] if len(rows) else 0)
    firsts = np.unique(machine)
    machine_ids = np.empty(n, dtype=np.int64)
    machine_ids[firsts] = 1 + r.choice(2_486_330, len(firsts), replace=False)
    machine_id = machine_ids[machine]
    return {"cat": cat, "period": period, "day": day, "sales_id": sales_id, "price": price,
            "machine_id": machine_id, "machine": machine, "model": model, "group": group, "ds": ds,
            "auct": s["auct"], "state": s["state"], "shown_year": shown_year, "year_made": year_made,
            "hours": hours, "band": band, "opt_codes": opt_codes, "opt_cats": opt_cats}


def _frame(b: dict) -> pl.DataFrame:
    """All sales as a frame with the Train columns, in the files' order."""
    cat, model = b["cat"], b["model"]
    cl = _classes()
    names, descs = [g[0] for g in GROUPS], [g[1] for g in GROUPS]
    days, day_code = np.unique(b["day"], return_inverse=True)
    day_text = pl.Series(days.astype("datetime64[D]")).dt.strftime("%-m/%-d/%Y 0:00").to_list()
    cols = {
        "SalesID": b["sales_id"], "SalePrice": b["price"], "MachineID": b["machine_id"],
        "ModelID": cat["model_id"][model], "datasource": DATASOURCES[b["ds"]],
        "auctioneerID": pl.Series(np.where(b["auct"] < 0, -1, AUCTIONEERS[b["auct"]])),
        "YearMade": b["shown_year"], "MachineHoursCurrentMeter": pl.Series(b["hours"]),
        "UsageBand": _labels(["Low", "Medium", "High"], b["band"]),
        "saledate": _labels(day_text, day_code),
        "fiModelDesc": _text(cat["desc"][model]), "fiBaseModel": _text(cat["base"][model]),
        "fiSecondaryDesc": _labels(_SECONDARY, cat["secondary"][model]),
        "fiModelSeries": _labels(_SERIES, cat["series"][model]),
        "fiModelDescriptor": _labels(_DESCRIPTOR, cat["descriptor"][model]),
        "ProductSize": _labels(_SIZES, cat["size"][model]),
        "fiProductClassDesc": _labels(cl["name"], cat["cls"][model]),
        "state": _labels(STATES, b["state"]),
        "ProductGroup": _labels(names, b["group"]), "ProductGroupDesc": _labels(descs, b["group"]),
    }
    for col in SPEC.train_file.column_names[len(cols):]:
        cols[col] = _labels(b["opt_cats"][col], b["opt_codes"][col])
    df = pl.DataFrame(cols).with_columns(
        pl.col("auctioneerID", "MachineHoursCurrentMeter").replace(-1, None))
    return df.with_columns(period=pl.Series(b["period"]))


def _appendix(b: dict, seed: int) -> pl.DataFrame:
    """Machine_Appendix.csv: one row per machine, with its true year of manufacture."""
    cat, cl = b["cat"], _classes()
    first = np.unique(b["machine"])
    model = b["model"][first]
    group = cat["group"][model]
    r = rng(seed, "appendix")
    mfg = np.where(r.random(len(first)) < 0.08, -1, b["year_made"][first])  # some years unknown here too
    cls = cat["cls"][model]
    maker = cat["maker"][model]
    df = pl.DataFrame({
        "MachineID": b["machine_id"][first], "ModelID": cat["model_id"][model],
        "fiModelDesc": _text(cat["desc"][model]), "fiBaseModel": _text(cat["base"][model]),
        "fiSecondaryDesc": _labels(_SECONDARY, cat["secondary"][model]),
        "fiModelSeries": _labels(_SERIES, cat["series"][model]),
        "fiModelDescriptor": _labels(_DESCRIPTOR, cat["descriptor"][model]),
        "fiProductClassDesc": _labels(cl["name"], cls),
        "ProductGroup": _labels([g[0] for g in GROUPS], group),
        "ProductGroupDesc": _labels([g[1] for g in GROUPS], group),
        "MfgYear": pl.Series(mfg).replace(-1, None),
        "fiManufacturerID": np.array([m[0] for m in MAKERS])[maker],
        "fiManufacturerDesc": _labels([m[1] for m in MAKERS], maker),
        "PrimarySizeBasis": _labels([g[3] for g in GROUPS], group),
        "PrimaryLower": pl.Series(cl["lower"][cls]).fill_nan(None),
        "PrimaryUpper": pl.Series(cl["upper"][cls]).fill_nan(None),
    })
    return df.sort("MachineID")


def _write_chunked(df: pl.DataFrame, folder: Path, name: str, parts=()) -> None:
    spec = SPEC.file(name)
    with CsvWriter(folder, spec) as w:
        for part in (df, *parts):
            for start in range(0, max(part.height, 1), CHUNK_ROWS):
                chunk = part.slice(start, CHUNK_ROWS)
                if chunk.height:
                    w.write(chunk.select(spec.column_names))


def generate(out: Path, *, size: str, seed: int) -> None:
    """Write the twin's files and solution/solution.csv into `out`."""
    out = Path(out)
    b = _build(seed, size)
    sales = _frame(b).sort("SalesID")
    train = sales.filter(pl.col("period") == 0)
    valid = sales.filter(pl.col("period") == 1)
    test = sales.filter(pl.col("period") == 2)

    _write_chunked(train, out, "Train.csv")
    _write_chunked(train, out, "TrainAndValid.csv", parts=(valid,))
    write_csv(valid.select(SPEC.file("Valid.csv").column_names), out, SPEC.file("Valid.csv"))
    write_csv(test.select(SPEC.test_file.column_names), out, SPEC.test_file)

    # Usage of the released Valid answers: the real file starts with a run of PublicTest rows;
    # how the rest splits is not known, so the first two months are public here.
    split_day = (dt.date(2012, 3, 1) - _D).days
    valid_days = valid["saledate"].cast(pl.String).str.strptime(pl.Date, SALEDATE_FORMAT).dt.epoch("d")
    write_csv(pl.DataFrame({
        "SalesID": valid["SalesID"], "SalePrice": valid["SalePrice"].cast(pl.Float64),
        "Usage": np.where(valid_days.to_numpy() < split_day, "PublicTest", "PrivateTest"),
    }), out, SPEC.file("ValidSolution.csv"))

    median = float(np.round(train["SalePrice"].median() / 500) * 500)
    write_csv(pl.DataFrame({"SalesID": valid["SalesID"], "SalePrice": np.full(valid.height, median)}),
              out, SPEC.file("median_benchmark.csv"))
    # stand-in for the random forest benchmark: the median train price of the row's product class
    by_class = train.group_by("fiProductClassDesc").agg(class_median=pl.col("SalePrice").median())
    bench = (test.select("SalesID", "fiProductClassDesc")
             .join(by_class, on="fiProductClassDesc", how="left", maintain_order="left")
             .select("SalesID", SalePrice=pl.col("class_median").fill_null(median).cast(pl.Float64)))
    write_csv(bench, out, SPEC.sample_submission_file)

    write_csv(_appendix(b, seed), out, SPEC.file("Machine_Appendix.csv"))
    # the hidden Test answers: a random half of the rows is the public leaderboard
    write_solution(pl.DataFrame({
        "SalesID": test["SalesID"], "SalePrice": test["SalePrice"].cast(pl.Float64),
        "Usage": usage_split(test.height, 0.5, rng(seed, "usage")),
    }), out)
