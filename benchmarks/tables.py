"""Markdown tables of the report (the headline lives in ``headline.py``): per-task times,
threads, ops and distance to the floor, the SVM head's cost of λ1, and every case with its
ratios. Pure functions of the rows read from the benchmark JSON."""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.cases import METHODS
from benchmarks.results_io import Row

OURS = "sl-implicit"


def fmt_time(seconds: float | None) -> str:
    """Seconds as ``µs`` / ``ms`` / ``s`` with 3 significant digits (``–`` when missing)."""
    if seconds is None:
        return "–"
    if seconds < 0:
        return "≈ 0 (noise)"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}×"


def fmt_num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}"


def ratio(slow: float | None, fast: float | None) -> float | None:
    """``slow / fast`` (how many times ``fast`` is faster)."""
    if slow is None or fast is None or fast <= 0:
        return None
    return slow / fast


def table(header: list[str], lines: Iterable[list[str]]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out)


def find(rows: dict[str, Row], problem: str, method: str) -> Row | None:
    return rows.get(f"{problem}-{method}")


def verdict(value: float | None, target: float | None) -> str:
    if value is None:
        return "not measured"
    if target is None:
        return "–"
    return "yes" if value >= target else "**no**"


def per_task_lines(
    rows: dict[str, Row], problems: list[str], family_of: dict[str, str]
) -> list[list[str]]:
    """Times of our layer per task and for the whole batch, next to cvxpylayers, scikit-learn
    and unrolling, per problem."""
    lines = []
    for problem in problems:
        impl, unroll = find(rows, problem, OURS), find(rows, problem, "sl-unroll")
        cvx, skl = find(rows, problem, "cvxpylayers"), find(rows, problem, "sklearn")
        if impl is None:
            continue
        cvx_fb = cvx.per_task("forward_backward") if cvx else None
        skl_f = skl.forward if skl else None
        un_b = unroll.backward if unroll else None
        lines.append(
            [
                family_of.get(problem, ""),
                f"T = {impl.T}, n = {impl.n}, m = {impl.m}",
                fmt_time(impl.per_task("forward")),
                fmt_time(impl.per_task("forward_backward")),
                fmt_time(cvx_fb),
                fmt_ratio(ratio(cvx_fb, impl.per_task("forward_backward"))),
                fmt_time(impl.forward),
                fmt_time(skl_f),
                fmt_ratio(ratio(skl_f, impl.forward)),
                fmt_num(ratio(impl.backward, impl.forward)),
                fmt_time(impl.backward),
                fmt_time(un_b),
                fmt_ratio(ratio(un_b, impl.backward)),
                fmt_time(unroll.forward_backward if unroll else None),
            ]
        )
    return lines


PER_TASK_HEADER = [
    "family",
    "size",
    "fwd / task",
    "fwd+impl. bwd / task",
    "cvxpylayers fwd+bwd / task",
    "speed-up vs cvxpylayers",
    "fwd, all T",
    "sklearn loop, all T",
    "speed-up vs sklearn",
    "impl. bwd / fwd",
    "impl. bwd, all T",
    "unrolled bwd, all T",
    "unrolled / implicit bwd",
    "unrolled fwd+bwd, all T",
]


def threads_lines(
    one: dict[str, Row], default: dict[str, Row], problems: list[str]
) -> list[list[str]]:
    """Our layer at torch's default thread count against one thread, per problem measured in
    both runs: the acceptance is a ratio ≤ 1 (never slower by default)."""
    lines = []
    for problem in problems:
        a, b = find(one, problem, OURS), find(default, problem, OURS)
        if a is None or b is None:
            continue
        fwd = ratio(b.forward, a.forward)
        fb = ratio(b.forward_backward, a.forward_backward)
        worst = max((x for x in (fwd, fb) if x is not None), default=None)
        lines.append(
            [
                f"`{problem}`",
                fmt_time(a.forward),
                fmt_time(b.forward),
                fmt_ratio(fwd),
                fmt_time(a.forward_backward),
                fmt_time(b.forward_backward),
                fmt_ratio(fb),
                "not measured" if worst is None else ("yes" if worst <= 1 else "**no**"),
            ]
        )
    return lines


