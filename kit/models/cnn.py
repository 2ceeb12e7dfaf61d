"""The Planet CNN: a small ResNet on downscaled chips, D4 augmentation and TTA, F2 thresholds.

`CNNClassifier` takes X as image paths (decoded, downscaled and cached by kit.images) or a
uint8 array (n, size, size, 3), and y as an (n, k) 0/1 label matrix. The network
(kit.models._resnet) is a ResNet with torchvision's layout and names, without torchvision;
it trains in the kit's one loop (kit.models.loop) on uint8 pixels resident on the device,
each batch turned by the 8 flips and rotations of the square (the dihedral group D4, one
per eighth of the batch, a few tensor ops). Predictions average the 8 transforms (TTA).

Mean F2 rewards recall four times more than precision, so 0.5 is the wrong cut: `fit` tunes
the thresholds on `eval_set` (kit.labels.tune_thresholds: one global cut, and a label's own,
pulled halfway back toward it, only where it beats the global cut by more than one image's
worth of F2). `predict` returns the 0/1 matrix, `predict_proba` the
probabilities, `predict_tags` the submission's tag strings.

Starting weights come only from a local file (`init_weights`, read with
`torch.load(..., weights_only=True)`, which runs no pickled code): a file from `save`, or a
state dict of the same architecture (a torchvision ResNet-18's with width=64,
blocks=(2, 2, 2, 2), stem="imagenet"); a head of another size (ImageNet's 1000 classes)
starts fresh. Nothing is downloaded.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
>>> y = np.column_stack([X[..., 0].mean((1, 2)) > 127, np.ones(40)]).astype(int)
>>> m = CNNClassifier(image_size=32, width=8, epochs=2, batch_size=16, device="cpu")
>>> m.fit(X[:30], y[:30], eval_set=(X[30:], y[30:])).predict_proba(X[:3]).shape
(3, 2)
>>> matrix_to_tags(np.array([[1, 0, 1], [0, 0, 0]]), ("clear", "haze", "primary")).to_list()
['clear primary', '']
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from kit.atomic import write_atomic
from kit.errors import KitError
from kit.labels import matrix_to_tags, tune_thresholds
from kit.models._base import KitEstimator, label_target, no_weights, resolve_device

#: images per forward pass at predict time (times 8 with TTA)
_PREDICT_BATCH = 256
#: images used to estimate the per-channel mean and standard deviation (at most 64x64 pixels each)
_STATS_SAMPLE = 512
#: marks files written by `save`
_FORMAT = "kit-cnn-1"


# -- inputs ----------------------------------------------------------------------------------

def _is_paths(X: Any) -> bool:
    if isinstance(X, (str, os.PathLike)):
        return False
    if isinstance(X, pl.Series):
        return X.dtype == pl.String
    if type(X).__module__.startswith("pandas"):
        return getattr(X, "ndim", 2) == 1
    if isinstance(X, np.ndarray):
        return X.ndim == 1 and X.dtype.kind in "UO"
    return isinstance(X, (list, tuple)) and all(isinstance(x, (str, os.PathLike)) for x in X)


class _AugmentedBatches:
    """A batch provider for kit.models.loop.train: the wrapped batches with their images
    turned by D4 (see kit.models._resnet.d4_batch), seeded."""

    def __init__(self, batches, seed: int):
        self.batches = batches
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple]:
        from kit.models._resnet import d4_batch

        for x, y in self.batches:
            yield d4_batch(x, int(self.rng.integers(8))), y


# -- the estimator ---------------------------------------------------------------------------

class CNNClassifier(KitEstimator, ClassifierMixin, BaseEstimator):
    """A small ResNet for multilabel images, with D4 augmentation, TTA and per-label F2 thresholds.

    Args:
        image_size: the side in pixels the images are downscaled to (256 px chips at 64 train
            about 16x faster than at full size; use 128-256 on a GPU).
        width: channels of the first stage, doubled at each later stage.
        blocks: BasicBlocks per stage; (2, 2, 2, 2) with width=64 and stem="imagenet" is ResNet-18.
        stem: "small" (3x3 stride-2 conv) or "imagenet" (7x7 stride-2 conv and a max-pool).
        dropout: before the linear head.
        epochs, batch_size, lr, weight_decay, pct_start: the one-cycle training (lr is the peak).
        patience: with eval_set, stop after this many epochs without a better validation loss
            (the best epoch's weights are kept either way).
        augment: train on the 8 flips and rotations; tta: average the 8 at prediction.
        labels: the label names, in y's column order (for predict_tags and a shape check).
        init_weights: a local file of starting weights (see the module docstring).
        cache: cache decoded images as .npy beside the image folder (kit.images).
        n_jobs: image-decoding threads (default: all cores).
        device: "auto" (CUDA when torch sees it), "cpu" or "cuda"; bf16 autocast on CUDA.
        random_state: seeds the weights, the batch order and the augmentation.
    """

    def __init__(self, *, image_size: int = 64, width: int = 32, blocks: Sequence[int] = (1, 1, 1, 1),
                 stem: str = "small", dropout: float = 0.0, epochs: int = 10, batch_size: int = 64,
                 lr: float = 3e-3, weight_decay: float = 0.01, pct_start: float = 0.25,
                 patience: int | None = None, augment: bool = True, tta: bool = True,
                 labels: Sequence[str] | None = None, init_weights: str | os.PathLike | None = None,
                 cache: bool = True, n_jobs: int | None = None, device: str = "auto", random_state: int = 0):
        self.image_size = image_size
        self.width = width
        self.blocks = blocks
        self.stem = stem
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.pct_start = pct_start
        self.patience = patience
        self.augment = augment
        self.tta = tta
        self.labels = labels
        self.init_weights = init_weights
        self.cache = cache
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags

    # -- checks and inputs ------------------------------------------------------------------

    def _check_params(self) -> None:
        from kit.models._resnet import STEMS

        if not (isinstance(self.image_size, (int, np.integer)) and self.image_size >= 16):
            raise KitError(f"image_size must be a whole number of pixels >= 16, got {self.image_size!r}")
        blocks = tuple(self.blocks) if isinstance(self.blocks, (list, tuple)) else ()
        if not blocks or not all(isinstance(b, (int, np.integer)) and b >= 1 for b in blocks):
            raise KitError(f"blocks must be a non-empty list of positive block counts per stage, got {self.blocks!r}")
        if not (isinstance(self.width, (int, np.integer)) and self.width >= 1):
            raise KitError(f"width must be a positive number of channels, got {self.width!r}")
        if self.stem not in STEMS:
            raise KitError(f"stem must be one of {', '.join(STEMS)}, got {self.stem!r}")
        if not 0 <= self.dropout < 1:
            raise KitError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.epochs < 1 or self.batch_size < 2:
            raise KitError(f"epochs must be >= 1 and batch_size >= 2, got {self.epochs} and {self.batch_size}")
        if self.labels is not None and (isinstance(self.labels, str) or len(set(self.labels)) != len(self.labels)):
            raise KitError(f"labels must be a list of distinct label names, got {self.labels!r}")

    def _images(self, X: Any, what: str = "X") -> np.ndarray:
        """X as (n, image_size, image_size, 3) uint8, decoding paths; a KitError otherwise."""
        size = int(self.image_size)
        if _is_paths(X):
            from kit.images import load_images

            return load_images(list(X), size, cache=self.cache, n_jobs=self.n_jobs)
        if not isinstance(X, np.ndarray):
            raise KitError(f"{what} must be image paths (a list of files) or a uint8 array (n, H, W, 3), "
                           f"got {type(X).__name__}")
        if X.ndim != 4 or X.shape[3] != 3:
            raise KitError(f"{what} must be RGB images (n, height, width, 3), got shape {X.shape}; "
                           "convert grey or CMYK images with PIL's .convert('RGB') (kit.images.load_images does)")
        if X.dtype != np.uint8:
            raise KitError(f"{what} must hold uint8 pixels 0-255, got {X.dtype}; pass X.astype(np.uint8) "
                           "(from 0-255 values) or the image paths")
        if X.shape[1:3] != (size, size):
            raise KitError(f"{what} holds {X.shape[1]}x{X.shape[2]} images but the model takes image_size={size}; "
                           f"load them with kit.images.load_images(paths, {size}) or set image_size={X.shape[1]}")
        if len(X) == 0:
            raise KitError(f"{what} has no images")
        return X

    def _target(self, y: Any, n: int, what: str = "y") -> np.ndarray:
        t = label_target(y, n, what)
        if t.ndim != 2:
            raise KitError(f"{what} must be an (n, k) 0/1 label matrix, got shape {t.shape}; "
                           "for a single label pass y.reshape(-1, 1)")
        if self.labels is not None and t.shape[1] != len(self.labels):
            raise KitError(f"{what} has {t.shape[1]} label columns but labels names {len(self.labels)}; "
                           "pass one column per label, in the order of labels")
        return t

    def _tensor(self, x: np.ndarray, device: str):
        import torch

        # torch must not share a read-only buffer (a cached .npy may be one); a copy is cheap next to training
        return torch.as_tensor(x if x.flags.writeable and x.flags.c_contiguous else np.ascontiguousarray(x).copy(),
                               device=device)

    # -- the network ------------------------------------------------------------------------

    def _network(self, n_out: int):
        from kit.models._resnet import ResNet

        return ResNet(n_out, width=int(self.width), blocks=tuple(int(b) for b in self.blocks), stem=self.stem,
                      dropout=float(self.dropout), mean=self.mean_, std=self.std_)

    def _load_init(self, net) -> bool:
        """Copy init_weights into `net` (strict keys); returns whether the head came from the file."""
        state = _read_weights(self.init_weights)
        if isinstance(state, dict) and state.get("format") == _FORMAT:
            state = state["state_dict"]
        own = net.state_dict()
        missing = [k for k in own if k not in state]
        extra = [k for k in state if k not in own]
        fix = (f"the file must hold a state dict of this architecture (width={self.width}, blocks={tuple(self.blocks)}, "
               f"stem={self.stem!r}; a torchvision ResNet-18 is width=64, blocks=(2, 2, 2, 2), stem='imagenet')")
        if missing or extra:
            parts = ([f"lacks {len(missing)} weights ({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''})"]
                     if missing else [])
            parts += ([f"has {len(extra)} unknown weights ({', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''})"]
                      if extra else [])
            raise KitError(f"init_weights {self.init_weights} does not match the network: it {' and '.join(parts)}; {fix}")
        head = ("fc.weight", "fc.bias")
        odd = [k for k in own if k not in head and tuple(state[k].shape) != tuple(own[k].shape)]
        if odd:
            k = odd[0]
            raise KitError(f"init_weights {self.init_weights} does not match the network: {k} is "
                           f"{tuple(state[k].shape)} in the file but {tuple(own[k].shape)} here; {fix}")
        head_fits = all(tuple(state[k].shape) == tuple(own[k].shape) for k in head)
        load = {k: v for k, v in state.items() if head_fits or k not in head}
        net.load_state_dict({**own, **load})
        return head_fits

    # -- fit ---------------------------------------------------------------------------------

    def _prepare(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None):
        self._check_params()
        images = self._images(X)
        t = self._target(y, len(images))
        if len(images) < 2:
            raise KitError(f"X has {len(images)} image; fitting needs at least 2")
        valid = None
        if eval_set is not None:
            if not (isinstance(eval_set, (tuple, list)) and len(eval_set) == 2):
                raise KitError("eval_set must be a pair (X_valid, y_valid)")
            vimg = self._images(eval_set[0], "eval_set X")
            vt = self._target(eval_set[1], len(vimg), "eval_set y")
            if vt.shape[1] != t.shape[1]:
                raise KitError(f"eval_set y has {vt.shape[1]} label columns but y has {t.shape[1]}")
            valid = (vimg, vt)
        device = resolve_device(self.device)
        # a few million pixels pin the channel statistics down; all of them would need GBs of floats
        step = max(1, int(self.image_size) // 64)
        sample = images[:: max(1, len(images) // _STATS_SAMPLE), ::step, ::step]
        self.mean_ = tuple(float(v) for v in sample.mean((0, 1, 2), dtype=np.float64))
        self.std_ = tuple(float(max(v, 1.0)) for v in sample.std((0, 1, 2), dtype=np.float64))
        self.n_outputs_ = t.shape[1]
        self.classes_ = np.array([0, 1])
        return device, images, t, valid

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None, sample_weight: Any = None,
            eval_sample_weight: Any = None, callbacks: Sequence | None = None) -> CNNClassifier:
        """Train; with `eval_set` keep the epoch with the lowest validation loss (each of
        `callbacks` gets a `kit.models.FitProgress` after every epoch) and tune the
        per-label thresholds on it (without one, every threshold is 0.2, a common F2 default;
        call `tune_thresholds` on held-out images to do better). Weights are an error."""
        import torch

        from kit.models import loop

        no_weights(self, sample_weight, eval_sample_weight)

        device, images, t, valid = self._prepare(X, y, eval_set)
        config = loop.TrainConfig(epochs=self.epochs, lr=self.lr, weight_decay=self.weight_decay,
                                  pct_start=self.pct_start, patience=self.patience, device=device,
                                  desc=type(self).__name__)
        x_train, y_train = self._tensor(images, device), torch.as_tensor(t, device=device)
        with loop.seeded(self.random_state, device):
            self.model_ = self._network(t.shape[1])
            self.head_from_weights_ = self._load_init(self.model_) if self.init_weights is not None else False
            self.model_.to(device=device, memory_format=torch.channels_last)
            batches = loop.TensorBatches([x_train, y_train], self.batch_size, seed=self.random_state)
            if self.augment:
                batches = _AugmentedBatches(batches, self.random_state)
            vb = None
            if valid is not None:
                vb = loop.TensorBatches([self._tensor(valid[0], device), torch.as_tensor(valid[1], device=device)],
                                        _PREDICT_BATCH, shuffle=False)
            self.history_ = loop.train(self.model_, torch.nn.functional.binary_cross_entropy_with_logits,
                                       batches, config, vb, on_epoch=loop.epoch_reporter(callbacks, self.epochs))
        self.device_ = device
        self.best_epoch_ = self.history_.best_epoch
        self.thresholds_ = np.full(t.shape[1], 0.2)
        self.threshold_search_ = None
        if valid is not None:
            self._set_thresholds(self._proba(valid[0]), valid[1])
        return self

    def tune_thresholds(self, X: Any, y: Any) -> CNNClassifier:
        """Tune `thresholds_` for mean F2 on labelled images the model did not train on."""
        check_is_fitted(self, "model_")
        images = self._images(X)
        t = self._target(y, len(images))
        if t.shape[1] != self.n_outputs_:
            raise KitError(f"y has {t.shape[1]} label columns but the model predicts {self.n_outputs_}")
        self._set_thresholds(self._proba(images), t)
        return self

    def _set_thresholds(self, proba: np.ndarray, t: np.ndarray) -> None:
        self.threshold_search_ = tune_thresholds(t, proba)
        self.thresholds_ = self.threshold_search_.thresholds

    def lr_find(self, X: Any, y: Any, *, start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100,
                plot: str | os.PathLike | None = None):
        """Sweep the learning rate on a fresh network (this estimator stays as it was).

        Returns a `kit.models.loop.LRFind` (lrs, losses, suggestion); with `plot`, also a PNG.
        """
        import torch

        from kit.models import loop

        probe = self.__class__(**self.get_params())
        device, images, t, _ = probe._prepare(X, y, None)
        with loop.seeded(self.random_state, device):
            net = probe._network(t.shape[1])
            if self.init_weights is not None:
                probe._load_init(net)
            net.to(device=device, memory_format=torch.channels_last)
            batches = loop.TensorBatches([probe._tensor(images, device), torch.as_tensor(t, device=device)],
                                         self.batch_size, seed=self.random_state)
            found = loop.lr_find(net, torch.nn.functional.binary_cross_entropy_with_logits,
                                 _AugmentedBatches(batches, self.random_state) if self.augment else batches,
                                 start_lr=start_lr, end_lr=end_lr, num_iter=num_iter,
                                 weight_decay=self.weight_decay, device=device)
        if plot is not None:
            found.plot(plot)
        return found

    # -- predict -----------------------------------------------------------------------------

    def _proba(self, images: np.ndarray) -> np.ndarray:
        import torch

        from kit.models._resnet import d4

        x = self._tensor(images, self.device_)
        views = range(8) if self.tta else range(1)
        self.model_.eval()
        out = np.empty((len(images), self.n_outputs_), np.float64)
        with torch.no_grad():
            for i in range(0, len(images), _PREDICT_BATCH):
                xb = x[i:i + _PREDICT_BATCH]
                with (torch.autocast("cuda", dtype=torch.bfloat16) if self.device_ == "cuda"
                      else torch.autocast("cpu", enabled=False)):
                    # the views go through as one batch: 8x the work per call, far fewer calls
                    logits = self.model_(torch.cat([d4(xb, k) for k in views]))
                p = torch.sigmoid(logits.float()).view(len(views), len(xb), -1).mean(0)
                out[i:i + len(xb)] = p.cpu().numpy()
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, k) probability of each label, averaged over the 8 D4 views when tta."""
        check_is_fitted(self, "model_")
        return self._proba(self._images(X))

    def predict(self, X: Any) -> np.ndarray:
        """(n, k) 0/1 labels: each probability cut at its label's threshold (thresholds_)."""
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int64)

    def predict_tags(self, X: Any) -> pl.Series:
        """Space-separated tags per image, as the submission wants them (needs `labels`)."""
        if self.labels is None:
            raise KitError("predict_tags needs the label names: build the model with labels=... "
                           "(for Planet, kit.spec.get('planet').spec.submission.labels)")
        return matrix_to_tags(self.predict(X), self.labels)

    # -- files -------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """The fitted model (weights, input statistics, thresholds, hyperparameters) in one file
        that `load` and `init_weights` read with torch.load(weights_only=True); written atomically."""
        import torch

        check_is_fitted(self, "model_")
        params = {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, os.PathLike) else v)
                  for k, v in self.get_params().items()}
        data = {"format": _FORMAT, "params": params,
                "state_dict": {k: v.detach().cpu() for k, v in self.model_.state_dict().items()},
                "mean": list(self.mean_), "std": list(self.std_), "thresholds": [float(v) for v in self.thresholds_]}
        return write_atomic(path, lambda tmp: torch.save(data, tmp))

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "auto") -> CNNClassifier:
        """A fitted model from a file written by `save`, on `device`."""
        data = _read_weights(path)
        if not (isinstance(data, dict) and data.get("format") == _FORMAT):
            raise KitError(f"{path} is not a model saved by CNNClassifier.save; to start training from a "
                           "state dict, pass it as init_weights")
        params = {**data["params"], "device": device}
        if params.get("blocks") is not None:
            params["blocks"] = tuple(params["blocks"])
        if params.get("labels") is not None:
            params["labels"] = tuple(params["labels"])
        model = cls(**params)
        model.mean_, model.std_ = tuple(data["mean"]), tuple(data["std"])
        model.thresholds_ = np.asarray(data["thresholds"], dtype=np.float64)
        model.n_outputs_ = len(model.thresholds_)
        model.classes_ = np.array([0, 1])
        model.threshold_search_ = None
        model.device_ = resolve_device(device)
        net = model._network(model.n_outputs_)
        net.load_state_dict(data["state_dict"])
        import torch

        model.model_ = net.to(device=model.device_, memory_format=torch.channels_last).eval()
        return model


def _read_weights(path: str | os.PathLike) -> Any:
    """torch.load(path, weights_only=True) on the CPU, with KitErrors for a missing or foreign file."""
    import pickle

    import torch

    if not Path(path).is_file():
        raise KitError(f"weights file {path} does not exist; pass a local file (nothing is downloaded)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise KitError(f"cannot read {path} with torch.load(weights_only=True) ({first}); save a state dict "
                       "(torch.save(model.state_dict(), path)) rather than a whole pickled model") from err
