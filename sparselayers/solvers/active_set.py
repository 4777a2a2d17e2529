"""Primal-dual active-set iterations for the Lasso, batched over tasks.

For ``min_b 1/(2n) ||y - F b||^2 + lam ||b||_1`` (``G = FᵀF/n``, ``c = Fᵀy/n``) the optimality
conditions are ``d = c - G b`` with ``d_j = lam sign(b_j)`` where ``b_j != 0`` and
``|d_j| <= lam`` elsewhere. One iteration guesses the active set and the signs from the
coordinate-wise fixed point ``z = b + d / diag(G)``,

    A = {j : |z_j| > lam / G_jj},    s = sign(z_A),

and solves the optimality conditions exactly for that guess: ``G_AA b_A = c_A - lam s_A``,
``b = 0`` off ``A`` (one Cholesky solve of the guess's size, gathered from ``F``: ``G`` is
never formed). When the conditions hold the guess reproduces itself, and conversely a task
whose active set and signs are unchanged by an iteration is solved (to the precision of the
solve). This is Newton's method on the nonsmooth fixed-point equation (a semismooth Newton
method, Hintermüller, Ito & Kunisch 2002): near the solution it takes one step, from a cold
start a handful on well-posed problems, where proximal gradient takes tens to hundreds.

Safeguards. Letting every violator in at once overshoots (at ``b = 0`` most features violate),
to guesses with many wrong features whose systems are near-singular. Entering features are
therefore limited to as many as the guess already keeps (at least ``FIRST_ENTERING``, at most
half the room left below ``max_active``), the most violating first: the guess at most doubles,
like a working set. An active feature whose sign the fixed point flips leaves the guess for
one iteration rather than changing sign (its coefficient passes through zero on the way): the
plain rule flips the signs of most of a correlated design's features back and forth, never
settling. A task whose guess returns to an earlier one (a cycle) changes only its largest
violation for that iteration. Tasks that exhaust the budget, or meet a singular system, are
reported unsolved (the Lasso path of ``solvers/homotopy.py`` takes them).

Measured on the benchmark's problems (64 tasks, n = 50, lam = 0.1 lam_max, float32): with the
sign rule every task of m = 64 and m = 256, Toeplitz (0.9) designs and dense truths included,
is solved in 6-17 iterations; without it a third to all of the tasks of the correlated and
m = 256 problems did not settle, and went down the path (16-43 ms instead of 9-31 ms per
batch). The exception is the m ≫ n problem (n = 25, m = 256): 3 tasks of 64 still cycle
(such problems go to the path first, ``lasso.PATH_FIRST``).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from sparselayers.ops.gather import active_first, take_rows
from sparselayers.problems.quadratic import transposed_times
from sparselayers.solvers.batching import Live, Outputs

FIRST_ENTERING = 8
"""Features that may enter a guess that keeps fewer than this many."""


def lasso_active_set(
    F: Tensor, y: Tensor, lam: Tensor, b: Tensor, max_iter: int, max_active: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Primal-dual active-set iterations from ``b``.

    Args:
        F: ``(T, n, m)`` features. y: ``(T, n)`` targets. lam: ``(T,)`` positive penalties.
        b: ``(T, m)`` starting point.
        max_iter: iteration budget.
        max_active: bound on the size of a guess (at most the rank of ``G``: ``min(n - 1, m)``).

    Returns:
        ``b (T, m)``; ``solved (T,)``, where a guess reproduced itself (elsewhere ``b`` is the
        starting point); ``n_iter (T,)`` int64, the systems solved.
    """
    T, n, m = F.shape
    c = transposed_times(F, y.unsqueeze(-1)).squeeze(-1) / n
    diag = torch.linalg.vecdot(F.mT, F.mT).div_(n)
    diag.clamp_min_(torch.finfo(F.dtype).tiny)
    false = torch.zeros(T, dtype=torch.bool, device=F.device)
    out = Outputs(
        b=b, solved=false,
        n_iter=torch.full((T,), max_iter, dtype=torch.int64, device=F.device),
    )  # fmt: skip
    # The iterations go on with the tasks still iterating only; ``fingerprints`` are those of
    # their earlier guesses, to detect cycles. ``columns``, ``Fᵀ``, stays whole: the live tasks'
    # rows are read through their indices, not copied at every retirement (measured, 64 tasks,
    # n = 50, m = 256, float32, interleaved: 3-6 % less time, the same iterates).
    columns = F.mT.contiguous()
    live = Live(
        torch.arange(T, device=F.device), y=y, c=c, lam=lam, b=b,
        threshold=lam[:, None] / diag, step=1 / (n * diag), signs=None, previous=torch.sign(b),
        violation=None, fingerprints=_Fingerprints(m, F.device), fit=None,
    )  # fmt: skip
    cold = not bool(b.any())
    for it in range(max_iter + 1):
        if it == 0 and cold:  # b = 0 (and every task still live): the residual is y
            z = c / diag
        else:  # F b from the guess's columns (``fit``) after a solve, from all at the start
            fit = live.fit if it > 0 else (live.b.unsqueeze(-2) @ columns).squeeze(-2)
            residual = live.y - fit
            correlation = _correlations(columns, live.index, residual)
            z = torch.addcmul(live.b, correlation, live.step)
        live.violation = z.abs() / live.threshold
        guess = live.violation > 1
        was_active = live.previous != 0
        live.signs = torch.sign(z) * _limit_entering(live.violation, guess, was_active, max_active)
        live.signs.mul_(live.signs * live.previous >= 0)  # a sign that flips leaves first
        # A reproduced guess is solved; at the start only the empty guess at b = 0 is (other
        # starting points need not solve their own guess's system).
        same = (live.signs == live.previous).all(-1)
        if it == 0:
            same = same & (live.signs == 0).all(-1)
        live.retire(same, out, b=live.b, solved=True, n_iter=it)
        if not len(live) or it == max_iter:
            break
        signs, previous = live.signs, live.previous
        cycling = live.fingerprints.seen(signs)
        if cycling is not None and bool(cycling.any()):
            size = torch.where(previous != 0, live.b.abs() / live.threshold, live.violation - 1)
            signs = torch.where(cycling[:, None], _one_change(previous, signs, size), signs)
        live.signs = signs
        live.b, live.fit, ok = _solve_guess(columns, live.index, live.c, live.lam, signs)
        ok = ok & (signs.abs().sum(-1) <= max_active)
        live.retire(~ok, out, n_iter=it + 1)  # a singular guess: the task stops, unsolved
        if not len(live):
            break
        if it > 0:
            live.fingerprints.add(live.previous)
        live.previous = live.signs
    return out.b, out.solved, out.n_iter


