"""The report's headline: our layer against every other method on the *worst* problem family.

A comparison is our default mode (``sl-implicit``) against one other method on one kind of
call: forward+backward per task for a differentiable method, the forward for a forward-only
one. Over a set of problems (the headline and its harder families, or the SVM sizes), the
headline keeps, per comparison, the problem where our speed-up is smallest: the number a user
can count on, not the kindest one. :func:`family_lines` shows every problem of the set.

The comparisons with a target are taken, where they were measured, from the interleaved run
(``benchmarks/interleaved.py``: ours and the baseline timed side by side, round after round),
with the spread of the worst problem's speed-up over its rounds; the others (our unrolled
backward, the paper's head) from the pytest-benchmark suite.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.cases import METHODS, Method
from benchmarks.interleaved import Interleaved
from benchmarks.results_io import Row
from benchmarks.tables import OURS, find, fmt_num, fmt_ratio, fmt_time, verdict

TARGETS: dict[str, float | None] = {"qpth": 4.0, "paper-head": None}
"""Speed-up targets set for one method; the others follow :func:`target`. The paper's SVM head
stops after a fixed number of steps, far from converged: its time is shown next to its gap,
without a target."""


def target(method: Method, layer: str) -> float | None:
    """The speed-up our layer should reach against ``method`` (None: measured, no target):
    100× a differentiable regression baseline (fwd+bwd per task), 3× a forward-only loop,
    2× an SVM head, unless :data:`TARGETS` names the method."""
    if method.role != "baseline":
        return None
    if method.name in TARGETS:
        return TARGETS[method.name]
    if layer == "svm":
        return 2.0
    return 100.0 if method.differentiable else 3.0


@dataclass(frozen=True)
class Comparison:
    """Ours against ``method`` on ``kind`` (``forward``, ``forward_backward`` or
    ``backward``)."""

    method: str
    kind: str
    label: str
    target: float | None


KIND_WORDS = {"forward": "forward", "forward_backward": "fwd+bwd", "backward": "backward alone"}


def source(rows: dict[str, Row], comparison: Comparison, ab: Interleaved | None) -> dict[str, Row]:
    """Where the comparison's times come from: the interleaved rows ``ab`` when they measured
    its method on its kind, the suite's ``rows`` otherwise."""
    if ab is not None and comparison.method in ab.methods:
        if comparison.kind == (
            "forward_backward" if METHODS[comparison.method].differentiable else "forward"
        ):
            return ab.best
    return rows


def spread(ab: Interleaved, problem: str, comparison: Comparison) -> tuple[float, float] | None:
    """Least and largest speed-up of one round of ``ab`` on ``problem`` (None: unmeasured)."""
    speeds = [s for found in ab.rounds if (s := speedup(found, problem, comparison)) is not None]
    return (min(speeds), max(speeds)) if speeds else None


def comparisons(rows: dict[str, Row], problems: list[str]) -> list[Comparison]:
    """Every comparison that the rows of ``problems`` allow, in the registry's method order."""
    present = {row.method for row in rows.values() if row.problem in problems}
    layer = next((r.layer for r in rows.values() if r.problem in problems), "")
    out = []
    for name, method in METHODS.items():
        if name not in present or name == OURS or method.role == "floor":
            continue
        if method.role == "ours" and name != "sl-unroll":
            continue
        kinds = ["forward_backward", "backward"] if name == "sl-unroll" else []
        kinds = kinds or ["forward_backward" if method.differentiable else "forward"]
        for kind in kinds:
            per_task = ", per task" if method.per_task else ""
            label = f"vs {method.label}, {KIND_WORDS[kind]}{per_task}"
            out.append(Comparison(name, kind, label, target(method, layer)))
    return out


@dataclass(frozen=True)
class Outcome:
    """A comparison over a set of problems: the worst problem and how many were measured."""

    worst: str | None
    ours: Row | None
    other: Row | None
    speedup: float | None
    best: float | None
    measured: int
    failed: list[Row]


def speedup(rows: dict[str, Row], problem: str, comparison: Comparison) -> float | None:
    """How many times faster ours is than the comparison's method on ``problem`` (per task)."""
    ours, other = find(rows, problem, OURS), find(rows, problem, comparison.method)
    if ours is None or other is None or ours.status != "ok" or other.status != "ok":
        return None
    theirs, mine = other.per_task(comparison.kind), ours.per_task(comparison.kind)
    if theirs is None or mine is None or theirs <= 0 or mine <= 0:
        return None  # a backward taken as fwd+bwd − fwd can come out ≤ 0 (noise)
    return theirs / mine


