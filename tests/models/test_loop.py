"""The one training loop: batches from resident tensors, seeding, one-cycle, early stopping."""

from __future__ import annotations

import pytest
import torch

from kit.models import loop


def test_tensor_batches_are_a_fresh_permutation_each_epoch():
    x = torch.arange(10)
    b = loop.TensorBatches([x, x * 10], batch_size=3, seed=0)
    assert len(b) == 3  # the short last batch is dropped while shuffling
    first = [xb for xb, _ in b]
    second = [xb for xb, _ in b]
    seen = torch.cat(first)
    assert len(seen) == 9 and len(set(seen.tolist())) == 9
    assert not torch.equal(seen, torch.cat(second))
    again = [xb for xb, _ in loop.TensorBatches([x, x * 10], batch_size=3, seed=0)]
    assert all(torch.equal(a, c) for a, c in zip(first, again))
    assert all(torch.equal(yb, xb * 10) for xb, yb in b)  # rows stay aligned across tensors


def test_tensor_batches_in_order_keep_every_row():
    x = torch.arange(10)
    b = loop.TensorBatches([x], batch_size=4, shuffle=False)
    assert len(b) == 3
    assert torch.equal(torch.cat([t for (t,) in b]), x)
    assert len(loop.TensorBatches([x], batch_size=32)) == 1  # fewer rows than a batch: one batch


def test_seeded_restores_the_callers_random_state():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with loop.seeded(7):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)
    with loop.seeded(7):
        assert torch.equal(torch.rand(3), inside)


def _problem(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.05 * torch.randn(n, 1, generator=g)
    return x, y


def test_train_fits_a_linear_model_with_one_cycle():
    x, y = _problem()
    with loop.seeded(0):
        model = torch.nn.Linear(4, 1)
    batches = loop.TensorBatches([x, y], batch_size=64, seed=0)
    cfg = loop.TrainConfig(epochs=8, lr=0.5, weight_decay=0.0)
    result = loop.train(model, torch.nn.functional.mse_loss, batches, cfg)
    assert result.steps == 8 * 8 and result.best_epoch == 7 and result.valid_loss == ()
    assert result.train_loss[-1] < 0.1 < 1.0 < result.train_loss[0]
    assert model.weight.detach().flatten().tolist() == pytest.approx([1.0, -2.0, 0.5, 0.0], abs=0.1)


def test_train_restores_the_best_validation_epoch():
    x, y = _problem()
    xv, yv = _problem(128, seed=1)
    with loop.seeded(0):
        model = torch.nn.Linear(4, 1)
    cfg = loop.TrainConfig(epochs=6, lr=0.5)
    valid = loop.TensorBatches([xv, yv], batch_size=1000, shuffle=False)
    result = loop.train(model, torch.nn.functional.mse_loss, loop.TensorBatches([x, y], 64), cfg, valid)
    assert result.best_epoch == min(range(6), key=lambda e: result.valid_loss[e])
    assert loop.evaluate(model, torch.nn.functional.mse_loss, valid, cfg) == pytest.approx(min(result.valid_loss))


def test_lr_find_suggests_a_rate_below_the_blow_up():
    x, y = _problem()
    with loop.seeded(0):
        model = torch.nn.Linear(4, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found = loop.lr_find(model, torch.nn.functional.mse_loss, loop.TensorBatches([x, y], 32),
                         end_lr=1e4, num_iter=300)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert len(found.lrs) < 300  # stopped when the loss blew up ...
    assert found.losses[-1] > 4 * found.losses.min()  # ... to four times its best
    assert found.suggestion == pytest.approx(found.lrs[found.losses.argmin()] / 10)
    assert found.losses.min() < found.losses[0] / 2
