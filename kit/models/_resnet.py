"""The Planet CNN as a torch module (imported lazily: it imports torch).

A ResNet in the layout and parameter names of torchvision's (conv1, bn1, layer1..layerN of
BasicBlocks with conv1/bn1/conv2/bn2/downsample, fc), so a ResNet-18 or -34 state dict saved
from torchvision loads into `ResNet(width=64, blocks=(2, 2, 2, 2) or (3, 4, 6, 3),
stem="imagenet")` as starting weights; torchvision itself is not needed (there is no CPU
build of it here).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

STEMS = ("small", "imagenet")


class BasicBlock(nn.Module):
    """Two 3x3 conv-batchnorm layers and a shortcut (1x1 conv-batchnorm where the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        # the block starts as the identity: training is stabler (Goyal et al. 2017)
        nn.init.zeros_(self.bn2.weight)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """uint8 images (n, H, W, 3) -> (n, n_out) logits.

    The stem is conv1-bn1-ReLU: "small" is a 3x3 stride-2 conv (for 32-128 px inputs),
    "imagenet" torchvision's 7x7 stride-2 conv and 3x3 max-pool. Then one stage per entry of
    `blocks` (that many BasicBlocks, `width` channels doubling per stage, each stage after the
    first halving the resolution), global average pooling, dropout and the linear head `fc`.
    Inputs are standardised inside with per-channel `mean` and `std` (0-255 scale), kept as
    non-persistent buffers so the state dict holds only the network's weights.
    """

    def __init__(self, n_out: int, *, width: int = 32, blocks: Sequence[int] = (1, 1, 1, 1), stem: str = "small",
                 dropout: float = 0.0, mean: Sequence[float] = (127.5,) * 3, std: Sequence[float] = (64.0,) * 3):
        super().__init__()
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(3, width, 3, 2, 1, bias=False)
            self.maxpool = nn.Identity()
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        c = width
        for i, n in enumerate(blocks):
            c_out = width * 2 ** i
            stage = [BasicBlock(c if j == 0 else c_out, c_out, 2 if (i and j == 0) else 1) for j in range(n)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            c = c_out
        self.n_stages = len(blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(c, n_out)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def set_normalisation(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.std.copy_(torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NHWC uint8 -> NCHW float: the permuted view is channels-last in memory, which the
        # convolutions keep (faster than NCHW on CPU and on tensor cores)
        x = (x.permute(0, 3, 1, 2).float() - self.mean) / self.std
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(self.n_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(self.drop(torch.flatten(self.avgpool(x), 1)))


# -- the dihedral group D4: the 8 flips and rotations of a square image --------------------------

def d4(x: torch.Tensor, k: int) -> torch.Tensor:
    """Transform `k` (0..7) of D4 applied to images (n, H, W, C): k % 4 quarter turns, then a
    left-right flip for k >= 4. Transform 0 is the identity."""
    out = torch.rot90(x, k % 4, dims=(1, 2)) if k % 4 else x
    return torch.flip(out, dims=(2,)) if k >= 4 else out


def d4_batch(x: torch.Tensor, offset: int) -> torch.Tensor:
    """Each of 8 contiguous slices of the batch gets its own D4 transform ((offset + slice) % 8).

    Batches come from a fresh random permutation every epoch, so an image's slice, and hence
    its transform, is random each epoch; eight tensor ops per batch and no per-image Python.
    """
    n = len(x)
    bounds = [n * i // 8 for i in range(9)]
    parts = [d4(x[a:b], (offset + i) % 8) for i, (a, b) in enumerate(zip(bounds, bounds[1:])) if b > a]
    return torch.cat(parts)
