"""The Markdown report: the headline on the worst family, every family, threads, ops and
distance to the floor, the SVM head, plots, every case."""

from __future__ import annotations

from pathlib import Path

from benchmarks import headline, tables
from benchmarks.cases import REGRESSION_TOL, SVM_TOL, Problem
from benchmarks.data import LAM1_MAX_TOL
from benchmarks.interleaved import Interleaved, as_rows, comparison
from benchmarks.metrics import REFERENCE_TOL, SVM_REFERENCE_TOL
from benchmarks.plots import scaling_plot
from benchmarks.results_io import Row

NOTES = f"""\
How to read it. Times are the minimum over the timed rounds (pytest-benchmark; other jobs on
a shared machine only add time), single calls on the CPU. The suite runs twice: every case with
`torch.set_num_threads(1)` for every method, then the headline problems again at torch's
default thread count (what a user gets: `set_num_threads` is not called at all). Then the
interleaved run (`benchmarks/interleaved.py`) times the headline problems again in worker
processes that alternate the two settings, each problem's targeted baselines between two
timings of our layer (and the plain SVM heads, λ1 = 0 and λ1 > 0 in one worker): the
headline's comparisons with a target (column "measured": its rounds and the spread of the
worst speed-up over them), the family tables' columns of those baselines, the threads table
and the SVM head's λ1 cost table come from it, since a burst of load on the shared machine
during one case's back-to-back rounds moved single suite numbers by up to 1.8×. "Per task"
divides by the tasks a method solved: our layers and scikit-learn solve every task of the batch;
cvxpylayers and the cvxpy mode solve the first tasks of the *same* batch (column "tasks run"),
because they solve task by task. Forward = the call as in training (inputs require grad, no
backward); fwd+bwd adds the vector-Jacobian product with a fixed random cotangent; "bwd" is the
backward alone (its forward runs in the untimed setup of each round) for our layers, fwd+bwd −
fwd otherwise.

The headline compares our implicit layer with each other method on every problem family (the
headline problems, a dense truth, a correlated design, m ≫ n, the paper's inner problem, a large
batch; for the SVM head every size) and prints the *worst* one: the smallest speed-up over the
families, with the problem where it occurs. Ops per solve are the `aten::` events of a
`torch.profiler` trace of one call (nested ones included); host syncs are the events that make a
GPU wait for the host (`aten::_local_scalar_dense`, behind `.item()` and `bool(tensor)`: the
"reads"; and `aten::nonzero`, behind boolean-mask indexing). The floor is one batched matmul
`F^T Y` of the same size.

Accuracy (float64, one formula for every method): *gap* = largest relative duality gap
`(P(W) − D)/P(0)` of the returned solution (regression: the library's certificate, P(0) =
‖Y‖²/(2n); SVM: primal of W against the dual at Λ projected on the simplex, P(0) = n); *support* =
features with an exact nonzero weight per task (conic solvers return no exact zeros); *weight err* /
*grad err* = relative error of the solution / of the VJP against the float64 reference: our
implicit mode in float64 at tol = {REFERENCE_TOL:g} (ridge: its closed form; SVM head: tol =
{SVM_REFERENCE_TOL:g}), whose gradients the test suite checks against gradcheck, unrolling,
cvxpy/diffcp and finite differences of scikit-learn. Our regression layers run at tol =
{REGRESSION_TOL:g} (library default), the SVM head at tol = {SVM_TOL:g}.

SVM head against qpth, on MetaOptNet's own QP (problems ending in `-dualridge1`): its dual kernel
is K + 1.0·I, i.e. the exact Crammer–Singer SVM on the features [F, I_n], λ2 = 1/C = 10; our head
solves it with `dual_ridge=1.0`, and its reference is our head on [F, I_n] without `dual_ridge`.
λ1/λ1_max divides by the exact λ1_max (`sl.functional.svm_lambda1_max`, certified to a relative
gap of {LAM1_MAX_TOL:g}), no longer by the uniform-dual upper bound.

Tolerance matching with scikit-learn: its coordinate descent minimizes n·P (½‖y − Xw‖² + nα‖w‖₁)
and, once the largest coordinate update is ≤ tol·max|w|, stops when its duality gap (the same
rescaled-residual dual point as ours) is ≤ tol·‖y‖². In our units that is (P − D)/P(0) ≤ 2·tol,
so scikit-learn runs with tol = {REGRESSION_TOL / 2:g} to stop at our relative gap
{REGRESSION_TOL:g}; its extra update test can only make it run longer (its "gap" column shows
what it reached).
"""


def _ids(problems: list[Problem]) -> list[str]:
    return [p.id for p in problems]


def _setting(problems: list[Problem]) -> str:
    p = problems[0]
    return f"CPU, {p.dtype}, k = {p.k}, λ = {p.lam:g} λ_max"


def family_labels(families: dict[str, list[Problem]], svm: list[Problem]) -> dict[str, str]:
    """``{problem id: family name}`` of the group-Lasso families and the SVM sizes."""
    labels = {p.id: name for name, problems in families.items() for p in problems}
    for p in svm:
        labels.setdefault(p.id, f"{p.k}-way {p.n // p.k}-shot, m = {p.m}")
    return labels


def _default_threads(header: dict | None) -> str:
    return "default" if header is None else f"default ({header['threads']})"


def _svm_cost_lines(rows: dict[str, Row], ab: Interleaved | None) -> list[list[str]]:
    """The λ1 cost table from the interleaved run's times where it measured the heads (the
    suite's rows elsewhere)."""
    if ab is None:
        return tables.svm_cost_lines(rows)
    return tables.svm_cost_lines({**rows, **ab.best}, ab.rounds)


