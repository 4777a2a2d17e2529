"""Functional group-Lasso layer (the Lasso for a single output)."""

from __future__ import annotations

from torch import Tensor

from sparselayers.backward.modes import Backward
from sparselayers.functional._regression import solve_regression
from sparselayers.solution import RegressionSolution
from sparselayers.solvers.options import SolverOptions


def group_lasso(
    features: Tensor,
    targets: Tensor,
    lam: float | Tensor,
    *,
    relative: bool = False,
    backward: Backward = "implicit",
    tol: float = 1e-6,
    max_iter: int = 5000,
    warm_start: Tensor | None = None,
) -> RegressionSolution:
    r"""Solve a batch of group-Lasso regressions, differentiably.

    Per task (leading dims ``...`` of the inputs are tasks):

    .. math::
        W^\star = \arg\min_W \frac{1}{2n}\|Y - F W^\top\|_F^2 + \lambda \sum_j \|W_{:, j}\|_2

    For ``k = 1`` this is the Lasso, equal to scikit-learn's
    ``Lasso(alpha=lam, fit_intercept=False)``; for ``k > 1`` to ``MultiTaskLasso``. It is the
    inner problem of the paper's Problem (6).

    Args:
        features: ``F (..., n, m)``.
        targets: ``Y (..., n)`` or ``(..., n, k)``; same dtype and device as ``features``.
        lam: ``λ >= 0``, a float or a tensor broadcastable to ``(...)`` (one per task); a tensor
            that requires grad receives a gradient (hyperparameter learning).
        relative: use ``λ = lam * λ_max`` with ``λ_max = max_j ||F[:, j]^T Y|| / n`` per task,
            detached from the graph (paper, Appendix D.2.3); ``lam >= 1`` then gives ``W = 0``.
        backward: ``"implicit"`` (implicit differentiation on the support), ``"unroll"``
            (autograd through the iterations) or ``"cvxpy"`` (float64 CPU reference).
        tol: stop each task when its relative duality gap is ``<= tol``.
            A ``tol`` below what the dtype can certify (``4 eps``: 4.8e-7 in float32) is
            raised to it, with a warning.
        max_iter: iteration budget; reaching it warns with the gap reached. For vector targets
            (the Lasso) it bounds ``n_iter``: active-set iterations, path steps and proximal-
            gradient iterations together (``solvers/lasso.py``); for groups it bounds a solve on
            all features (working sets, tried first, have their own small budget; ``n_iter``
            counts both, see ``solvers/working_set.py``). ``backward="cvxpy"`` runs SCS on its
            own budget and warns likewise when its answer misses ``tol``.
        warm_start: initial weights, shaped like the output.

    Returns:
        :class:`~sparselayers.RegressionSolution` with ``weights`` ``(..., m)`` for vector
        targets or ``(..., k, m)``, exact zeros off the support, and ``gap``, ``n_iter``,
        ``converged`` per task.

    Example:
        >>> import torch, sparselayers as sl
        >>> F = torch.randn(8, 50, 6, dtype=torch.float64)
        >>> y = F[..., 0] - 2 * F[..., 3]
        >>> sol = sl.functional.group_lasso(F, y, 0.1, relative=True)
        >>> sol.weights.shape, bool(sol.converged.all())
        (torch.Size([8, 6]), True)
    """
    return solve_regression(
        "group_lasso",
        features,
        targets,
        lam,
        relative=relative,
        backward=backward,
        options=SolverOptions(tol=tol, max_iter=max_iter),
        warm_start=warm_start,
    )