def _correlations(columns: Tensor, tasks: Tensor, residual: Tensor) -> Tensor:
    """``F_tᵀ r_t`` ``(t, m)`` for the tasks ``tasks`` of ``columns (T, m, n)``, ``residual
    (t, n)``: one product over the whole batch (zero residuals elsewhere), cheaper than copying
    the tasks' columns while the batch is this small."""
    T, _, n = columns.shape
    if tasks.shape[0] < T:
        residual = residual.new_zeros(T, n).index_copy_(0, tasks, residual)
    correlation = (residual.unsqueeze(-2) @ columns.mT).squeeze(-2)
    return correlation if tasks.shape[0] == T else correlation.index_select(0, tasks)


def _solve_guess(
    columns: Tensor, tasks: Tensor, c: Tensor, lam: Tensor, signs: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``b`` with ``G_AA b_A = c_A - lam s_A`` on the guess ``A = {s != 0}``, zero elsewhere,
    its fit ``F b = F_A b_A`` ``(T, n)`` (the next residual, from ``s`` columns rather than
    ``m``), and whether the guess's block was positive definite (Cholesky of the gathered
    block, the identity padding the tasks with smaller guesses). ``columns (T, m, n)``: ``Fᵀ``
    of the whole batch, of which the tasks ``tasks`` are solved; its rows ``index_select``
    gathers several times faster than ``gather`` takes columns of ``F``."""
    n = columns.shape[-1]
    order, keep = active_first(signs != 0)
    keep = keep.to(columns.dtype)
    F_A = take_rows(columns, order, tasks).mul_(keep.unsqueeze(-1))  # (t, s, n)
    system = torch.baddbmm(torch.diag_embed(1 - keep), F_A, F_A.mT, alpha=1 / n)
    rhs = c.gather(-1, order) * keep - lam[:, None] * signs.gather(-1, order)
    factor, info = torch.linalg.cholesky_ex(system)
    b_A = torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1) * keep
    ok = (info == 0) & torch.isfinite(b_A).all(-1)
    fit = (b_A.unsqueeze(-2) @ F_A).squeeze(-2)
    return torch.zeros_like(c).scatter_(-1, order, b_A), fit, ok


class _Fingerprints:
    """Per-task fingerprints of sign vectors (their dot product with fixed random weights),
    to recognize a guess seen before; one row per task (``select`` keeps some of them)."""

    def __init__(self, p: int, device: torch.device) -> None:
        self.weights = _fingerprint_weights(p, device)
        self.table: Tensor | None = None

    def _of(self, signs: Tensor) -> Tensor:
        return (signs.to(torch.float64) + 2) @ self.weights

    def add(self, signs: Tensor) -> None:
        new = self._of(signs).unsqueeze(-1)
        self.table = new if self.table is None else torch.cat([self.table, new], -1)

    def select(self, index: Tensor) -> _Fingerprints:
        if self.table is not None:
            self.table = self.table.index_select(0, index)
        return self

    def seen(self, signs: Tensor) -> Tensor | None:
        if self.table is None:
            return None
        return (self._of(signs).unsqueeze(-1) == self.table).any(-1)


@lru_cache(maxsize=16)
def _fingerprint_weights(p: int, device: torch.device) -> Tensor:
    """Fixed random weights (drawing them took 0.7 ms a call at p = 256)."""
    generator = torch.Generator().manual_seed(0)
    return torch.rand(p, generator=generator, dtype=torch.float64).to(device)


def _one_change(previous: Tensor, guess: Tensor, size: Tensor) -> Tensor:
    """``previous`` with only its largest violation changed as ``guess`` says (a cycle breaker:
    a full update that returns to the guess before ``previous`` would cycle forever)."""
    changed = guess != previous
    pick = torch.where(changed, size, torch.full_like(size, -torch.inf)).argmax(-1, keepdim=True)
    return previous.scatter(-1, pick, guess.gather(-1, pick))


def _limit_entering(
    violation: Tensor, guess: Tensor, was_active: Tensor, max_active: int
) -> Tensor:
    """The guess ``violation > 1``, with at most as many features entering as it keeps (at
    least ``FIRST_ENTERING``, at most half the room left below ``max_active``, at least one),
    the most violating first."""
    entering = guess & ~was_active
    staying = (guess & was_active).sum(-1, keepdim=True)
    room = ((max_active - staying) // 2).clamp_min(1)
    room = torch.minimum(room, staying.clamp_min(FIRST_ENTERING))
    if bool((entering.sum(-1, keepdim=True) <= room).all()):
        return guess
    score = torch.where(entering, violation, torch.zeros_like(violation))
    top = score.topk(int(room.max()), dim=-1).values
    cutoff = top.gather(-1, room - 1)  # the room-th largest violation of an entering feature
    return (guess & was_active) | (entering & (score >= cutoff))