def interleaved_rows(
    interleaved: dict | None, rows: dict[str, Row], default_rows: dict[str, Row] | None
) -> list[Interleaved | None]:
    """The interleaved measurements as rows, one per suite run (one thread, then the default
    threads when that run exists); Nones without them."""
    if interleaved is None:
        return [None, None]
    out: list[Interleaved | None] = [as_rows(interleaved, "1", rows)]
    out.append(None if default_rows is None else as_rows(interleaved, "default", default_rows))
    return out


def render(
    rows: dict[str, Row],
    header: dict,
    suites: dict[str, list[Problem]],
    families: dict[str, list[Problem]],
    out: Path,
    default_rows: dict[str, Row] | None = None,
    default_header: dict | None = None,
    interleaved: dict | None = None,
) -> str:
    """The whole report; PNG plots are written to ``out``. ``rows`` are the one-thread run
    (every case), ``default_rows`` the run at torch's default threads (the headline problems),
    ``interleaved`` the measurements of ``benchmarks.interleaved`` (which, when given, make the
    threads table and the headline's targeted comparisons)."""
    machine = header["machine"]
    commit = header["commit"]
    regression = [p.id for problems in families.values() for p in problems]
    svm = _ids(suites["svm"])
    family_of = family_labels(families, suites["svm"])
    runs = [("1", rows)]
    if default_rows is not None:
        runs.append((_default_threads(default_header), default_rows))
    abs_ = interleaved_rows(interleaved, rows, default_rows)
    threads = f"{header['threads']} thread(s)"
    if default_header is not None:
        threads += f" and torch's default ({default_header['threads']}) for the headline problems"
    head_lines = []
    for problems in (regression, svm):
        for (label, run), ab in zip(runs, abs_, strict=False):
            head_lines += headline.headline_lines(run, problems, family_of, label, ab)
    parts = [
        "# sparselayers benchmark report",
        "",
        f"Profile `{header['profile']}`, {header['datetime']}, commit "
        f"`{str(commit.get('id', '?'))[:10]}`{' (dirty tree)' if commit.get('dirty') else ''}; "
        f"CPU {machine.get('cpu', {}).get('brand_raw', '?')}, "
        f"Python {machine.get('python_version', '?')}, torch {header['torch']}, {threads}.",
        "",
        NOTES,
        "## Headline: the worst family",
        "",
        tables.table(headline.HEADER, head_lines),
        "",
        "## Every family: our speed-up per problem (1 thread; per task where a method solves a "
        "subset; the targeted baselines from the interleaved run where there is one)",
        "",
    ]
    for problems in (regression, svm):
        fam_header, fam_lines = headline.family_lines(rows, problems, family_of, abs_[0])
        if fam_lines:
            parts += [tables.table(fam_header, fam_lines), ""]
    parts += [
        "## Per-task times, every family: " + _setting(suites["headline"]),
        "",
        tables.table(tables.PER_TASK_HEADER, tables.per_task_lines(rows, regression, family_of)),
        "",
    ]
    if interleaved is not None:
        parts += [
            "## Threads: torch's default against one thread, interleaved (our implicit layer)",
            "",
            f"{interleaved['rounds']} rounds of worker processes alternating one thread and "
            f"torch's default (`benchmarks/interleaved.py`), best of {interleaved['repeats']} "
            "calls each; the ratio is default / one thread of the best times, in brackets its "
            "range over the rounds.",
            "",
            tables.table(
                tables.threads_header(interleaved.get("default_threads", "?"), rounds=True),
                tables.interleaved_threads_lines(comparison(interleaved), regression + svm),
            ),
            "",
        ]
    elif default_rows is not None:
        parts += [
            "## Threads: torch's default against one thread (our implicit layer)",
            "",
            "From the two pytest-benchmark runs, minutes apart (no interleaved measurement).",
            "",
            tables.table(
                tables.threads_header(default_header["threads"] if default_header else "?"),
                tables.threads_lines(rows, default_rows, regression + svm),
            ),
            "",
        ]
    every = list(dict.fromkeys(p.id for problems in suites.values() for p in problems))
    parts += [
        "## Ops per solve and distance to the floor (our implicit layer, 1 thread)",
        "",
        tables.table(tables.OPS_HEADER, tables.ops_lines(rows, every)),
        "",
        "## SVM head: cost of the group-lasso term (λ1 > 0 vs λ1 = 0)",
        "",
        tables.table(tables.SVM_COST_HEADER, _svm_cost_lines(rows, abs_[0])),
        "",
        "## Scaling (log–log)",
        "",
    ]
    for axis in ("T", "n", "m"):
        suite = set(_ids(suites[f"sweep-{axis}"]))
        sweep = [r for r in rows.values() if r.problem in suite]
        title = f"group Lasso, float32, k = 1, λ = 0.1 λ_max; sweep over {axis}"
        path = scaling_plot(sweep, axis, title, out / f"scaling_{axis}.png")
        if path is not None:
            parts += [f"![time against {axis}]({path.name})", ""]
    parts += ["## Every case", ""]
    for label, run in runs:
        shown: set[str] = set()
        for name, problems in suites.items():
            ids = set(_ids(problems)) - shown
            chosen = [r for r in run.values() if r.problem in ids]
            shown |= ids
            if chosen:
                parts += [
                    f"### {name}, {label} thread(s)",
                    "",
                    tables.table(tables.CASE_HEADER, tables.case_lines(chosen, run)),
                    "",
                ]
    skipped = [r for _, run in runs for r in run.values() if r.status != "ok"]
    if skipped:
        parts += ["## Failures", ""]
        parts += [f"- `{r.case}`: {r.error}" for r in skipped]
    return "\n".join(parts) + "\n"
