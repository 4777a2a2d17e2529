"""Primal-dual active-set iterations for the Lasso in Gram form, batched over tasks.

For ``min_b ½ bᵀ G b - cᵀ b + lam ||b||_1`` (``G = FᵀF/n``, ``c = FᵀY/n``) the optimality
conditions are ``d = c - G b`` with ``d_j = lam sign(b_j)`` where ``b_j != 0`` and
``|d_j| <= lam`` elsewhere. One iteration guesses the active set and the signs from the
coordinate-wise fixed point ``z = b + d / diag(G)``,

    A = {j : |z_j| > lam / G_jj},    s = sign(z_A),

and solves the optimality conditions exactly for that guess: ``G_AA b_A = c_A - lam s``,
``b = 0`` off ``A``. When the conditions hold the guess reproduces itself, and conversely a
task whose active set and signs are unchanged by an iteration is solved (to the precision of
the solve). This is Newton's method on the nonsmooth fixed-point equation (a semismooth Newton
method, Hintermüller, Ito & Kunisch 2002): near the solution it takes one step, from a cold
start a handful on well-posed problems, against tens to hundreds of proximal-gradient
iterations that cost about as much each on the small problems it is used for
(``solvers/working_set.py``).

Safeguard: letting every violator in at once can overshoot to a guess with as many features
as samples, whose system is singular or so ill-conditioned that the signs then flip back and
forth (seen on the benchmark problems with 256 features and 50 samples). Entering features
are therefore limited to half the room left below ``max_active``, the most violating first;
at least one always enters, so a reproduced guess still certifies the conditions. And a task
whose guess returns to an earlier one (a cycle, seen on well-conditioned problems too) changes
only its largest violation for that iteration. Tasks that exhaust the budget, or meet
a singular system, are reported unsolved and the caller falls back to proximal gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor


def lasso_active_set(
    G: Tensor, c: Tensor, lam: Tensor, b: Tensor, max_iter: int, max_active: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Primal-dual active-set iterations from ``b``.

    Args:
        G: ``(T, p, p)`` Gram matrices (symmetric positive semidefinite).
        c: ``(T, p)`` correlations ``FᵀY / n``.
        lam: ``(T,)`` positive penalties.
        b: ``(T, p)`` starting point.
        max_iter: iteration budget.
        max_active: bound on the size of a guess, the rank of ``G`` (the number of samples).

    Returns:
        ``b (T, p)``; ``solved (T,)``, where a guess reproduced itself (elsewhere ``b`` is the
        starting point); ``n_iter (T,)`` int64, the systems solved.
    """
    T, p = c.shape
    diag = G.diagonal(dim1=-2, dim2=-1).clamp_min(torch.finfo(G.dtype).tiny)
    threshold = lam[:, None] / diag
    eye = torch.eye(p, dtype=G.dtype, device=G.device)
    solved = torch.zeros(T, dtype=torch.bool, device=G.device)
    n_iter = torch.full((T,), max_iter, dtype=torch.int64, device=G.device)
    out = b
    # The iterations go on with the tasks still iterating only; ``run`` indexes them.
    run = torch.arange(T, device=G.device)
    previous = torch.sign(b)
    fingerprints = _Fingerprints(p, G.device)  # of earlier guesses, to detect cycles
    for it in range(max_iter + 1):
        z = b + (c - (G @ b.unsqueeze(-1)).squeeze(-1)) / diag
        violation = z.abs() / threshold
        signs = torch.sign(z) * _limit_entering(violation, previous != 0, max_active)
        # A reproduced guess is solved; at the start only the empty guess at b = 0 is (other
        # starting points need not solve their own guess's system).
        same = (signs == previous).all(-1)
        if it == 0:
            same = same & (signs == 0).all(-1)
        if bool(same.any()):
            done = run[same]
            solved[done] = True
            n_iter[done] = it
            out = out.index_copy(0, done, b[same])
            going = ~same
            if not bool(going.any()):
                break
            keep = going.nonzero().squeeze(-1)
            run, G, c, lam, b = _rows(keep, run, G, c, lam, b)
            diag, threshold, violation, signs, previous = _rows(
                keep, diag, threshold, violation, signs, previous
            )
            fingerprints.keep(going)
        if it == max_iter:
            break
        cycling = fingerprints.seen(signs)
        if cycling is not None and bool(cycling.any()):
            size = torch.where(previous != 0, b.abs() / threshold, violation - 1)
            signs = torch.where(cycling[:, None], _one_change(previous, signs, size), signs)
        mask = signs.abs()
        # The guess's system at full size, the identity off the guess (measured faster than
        # gathering the guess's block first, for p <= n = 50), by Cholesky (faster than LU,
        # and a guess whose block is not positive definite fails).
        system = mask[:, :, None] * G * mask[:, None, :] + eye * (1 - mask)[:, None, :]
        rhs = (c * mask - lam[:, None] * signs).unsqueeze(-1)
        factor, info = torch.linalg.cholesky_ex(system)
        candidate = torch.cholesky_solve(rhs, factor).squeeze(-1)
        ok = (info == 0) & torch.isfinite(candidate).all(-1) & (mask.sum(-1) <= max_active)
        if not bool(ok.all()):  # a singular guess: the task stops, unsolved
            n_iter[run[~ok]] = it + 1
            keep = ok.nonzero().squeeze(-1)
            run, G, c, lam, candidate = _rows(keep, run, G, c, lam, candidate)
            diag, threshold, signs, previous = _rows(keep, diag, threshold, signs, previous)
            fingerprints.keep(ok)
            if run.numel() == 0:
                break
        if it > 0:
            fingerprints.add(previous)
        b, previous = candidate, signs
    return out, solved, n_iter


