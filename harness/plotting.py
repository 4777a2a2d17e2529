"""Figure helpers shared by the experiments (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def save_figure(fig: Figure, path: Path) -> Path:
    """Save ``fig`` to ``path`` (PNG at 150 dpi, tight box), close it and return the path."""
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return path


def image_grid(images: torch.Tensor, pad: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images (rows, cols, 3, H, W) in [0, 1] into one (H', W', 3) array with padding."""
    if images.ndim != 5 or images.shape[2] != 3:
        raise ValueError(f"images: expected shape (rows, cols, 3, H, W), got {tuple(images.shape)}")
    rows, cols, _, h, w = images.shape
    padded = torch.nn.functional.pad(images.float().cpu(), (pad, pad, pad, pad), value=pad_value)
    tiled = padded.permute(0, 3, 1, 4, 2).reshape(rows * (h + 2 * pad), cols * (w + 2 * pad), 3)
    return tiled.clamp(0, 1).numpy()
