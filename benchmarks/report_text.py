"""The Markdown report: headline, per-task ratios, SVM head, plots, every case."""

from __future__ import annotations

from pathlib import Path

from benchmarks import tables
from benchmarks.cases import REGRESSION_TOL, SVM_TOL, Problem
from benchmarks.data import LAM1_MAX_TOL
from benchmarks.metrics import REFERENCE_TOL, SVM_REFERENCE_TOL
from benchmarks.plots import scaling_plot
from benchmarks.results_io import Row

NOTES = f"""\
How to read it. Times are the minimum over the timed rounds (pytest-benchmark; other jobs on
a shared machine only add time), single calls on the CPU with `torch.set_num_threads(threads)`
for every method. "Per task" divides by the tasks a method solved: our layers and scikit-learn
solve every task of the batch; cvxpylayers and the cvxpy mode solve the first tasks of the
*same* batch (column "tasks run"), because they solve task by task. Forward = the call as in
training (inputs require grad, no backward); fwd+bwd adds the vector-Jacobian product with a
fixed random cotangent; "bwd" is the backward alone (its forward runs in the untimed setup of
each round) for our layers, fwd+bwd − fwd otherwise.

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


def _problems(suite: list[Problem]) -> list[str]:
    return [p.id for p in suite]


def _issue2_title(problems: list[Problem]) -> str:
    p = problems[0]
    return f"CPU, {p.dtype}, T = {p.T} tasks, n = {p.n}, k = {p.k}, λ = {p.lam:g} λ_max"


def render(rows: dict[str, Row], header: dict, suites: dict[str, list[Problem]], out: Path) -> str:
    """The whole report; PNG plots are written to ``out``."""
    machine = header["machine"]
    commit = header["commit"]
    parts = [
        "# sparselayers benchmark report",
        "",
        f"Profile `{header['profile']}`, {header['datetime']}, commit "
        f"`{str(commit.get('id', '?'))[:10]}`{' (dirty tree)' if commit.get('dirty') else ''}; "
        f"CPU {machine.get('cpu', {}).get('brand_raw', '?')}, "
        f"Python {machine.get('python_version', '?')}, torch {header['torch']}, "
        f"{header['threads']} thread(s).",
        "",
        NOTES,
        "## Headline",
        "",
        tables.table(
            tables.HEADLINE_HEADER,
            tables.headline_lines(rows, _problems(suites["headline"]))
            + tables.svm_headline_lines(rows, _problems(suites["svm"])),
        ),
        "",
        "## Per task, against cvxpylayers and scikit-learn: " + _issue2_title(suites["headline"]),
        "",
        tables.table(
            tables.ISSUE2_HEADER, tables.issue2_lines(rows, _problems(suites["headline"]))
        ),
        "",
        "## SVM head: cost of the group-lasso term (λ1 > 0 vs λ1 = 0)",
        "",
        tables.table(tables.SVM_COST_HEADER, tables.svm_cost_lines(rows)),
        "",
        "## Scaling (log–log)",
        "",
    ]
    for axis in ("T", "n", "m"):
        suite = set(_problems(suites[f"sweep-{axis}"]))
        sweep = [r for r in rows.values() if r.problem in suite]
        title = f"group Lasso, float32, k = 1, λ = 0.1 λ_max; sweep over {axis}"
        path = scaling_plot(sweep, axis, title, out / f"scaling_{axis}.png")
        if path is not None:
            parts += [f"![time against {axis}]({path.name})", ""]
    parts += ["## Every case", ""]
    for name, problems in suites.items():
        ids = set(_problems(problems))
        chosen = [r for r in rows.values() if r.problem in ids]
        if chosen:
            parts += [
                f"### {name}",
                "",
                tables.table(tables.CASE_HEADER, tables.case_lines(chosen, rows)),
                "",
            ]
    skipped = [r for r in rows.values() if r.status != "ok"]
    if skipped:
        parts += ["## Failures", ""]
        parts += [f"- `{r.case}`: {r.error}" for r in skipped]
    return "\n".join(parts) + "\n"
