"""The Lasso by homotopy (the LARS-Lasso path), batched over tasks.

    min_b 1/(2n) ||y - F b||^2 + lam ||b||_1,    F (T, n, m), y (T, n), lam (T,)

Along the regularization path from ``lam_max = max_j |F_j^T y| / n`` (where ``b = 0``) down to
``lam`` the solution is piecewise linear in ``lam``: with active set ``A`` and signs ``s``,

    b_A(lam) = G_AA^{-1} (c_A - lam s_A),    G = F^T F / n,  c = F^T y / n,

and the correlations ``rho = c - G b`` satisfy ``rho_A = lam s_A``, ``|rho_j| <= lam``
elsewhere. The path bends where a feature's correlation reaches ``±lam`` (it joins ``A``) or
an active coefficient reaches zero (it leaves): each step of the loop below goes to the next
such event, one per task (Osborne, Presnell & Turlach 2000; Efron et al. 2004).

Why here: on the benchmark's problems with many more features than samples (n = 50, m = 256,
lam = 0.1 lam_max) supports reach 26-46 features. There the active-set (Newton) iterations of
``solvers/active_set.py`` pick up wrong features, from correlations that the near-square
systems make unreliable, and keep them: from a cold start about half the tasks did not
converge in 30 iterations (guesses growing to n features and singular systems), with the
entering features limited or not. Proximal gradient needs hundreds of iterations there. The
path has no such failure: it takes one event per step (as many steps as the support has
features, plus twice the few that leave), and a step costs a few dozen operations on
``(T, m)`` and ``(T, S, S)`` tensors, ``S <= min(n, m)`` the slots of the active set:
``G_AA^{-1}`` is kept up to date by rank-one (bordering) updates rather than factorized anew,
and ``G`` is never formed (its rows come from ``F``). The end point is then recomputed by one
exact solve on its support (which removes the drift of the updates) and certified by the
caller with the duality gap of the whole problem. A task whose path breaks down (a singular
active set, more than ``min(n, m)`` active features, or out of steps) is reported, and the
caller solves it another way.

Ties: a feature that has just left sits at ``|rho_j| = lam`` and may not join at the next
step; a feature found past ``lam`` by rounding joins at once (step length 0). Twin features
(equal columns) have equal correlations and directions: the second never joins.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.problems.quadratic import transposed_times
from sparselayers.solvers.batching import Live

MAX_STEPS_PER_FEATURE = 4
"""Path steps allowed per slot of the active set (``min(n, m)`` slots); more events (features
joining and leaving many times) mean the path is better found another way."""

FIRST_SLOTS = 16
"""Slots of the active set at the start; they double when full (up to ``min(n, m)``), so that
the per-step updates of ``G_AA^{-1}`` work on small matrices while supports are small."""


def lasso_path(
    F: Tensor, y: Tensor, lam: Tensor, max_steps: int | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Follow the Lasso path from ``lam_max`` down to ``lam`` for every task.

    Args:
        F: ``(T, n, m)`` features. y: ``(T, n)`` targets. lam: ``(T,)`` positive penalties.
        max_steps: events allowed per task (by default ``MAX_STEPS_PER_FEATURE min(n, m)``).

    Returns:
        ``b (T, m)``, the end point (exact on its support, to the precision of one solve);
        ``ok (T,)``, where the path reached ``lam``; ``steps (T,)`` int64, its events.
    """
    T, n, m = F.shape
    capacity = min(n, m)
    path = _Path(F, y, lam, capacity)
    ends: list[tuple[Tensor, dict[str, Tensor]]] = []  # the tasks that have left the batch
    budget = MAX_STEPS_PER_FEATURE * capacity
    budget = budget if max_steps is None else min(budget, max_steps)
    for _ in range(budget + 1):  # the last step finds the end of the tasks at their last event
        running = path.step()
        # Tasks that have arrived (or broken down) leave the batch once they are a quarter
        # of it: a step costs less for fewer tasks, but not for none.
        arrived = ~running
        if int(arrived.sum()) * 4 >= len(path):
            state = path.end_state(arrived)
            ends.append((path.retire(arrived), state))
            if not len(path):
                break
    else:  # out of steps: not ok (the last step may have been one event too many)
        state = path.end_state(torch.ones(len(path), dtype=torch.bool, device=F.device))
        state["steps"] = state["steps"].clamp_max(budget)
        ends.append((path.index, state))
    order = torch.cat([index for index, _ in ends])
    b, ok, steps = _solve_ends([state for _, state in ends], m)
    inverse = torch.empty_like(order).scatter_(0, order, torch.arange(T, device=F.device))
    return b[inverse], ok[inverse], steps[inverse]


