"""The entity-embedding network as a torch module (imported lazily: it imports torch)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class TabularNet(nn.Module):
    """Embeddings + batch-normed continuous inputs -> linear-ReLU-batchnorm-dropout blocks -> output.

    forward(x_cat int64 (n, n_cat), x_cont float32 (n, n_cont)) -> (n, n_out); with `y_range`
    the output is squashed by a sigmoid into (low, high).
    """

    def __init__(self, cardinalities: Sequence[int], emb_sizes: Sequence[int], n_cont: int, n_out: int, *,
                 layers: Sequence[int], dropout: Sequence[float], emb_dropout: float,
                 y_range: tuple[float, float] | None = None):
        super().__init__()
        self.embeds = nn.ModuleList(nn.Embedding(c, d) for c, d in zip(cardinalities, emb_sizes))
        self.emb_drop = nn.Dropout(emb_dropout)
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont else None
        width = sum(emb_sizes) + n_cont
        blocks: list[nn.Module] = []
        for size, p in zip(layers, dropout):
            blocks += [nn.Linear(width, size), nn.ReLU(inplace=True), nn.BatchNorm1d(size), nn.Dropout(p)]
            width = size
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(width, n_out)
        self.y_range = None if y_range is None else (float(y_range[0]), float(y_range[1]))

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        parts = []
        if len(self.embeds):
            parts.append(self.emb_drop(torch.cat([e(x_cat[:, i]) for i, e in enumerate(self.embeds)], 1)))
        if self.bn_cont is not None:
            parts.append(self.bn_cont(x_cont))
        out = self.head(self.body(torch.cat(parts, 1) if len(parts) > 1 else parts[0]))
        if self.y_range is not None:
            lo, hi = self.y_range
            out = torch.sigmoid(out) * (hi - lo) + lo
        return out
