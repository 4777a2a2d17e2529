"""Structured matrices in the row-major flattening of ``(rows, k)`` variables."""

from __future__ import annotations

import torch
from torch import Tensor


def kron_identity(M: Tensor, k: int) -> Tensor:
    """``M ⊗ I_k`` for ``M (..., r, r)``: ``(..., rk, rk)``."""
    r = M.shape[-1]
    eye = torch.eye(k, dtype=M.dtype, device=M.device)
    return (M[..., :, None, :, None] * eye[:, None, :]).reshape(*M.shape[:-2], r * k, r * k)


def block_diagonal(blocks: Tensor) -> Tensor:
    """Block-diagonal matrix of ``blocks (..., r, k, k)``: ``(..., rk, rk)``."""
    r, k = blocks.shape[-3], blocks.shape[-1]
    eye = torch.eye(r, dtype=blocks.dtype, device=blocks.device)
    return (eye[:, None, :, None] * blocks.unsqueeze(-2)).reshape(*blocks.shape[:-3], r * k, r * k)