def _solve_ends(states: list[dict[str, Tensor]], m: int) -> tuple[Tensor, Tensor, Tensor]:
    """The end points solved exactly on their supports, in one batch: ``b (t, m)``, ``ok``
    (the path reached ``lam`` without breaking down, and the support's block is positive
    definite), ``steps``."""
    S = max(state["occupied"].shape[-1] for state in states)  # slots grew along the way

    def padded(x: Tensor) -> Tensor:  # per slot: (t, S) or, for F_A, (t, S, n)
        if x.dim() == 3:
            return torch.nn.functional.pad(x, (0, 0, 0, S - x.shape[-2]))
        return torch.nn.functional.pad(x, (0, S - x.shape[-1])) if x.dim() == 2 else x

    cat = {key: torch.cat([padded(state[key]) for state in states]) for key in states[0]}
    occupied, n = cat["occupied"], cat["F_A"].shape[-1]
    F_A = cat["F_A"] * occupied.unsqueeze(-1)
    system = F_A @ F_A.mT / n + torch.diag_embed(1 - occupied)
    factor, info = torch.linalg.cholesky_ex(system)
    b_S = torch.cholesky_solve((cat["rhs"] * occupied).unsqueeze(-1), factor).squeeze(-1)
    ok = cat["ok"] & (info == 0) & torch.isfinite(b_S).all(-1)
    b_S = torch.where(ok.unsqueeze(-1), b_S * occupied, torch.zeros_like(b_S))
    b = b_S.new_zeros(b_S.shape[0], m).scatter_add_(-1, cat["index"], b_S)
    return b, ok, cat["steps"]


