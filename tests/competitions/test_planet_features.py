"""Planet feature code on the tiny twin: chips decoded to RGB at IMAGE_SIZE from the right
folders, test chips in submission order, and the label matrix decoded from the tags."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from kit.errors import KitError
from kit.features import Prepared, default_models, model_defaults
from kit.images import decode
from kit.models import make_model
from kit.spec import get

from competitions.planet import features
from competitions.planet.features import IMAGE_SIZE, image_path, prepare

COMP = get("planet")
SPEC = COMP.spec


@pytest.fixture(scope="module")
def folder(tiny_twin):
    return tiny_twin("planet")


@pytest.fixture(scope="module")
def prepared(folder) -> Prepared:
    return prepare(SPEC, folder)


def _rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_images_are_rgb_uint8_at_the_module_size(prepared):
    assert IMAGE_SIZE == 64
    assert prepared.X.shape == (200, 64, 64, 3) and prepared.X.dtype == np.uint8
    assert prepared.X_test.shape == (150, 64, 64, 3) and prepared.X_test.dtype == np.uint8
    # real pictures, not blank arrays: every chip has contrast, and the channels differ (colour)
    assert (prepared.X.reshape(200, -1).std(axis=1) > 3).all()
    assert np.abs(prepared.X[..., 1].astype(int) - prepared.X[..., 2]).mean() > 2


def test_pixels_come_from_the_named_files(prepared, folder):
    ids = prepared.test_ids.to_list()
    j = ids.index("file_7")  # from test-jpg-additional, after every test_N
    for arr, path in ((prepared.X[3], folder / "train-jpg" / "train_3.jpg"),
                      (prepared.X_test[0], folder / "test-jpg" / "test_0.jpg"),
                      (prepared.X_test[j], folder / "test-jpg-additional" / "file_7.jpg")):
        assert np.array_equal(arr, decode(path, IMAGE_SIZE))


def test_test_ids_follow_the_sample_submission(prepared, folder):
    sample = [r["image_name"] for r in _rows(folder / "sample_submission_v2.csv")]
    assert prepared.test_ids.to_list() == sample
    assert sample[:2] == ["test_0", "test_1"] and sample[100] == "file_0" and len(sample) == 150


def test_label_matrix_matches_the_tags(prepared, folder):
    labels = SPEC.submission.labels
    assert prepared.labels == labels and len(labels) == 17
    rows = _rows(folder / "train_v2.csv")
    assert prepared.y.shape == (200, 17) and set(np.unique(prepared.y)) == {0, 1}
    for i in (0, 1, 2, 57, 199):
        tags = rows[i]["tags"].split()
        assert [labels[j] for j in np.flatnonzero(prepared.y[i])] == sorted(tags)
    # by hand: the column sums are the tag counts
    for j, name in enumerate(labels):
        assert prepared.y[:, j].sum() == sum(name in r["tags"].split() for r in rows)
    # exactly one weather label on (nearly) every chip, as in the real data
    weather = [labels.index(w) for w in SPEC.extra["weather_labels"]]
    assert (prepared.y[:, weather].sum(axis=1) <= 1).all() and prepared.y[:, weather].sum() >= 199


def test_image_path_by_prefix(tmp_path):
    assert image_path(tmp_path, "train_12") == tmp_path / "train-jpg" / "train_12.jpg"
    assert image_path(tmp_path, "test_0") == tmp_path / "test-jpg" / "test_0.jpg"
    assert image_path(tmp_path, "file_3") == tmp_path / "test-jpg-additional" / "file_3.jpg"
    with pytest.raises(KitError, match="starts with none of train_, test_, file_"):
        image_path(tmp_path, "chip_3")


def test_models_and_folds(prepared):
    assert COMP.spec.n_folds == 3
    assert list(default_models(COMP)) == ["lgbm"]  # the CNN is tuned (MODELS) but not run by default
    assert list(model_defaults(COMP)) == ["lgbm", "cnn"]
    params = features.MODELS["cnn"]
    assert params["image_size"] == IMAGE_SIZE
    # the defaults are valid hyperparameters; one short epoch on a few chips checks the shapes
    # (the training itself is tested in tests/models/test_cnn.py)
    model = make_model("cnn", "multilabel", **{**params, "epochs": 1, "width": 4, "blocks": (1,)},
                       device="cpu", labels=prepared.labels)
    model.fit(prepared.X[:48], prepared.y[:48])
    proba = model.predict_proba(prepared.X_test[:5])
    assert proba.shape == (5, 17) and ((proba >= 0) & (proba <= 1)).all()


def test_table_models_read_image_statistics_of_the_same_rows(prepared, folder):
    from kit.image_stats import image_stats, stat_names
    from kit.images import decode
    from kit.models import MODELS

    assert MODELS["lgbm"].inputs == "table" and MODELS["cnn"].inputs == "images"
    X, X_test = prepared.inputs("table")
    assert X is prepared.X_table and X_test is prepared.X_test_table
    # every channel the CMYK JPEGs hold
    assert X.columns == stat_names(4) and X.shape == (200, len(stat_names(4))) and X_test.shape[0] == 150
    assert prepared.inputs("images")[0] is prepared.X
    # row i is chip i's statistics, test rows in submission order
    ids = prepared.test_ids.to_list()
    for row, path in ((X.row(5), folder / "train-jpg" / "train_5.jpg"),
                      (X_test.row(ids.index("file_3")), folder / "test-jpg-additional" / "file_3.jpg")):
        np.testing.assert_allclose(row, image_stats(decode(path, features.STATS_SIZE, "CMYK")[None])[0], rtol=1e-5)
    # cloudy chips are white (little ink in CMYK), the others not: the statistics carry the weather
    cloudy = prepared.y[:, prepared.labels.index("cloudy")] == 1
    white = X["below70"].to_numpy()
    assert white[cloudy].mean() > white[~cloudy].mean() + 0.5, (white[cloudy].mean(), white[~cloudy].mean())


def test_image_statistics_are_cached_beside_the_images(folder, tmp_path):
    import shutil

    from kit.image_stats import load_image_stats

    d = tmp_path / "planet"
    shutil.copytree(folder / "train-jpg", d / "train-jpg")
    paths = [d / "train-jpg" / f"train_{i}.jpg" for i in range(8)]
    first = load_image_stats(paths, size=64)
    cached = list((d / ".kit-cache" / "image-stats").glob("*.npy"))
    assert len(cached) == 1
    assert load_image_stats(paths, size=64).equals(first)
    (d / "train-jpg" / "train_0.jpg").write_bytes((d / "train-jpg" / "train_1.jpg").read_bytes())
    again = load_image_stats(paths, size=64)  # a changed file: computed again
    np.testing.assert_array_equal(again.row(0), again.row(1))
    assert len(list((d / ".kit-cache" / "image-stats").glob("*.npy"))) == 2