def _rows(index: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """The rows ``index`` of every tensor (one index for all, not one boolean mask each)."""
    return tuple(x.index_select(0, index) for x in tensors)


class _Fingerprints:
    """Per-task fingerprints of sign vectors (their dot product with fixed random weights),
    to recognize a guess seen before."""

    def __init__(self, p: int, device: torch.device) -> None:
        generator = torch.Generator().manual_seed(0)
        self.weights = torch.rand(p, generator=generator, dtype=torch.float64).to(device)
        self.table: Tensor | None = None

    def _of(self, signs: Tensor) -> Tensor:
        return (signs.to(torch.float64) + 2) @ self.weights

    def add(self, signs: Tensor) -> None:
        new = self._of(signs).unsqueeze(-1)
        self.table = new if self.table is None else torch.cat([self.table, new], -1)

    def keep(self, tasks: Tensor) -> None:
        if self.table is not None:
            self.table = self.table[tasks]

    def seen(self, signs: Tensor) -> Tensor | None:
        if self.table is None:
            return None
        return (self._of(signs).unsqueeze(-1) == self.table).any(-1)


def _one_change(previous: Tensor, guess: Tensor, size: Tensor) -> Tensor:
    """``previous`` with only its largest violation changed as ``guess`` says (a cycle breaker:
    a full update that returns to the guess before ``previous`` would cycle forever)."""
    changed = guess != previous
    pick = torch.where(changed, size, torch.full_like(size, -torch.inf)).argmax(-1, keepdim=True)
    return previous.scatter(-1, pick, guess.gather(-1, pick))


def _limit_entering(violation: Tensor, was_active: Tensor, max_active: int) -> Tensor:
    """The guess ``violation > 1``, with at most half the room left below ``max_active`` (and
    at least one) of the features not in the previous guess, the most violating first."""
    guess = violation > 1
    entering = guess & ~was_active
    staying = (guess & was_active).sum(-1, keepdim=True)
    room = ((max_active - staying) // 2).clamp_min(1)
    if bool((entering.sum(-1, keepdim=True) <= room).all()):
        return guess
    score = torch.where(entering, violation, torch.zeros_like(violation))
    rank = score.argsort(-1, descending=True).argsort(-1)
    return (guess & was_active) | (entering & (rank < room))
