"""The one training loop for kit's torch models (in the spirit of minGPT's trainer).

A model, a loss, a batch provider (any re-iterable of tuples whose last item is the target and
whose other items are the model's inputs), AdamW with a one-cycle schedule, epochs, a device,
optional early stopping on a validation provider, a progress bar. Seeds are set in one place,
`seeded`. `TensorBatches` slices batches from tensors already on the device; `lr_find` sweeps
the learning rate over the same batches.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kit import progress
from kit.atomic import write_atomic


@contextlib.contextmanager
def seeded(seed: int, device: str = "cpu") -> Iterator[None]:
    """Seed torch for the block (weights, dropout), restoring the caller's RNG state after it."""
    cuda = [torch.cuda.current_device()] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


class TensorBatches:
    """Mini-batches sliced from tensors already on the device, never a per-row Dataset.

    Each epoch draws one seeded permutation on the device and gathers every tensor once; the
    batches are then contiguous slices (views). A short last batch is dropped while shuffling
    (batch norm cannot train on one row), kept otherwise.
    """

    def __init__(self, tensors: Sequence[torch.Tensor], batch_size: int, *, shuffle: bool = True, seed: int = 0):
        self.tensors = tuple(tensors)
        self.n = len(self.tensors[0])
        if any(len(t) != self.n for t in self.tensors):
            raise ValueError("all tensors need the same number of rows")
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.generator = torch.Generator(device=self.tensors[0].device).manual_seed(seed)

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (rest > 0 and not (self.shuffle and full))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        ts = self.tensors
        if self.shuffle:
            perm = torch.randperm(self.n, generator=self.generator, device=ts[0].device)
            ts = tuple(t[perm] for t in ts)
        for i in range(len(self)):
            yield tuple(t[i * self.batch_size:(i + 1) * self.batch_size] for t in ts)


@dataclass(frozen=True)
class TrainConfig:
    """How `train` trains."""

    epochs: int = 10
    #: peak learning rate of the one-cycle schedule
    lr: float = 3e-3
    #: AdamW's decoupled weight decay
    weight_decay: float = 0.01
    #: share of the steps spent warming up to the peak
    pct_start: float = 0.25
    #: stop after this many epochs without a better validation loss (None: run every epoch)
    patience: int | None = None
    device: str = "cpu"
    #: bf16 autocast on CUDA (ignored on the CPU)
    mixed_precision: bool = True
    desc: str = "train"


@dataclass(frozen=True)
class TrainResult:
    """What happened: mean losses per epoch and which epoch's weights the model holds."""

    train_loss: tuple[float, ...]
    #: empty without a validation provider
    valid_loss: tuple[float, ...]
    #: 0-based; the last epoch without a validation provider
    best_epoch: int
    steps: int


def _autocast(config_device: str, enabled: bool):
    on_cuda = str(config_device).startswith("cuda") and enabled
    return torch.autocast("cuda", dtype=torch.bfloat16) if on_cuda else contextlib.nullcontext()


def _adamw(model: torch.nn.Module, lr: float, weight_decay: float, device: str) -> torch.optim.Optimizer:
    # the fused kernel updates all parameters in one pass: 4x faster steps on the CPU for
    # embedding tables with a million weights (measured), and the same arithmetic
    fused = str(device).split(":")[0] in ("cpu", "cuda")
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=fused)


def evaluate(model: torch.nn.Module, loss_fn: Callable, batches: Iterable, config: TrainConfig) -> float:
    """Mean loss over a provider, in eval mode and without gradients."""
    model.eval()
    total, rows = 0.0, 0
    with torch.no_grad(), _autocast(config.device, config.mixed_precision):
        for *inputs, target in batches:
            total += float(loss_fn(model(*inputs).float(), target)) * len(target)
            rows += len(target)
    return total / max(rows, 1)



def epoch_reporter(callbacks: Sequence | None, epochs: int) -> Callable[[int, float, float | None], None] | None:
    """`train`'s on_epoch that gives kit's fit `callbacks` a FitProgress per epoch (None without any)."""
    if not callbacks:
        return None
    from kit.models._base import FitProgress, notify

    def on_epoch(epoch: int, train_loss: float, valid_loss: float | None) -> None:
        notify(callbacks, FitProgress(epoch + 1, "epoch", epochs, None if valid_loss is None else float(valid_loss),
                                      float(train_loss)))

    return on_epoch


