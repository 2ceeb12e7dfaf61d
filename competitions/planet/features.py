"""Planet's inputs: the chips as small RGB arrays and the tags as a 0/1 label matrix.

`prepare` decodes the JPEGs of train-jpg/ (in train_v2.csv's order) and of the test images (in
sample_submission_v2.csv's order: `test_N` from test-jpg/, `file_N` from test-jpg-additional/)
with kit.images.load_images, downscaled to IMAGE_SIZE pixels and cached as .npy beside the image
folders, so a second run reads two files. The targets are the 17 labels of the spec, in its
(alphabetical) order. The models return probabilities; `kit run` tunes one threshold per label on
the out-of-fold probabilities and writes the tags.

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
from kit.images import load_images
from kit.labels import tags_to_matrix
from kit.spec import CompetitionSpec

#: the side in pixels the 256 px chips are downscaled to: 64 px trains about 16x faster than
#: full size on a CPU and keeps roads and rivers visible; use 128 or more on a GPU
IMAGE_SIZE = 64

#: image folder of each file-name prefix (train_N, test_N, file_N), as the spec lists them
FOLDERS = {"train": "train-jpg", "test": "test-jpg", "file": "test-jpg-additional"}

#: the small ResNet, sized for a CPU: on the small twin (2,000 chips, 3 folds, 2 threads) each
#: fold trains in 28-41 s; out-of-fold mean F2 0.874 at thresholds 0.5, 0.910 with per-label
#: thresholds, 0.912 / 0.907 on the hidden public / private split against 0.689 / 0.693 for
#: the constant baseline (`kit run planet --size small --threads 2`, 2026-12-02)
MODELS: dict[str, dict] = {
    "cnn": {"image_size": IMAGE_SIZE, "width": 16, "blocks": (1, 1, 1, 1), "epochs": 10, "batch_size": 64,
            "lr": 3e-3},
}


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
    counts = y.sum(axis=0)
    rare = [f"{labels[j]} {int(counts[j])}" for j in np.argsort(counts)[:3]]
    return Prepared(
        X=X, y=y, X_test=X_test, test_ids=ids, labels=labels,
        notes=(f"{len(X):,} training and {len(X_test):,} test chips at {IMAGE_SIZE} px; "
               f"{len(labels)} labels, {y.sum(axis=1).mean():.1f} per chip; rarest: {', '.join(rare)}",),
    )