def outcome(rows: dict[str, Row], problems: list[str], comparison: Comparison) -> Outcome:
    """The comparison on every problem; the worst is the smallest speed-up."""
    measured = {p: speedup(rows, p, comparison) for p in problems}
    measured = {p: s for p, s in measured.items() if s is not None}
    failed = [
        other
        for p in problems
        if (other := find(rows, p, comparison.method)) is not None and other.status == "failed"
    ]
    if not measured:
        return Outcome(None, None, None, None, None, 0, failed)
    worst = min(measured, key=measured.__getitem__)
    return Outcome(
        worst,
        find(rows, worst, OURS),
        find(rows, worst, comparison.method),
        measured[worst],
        max(measured.values()),
        len(measured),
        failed,
    )


HEADER = [
    "comparison",
    "threads",
    "worst problem",
    "ours per task",
    "other per task",
    "worst speed-up",
    "best speed-up",
    "target",
    "met",
    "grad err ours",
    "grad err other",
    "gap ours",
    "gap other",
    "measured",
]


def headline_lines(
    rows: dict[str, Row],
    problems: list[str],
    family_of: dict[str, str],
    threads: str,
    ab: Interleaved | None = None,
) -> list[list[str]]:
    """One line per comparison: the worst problem of ``problems`` (labelled by its family);
    from the interleaved rows ``ab`` where they measured it (:func:`source`)."""
    lines = []
    for comparison in comparisons(rows, problems):
        measured_in = source(rows, comparison, ab)
        result = outcome(measured_in, problems, comparison)
        met = verdict(result.speedup, comparison.target)
        if result.failed:
            met += f"; failed on {len(result.failed)}: {result.failed[0].error[:80]}"
        where = "–"
        if result.worst is not None:
            where = f"{family_of.get(result.worst, '')}: `{result.worst}` (of {result.measured})"
        ours, other = result.ours, result.other
        kind = comparison.kind
        how = "suite"
        if ab is not None and measured_in is ab.best:
            how = f"interleaved, {len(ab.rounds)} rounds"
            if result.worst is not None and (lo_hi := spread(ab, result.worst, comparison)):
                how += f": {lo_hi[0]:.3g}–{lo_hi[1]:.3g}×"
        lines.append(
            [
                comparison.label,
                threads,
                where,
                fmt_time(ours.per_task(kind) if ours else None),
                fmt_time(other.per_task(kind) if other else None),
                fmt_ratio(result.speedup),
                fmt_ratio(result.best),
                "–" if comparison.target is None else f"≥ {comparison.target:g}×",
                met,
                fmt_num(ours.metrics.get("grad_error") if ours else None),
                fmt_num(other.metrics.get("grad_error") if other else None),
                fmt_num(ours.metrics.get("gap") if ours else None),
                fmt_num(other.metrics.get("gap") if other else None),
                how,
            ]
        )
    return lines


def family_lines(
    rows: dict[str, Row],
    problems: list[str],
    family_of: dict[str, str],
    ab: Interleaved | None = None,
) -> tuple[list[str], list[list[str]]]:
    """``(header, lines)``: our speed-up against every method on every problem of the set
    (from ``ab`` where it measured the comparison, :func:`source`)."""
    chosen = comparisons(rows, problems)
    header = ["family", "problem"] + [f"{c.method} ({KIND_WORDS[c.kind]})" for c in chosen]
    lines = []
    for problem in problems:
        if find(rows, problem, OURS) is None:
            continue
        speeds = [fmt_ratio(speedup(source(rows, c, ab), problem, c)) for c in chosen]
        lines.append([family_of.get(problem, ""), f"`{problem}`", *speeds])
    return header, lines


def summary(
    rows: dict[str, Row],
    problems: list[str],
    family_of: dict[str, str],
    threads: str,
    ab: Interleaved | None = None,
) -> list[str]:
    """Short console lines of the headline (``make bench`` prints them)."""
    out = []
    for comparison in comparisons(rows, problems):
        result = outcome(source(rows, comparison, ab), problems, comparison)
        if result.worst is None:
            out.append(f"  {comparison.label}: not measured")
            continue
        goal = "" if comparison.target is None else f", target ≥ {comparison.target:g}×"
        met = "" if comparison.target is None else f": {verdict(result.speedup, comparison.target)}"
        out.append(
            f"  [threads: {threads}] {comparison.label}: worst {fmt_ratio(result.speedup)} "
            f"({family_of.get(result.worst, result.worst)}){goal}{met}".replace("**", "")
        )
    return out
