"""Entity-embedding networks for tables (the Rossmann third-place method, as fast.ai teaches it).

Each categorical column gets an embedding of min(600, round(1.6 * n ** 0.56)) numbers (n codes
including the unknown code 0), followed by embedding dropout; continuous columns are
standardised (missing values at the mean) and batch-normed; then linear-ReLU-batchnorm-dropout
blocks and a linear output. Regression squashes the output with a sigmoid into a range a little
wider than the training target's; binary and multilabel train on BCE.

Training runs the kit's one loop (kit.models.loop) on tensors moved to the device once:
batches are slices of them, never a per-row Dataset. The trained embeddings can be exported
as features for the tree models (`embedding_features`).

>>> import numpy as np, polars as pl
>>> rng = np.random.default_rng(0)
>>> X = pl.DataFrame({"shop": rng.integers(0, 5, 600), "x": rng.normal(size=600)})
>>> y = X["shop"].to_numpy() + X["x"].to_numpy()
>>> m = EmbeddingNetRegressor(cat_features=["shop"], epochs=3, batch_size=64, device="cpu").fit(X, y)
>>> m.predict(X).shape, m.embedding_features(X).columns
((600,), ['shop_emb0', 'shop_emb1', 'shop_emb2', 'shop_emb3'])
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import ClassifierMixin, RegressorMixin

from kit.errors import KitError
from kit.models._base import Encoded, LabelOutputs, TabularModel, no_weights, resolve_device

#: rows per forward pass at predict time
_PREDICT_BATCH = 65_536


def embedding_size(n_codes: int) -> int:
    """fast.ai's rule of thumb for an embedding's width.

    >>> embedding_size(2), embedding_size(1116), embedding_size(10 ** 6)
    (2, 81, 600)
    """
    return min(600, round(1.6 * n_codes ** 0.56))


def build_network(cardinalities: Sequence[int], n_cont: int, n_out: int, *, layers: Sequence[int] = (200, 100),
                  dropout: Sequence[float] = (0.001, 0.01), emb_dropout: float = 0.04,
                  y_range: tuple[float, float] | None = None):
    """The torch module: forward(x_cat int64 (n, n_cat), x_cont float32 (n, n_cont)) -> (n, n_out)."""
    from kit.models._net import TabularNet  # torch loads here, not when kit.models is imported

    if len(dropout) != len(layers):
        raise KitError(f"dropout needs one rate per hidden layer: {len(layers)} layers, {len(dropout)} rates")
    sizes = [embedding_size(c) for c in cardinalities]
    return TabularNet(list(cardinalities), sizes, n_cont, n_out, layers=list(layers), dropout=list(dropout),
                      emb_dropout=emb_dropout, y_range=y_range)


class _EmbeddingNet(TabularModel):
    """Shared by EmbeddingNetRegressor and EmbeddingNetClassifier."""

    def __init__(self, *, layers: Sequence[int] = (200, 100), dropout: Sequence[float] = (0.001, 0.01),
                 emb_dropout: float = 0.04, epochs: int = 10, batch_size: int = 1024, lr: float = 3e-3,
                 weight_decay: float = 0.01, pct_start: float = 0.25, patience: int | None = None,
                 cat_features: list[str] | None = None, device: str = "auto", random_state: int = 0):
        self.layers = layers
        self.dropout = dropout
        self.emb_dropout = emb_dropout
        self.epochs = epochs
        self.batch_size = batch_size
        #: peak learning rate of the one-cycle schedule (lr_find suggests one)
        self.lr = lr
        self.weight_decay = weight_decay
        self.pct_start = pct_start
        #: with eval_set: stop after this many epochs without a better validation loss
        self.patience = patience
        self.cat_features = cat_features
        self.device = device
        self.random_state = random_state

    # -- data -----------------------------------------------------------------------------

    def check_params(self) -> None:
        """Raise a KitError for a hyperparameter of the wrong type or shape, before any work."""
        from kit.models.gbm import check_param_types

        check_param_types(self, {"layers": "ints", "dropout": "numbers", "emb_dropout": "number", "epochs": "int",
                                 "batch_size": "int", "lr": "number", "weight_decay": "number",
                                 "pct_start": "number", "patience": "int?", "random_state": "int"})
        if self.epochs < 1 or self.batch_size < 2:
            raise KitError(f"epochs must be >= 1 and batch_size >= 2, got {self.epochs} and {self.batch_size}")
        if len(self.dropout) != len(self.layers):
            raise KitError(f"dropout needs one rate per layer: layers={list(self.layers)}, "
                           f"dropout={list(self.dropout)}")

    def _tensors(self, enc: Encoded, device: str, target: np.ndarray | None = None):
        import torch

        # standardised, missing at the mean (0); float32 throughout
        cont = np.nan_to_num((enc.cont - self.cont_mean_) / self.cont_std_, nan=0.0, copy=False)
        # polars may hand back read-only buffers, which torch must not share
        cat = enc.cat if enc.cat.flags.writeable else enc.cat.copy()
        out = [torch.as_tensor(cat, device=device), torch.as_tensor(cont, device=device)]
        if target is not None:
            out.append(torch.as_tensor(target.reshape(len(target), -1).astype(np.float32), device=device))
        return out

    def _prepare(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None):
        """Validate, encode, set the input statistics; returns device, train and valid tensors."""
        self.check_params()
        enc, t, valid = self._fit_inputs(X, y, eval_set)
        device = resolve_device(self.device)
        with np.errstate(all="ignore"):
            mean = np.nanmean(enc.cont, axis=0) if enc.cont.size else np.zeros(0, np.float32)
            std = np.nanstd(enc.cont, axis=0) if enc.cont.size else np.zeros(0, np.float32)
        self.cont_mean_ = np.nan_to_num(mean).astype(np.float32)
        self.cont_std_ = np.where(np.nan_to_num(std) > 0, np.nan_to_num(std), 1).astype(np.float32)
        self._set_output(t)
        train = self._tensors(enc, device, t)
        vt = None if valid is None else self._tensors(valid[0], device, valid[1])
        return device, train, vt

    def _network(self):
        return build_network(self.schema_.cardinalities, len(self.schema_.cont_names), self._n_out(),
                             layers=self.layers, dropout=self.dropout, emb_dropout=self.emb_dropout,
                             y_range=self._y_range())

    # -- fit / lr_find --------------------------------------------------------------------

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None, sample_weight: Any = None,
            eval_sample_weight: Any = None, callbacks: Sequence | None = None):
        """Train with one-cycle; with `eval_set`, keep the epoch with the lowest validation loss.
        Each of `callbacks` gets a `kit.models.FitProgress` after every epoch. Rows are not
        weighed: weights are an error."""
        from kit.models import loop

        no_weights(self, sample_weight, eval_sample_weight)
        device, train, valid = self._prepare(X, y, eval_set)
        config = loop.TrainConfig(epochs=self.epochs, lr=self.lr, weight_decay=self.weight_decay,
                                  pct_start=self.pct_start, patience=self.patience, device=device,
                                  desc=type(self).__name__)
        with loop.seeded(self.random_state, device):
            self.model_ = self._network().to(device)
            batches = loop.TensorBatches(train, self.batch_size, seed=self.random_state)
            vb = None if valid is None else loop.TensorBatches(valid, _PREDICT_BATCH, shuffle=False)
            self.history_ = loop.train(self.model_, self._loss(), batches, config, vb,
                                       on_epoch=loop.epoch_reporter(callbacks, self.epochs))
        self.device_ = device
        self.best_epoch_ = self.history_.best_epoch
        return self

    def lr_find(self, X: Any, y: Any, *, start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100,
                plot: str | None = None):
        """Sweep the learning rate on a fresh network (this estimator stays as it was).

        Returns a `kit.models.loop.LRFind` (lrs, losses, suggestion); with `plot`, also a PNG.
        """
        from kit.models import loop

        probe = self.__class__(**self.get_params())
        device, train, _ = probe._prepare(X, y, None)
        with loop.seeded(self.random_state, device):
            net = probe._network().to(device)
            found = loop.lr_find(net, probe._loss(), loop.TensorBatches(train, self.batch_size, seed=self.random_state),
                                 start_lr=start_lr, end_lr=end_lr, num_iter=num_iter,
                                 weight_decay=self.weight_decay, device=device)
        if plot is not None:
            found.plot(plot)
        return found

    # -- predict / features ---------------------------------------------------------------

    def _forward(self, enc: Encoded) -> np.ndarray:
        import torch

        x_cat, x_cont = self._tensors(enc, self.device_)
        self.model_.eval()
        outs = []
        with torch.no_grad():
            for i in range(0, max(enc.n_rows, 1), _PREDICT_BATCH):
                with (torch.autocast("cuda", dtype=torch.bfloat16) if self.device_ == "cuda"
                      else contextlib.nullcontext()):
                    out = self.model_(x_cat[i:i + _PREDICT_BATCH], x_cont[i:i + _PREDICT_BATCH])
                outs.append(out.float().cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, self._n_out()), np.float32)

    def embedding_features(self, X: Any) -> pl.DataFrame:
        """Each categorical column replaced by its trained embedding: columns `{col}_emb{j}`.

        Join them to the tree models' features (the 3rd-place Rossmann trick).
        """
        enc = self._encode(X)
        cols: dict[str, np.ndarray] = {}
        for i, (name, emb) in enumerate(zip(self.schema_.cat_names, self.model_.embeds)):
            table = emb.weight.detach().float().cpu().numpy()[enc.cat[:, i]]
            for j in range(table.shape[1]):
                cols[f"{name}_emb{j}"] = table[:, j]
        return pl.DataFrame(cols)


class EmbeddingNetRegressor(RegressorMixin, _EmbeddingNet):
    """Entity-embedding network for regression (MSE); fit log targets yourself for RMSLE/RMSPE."""

    def __init__(self, *, layers: Sequence[int] = (200, 100), dropout: Sequence[float] = (0.001, 0.01),
                 emb_dropout: float = 0.04, y_range: tuple[float, float] | str | None = "auto",
                 epochs: int = 10, batch_size: int = 1024, lr: float = 3e-3, weight_decay: float = 0.01,
                 pct_start: float = 0.25, patience: int | None = None, cat_features: list[str] | None = None,
                 device: str = "auto", random_state: int = 0):
        super().__init__(layers=layers, dropout=dropout, emb_dropout=emb_dropout, epochs=epochs,
                         batch_size=batch_size, lr=lr, weight_decay=weight_decay, pct_start=pct_start,
                         patience=patience, cat_features=cat_features, device=device, random_state=random_state)
        #: "auto": the training target's range widened by 10% of its span on each side (the
        #: sigmoid never reaches its ends); a (low, high) pair; None for an unbounded output
        self.y_range = y_range

    def _set_output(self, t: np.ndarray) -> None:
        r = self.y_range
        if r == "auto":
            lo, hi = float(t.min()), float(t.max())
            pad = 0.1 * (hi - lo) or max(abs(hi), 1.0) * 0.1
            self.y_range_ = (lo - pad, hi + pad)
        elif r is None:
            self.y_range_ = None
        elif isinstance(r, (tuple, list)) and len(r) == 2 and float(r[0]) < float(r[1]):
            self.y_range_ = (float(r[0]), float(r[1]))
        else:
            raise KitError(f"y_range must be 'auto', None or a pair (low, high) with low < high, got {r!r}")

    def _y_range(self):
        return self.y_range_

    def _n_out(self) -> int:
        return 1

    def _loss(self):
        import torch

        return torch.nn.functional.mse_loss

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(self._encode(X))[:, 0].astype(np.float64)


class EmbeddingNetClassifier(LabelOutputs, ClassifierMixin, _EmbeddingNet):
    """Entity-embedding network for a binary target or a multilabel (n, k) 0/1 matrix (BCE)."""

    def _set_output(self, t: np.ndarray) -> None:
        pass

    def _y_range(self):
        return None

    def _n_out(self) -> int:
        return self.n_outputs_

    def _loss(self):
        import torch

        return torch.nn.functional.binary_cross_entropy_with_logits

    def _positive_proba(self, enc: Encoded) -> np.ndarray:
        logits = self._forward(enc).astype(np.float64)
        return self._as_outputs(1 / (1 + np.exp(-logits)))
