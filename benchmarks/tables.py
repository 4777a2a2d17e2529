"""Markdown tables of the report: the headline comparisons, the per-task ratios, the SVM head,
and every case with its ratios. Pure functions of the rows read from the benchmark JSON."""

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


def headline_lines(rows: dict[str, Row], problems: list[str]) -> list[list[str]]:
    """Rows of the headline table, one per (comparison, problem)."""
    lines = []
    specs = [
        ("vs cvxpylayers (default), fwd+bwd per task", "cvxpylayers", "forward_backward", 100),
        ("vs cvxpylayers (dense), fwd+bwd per task", "cvxpylayers-dense", "forward_backward", 100),
        (
            "vs cvxpylayers (default, one job), fwd+bwd per task",
            "cvxpylayers-serial",
            "forward_backward",
            100,
        ),
        ("vs scikit-learn loop, forward", "sklearn", "forward", 1),
        # Measured for comparison (no target is set for unrolling).
        ("implicit vs unrolled, fwd+bwd", "sl-unroll", "forward_backward", None),
        ("implicit vs unrolled, backward alone", "sl-unroll", "backward", None),
    ]
    for label, method, kind, target in specs:
        for problem in problems:
            ours, other = find(rows, problem, OURS), find(rows, problem, method)
            if ours is None or other is None:
                continue
            lines.append(_comparison(label, problem, ours, other, kind, target))
    return lines


def svm_headline_lines(rows: dict[str, Row], problems: list[str]) -> list[list[str]]:
    """Our head against qpth on the problems where both run: MetaOptNet's QP (``K + I``)."""
    lines = []
    for problem in problems:
        ours, qpth = find(rows, problem, OURS), find(rows, problem, "qpth")
        if qpth is None:
            continue
        if ours is None:
            ours = Row(problem, problem, "svm", OURS, "ours", 0, 0, 0, 0, "", 0.0, 1)
            ours.status, ours.error = "skipped", "SVM head unavailable"
        label = "SVM head (dual_ridge=1) vs qpth (MetaOptNet, K + I), fwd+bwd"
        lines.append(_comparison(label, problem, ours, qpth, "forward_backward", 2))
    return lines


def _comparison(label: str, problem: str, ours: Row, other: Row, kind: str, target: float | None):
    mine, theirs = ours.per_task(kind), other.per_task(kind)
    speedup = ratio(theirs, mine)
    status = verdict(speedup, target)
    if other.status == "failed":
        status = f"baseline FAILED: {other.error}"
    elif ours.status != "ok":
        status = f"ours {ours.status}: {ours.error}"
    return [
        label,
        f"`{problem}`",
        fmt_time(mine),
        fmt_time(theirs),
        fmt_ratio(speedup),
        "–" if target is None else f"≥ {target:g}×",
        status,
        fmt_num(ours.metrics.get("grad_error")),
        fmt_num(other.metrics.get("grad_error")),
        fmt_num(ours.metrics.get("gap")),
        fmt_num(other.metrics.get("gap")),
    ]


HEADLINE_HEADER = [
    "comparison",
    "problem",
    "ours per task",
    "baseline per task",
    "speed-up",
    "target",
    "met",
    "grad err ours",
    "grad err baseline",
    "gap ours",
    "gap baseline",
]


def issue2_lines(rows: dict[str, Row], problems: list[str]) -> list[list[str]]:
    """The core issue's numbers per headline problem."""
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
                f"m = {impl.m}",
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


ISSUE2_HEADER = [
    "m",
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


def svm_cost_lines(rows: dict[str, Row]) -> list[list[str]]:
    """``lam1 > 0`` vs ``lam1 = 0`` cost of our head, per (n, m) (plain heads only, not
    MetaOptNet's ``dual_ridge`` problem)."""
    lines = []
    ours = [r for r in rows.values() if r.layer == "svm" and r.method == OURS and not r.dual_ridge]
    for zero in (r for r in ours if r.lam == 0):
        for other in (r for r in ours if r.lam > 0 and (r.n, r.m) == (zero.n, zero.m)):
            lines.append(
                [
                    f"n = {zero.n}, m = {zero.m}",
                    f"{other.lam:g}",
                    fmt_time(zero.forward_backward),
                    fmt_time(other.forward_backward),
                    fmt_ratio(ratio(other.forward_backward, zero.forward_backward)),
                    fmt_num(other.metrics.get("support")),
                ]
            )
    return lines


SVM_COST_HEADER = [
    "support set",
    "λ1 / λ1_max",
    "fwd+bwd λ1 = 0",
    "fwd+bwd λ1 > 0",
    "cost ratio",
    "support (features / task)",
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