def threads_header(default_threads: object, rounds: bool = False) -> list[str]:
    """Columns of :func:`threads_lines` (of :func:`interleaved_threads_lines` with ``rounds``:
    the ratios come with their range over rounds)."""
    d = f"default ({default_threads})"
    ratio = "default / 1 (rounds)" if rounds else "default / 1"
    return [
        "problem",
        "fwd, 1 thread",
        f"fwd, {d}",
        ratio,
        "fwd+bwd, 1 thread",
        f"fwd+bwd, {d}",
        ratio,
        "default never slower",
    ]


NOT_SLOWER_NOISE = 0.05
"""A default-thread time at most this much above the one-thread time (ratio of the best times
of interleaved rounds) is read as "within noise" rather than "slower": on the 2-core machine
the same build measured against itself spans a few percent."""


def interleaved_threads_lines(compared: dict, problems: list[str]) -> list[list[str]]:
    """The :func:`benchmarks.threads_ab.comparison` of ``problems`` (those measured): best
    times, the ratio of the bests and its range over rounds, and a verdict on the worse kind:
    ``yes`` (ratio ≤ 1), ``within noise`` (≤ 1 + :data:`NOT_SLOWER_NOISE`) or ``no``."""
    lines = []
    for problem in problems:
        if problem not in compared:
            continue
        fwd, fb = compared[problem]["forward"], compared[problem]["forward_backward"]
        worst = max(fwd.ratio, fb.ratio)
        said = (
            "yes" if worst <= 1 else "within noise" if worst <= 1 + NOT_SLOWER_NOISE else "**no**"
        )
        lines.append(
            [
                f"`{problem}`",
                fmt_time(fwd.one),
                fmt_time(fwd.default),
                f"{fmt_ratio(fwd.ratio)} ({fwd.low:.2f}–{fwd.high:.2f})",
                fmt_time(fb.one),
                fmt_time(fb.default),
                f"{fmt_ratio(fb.ratio)} ({fb.low:.2f}–{fb.high:.2f})",
                said,
            ]
        )
    return lines


def floor_target(row: Row) -> float | None:
    """How far above the floor our forward may be: 10× at m ≥ 64, 30× below (group Lasso)."""
    if row.layer != "group_lasso":
        return None
    return 10.0 if row.m >= 64 else 30.0


def _syncs(row: Row, kind: str) -> str:
    syncs, reads = row.metrics.get(f"syncs_{kind}"), row.metrics.get(f"scalar_reads_{kind}")
    if syncs is None:
        return "–"
    return f"{syncs:g} ({reads:g} reads)"


def ops_lines(rows: dict[str, Row], problems: list[str]) -> list[list[str]]:
    """Ops and host syncs per solve of our layer, and its forward's distance to the floor."""
    lines = []
    for problem in problems:
        ours, floor = find(rows, problem, OURS), find(rows, problem, "floor")
        if ours is None or "ops_forward" not in ours.metrics:
            continue
        above = ratio(ours.forward, floor.forward if floor else None)
        goal = floor_target(ours)
        met = "–" if goal is None or above is None else ("yes" if above <= goal else "**no**")
        ops_fb = ours.metrics.get("ops_forward_backward")
        lines.append(
            [
                f"`{problem}`",
                f"{ours.metrics['ops_forward']:g}",
                "–" if ops_fb is None else f"{ops_fb:g}",
                _syncs(ours, "forward"),
                _syncs(ours, "forward_backward"),
                fmt_time(ours.forward),
                fmt_time(floor.forward if floor else None),
                fmt_ratio(above),
                "–" if goal is None else f"≤ {goal:g}×",
                met,
            ]
        )
    return lines


