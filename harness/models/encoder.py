"""The convolutional encoder f_θ of the disentanglement experiments (paper Appendix D.2.3).

The 4-layer network of the disentanglement literature (Locatello et al., 2019): convolutions with
32, 32, 64, 64 channels, kernels 4×4, 4×4, 2×2, 2×2, stride 2, ReLU; Linear(·, 256), ReLU;
Linear(256, z_dim); then batch normalization without learned scale or shift whose statistics are
computed per task (over the n samples of each task), running statistics used at evaluation.
The 4×4 convolutions use padding 1 so that a 64×64 image maps to 4×4×64 (32×32 to 2×2×64).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TaskBatchNorm(nn.Module):
    """Batch norm without affine parameters over the samples of each task.

    Training: ``x (..., T, n, m)`` is standardized with the mean and (biased) variance over its
    n samples, per task; the running statistics move towards the task-averaged batch statistics
    (momentum 0.1, unbiased variance, as `nn.BatchNorm1d`). Evaluation: ``x (..., m)`` of any
    leading shape is standardized with the running statistics.
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)
        if x.ndim < 2 or x.shape[-2] < 2:
            raise ValueError(f"x: training needs (..., n >= 2, m) per task, got {tuple(x.shape)}")
        mean = x.mean(-2, keepdim=True)
        var = x.var(-2, unbiased=False, keepdim=True)
        with torch.no_grad():
            n = x.shape[-2]
            batch_mean = mean.reshape(-1, x.shape[-1]).mean(0)
            batch_var = var.reshape(-1, x.shape[-1]).mean(0) * n / (n - 1)
            self.running_mean.lerp_(batch_mean, self.momentum)
            self.running_var.lerp_(batch_var, self.momentum)
        return (x - mean) / torch.sqrt(var + self.eps)


class ConvEncoder(nn.Module):
    """f_θ: images ``(..., 3, H, W)`` → features ``(..., z_dim)``, per-task batch-normalized.

    In training mode the input must be ``(T, n, 3, H, W)`` (tasks × samples), so that the final
    normalization is per task; in evaluation mode any leading shape works.

    Args:
        image_size: H = W (a multiple of 16).
        z_dim: m, the number of learned features (6 in the paper).
    """

    def __init__(self, image_size: int = 64, z_dim: int = 6) -> None:
        super().__init__()
        if image_size < 16 or image_size % 16:
            raise ValueError(f"image_size must be a multiple of 16, got {image_size}")
        self.image_size, self.z_dim = image_size, z_dim
        self.conv = nn.Sequential(
            nn.Conv2d(3, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 2, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 2, stride=2),
            nn.ReLU(),
        )
        side = image_size // 16
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * side * side, 256),
            nn.ReLU(),
            nn.Linear(256, z_dim),
        )
        self.norm = TaskBatchNorm(z_dim)

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[-3:] != (3, self.image_size, self.image_size):
            raise ValueError(
                f"images: expected (..., 3, {self.image_size}, {self.image_size}), "
                f"got {tuple(images.shape)}"
            )
        lead = images.shape[:-3]
        features = self.head(self.conv(images.reshape(-1, *images.shape[-3:])))
        return self.norm(features.reshape(*lead, self.z_dim))
