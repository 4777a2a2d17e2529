"""``nn.Module`` adapters over the functional forms.

A ``lam`` given as a tensor is registered as a buffer, or kept as a parameter when it is an
``nn.Parameter`` (to learn it); the solver settings are validated once, at construction.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sparselayers import _validation as check
from sparselayers.backward.modes import Backward, parse_backward
from sparselayers.functional.group_lasso import group_lasso
from sparselayers.functional.l21 import l21_norm
from sparselayers.functional.ridge import ridge
from sparselayers.functional.svm import group_lasso_svm_dual
from sparselayers.solution import RegressionSolution, SVMSolution
from sparselayers.solvers.options import SolverOptions


def _store_lam(module: nn.Module, name: str, lam: float | Tensor) -> None:
    if isinstance(lam, nn.Parameter):
        setattr(module, name, lam)
    elif isinstance(lam, Tensor):
        module.register_buffer(name, lam)
    else:
        check.regularization(lam, torch.Size([]), torch.empty(0), name)
        setattr(module, name, float(lam))


class _RegressionLayer(nn.Module):
    def __init__(
        self,
        lam: float | Tensor,
        *,
        relative: bool,
        backward: Backward,
        tol: float,
        max_iter: int,
    ) -> None:
        super().__init__()
        _store_lam(self, "lam", lam)
        self.relative = bool(relative)
        parse_backward(backward)  # validates
        self.backward = backward
        SolverOptions(tol=tol, max_iter=max_iter)  # validates
        self.tol = tol
        self.max_iter = max_iter

    def forward(self, features: Tensor, targets: Tensor) -> Tensor:
        """Solution weights: ``F (..., n, m)``, ``Y (..., n)`` → ``W (..., m)``;
        ``Y (..., n, k)`` → ``W (..., k, m)``."""
        return self.solve(features, targets).weights

    def solve(self, features: Tensor, targets: Tensor) -> RegressionSolution:
        """Like ``forward``, returning the whole solution (gap, n_iter, converged)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        lam = self.lam if isinstance(self.lam, float) else f"tensor{tuple(self.lam.shape)}"
        return f"lam={lam}, relative={self.relative}, backward={self.backward!r}, tol={self.tol}"


class GroupLassoRegression(_RegressionLayer):
    r"""Group-Lasso regression layer: per task
    ``argmin_W 1/(2n)||Y - F W^T||^2 + lam Σ_j ||W[:, j]||`` (see
    :func:`sparselayers.functional.group_lasso`).

    Args:
        lam: ``λ >= 0``: a float, or a tensor broadcastable to the task dims (a buffer; an
            ``nn.Parameter`` is learned).
        relative: use ``λ = lam · λ_max`` per task, ``λ_max = max_j ||F[:, j]^T Y|| / n``
            (detached).
        backward: ``"implicit"`` (implicit differentiation on the support), ``"unroll"``
            (autograd through the iterations) or ``"cvxpy"`` (float64 CPU reference).
        tol: stop each task at this relative duality gap (raised, with a warning, to what the
            dtype can certify: 4.8e-7 in float32).
        max_iter: iteration budget; reaching it warns with the gap reached.

    ``forward(features (..., n, m), targets (..., n) or (..., n, k))`` returns the weights
    ``(..., m)`` or ``(..., k, m)``; ``solve`` returns the whole solution (and takes a warm
    start).

    Example:
        >>> layer = GroupLassoRegression(lam=0.1, relative=True)
        >>> W = layer(torch.randn(4, 30, 5), torch.randn(4, 30))
        >>> W.shape
        torch.Size([4, 5])
    """

    def __init__(
        self,
        lam: float | Tensor,
        *,
        relative: bool = False,
        backward: Backward = "implicit",
        tol: float = 1e-6,
        max_iter: int = 5000,
    ) -> None:
        super().__init__(lam, relative=relative, backward=backward, tol=tol, max_iter=max_iter)

    def solve(
        self, features: Tensor, targets: Tensor, warm_start: Tensor | None = None
    ) -> RegressionSolution:
        """The whole solution (weights, gap, ``n_iter``, converged); ``warm_start`` is shaped
        like the weights."""
        return group_lasso(
            features,
            targets,
            self.lam,
            relative=self.relative,
            backward=self.backward,
            tol=self.tol,
            max_iter=self.max_iter,
            warm_start=warm_start,
        )


class RidgeRegression(_RegressionLayer):
    r"""Ridge regression layer: per task ``argmin_W 1/(2n)||Y - F W^T||^2 + (lam/2)||W||^2``
    (see :func:`sparselayers.functional.ridge`).

    Args:
        lam: ``λ >= 0``: a float, or a tensor broadcastable to the task dims (a buffer; an
            ``nn.Parameter`` is learned).
        relative: use ``λ = lam · ||F||_F^2 / n`` per task (detached).
        backward: ``"implicit"`` (implicit differentiation on the support), ``"unroll"``
            (autograd through the iterations) or ``"cvxpy"`` (float64 CPU reference).
        tol: stop each task at this relative duality gap (raised, with a warning, to what the
            dtype can certify: 4.8e-7 in float32).
        max_iter: iteration budget; reaching it warns with the gap reached.

    ``forward(features, targets)`` returns the weights, shaped as for
    :class:`GroupLassoRegression`.
    """

    def __init__(
        self,
        lam: float | Tensor,
        *,
        relative: bool = False,
        backward: Backward = "implicit",
        tol: float = 1e-6,
        max_iter: int = 5000,
    ) -> None:
        super().__init__(lam, relative=relative, backward=backward, tol=tol, max_iter=max_iter)

    def solve(self, features: Tensor, targets: Tensor) -> RegressionSolution:
        """The whole solution (weights, gap, ``n_iter``, converged)."""
        return ridge(
            features,
            targets,
            self.lam,
            relative=self.relative,
            backward=self.backward,
            tol=self.tol,
            max_iter=self.max_iter,
        )


