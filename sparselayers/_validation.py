"""Argument checks shared by the functional forms. Every error names the offending argument."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def check_features(features: Tensor, name: str = "features") -> Tensor:
    if not isinstance(features, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(features).__name__}")
    if not features.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {features.dtype}")
    if features.dtype not in (torch.float32, torch.float64):
        raise ValueError(
            f"{name} has dtype {features.dtype}; the solvers work in float32 or float64 (the "
            "factorizations they use have no half-precision kernels): convert with "
            f"{name}.float() and the result back"
        )
    if features.ndim < 2:
        raise ValueError(f"{name} must have shape (..., n, m), got {tuple(features.shape)}")
    if features.shape[-2] == 0:
        # The objectives average (or sum) over the samples and certify by a gap relative to
        # P(0), which is 0 without samples: there is no problem to solve.
        raise ValueError(
            f"{name} must have at least one sample (n >= 1), got shape {tuple(features.shape)}"
        )
    return features


def check_same_kind(reference: Tensor, other: Tensor, name: str, reference_name: str) -> None:
    if other.dtype != reference.dtype:
        raise ValueError(
            f"{name} has dtype {other.dtype} but {reference_name} has {reference.dtype}; "
            "convert one of them explicitly (nothing is upcast silently)"
        )
    if other.device != reference.device:
        raise ValueError(
            f"{name} is on {other.device} but {reference_name} is on {reference.device}"
        )


def regression_inputs(features: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, bool]:
    """Validate and broadcast ``F (..., n, m)`` and ``Y (..., n)`` or ``(..., n, k)``.

    Returns ``F``, ``Y`` as ``(..., n, k)`` with common leading dims, and whether ``Y`` was a
    vector per task (so the weights are returned as ``(..., m)``).
    """
    F = check_features(features)
    if not isinstance(targets, Tensor):
        raise ValueError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    check_same_kind(F, targets, "targets", "features")
    if targets.ndim == F.ndim - 1:
        vector, Y = True, targets.unsqueeze(-1)
    elif targets.ndim == F.ndim:
        vector, Y = False, targets
    else:
        raise ValueError(
            f"targets must have shape (..., n) or (..., n, k) with the same leading dims as "
            f"features {tuple(F.shape)}, got {tuple(targets.shape)}"
        )
    if Y.shape[-2] != F.shape[-2]:
        raise ValueError(
            f"targets has {Y.shape[-2]} samples but features has {F.shape[-2]} "
            f"(shapes {tuple(targets.shape)} and {tuple(F.shape)})"
        )
    F, Y = broadcast_tasks(F, Y, "targets", targets.shape)
    return F, Y, vector


def broadcast_tasks(F: Tensor, Y: Tensor, name: str, given: torch.Size) -> tuple[Tensor, Tensor]:
    """``F (..., n, m)`` and ``Y (..., n, k)`` expanded to their common task dims; ``name``
    and ``given`` (the argument's own shape) go into the error when they do not broadcast."""
    if F.shape[:-2] == Y.shape[:-2]:
        return F, Y
    try:
        batch = torch.broadcast_shapes(F.shape[:-2], Y.shape[:-2])
    except RuntimeError as err:
        raise ValueError(
            f"{name} of shape {tuple(given)} do not broadcast with the leading (task) dims of "
            f"features {tuple(F.shape)}"
        ) from err
    return F.expand(*batch, *F.shape[-2:]), Y.expand(*batch, *Y.shape[-2:])


def regularization(lam: float | Tensor, batch: torch.Size, like: Tensor, name: str) -> Tensor:
    """Turn ``lam`` (a float, or a tensor broadcastable to the task dims) into a ``(...)``
    tensor."""
    if isinstance(lam, Tensor):
        if not lam.is_floating_point():
            lam = lam.to(like.dtype)
        check_same_kind(like, lam, name, "features")
        try:
            return lam.expand(batch)
        except RuntimeError as err:
            raise ValueError(
                f"{name} of shape {tuple(lam.shape)} does not broadcast to the task dims "
                f"{tuple(batch)}"
            ) from err
    if isinstance(lam, bool) or not isinstance(lam, (int, float)):
        raise ValueError(f"{name} must be a float or a tensor, got {type(lam).__name__}")
    if not math.isfinite(lam) or lam < 0:
        raise ValueError(f"{name} must be finite and non-negative, got {lam!r}")
    return torch.full(batch, float(lam), dtype=like.dtype, device=like.device)


def check_values(**tensors: Tensor) -> None:
    """Value checks (NaN/Inf; negative regularization for names starting with ``lam``).

    Called by the solvers on concrete tensors, where data-dependent checks are possible (the
    functional forms may run under ``torch.func.vmap``, where they are not).
    """
    # One read on the host when all is well: a NaN or Inf anywhere makes the sum of the sums
    # non-finite (so does overflow: then the exact checks below), and a sum costs a fraction
    # of an elementwise check on large features.
    values = list(tensors.values())
    fine = torch.isfinite(sum(value.sum() for value in values))
    for name, value in tensors.items():
        if name.startswith("lam"):
            fine = fine & (value >= 0).all()
    if bool(fine):
        return
    for name, value in tensors.items():
        finite = bool(torch.isfinite(value.sum())) or bool(torch.isfinite(value).all())
        if not finite:
            raise ValueError(f"{name} contains NaN or Inf")
        if name.startswith("lam") and bool((value < 0).any()):
            raise ValueError(f"{name} must be non-negative, got min {float(value.min()):g}")


def nothing_to_solve(F: Tensor) -> bool:
    """No task, or no feature: the solution is the empty (or zero-size) ``W``, certified."""
    return F.shape[-1] == 0 or math.prod(F.shape[:-2]) == 0
