"""Entity-embedding network: sizes, output range, exported embeddings, LR finder, early stopping."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from kit.errors import KitError
from kit.models import EmbeddingNetClassifier, EmbeddingNetRegressor
from kit.models._base import cuda_available
from kit.models.embedding import embedding_size

from model_cases import FAST, synthetic

NN = FAST["nn"]
CATS = ["shop", "color"]


@pytest.fixture(scope="module")
def reg():
    return synthetic("regression", n=400)


@pytest.fixture(scope="module")
def fitted(reg):
    return EmbeddingNetRegressor(cat_features=CATS, **NN).fit(reg.X, reg.y)


@pytest.mark.parametrize("n,size", [(2, 2), (4, 3), (9, 5), (1116, 81), (100_000, 600), (10 ** 6, 600)])
def test_embedding_size_is_fastais_rule(n, size):
    # min(600, round(1.6 * n ** 0.56)): 1.6 * 1116 ** 0.56 = 81.4, 1.6 * 100000 ** 0.56 = 1009.5
    assert embedding_size(n) == size


def test_network_layout(fitted):
    net = fitted.model_
    # shop: 8 values + unknown = 9 codes -> 5 numbers; color: 3 + 1 = 4 codes -> 3 numbers
    assert [(e.num_embeddings, e.embedding_dim) for e in net.embeds] == [(9, 5), (4, 3)]
    assert net.bn_cont.num_features == 2
    linears = [m for m in net.body if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5 + 3 + 2, 32), (32, 16)]
    kinds = [type(m).__name__ for m in net.body]
    assert kinds == ["Linear", "ReLU", "BatchNorm1d", "Dropout"] * 2
    assert net.head.out_features == 1


def test_output_range_is_a_little_wider_than_the_target(fitted, reg):
    lo, hi = fitted.y_range_
    span = reg.y.max() - reg.y.min()
    assert (lo, hi) == pytest.approx((reg.y.min() - 0.1 * span, reg.y.max() + 0.1 * span))
    extreme = reg.X_valid.with_columns(x1=pl.col("x1") * 100)  # far outside the training inputs
    p = fitted.predict(extreme)
    assert ((p >= lo - 1e-4) & (p <= hi + 1e-4)).all()  # a saturated sigmoid reaches the ends
    unbounded = EmbeddingNetRegressor(cat_features=CATS, y_range=None, **NN).fit(reg.X, reg.y)
    assert unbounded.model_.y_range is None
    with pytest.raises(KitError, match=r"y_range must be 'auto', None or a pair \(low, high\) with low < high"):
        EmbeddingNetRegressor(cat_features=CATS, y_range=(3, 1), **NN).fit(reg.X, reg.y)


def test_embedding_features_are_the_trained_vectors(fitted, reg):
    X = reg.X_valid.head(4).with_columns(pl.Series("color", ["red", "blue", "mauve", None]))
    feats = fitted.embedding_features(X)
    assert feats.columns == [*(f"shop_emb{j}" for j in range(5)), *(f"color_emb{j}" for j in range(3))]
    w = fitted.model_.embeds[1].weight.detach().numpy()
    codes = [3, 1, 0, 0]  # sorted levels blue=1, green=2, red=3; unseen and missing are 0
    np.testing.assert_allclose(feats.select("^color_emb.*$").to_numpy(), w[codes])


def test_lr_find_sweeps_and_leaves_the_estimator_alone(reg, tmp_path):
    m = EmbeddingNetRegressor(cat_features=CATS, **NN)
    found = m.lr_find(reg.X, reg.y, num_iter=30, plot=tmp_path / "lr.png")
    assert not hasattr(m, "model_")
    assert len(found.lrs) == len(found.losses) <= 30
    assert (np.diff(found.lrs) > 0).all()
    assert found.suggestion == pytest.approx(found.lrs[np.argmin(found.losses)] / 10)
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_set_keeps_the_best_epoch(reg):
    m = EmbeddingNetRegressor(cat_features=CATS, **{**NN, "epochs": 5})
    m.fit(reg.X, reg.y, eval_set=(reg.X_valid, reg.y_valid))
    h = m.history_
    assert len(h.train_loss) == len(h.valid_loss) == 5
    assert m.best_epoch_ == int(np.argmin(h.valid_loss))
    mse = float(np.mean((m.predict(reg.X_valid) - reg.y_valid) ** 2))
    assert mse == pytest.approx(min(h.valid_loss), rel=1e-4)  # the weights are that epoch's


def test_patience_stops_early():
    d = synthetic("binary", n=200)
    # a learning rate this high stops improving quickly; patience 1 ends the run early
    m = EmbeddingNetClassifier(cat_features=CATS, **{**NN, "epochs": 30, "lr": 1.0, "patience": 1})
    m.fit(d.X, d.y, eval_set=(d.X_valid, d.y_valid))
    assert len(m.history_.valid_loss) < 30
    assert len(m.history_.valid_loss) - 1 - m.best_epoch_ == 1


def test_bad_params():
    d = synthetic("regression", n=50)
    with pytest.raises(KitError, match=r"dropout needs one rate per layer: layers=\[10, 5\], dropout=\[0.1\]"):
        EmbeddingNetRegressor(cat_features=CATS, layers=(10, 5), dropout=(0.1,)).fit(d.X, d.y)
    with pytest.raises(KitError, match=r"epochs must be >= 1 and batch_size >= 2, got 0 and 1024"):
        EmbeddingNetRegressor(cat_features=CATS, epochs=0).fit(d.X, d.y)


def test_only_continuous_or_only_categorical_columns():
    d = synthetic("regression", n=200)
    only_cont = EmbeddingNetRegressor(**NN).fit(d.X.select("x1", "x2"), d.y)
    only_cat = EmbeddingNetRegressor(cat_features=CATS, **NN).fit(d.X.select(CATS), d.y)
    n = d.X_valid.height
    assert only_cont.predict(d.X_valid.select("x1", "x2")).shape == (n,)
    assert only_cat.predict(d.X_valid.select(CATS)).shape == (n,)
    assert only_cont.model_.embeds.__len__() == 0 and only_cat.model_.bn_cont is None


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU")
def test_trains_on_the_gpu(reg):
    m = EmbeddingNetRegressor(cat_features=CATS, **{**NN, "device": "cuda"}).fit(reg.X, reg.y)
    assert next(m.model_.parameters()).is_cuda
    assert np.mean((m.predict(reg.X_valid) - reg.y_valid) ** 2) < np.var(reg.y_valid)