def train(model: torch.nn.Module, loss_fn: Callable, batches: Iterable, config: TrainConfig,
          valid: Iterable | None = None, on_epoch: Callable[[int, float, float | None], None] | None = None) -> TrainResult:
    """Train `model` in place over `batches` for config.epochs with AdamW and one-cycle.

    With `valid`, the weights of the epoch with the lowest validation loss are restored at the end.
    `on_epoch(epoch, train_loss, valid_loss)` is called after each epoch, valid_loss None without
    `valid` (kit.tune reports to Optuna there, progress lines are said there; an exception it
    raises, such as optuna.TrialPruned, stops the training).
    """
    steps_per_epoch = len(batches)  # type: ignore[arg-type]
    total_steps = config.epochs * steps_per_epoch
    opt = _adamw(model, config.lr, config.weight_decay, config.device)
    if total_steps >= 4:
        # OneCycleLR divides by zero when the warm-up is a single step
        pct = min(max(config.pct_start, 2 / total_steps), 0.5)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, pct_start=pct, total_steps=total_steps)
    else:  # too few steps for a cycle: a constant rate
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    train_losses: list[float] = []
    valid_losses: list[float] = []
    best, best_epoch, best_state, steps = math.inf, -1, None, 0
    with progress.bar(total=config.epochs * steps_per_epoch, desc=config.desc, unit="batch") as bar:
        for epoch in range(config.epochs):
            model.train()
            # summed on the device: a .item() per step would wait for the GPU every batch
            total = torch.zeros((), device=config.device)
            rows = 0
            for *inputs, target in batches:
                with _autocast(config.device, config.mixed_precision):
                    loss = loss_fn(model(*inputs).float(), target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.detach() * len(target)
                rows += len(target)
                steps += 1
                bar.update(1)
            train_losses.append(float(total) / max(rows, 1))
            if valid is None:
                best_epoch = epoch
                if on_epoch is not None:  # a fit without validation rows (a refit) still says its epochs
                    on_epoch(epoch, train_losses[-1], None)
                continue
            valid_losses.append(evaluate(model, loss_fn, valid, config))
            bar.set_postfix(train=f"{train_losses[-1]:.4g}", valid=f"{valid_losses[-1]:.4g}")
            if on_epoch is not None:
                on_epoch(epoch, train_losses[-1], valid_losses[-1])
            if valid_losses[-1] < best:
                best, best_epoch = valid_losses[-1], epoch
                best_state = copy.deepcopy(model.state_dict())
            elif config.patience is not None and epoch - best_epoch >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(tuple(train_losses), tuple(valid_losses), best_epoch, steps)


@dataclass(frozen=True)
class LRFind:
    """A learning-rate sweep: smoothed loss per learning rate, and the rate to train at."""

    lrs: np.ndarray
    losses: np.ndarray
    #: a tenth of the rate with the lowest smoothed loss (fast.ai's lr_min)
    suggestion: float

    def plot(self, path: str | Path) -> Path:
        """Loss against learning rate (log scale) as a PNG, written atomically."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses)
        ax.axvline(self.suggestion, color="tab:red", linestyle="--", label=f"suggested {self.suggestion:.2g}")
        ax.set(xscale="log", xlabel="learning rate", ylabel="smoothed training loss", title="LR finder")
        ax.legend()
        try:
            return write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
        finally:
            plt.close(fig)


def lr_find(model: torch.nn.Module, loss_fn: Callable, batches: Iterable, *, start_lr: float = 1e-7,
            end_lr: float = 10.0, num_iter: int = 100, weight_decay: float = 0.01, device: str = "cpu",
            mixed_precision: bool = True) -> LRFind:
    """Raise the learning rate exponentially step by step; stop when the loss blows up.

    The model's weights are restored afterwards.
    """
    state = copy.deepcopy(model.state_dict())
    opt = _adamw(model, start_lr, weight_decay, device)
    mult = (end_lr / start_lr) ** (1 / max(1, num_iter - 1))
    lrs, losses, avg, best = [], [], 0.0, math.inf
    model.train()
    while len(lrs) < num_iter:
        for *inputs, target in batches:
            lr = start_lr * mult ** len(lrs)
            for g in opt.param_groups:
                g["lr"] = lr
            with _autocast(device, mixed_precision):
                loss = loss_fn(model(*inputs).float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            avg = 0.98 * avg + 0.02 * float(loss.detach())
            smooth = avg / (1 - 0.98 ** (len(lrs) + 1))
            lrs.append(lr)
            losses.append(smooth)
            best = min(best, smooth)
            if len(lrs) >= num_iter or not math.isfinite(smooth) or smooth > 4 * best:
                break
        if not math.isfinite(losses[-1]) or losses[-1] > 4 * best or len(lrs) >= num_iter:
            break
    model.load_state_dict(state)
    lr_arr, loss_arr = np.array(lrs), np.array(losses)
    finite = np.isfinite(loss_arr)
    suggestion = float(lr_arr[finite][np.argmin(loss_arr[finite])] / 10) if finite.any() else start_lr
    return LRFind(lr_arr, loss_arr, suggestion)