class L21OuterPenalty(nn.Module):
    r"""``lam · Σ_j ||W[:, j]||_2`` per task — the outer regularizer of the paper's
    outer-Lasso (Problem 62); the gradient on a zero column is 0, not NaN.

    Args:
        lam: weight of the penalty (float, or tensor broadcastable to the task dims).
        group_dim: dim of ``W`` holding the outputs of a feature group (``None`` for ``(..., m)``
            weights, where the penalty is the L1 norm).
    """

    def __init__(self, lam: float | Tensor, group_dim: int | None = -2) -> None:
        super().__init__()
        if isinstance(lam, Tensor):
            if not lam.is_floating_point():
                raise ValueError(f"lam must be a floating-point tensor, got dtype {lam.dtype}")
            check.check_values(lam=lam.detach())  # finite and non-negative
        _store_lam(self, "lam", lam)
        if group_dim is not None and (
            isinstance(group_dim, bool) or not isinstance(group_dim, int)
        ):
            raise ValueError(f"group_dim must be an int or None, got {group_dim!r}")
        self.group_dim = group_dim

    def forward(self, weights: Tensor) -> Tensor:
        """``W (..., k, m)`` (or ``(..., m)`` with ``group_dim=None``) → ``(...)``.

        A tensor ``lam`` must broadcast to the task dims of ``weights`` (it is checked to be
        finite and non-negative when the layer is built; a learned ``lam`` is not clamped).
        """
        norm = l21_norm(weights, self.group_dim)
        lam = self.lam
        if isinstance(lam, Tensor):
            check.check_same_kind(norm, lam, "lam", "weights")
            try:
                lam = lam.expand(norm.shape)
            except RuntimeError as err:
                raise ValueError(
                    f"lam of shape {tuple(lam.shape)} does not broadcast to the task dims "
                    f"{tuple(norm.shape)} of weights {tuple(weights.shape)}"
                ) from err
        return lam * norm


class GroupLassoMulticlassSVMDual(nn.Module):
    r"""Group-sparse Crammer–Singer SVM head (paper, Problem 10), solved in the dual.

    ``forward(features (..., n, m), labels (..., n))`` returns the primal weights
    ``W (..., k, m)``, so that ``logits = query_features @ W.mT``; ``solve`` returns the whole
    :class:`~sparselayers.SVMSolution` (dual, gap, column sparsity). See
    :func:`sparselayers.functional.group_lasso_svm_dual` (``dual_ridge=1.0`` with ``lam1 = 0``
    is MetaOptNet's head exactly).

    Args:
        lam1: group-lasso weight ``>= 0`` (float, or tensor broadcastable to the task dims);
            ``lam1 = 0`` as a float is the Crammer–Singer SVM, solved in kernel form.
        lam2: ridge weight ``> 0`` (``1 / C``).
        num_classes: ``k >= 2``; labels are integers in ``[0, k)``.
        backward: ``"implicit"`` (implicit differentiation on the support), ``"unroll"``
            (autograd through the iterations) or ``"cvxpy"`` (float64 CPU reference).
        tol: stop each task at this relative duality gap (raised, with a warning, to what the
            dtype can certify: 4.8e-7 in float32).
        max_iter: iteration budget; reaching it warns with the gap reached.
        dual_ridge: ``c >= 0`` added to the dual's kernel (``K + c I``; MetaOptNet: 1.0), with
            ``lam1 = 0`` only.

    Example:
        >>> head = GroupLassoMulticlassSVMDual(lam1=0.1, lam2=1.0, num_classes=3)
        >>> W = head(torch.randn(2, 9, 16), torch.arange(3).repeat(3).expand(2, 9))
        >>> W.shape
        torch.Size([2, 3, 16])
    """

    def __init__(
        self,
        lam1: float | Tensor,
        lam2: float | Tensor,
        num_classes: int,
        *,
        backward: Backward = "implicit",
        tol: float = 1e-6,
        max_iter: int = 5_000,
        dual_ridge: float = 0.0,
    ) -> None:
        super().__init__()
        _store_lam(self, "lam1", lam1)
        _store_lam(self, "lam2", lam2)
        if isinstance(self.lam2, float) and self.lam2 <= 0:
            raise ValueError(f"lam2 must be positive, got {lam2!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        parse_backward(backward)  # validates
        self.backward = backward
        SolverOptions(tol=tol, max_iter=max_iter)  # validates
        self.tol = tol
        self.max_iter = max_iter
        self.dual_ridge = dual_ridge

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        """The head's weights ``W (..., k, m)`` for support ``features (..., n, m)`` and
        ``labels (..., n)``."""
        return self.solve(features, labels).weights

    def solve(
        self, features: Tensor, labels: Tensor, warm_start: Tensor | None = None
    ) -> SVMSolution:
        """The whole solution (weights, dual ``Λ``, gap, ``n_iter``, converged); ``warm_start``
        is a dual ``Λ (..., n, k)``."""
        return group_lasso_svm_dual(
            features,
            labels,
            self.lam1,
            self.lam2,
            num_classes=self.num_classes,
            backward=self.backward,
            tol=self.tol,
            max_iter=self.max_iter,
            warm_start=warm_start,
            dual_ridge=self.dual_ridge,
        )

    def extra_repr(self) -> str:
        ridge = f", dual_ridge={self.dual_ridge}" if self.dual_ridge else ""
        return (
            f"lam1={self.lam1}, lam2={self.lam2}, num_classes={self.num_classes}, "
            f"backward={self.backward!r}, tol={self.tol}{ridge}"
        )