OPS_HEADER = [
    "problem",
    "ops, fwd",
    "ops, fwd+bwd",
    "host syncs, fwd",
    "host syncs, fwd+bwd",
    "fwd, all T",
    "floor, all T",
    "fwd / floor",
    "target",
    "met",
]


def svm_cost_lines(
    rows: dict[str, Row], rounds: list[dict[str, Row]] | None = None
) -> list[list[str]]:
    """``lam1 > 0`` vs ``lam1 = 0`` cost of our head, per (n, m) (plain heads only, not
    MetaOptNet's ``dual_ridge`` problem). With the interleaved run's ``rounds`` (rows per
    round, keyed by case), the range of the ratio over the rounds where both heads ran."""
    lines = []
    ours = [r for r in rows.values() if r.layer == "svm" and r.method == OURS and not r.dual_ridge]
    for zero in (r for r in ours if r.lam == 0):
        for other in (r for r in ours if r.lam > 0 and (r.n, r.m) == (zero.n, zero.m)):
            per_round = _round_ratios(rounds or [], other.case, zero.case)
            measured = "suite"
            if per_round:
                low, high = min(per_round), max(per_round)
                measured = f"interleaved, {len(per_round)} rounds: {low:.3g}–{high:.3g}×"
            lines.append(
                [
                    f"n = {zero.n}, m = {zero.m}",
                    f"{other.lam:g}",
                    fmt_time(zero.forward_backward),
                    fmt_time(other.forward_backward),
                    fmt_ratio(ratio(other.forward_backward, zero.forward_backward)),
                    fmt_num(other.metrics.get("support")),
                    measured,
                ]
            )
    return lines


def _round_ratios(rounds: list[dict[str, Row]], slow: str, fast: str) -> list[float]:
    """``slow`` / ``fast`` fwd+bwd in each round where both cases ran."""
    out = []
    for found in rounds:
        if slow in found and fast in found:
            value = ratio(found[slow].forward_backward, found[fast].forward_backward)
            if value is not None:
                out.append(value)
    return out


SVM_COST_HEADER = [
    "support set",
    "λ1 / λ1_max",
    "fwd+bwd λ1 = 0",
    "fwd+bwd λ1 > 0",
    "cost ratio",
    "support (features / task)",
    "measured",
]


def case_lines(rows: list[Row], by_id: dict[str, Row]) -> list[list[str]]:
    """Every case, with the speed-up of ``sl-implicit`` on the same problem (per task)."""
    lines = []
    for row in rows:
        ours = find(by_id, row.problem, OURS)
        speed = {}
        for kind in ("forward", "forward_backward"):
            mine = ours.per_task(kind) if ours else None
            if row.role == "floor":
                above = ratio(mine, row.per_task(kind))
                speed[kind] = "–" if above is None else f"{fmt_ratio(above)} above"
            else:
                speed[kind] = fmt_ratio(ratio(row.per_task(kind), mine))
        status = row.status if row.status == "ok" else f"FAILED: {row.error}"
        lines.append(
            [
                f"`{row.problem}`",
                METHODS[row.method].label,
                str(row.tasks),
                fmt_time(row.forward),
                fmt_time(row.forward_backward),
                speed["forward"],
                speed["forward_backward"],
                fmt_num(row.metrics.get("gap")),
                fmt_num(row.metrics.get("support")),
                fmt_num(row.metrics.get("weight_error")),
                fmt_num(row.metrics.get("grad_error")),
                status,
            ]
        )
    return lines


CASE_HEADER = [
    "problem",
    "method",
    "tasks run",
    "fwd",
    "fwd+bwd",
    "ours faster (fwd, per task)",
    "ours faster (fwd+bwd, per task)",
    "gap",
    "support",
    "weight err",
    "grad err",
    "status",
]
