"""Feature extractors of the few-shot experiments (paper Section 5.2, Appendix D.3).

- `ResNet12`: MetaOptNet's ResNet-12 (Lee et al., 2019): four residual blocks of three 3x3 convs
  (channels 64-160-320-640), leaky ReLU 0.1, 2x2 max-pool, DropBlock in the last two blocks;
  84x84 images give 640 x 5 x 5 = 16,000 features. Departure: MetaOptNet also applies plain
  dropout after the first two blocks; it is left out here.
- `Conv4`: four conv3x3-BN-ReLU-maxpool blocks, for CPU runs (32x32 images, 64 channels -> 256).

The DropBlock keep rate follows a schedule (linear from 1 to ``1 - drop_rate`` over training);
its progress is a *buffer* of the network, so it travels with ``state_dict`` and is visible
through DDP wrapping (DDP broadcasts buffers from rank 0), unlike a Python attribute set on the
wrapper.
"""

from __future__ import annotations

import torch
import torch.nn.functional as nnf
from torch import nn


class DropBlock(nn.Module):
    """DropBlock (Ghiasi et al., 2018): zero ``block_size``² squares, rescale to keep the mean.

    Args:
        block_size: side of the dropped squares.
    """

    def __init__(self, block_size: int) -> None:
        super().__init__()
        self.block_size = block_size

    def forward(self, x: torch.Tensor, drop_rate: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W), drop_rate a 0-d tensor -> (B, C, H, W)."""
        if not self.training or float(drop_rate) <= 0.0:
            return x
        _, _, h, w = x.shape
        bs = min(self.block_size, h, w)
        gamma = drop_rate * (h * w) / (bs**2) / ((h - bs + 1) * (w - bs + 1))
        size = (x.shape[0], x.shape[1], h - bs + 1, w - bs + 1)
        seeds = torch.bernoulli(torch.full(size, float(gamma), dtype=x.dtype, device=x.device))
        seeds = nnf.pad(seeds, (bs - 1, bs - 1, bs - 1, bs - 1))
        mask = 1.0 - nnf.max_pool2d(seeds, bs, stride=1)[..., :h, :w]
        return x * mask * (mask.numel() / mask.sum().clamp_min(1.0))


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, drop_block: bool, block_size: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(c, cout, 3, padding=1, bias=False) for c in (cin, cout, cout)
        )
        self.bns = nn.ModuleList(nn.BatchNorm2d(cout) for _ in range(3))
        self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.drop = DropBlock(block_size) if drop_block else None

    def forward(self, x: torch.Tensor, drop_rate: torch.Tensor) -> torch.Tensor:
        out = x
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            out = bn(conv(out))
            if i < 2:
                out = nnf.leaky_relu(out, 0.1)
        out = nnf.max_pool2d(nnf.leaky_relu(out + self.shortcut(x), 0.1), 2)
        if self.drop is not None:
            out = self.drop(out, drop_rate)
        return out


class ResNet12(nn.Module):
    """MetaOptNet's ResNet-12: images (B, 3, H, W) -> features (B, 640 * (H/16) * (W/16)).

    Args:
        drop_rate: final DropBlock drop rate (MetaOptNet: 0.1), reached at the end of training.
        block_size: DropBlock square side (MetaOptNet: 5).
        channels: widths of the four blocks.
    """

    def __init__(
        self,
        drop_rate: float = 0.1,
        block_size: int = 5,
        channels: tuple[int, int, int, int] = (64, 160, 320, 640),
    ) -> None:
        super().__init__()
        widths = (3, *channels)
        self.blocks = nn.ModuleList(
            _ResBlock(widths[i], widths[i + 1], drop_block=i >= 2, block_size=block_size)
            for i in range(4)
        )
        self.max_drop_rate = drop_rate
        # Training progress in [0, 1]; a buffer so that it is checkpointed and DDP-broadcast.
        self.register_buffer("progress", torch.zeros(()))

    def set_progress(self, fraction: float) -> None:
        """Set the DropBlock schedule's progress (keep rate 1 - drop_rate * fraction)."""
        self.progress.fill_(min(max(fraction, 0.0), 1.0))

    @property
    def keep_rate(self) -> float:
        """Current DropBlock keep rate."""
        return 1.0 - self.max_drop_rate * float(self.progress)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        drop_rate = self.progress * self.max_drop_rate
        for block in self.blocks:
            x = block(x, drop_rate)
        return x.flatten(1)


class Conv4(nn.Module):
    """Four conv3x3-BN-ReLU-maxpool2 blocks: images (B, 3, H, W) -> (B, width * (H/16) * (W/16)).

    Args:
        width: channels of every block (64 gives 256 features on 32x32 images).
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin in (3, width, width, width):
            layers += [
                nn.Conv2d(cin, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.net = nn.Sequential(*layers)

    def set_progress(self, fraction: float) -> None:
        """No schedule (kept for a uniform interface with `ResNet12`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


def backbone(name: str) -> nn.Module:
    """The backbone called ``name``: ``"resnet12"`` or ``"conv4"``."""
    if name == "resnet12":
        return ResNet12()
    if name == "conv4":
        return Conv4()
    raise ValueError(f"backbone: expected 'resnet12' or 'conv4', got {name!r}")