class _Path(Live):
    """The path's state per task: the active features in slots (their columns of ``F`` as
    rows, stale on free slots), ``M = G_AA^{-1}`` on the occupied slots (zero elsewhere), the
    coefficients and signs per slot, and the correlations ``rho`` of all features.

    Every per-step update is done for all tasks at once, masked to those it concerns, in
    place where it can be: the loop's cost is its number of operations more than their size.
    A task that has arrived (or broken down) has ``lam = target``: its steps have length 0.
    """

    def __init__(self, F: Tensor, y: Tensor, lam: Tensor, capacity: int) -> None:
        T, n, m = F.shape
        S = min(capacity, FIRST_SLOTS)
        self.capacity, self.n = capacity, n
        c = transposed_times(F, y.unsqueeze(-1)).squeeze(-1) / n
        lam_max = c.abs().amax(-1)
        false = torch.zeros(T, dtype=torch.bool, device=F.device)
        super().__init__(
            torch.arange(T, device=F.device),
            F=F,
            c=c,
            diag=torch.linalg.vecdot(F.mT, F.mT).div_(n),
            rho=c.clone(),
            lam=lam_max,
            target=torch.minimum(lam, lam_max),  # lam >= lam_max: arrived, b = 0
            M=F.new_zeros(T, S, S),
            # Rows: the active columns of F, and a last one for the writes that do not count.
            F_A=F.new_zeros(T, S + 1, n),
            index_A=torch.zeros(T, S, dtype=torch.int64, device=F.device),
            occupied=F.new_zeros(T, S),
            signs=F.new_zeros(T, S),
            b=F.new_zeros(T, S),
            # inf where a feature may not join: the active ones, and for one step the one
            # that left (added to the join times: cheaper than masking).
            blocked=F.new_zeros(T, m),
            released=torch.zeros(T, 1, dtype=torch.int64, device=F.device),
            leaving=false,
            ok=~false,
            steps=torch.zeros(T, dtype=torch.int64, device=F.device),
        )
        self.any_leaving = False
        self.taken = 1  # steps so far + 1: a bound on the slots any task occupies after them
        # A joining feature this close to the span of the active ones makes G_AA singular.
        self.singular = torch.finfo(F.dtype).eps ** 0.5
        self.tiny = torch.finfo(F.dtype).tiny
        # At lam_max the most correlated feature joins (the path starts there).
        self._join(self.lam > self.target, self.c.abs().argmax(-1))

    def step(self) -> Tensor:
        """Go to the next event on every task still on its way; returns those still on it."""
        # Direction of the path as lam decreases: b_A grows by d_A per unit of lam, the
        # correlations fall by a (a_A = s_A on the active set); d is zero on free slots.
        d = (self.signs.unsqueeze(-2) @ self.M).squeeze(-2)
        S = d.shape[-1]
        a = (d.unsqueeze(-2) @ self.F_A[:, :S] @ self.F).squeeze(-2).div_(self.n)
        # A free feature joins when rho_j - t a_j = ±(lam - t): t = (lam ∓ rho_j) / (1 ∓ a_j)
        # where the denominator is positive (``inf`` elsewhere). Written with clamps rather
        # than masks, which cost several times more on CPU. A numerator clamped at ``tiny``
        # is a feature at (or, by rounding, past) ``±lam``: it joins now.
        lam = self.lam.unsqueeze(-1)
        up = (lam - self.rho).clamp_min_(self.tiny).div_((1 - a).clamp_min_(0))
        down = (lam + self.rho).clamp_min_(self.tiny).div_((1 + a).clamp_min_(0))
        t_join, j = torch.minimum(up, down).add_(self.blocked).min(-1)
        if self.any_leaving:  # the features that left at the last step may join again
            old = self.blocked.gather(-1, self.released)
            self.blocked.scatter_(
                -1, self.released, old.masked_fill_(self.leaving.unsqueeze(-1), 0)
            )
            self.any_leaving = False
        # An active coefficient leaves when it reaches zero, where d has the opposite sign:
        # t = 2 |b| / (|d s| - d s), ``inf`` elsewhere (a zero denominator is +0 this way).
        ds = d * self.signs
        leave = self.b.abs().mul_(2).clamp_min_(self.tiny).div_(ds.abs() - ds)
        t_leave, q = leave.min(-1)
        # The next event: a join (0), a leave (1) or the end (2, at once for the tasks that
        # have arrived: their join and leave times are positive).
        t, kind = torch.stack([t_join, t_leave, self.lam - self.target], -1).min(-1)
        self.b.addcmul_(t.unsqueeze(-1), d)
        self.rho.addcmul_(t.unsqueeze(-1), a, value=-1)
        joins, leaves, running = kind == 0, kind == 1, kind < 2
        self.lam = torch.where(running, self.lam - t, self.target)
        self.steps += running
        self.taken += 1
        if bool(leaves.any()):
            self._leave(leaves, q)
        if bool(joins.any()):
            running = running & self._join(joins, j)
        return running

    def _join(self, joins: Tensor, j: Tensor) -> Tensor:
        """Feature ``j`` takes the first free slot ``q`` on the tasks ``joins``: ``M`` is
        bordered with its column, ``M -> M + (w - e)(w - e)ᵀ / σ`` (``e`` the slot's unit
        vector, ``g = G_Aj``, ``w = M g``, ``σ = G_jj - gᵀw`` the Schur complement). Returns
        False where the active set would turn singular (or exceed ``min(n, m)`` features):
        those tasks stop there, not ok."""
        if self.taken > self.M.shape[-1] and self.M.shape[-1] < self.capacity:
            self._grow()
        T, S = self.occupied.shape
        n = self.n
        q = self.occupied.argmin(-1, keepdim=True)  # the first free slot
        jj = j.unsqueeze(-1)
        column = self.F.gather(-1, j.view(T, 1, 1).expand(T, n, 1)).mT
        g = (column @ self.F_A[:, :S].mT).squeeze(-2).mul_(self.occupied).div_(n)  # G_Aj
        w = (g.unsqueeze(-2) @ self.M).squeeze(-2)
        gamma = self.diag.gather(-1, jj).squeeze(-1)
        schur = gamma - torch.linalg.vecdot(g, w)
        take = joins & (schur > self.singular * gamma)
        if S == self.capacity:
            take = take & (self.occupied.gather(-1, q).squeeze(-1) == 0)
        broken = joins & ~take
        if bool(broken.any()):
            self.ok = self.ok & ~broken
            self.target = torch.where(broken, self.lam, self.target)  # stops here
        e = torch.zeros_like(w).scatter_(-1, q, take.unsqueeze(-1).to(w.dtype))
        v = (w - e).mul_((take * schur.clamp_min(self.tiny).rsqrt()).unsqueeze(-1))
        self.M.addcmul_(v.unsqueeze(-1), v.unsqueeze(-2))
        slot = torch.where(take.unsqueeze(-1), q, S).unsqueeze(-1).expand(T, 1, n)
        self.F_A.scatter_(1, slot, column)
        self.index_A = torch.where(e > 0, jj, self.index_A)
        self.occupied += e
        self.signs.addcmul_(e, torch.sign(self.rho.gather(-1, jj)))
        blocked = self.blocked.gather(-1, jj)
        self.blocked.scatter_(-1, jj, blocked.masked_fill_(take.unsqueeze(-1), torch.inf))
        return ~broken

    def _leave(self, leaves: Tensor, q: Tensor) -> None:
        """The feature in slot ``q`` leaves on the tasks ``leaves``: a rank-one downdate
        ``M -> M - M e eᵀ M / M_qq``, then the slot's row and column are zeroed."""
        T, S = self.occupied.shape
        qq = q.unsqueeze(-1)
        u = self.M.gather(-1, q.view(T, 1, 1).expand(T, S, 1)).squeeze(-1)
        pivot = u.gather(-1, qq)
        u.mul_(leaves.unsqueeze(-1) * pivot.clamp_min(self.tiny).rsqrt())
        keep = torch.ones_like(u).scatter_(-1, qq, (~leaves).unsqueeze(-1).to(u.dtype))
        self.M.addcmul_(u.unsqueeze(-1), u.unsqueeze(-2), value=-1)
        self.M.mul_(keep.unsqueeze(-1)).mul_(keep.unsqueeze(-2))
        # The feature stays blocked for the next step's joins (it sits at ±lam), then is freed.
        self.released = self.index_A.gather(-1, qq)
        self.leaving = leaves
        self.any_leaving = True
        self.occupied *= keep
        self.signs *= keep
        self.b *= keep

    def _grow(self) -> None:
        """Twice as many slots (up to the capacity): the new ones free."""
        T, S = self.occupied.shape
        pad = min(2 * S, self.capacity) - S
        self.M = torch.nn.functional.pad(self.M, (0, pad, 0, pad))
        rows = self.F_A
        self.F_A = torch.cat([rows[:, :S], rows.new_zeros(T, pad + 1, rows.shape[-1])], 1)
        self.index_A = torch.nn.functional.pad(self.index_A, (0, pad))
        self.occupied = torch.nn.functional.pad(self.occupied, (0, pad))
        self.signs = torch.nn.functional.pad(self.signs, (0, pad))
        self.b = torch.nn.functional.pad(self.b, (0, pad))

    def end_state(self, tasks: Tensor) -> dict[str, Tensor]:
        """What the exact end points of ``tasks`` (a mask) are solved from (``_solve_ends``):
        their active columns, slots, right-hand sides ``c_A - lam s_A``, whether the path
        reached ``lam`` without breaking down, and its steps."""
        S = self.occupied.shape[-1]
        index, occupied = self.index_A[tasks], self.occupied[tasks]
        return {
            "F_A": self.F_A[tasks, :S],
            "occupied": occupied,
            "index": torch.where(occupied > 0, index, 0),
            "rhs": self.c[tasks].gather(-1, index)
            - self.target[tasks].unsqueeze(-1) * self.signs[tasks],
            "ok": self.ok[tasks] & (self.lam[tasks] == self.target[tasks]),
            "steps": self.steps[tasks],
        }
