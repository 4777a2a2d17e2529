r"""The scales of the regularization weights: where each layer's solution becomes zero.

A regularization weight is easiest to choose relative to the value at which the solution
vanishes: ``lam = ε · lambda_max`` with ``ε`` in ``[0, 1]`` spans every sparsity level. These
functions return those values per task (no gradient flows through them: they are scales, as
the paper's Appendix D.2.3 prescribes).

- :func:`group_lasso_lambda_max`: ``max_j ||F[:, j]^T Y||_2 / n``, the smallest ``lam`` of
  ``group_lasso`` with ``B = 0`` (what ``relative=True`` multiplies by).
- :func:`ridge_scale`: ``||F||_F^2 / n``, the relative scale of ``ridge`` (ridge never vanishes;
  this is the paper's scale).
- :func:`svm_lambda1_max`: the smallest ``lam1`` of ``group_lasso_svm_dual`` with ``W = 0``,
  which has no closed form; it is computed with a certified duality gap
  (``solvers/svm_lambda_max.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers import _validation as check
from sparselayers.functional.svm import _one_hot
from sparselayers.ops.threads import small_products
from sparselayers.problems.group_lasso import GroupLasso
from sparselayers.problems.ridge import Ridge
from sparselayers.solvers.svm_lambda_max import lam1_max


def group_lasso_lambda_max(features: Tensor, targets: Tensor) -> Tensor:
    """Smallest ``lam`` with an all-zero ``group_lasso`` solution, per task.

    Args:
        features: ``F (..., n, m)``.
        targets: ``y (..., n)`` or ``Y (..., n, k)``.

    Returns:
        ``(...)``: ``max_j ||F[:, j]^T Y||_2 / n`` (detached).
    """
    F, Y, _ = check.regression_inputs(features, targets)
    if check.nothing_to_solve(F):  # no feature: W = 0 for every lam >= 0
        return F.new_zeros(torch.broadcast_shapes(F.shape[:-2], Y.shape[:-2]))
    return GroupLasso.lambda_max(F.detach(), Y.detach())


def ridge_scale(features: Tensor) -> Tensor:
    """The relative scale of ``ridge``'s ``lam``, per task: ``||F||_F^2 / n`` (detached).

    Args:
        features: ``F (..., n, m)``.
    """
    F = check.check_features(features).detach()
    return Ridge.lambda_max(F, F[..., :1])


def svm_lambda1_max(
    features: Tensor,
    labels: Tensor,
    *,
    num_classes: int,
    tol: float = 1e-4,
    max_iter: int = 20_000,
) -> Tensor:
    r"""Smallest ``lam1`` with an all-zero ``group_lasso_svm_dual`` head, per task.

    ``W = 0`` is optimal iff the hinge has a subgradient at 0 whose columns all have norm
    ``<= lam1``; the smallest such ``lam1`` is

    .. math::
        \lambda_1^{\max} = \min_{\Lambda \in \mathcal{C}} \max_j \|(Y - \Lambda)^\top F_{:, j}\|_2,

    over the duals ``Λ`` whose rows lie on the simplex with zero mass on the label; it does not
    depend on ``lam2``. It is computed on working sets of columns by a batched barrier
    (interior-point) method in float64, with a primal–dual method for the tasks it leaves
    uncertified, to a relative duality gap ``<= tol``; the certified *upper* bound is
    returned: ``W = 0`` for every ``lam1``
    above it (and ``lam1 <= (1 - tol) ×`` the result never
    does); at the threshold itself the solution is degenerate, and a solver stopped at a small
    duality gap may leave columns of the size of that gap.

    Scale: ``λ1_max`` is linear in the features. With each sample's feature vector
    L2-normalized (as the meta-learning heads do), ``|F_ij| <= 1`` and the uniform dual point
    gives ``λ1_max <= max_j ||(Y - Λ_0)^T F_j|| <= n √(k / (k - 1))`` whatever the backbone's
    width, and ``ε = lam1 / λ1_max`` is comparable across backbones, tasks and training steps.

    Args:
        features: ``F (..., n, m)``.
        labels: ``(..., n)`` integer labels in ``[0, num_classes)``.
        num_classes: ``k >= 2``.
        tol: relative duality gap of the bound.
        max_iter: iteration budget (Newton steps and primal–dual iterations together);
            reaching it warns with the gap and returns the (still certified, looser) upper
            bound.

    Returns:
        ``(...)`` (detached). The iteration count depends on the data, so this is not a function
        to call under ``torch.func`` transforms; a task's value does not depend on the other
        tasks of its batch.
    """
    F = check.check_features(features).detach()
    if not (0 < tol < 1):
        raise ValueError(f"tol must lie in (0, 1), got {tol!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter!r}")
    check.check_values(features=F)
    Y = _one_hot(labels, F, num_classes)
    if (Y.sum(-1) != 1).any():
        raise ValueError("labels must be integers in [0, num_classes)")
    F, Y = check.broadcast_tasks(F, Y, "labels", labels.shape)
    if check.nothing_to_solve(F):  # no feature: W = 0 for every lam1 >= 0
        return F.new_zeros(F.shape[:-2])
    with small_products(F):  # ops/threads.py
        return lam1_max(F, Y, tol=tol, max_iter=max_iter).upper


__all__ = ["group_lasso_lambda_max", "ridge_scale", "svm_lambda1_max"]
