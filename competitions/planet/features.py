"""Planet's inputs: the chips as small RGB arrays for the CNN, per-chip image statistics for
LightGBM, and the tags as a 0/1 label matrix.

`prepare` decodes the JPEGs of train-jpg/ (in train_v2.csv's order) and of the test images (in
sample_submission_v2.csv's order: `test_N` from test-jpg/, `file_N` from test-jpg-additional/)
with kit.images.load_images, downscaled to IMAGE_SIZE pixels and cached as .npy beside the image
folders, so a second run reads two files. `X_table` / `X_test_table` hold the same chips'
statistics (kit.image_stats: every channel of the CMYK JPEGs at STATS_SIZE px; colour,
spread, percentiles, histograms, gradients, a 4x4 layout map), cached the same way, for the
table models. The targets are the 17 labels of the spec, in its (alphabetical) order. The
models return probabilities; `kit run` blends them, tunes thresholds out of fold (one global
cut, a label's own only where it clearly helps; the weather tags are one argmax choice) and
writes the tags.

>>> image_path(Path("data/planet"), "file_12").as_posix()
'data/planet/test-jpg-additional/file_12.jpg'
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from kit.data.tables import read_table
from kit.errors import KitError
from kit.features import Prepared
from kit.image_stats import load_image_stats
from kit.images import load_images
from kit.labels import tags_to_matrix
from kit.spec import CompetitionSpec

#: the side in pixels the 256 px chips are downscaled to: 64 px trains about 16x faster than
#: full size on a CPU and keeps roads and rivers visible; use 128 or more on a GPU
IMAGE_SIZE = 64

#: the side in pixels the chips are decoded at for the statistics: fine texture (roads, towns)
#: survives at 128 px, and the statistics of a chip cost a quarter of a full-size decode's
STATS_SIZE = 128

#: image folder of each file-name prefix (train_N, test_N, file_N), as the spec lists them
FOLDERS = {"train": "train-jpg", "test": "test-jpg", "file": "test-jpg-additional"}

#: two default models, blended out of fold. lgbm: LightGBM per label on the image statistics
#: (colour statistics + LightGBM scored mean F2 0.841 on 200 held-out real chips after training
#: on 800, against 0.782 for the CNN from scratch): small trees and row and column sampling, as
#: a few dozen chips of a rare label overfit quickly. On the calibrated twin (800 chips,
#: scripts/calibrate_planet.py, seed 0) these scored 0.854, lr 0.05 0.851, 7 leaves 0.851 and
#: LightGBM's own defaults (31 leaves, no sampling) 0.844. cnn: the small ResNet, sized for a
#: CPU (28-41 s a fold on 2,000 chips, 3 folds, 2 threads), trained on the 8 flips and rotations
#: of each chip (augment, on by default) and predicting their mean (tta).
MODELS: dict[str, dict] = {
    "lgbm": {"n_estimators": 1000, "learning_rate": 0.03, "num_leaves": 15, "min_child_samples": 10,
             "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.5, "reg_lambda": 1.0,
             "early_stopping_rounds": 50},
    "cnn": {"image_size": IMAGE_SIZE, "width": 16, "blocks": (1, 1, 1, 1), "epochs": 10, "batch_size": 64,
            "lr": 3e-3},
}
#: what `kit run` trains: on real chips the CNN lost to colour statistics, and on the twin
#: LightGBM on image statistics alone, each fold at the rounds the other folds chose, beat the
#: old blend with the CNN on the hidden test (private mean F2 0.8739 against 0.8720) in a
#: fraction of its time; `kit run planet --model lgbm --model cnn` trains both and blends them
RUN = ("lgbm",)


def image_path(folder: Path, name: str) -> Path:
    """The JPEG of the chip `name` (train_N, test_N or file_N) in the data folder."""
    prefix = name.split("_", 1)[0]
    if prefix not in FOLDERS:
        raise KitError(f"image name {name!r} starts with none of {', '.join(p + '_' for p in FOLDERS)}; "
                       "is this Planet's train_v2.csv / sample_submission_v2.csv?")
    return folder / FOLDERS[prefix] / f"{name}.jpg"


def _paths(folder: Path, names: Iterable[str]) -> list[Path]:
    return [image_path(folder, n) for n in names]


def prepare(spec: CompetitionSpec, folder: str | Path, *, seed: int = 0) -> Prepared:
    """The training chips and their label matrix, and the test chips in submission order.

    `seed` is unused: nothing here is random.
    """
    folder = Path(folder)
    labels = tuple(spec.submission.labels)
    train = read_table(spec, spec.train, folder)
    ids = read_table(spec, spec.test, folder)[spec.id_column]
    y = tags_to_matrix(train["tags"], labels)
    X = load_images(_paths(folder, train[spec.id_column]), IMAGE_SIZE)
    X_test = load_images(_paths(folder, ids), IMAGE_SIZE)
    X_table = load_image_stats(_paths(folder, train[spec.id_column]), size=STATS_SIZE, mode="CMYK")
    X_test_table = load_image_stats(_paths(folder, ids), size=STATS_SIZE, mode="CMYK")
    counts = y.sum(axis=0)
    rare = [f"{labels[j]} {int(counts[j])}" for j in np.argsort(counts)[:3]]
    return Prepared(
        X=X, y=y, X_test=X_test, test_ids=ids, labels=labels, X_table=X_table, X_test_table=X_test_table,
        notes=(f"{len(X):,} training and {len(X_test):,} test chips at {IMAGE_SIZE} px; "
               f"{len(labels)} labels, {y.sum(axis=1).mean():.1f} per chip; rarest: {', '.join(rare)}",
               f"{X_table.width} image statistics per chip at {STATS_SIZE} px for the table models"),
    )
