"""The one registry of benchmark cases, shared by the asv suite and the pytest-benchmark suite.

A :class:`Problem` is a batch of tasks (layer, T, n, m, k, dtype, λ/λ_max); a :class:`Method`
is one way to solve it (a backward mode of our layer, a baseline, or the matmul floor); a
:class:`Case` is a method on a problem. Suites group problems:

- ``headline``: the headline setting, group Lasso, T = 64, n = 50, m ∈ {6, 64, 256}, k = 1,
  float32, λ = 0.1 λ_max, against every baseline;
- ``families``: the same comparison on harder data (:func:`families`): a dense truth, a
  correlated (Toeplitz) design, m ≫ n, the paper's inner problem (T = 8, n = 50, m = 6) and a
  large batch (T = 1,024); the report's headline shows the worst of them and the headline;
- ``variants``: k > 1 (MultiTaskLasso), float64 (adds the cvxpy reference mode), other λ/λ_max;
- ``ridge``, ``l21``: the other layers, every backward mode;
- ``sweep-T``, ``sweep-n``, ``sweep-m``: one axis varies, for the log-log scaling plots;
- ``svm``: the group-lasso SVM head (meta-learning) at several λ1/λ1_max, and MetaOptNet's
  Crammer–Singer head (λ1 = 0, dual kernel ``K + 1.0·I``, i.e. the exact CS-SVM on the
  features ``[F, I_n]``: ``dual_ridge = 1``), solved by our head with ``dual_ridge=1.0`` and by
  qpth as MetaOptNet solves it: the same QP in the same case;
- ``headline-svm``: the MetaOptNet problems of ``svm`` (the SVM rows of the report's headline).

The sizes come from the active profile (``profiles.py``); the methods that apply to a problem are
decided here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from benchmarks.profiles import Profile, current_profile

REGRESSION_TOL = 1e-6
"""Relative duality gap of our regression layers (the library default)."""
SVM_TOL = 1e-4
"""Relative duality gap of the SVM head (the issue's setting)."""
SVM_LAM2 = 10.0
"""Ridge weight of the SVM head: λ2 = 1 / C with MetaOptNet's C_reg = 0.1."""
METAOPTNET_DUAL_RIDGE = 1.0
"""What MetaOptNet's ``MetaOptNetHead_SVM_CS`` adds to the kernel of its dual QP (``K + 1.0·I``)."""
TRUTHS = ("sparse", "dense")
"""Ground truths of the regression data (``Problem.truth``)."""
DENSE_TRUTH_FRACTION = 0.3
"""Share of active true features of a ``dense`` truth: 30 %, a solution whose support nears n."""
TOEPLITZ_CORRELATION = 0.9
"""``ρ`` of the correlated-design family (``Σ_ij = ρ^|i−j|``)."""
UNROLL_MAX_FEATURES = 256
"""Largest m on which the unrolled backward is measured in the sweeps (its graph grows as
iterations × T × m)."""


@dataclass(frozen=True)
class Problem:
    """A batch of ``T`` tasks of one layer.

    Attributes:
        layer: ``group_lasso``, ``ridge``, ``l21`` or ``svm``.
        T: tasks. n: samples per task (support set for the SVM). m: features.
        k: outputs (classes for the SVM; ``k = 1`` gives vector targets).
        dtype: ``float32`` or ``float64``.
        lam: λ / λ_max (for the SVM: λ1 / λ1_max, see ``data.svm_data``).
        dual_ridge: ``c`` added to the kernel of the SVM dual (``K + c I``, the head on the
            features ``[F, √c I_n]``); ``METAOPTNET_DUAL_RIDGE`` is MetaOptNet's problem. Only
            for ``svm`` with ``lam = 0``; 0 (the plain head) everywhere else.
        correlation: ``ρ`` of a Toeplitz design, every row of ``F`` drawn from
            ``N(0, Σ)`` with ``Σ_ij = ρ^|i−j|`` (neighbouring features correlated); 0 (the
            default) draws i.i.d. ``N(0, 1)`` features. Regression layers only.
        truth: ``sparse`` (the default: ``max(1, m // 8)`` active true features per task) or
            ``dense`` (:data:`DENSE_TRUTH_FRACTION` of the features active: a solution whose
            support approaches n). Regression layers only.
    """

    layer: str
    T: int
    n: int
    m: int
    k: int
    dtype: str
    lam: float
    dual_ridge: float = 0.0
    correlation: float = 0.0
    truth: str = "sparse"

    def __post_init__(self) -> None:
        if not self.dual_ridge >= 0:
            raise ValueError(f"dual_ridge must be >= 0, got {self.dual_ridge!r}")
        if self.dual_ridge and (self.layer != "svm" or self.lam != 0):
            raise ValueError("dual_ridge is MetaOptNet's SVM head: layer 'svm' with lam = 0 only")
        if not 0 <= self.correlation < 1:
            raise ValueError(f"correlation must be in [0, 1), got {self.correlation!r}")
        if self.truth not in TRUTHS:
            raise ValueError(f"truth must be one of {TRUTHS}, got {self.truth!r}")
        if self.layer == "svm" and (self.correlation or self.truth != "sparse"):
            raise ValueError("correlation and truth describe regression data, not the SVM head's")

    @property
    def id(self) -> str:
        """Readable, unique id, e.g. ``group_lasso-T64-n50-m256-k1-float32-lam0.1``; MetaOptNet's
        problem ends in ``-dualridge1``, a correlated design in ``-toeplitz0.9``, a dense truth
        in ``-densetruth`` (the defaults add nothing, so older ids still name the same data)."""
        base = f"{self.layer}-T{self.T}-n{self.n}-m{self.m}-k{self.k}-{self.dtype}-lam{self.lam:g}"
        if self.dual_ridge:
            base += f"-dualridge{self.dual_ridge:g}"
        if self.correlation:
            base += f"-toeplitz{self.correlation:g}"
        if self.truth != "sparse":
            base += f"-{self.truth}truth"
        return base


@dataclass(frozen=True)
class Method:
    """One way of solving a problem.

    Attributes:
        name: short id used in case ids and asv params.
        label: what the report prints.
        role: ``ours``, ``baseline`` or ``floor``.
        differentiable: has a forward+backward benchmark.
        per_task: solves only the first ``profile.baseline_tasks`` tasks of a batch (slow
            per-task solvers); its times are compared per task.
    """

    name: str
    label: str
    role: str
    differentiable: bool
    per_task: bool = False


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("sl-implicit", "sparselayers (implicit backward)", "ours", True),
        Method("sl-unroll", "sparselayers (unrolled backward)", "ours", True),
        Method("sl-cvxpy", "sparselayers (cvxpy reference backward)", "ours", True, True),
        Method("sl-autograd", "sparselayers (autograd)", "ours", True),
        Method("cvxpylayers", "cvxpylayers (default: diffcp lsqr)", "baseline", True, True),
        Method("cvxpylayers-dense", "cvxpylayers (mode='dense', exact)", "baseline", True, True),
        Method(
            "cvxpylayers-serial",
            "cvxpylayers (default, one job: n_jobs=1)",
            "baseline",
            True,
            True,
        ),
        Method("sklearn", "scikit-learn Lasso / MultiTaskLasso loop", "baseline", False),
        Method("skglm", "skglm Lasso / MultiTaskLasso loop (float64)", "baseline", False),
        Method("celer", "celer Lasso / MultiTaskLasso loop", "baseline", False),
        Method("qpth", "MetaOptNet CS head, K + I (qpth, maxIter=15)", "baseline", True),
        Method("proxsuite", "MetaOptNet CS head, K + I (ProxSuite QPLayer)", "baseline", True),
        Method(
            "paper-head",
            "paper's sparse SVM head (5 PGD steps, 5-iteration CG backward)",
            "baseline",
            True,
        ),
        Method("floor", "floor: one batched matmul F^T Y", "floor", False),
    )
}


@dataclass(frozen=True)
class Case:
    """A method on a problem; ``tasks`` is how many of the problem's tasks it solves."""

    problem: Problem
    method: Method
    tasks: int

    @property
    def id(self) -> str:
        return f"{self.problem.id}-{self.method.name}"


def _group_lasso(T: int, n: int, m: int, k: int = 1, dtype: str = "float32", lam: float = 0.1):
    return Problem("group_lasso", T, n, m, k, dtype, lam)


def families(profile: Profile) -> dict[str, list[Problem]]:
    """The group-Lasso families of the headline comparison, by the name the report prints; the
    first is the headline itself (i.i.d. ``N(0, 1)`` features, a sparse truth).

    Each family is the headline problem with one thing made harder: a dense truth (30 % of the
    true weights nonzero, so the solution's support approaches n), a correlated design
    (Toeplitz ``ρ = 0.9``), m ≫ n, the paper's disentanglement inner problem (few tasks, m = 6:
    per-call overhead dominates) and a large batch.
    """
    p = profile
    headline = [_group_lasso(p.tasks, p.samples, m) for m in p.features]
    harder = [_group_lasso(p.tasks, p.samples, m) for m in p.family_features]
    rho = TOEPLITZ_CORRELATION
    return {
        "headline (i.i.d. design, sparse truth)": headline,
        f"dense truth ({DENSE_TRUTH_FRACTION:.0%} active)": [
            replace(pb, truth="dense") for pb in harder
        ],
        f"correlated design (Toeplitz {rho:g})": [replace(pb, correlation=rho) for pb in harder],
        "m ≫ n": [_group_lasso(p.tasks, *p.wide_shape)],
        "paper's inner problem (disentanglement)": [_group_lasso(*p.inner_shape)],
        "large batch": [_group_lasso(*p.large_batch)],
    }


def suites(profile: Profile) -> dict[str, list[Problem]]:
    """Problems of every suite for ``profile`` (a problem may sit in several suites)."""
    p = profile
    mv = p.variant_features
    T0, n0, m0 = p.sweep_center
    svm = []
    for shot in p.svm_shots:
        for m in p.svm_features:
            size = (p.svm_tasks, p.svm_ways * shot, m, p.svm_ways, "float32")
            svm += [Problem("svm", *size, frac) for frac in p.svm_lam1_fracs]
            svm.append(Problem("svm", *size, 0.0, dual_ridge=METAOPTNET_DUAL_RIDGE))
    return {
        "headline": [_group_lasso(p.tasks, p.samples, m) for m in p.features],
        "families": [pb for group in list(families(p).values())[1:] for pb in group],
        "variants": [_group_lasso(p.tasks, p.samples, mv, k=k) for k in p.classes]
        + [_group_lasso(p.tasks, p.samples, mv, dtype="float64")]
        + [_group_lasso(p.tasks, p.samples, mv, lam=frac) for frac in p.lam_fracs],
        "ridge": [
            Problem("ridge", p.tasks, p.samples, mv, 1, dtype, 0.1)
            for dtype in ("float32", "float64")
        ],
        "l21": [Problem("l21", p.tasks, p.samples, mv, max(p.classes), "float32", 0.1)],
        "sweep-T": [_group_lasso(T, n0, m0) for T in p.sweep_tasks],
        "sweep-n": [_group_lasso(T0, n, m0) for n in p.sweep_samples],
        "sweep-m": [_group_lasso(T0, n0, m) for m in p.sweep_features],
        "svm": svm,
        "headline-svm": [pb for pb in svm if pb.dual_ridge],
    }


def methods_for(problem: Problem, profile: Profile) -> list[str]:
    """Names of the methods measured on ``problem`` (the registry's only rule book)."""
    if problem.layer == "l21":
        return ["sl-autograd"]
    if problem.layer == "ridge":
        extra = ["sl-cvxpy"] if problem.dtype == "float64" else []
        return ["sl-implicit", "sl-unroll", *extra, "floor"]
    if problem.layer == "svm":
        if problem.dual_ridge:
            # MetaOptNet's QP (K + I): our head with dual_ridge, qpth and ProxSuite solve the
            # same problem.
            return ["sl-implicit", "qpth", "proxsuite", "floor"]
        names = ["sl-implicit"]
        if problem.m == min(profile.svm_features):
            names.append("sl-unroll")
        return [*names, "paper-head", "floor"]
    names = ["sl-implicit"]
    if problem.m <= UNROLL_MAX_FEATURES:
        names.append("sl-unroll")
    if problem.dtype == "float64":
        names.append("sl-cvxpy")
    if problem.m <= profile.cvxpy_max_features:
        names += ["cvxpylayers", "cvxpylayers-dense", "cvxpylayers-serial"]
    return [*names, "sklearn", "skglm", "celer", "floor"]


def _case(problem: Problem, name: str, profile: Profile) -> Case:
    method = METHODS[name]
    tasks = min(problem.T, profile.baseline_tasks) if method.per_task else problem.T
    return Case(problem, method, tasks)


def registry(profile: Profile | None = None) -> dict[str, list[Case]]:
    """Cases of every suite, in a stable order (of the active profile by default)."""
    return _registry(profile or current_profile())


@lru_cache(maxsize=4)
def _registry(profile: Profile) -> dict[str, list[Case]]:
    return {
        suite: [_case(pb, name, profile) for pb in problems for name in methods_for(pb, profile)]
        for suite, problems in suites(profile).items()
    }


def all_cases(
    profile: Profile | None = None,
    *,
    differentiable: bool = False,
    only: tuple[str, ...] | None = None,
) -> list[Case]:
    """Every case once (problems shared by several suites are not repeated); ``only`` keeps
    the cases of those suites."""
    seen: dict[str, Case] = {}
    for suite, cases in registry(profile).items():
        if only is not None and suite not in only:
            continue
        for case in cases:
            if case.method.differentiable or not differentiable:
                seen.setdefault(case.id, case)
    return list(seen.values())


def asv_grid(problem: Problem) -> str:
    """The asv grid a problem belongs to: ``group_lasso``, ``svm``, or ``other`` (ridge, L21)."""
    return problem.layer if problem.layer in ("group_lasso", "svm") else "other"


def lookup(method: str, problem_id: str) -> Case:
    """The registered case of this method on this problem; ``NotImplementedError`` (asv's way
    to skip a parameter combination) when the registry does not pair them."""
    for case in all_cases():
        if case.method.name == method and case.problem.id == problem_id:
            return case
    raise NotImplementedError(f"{method} is not measured on {problem_id}")


def asv_axes(
    name: str, *, differentiable: bool = False, methods: tuple[str, ...] | None = None
) -> list[list[str]]:
    """``[method names, problem ids]`` of an asv grid (:func:`asv_grid`), of ``methods`` only if
    given: the parameters of its benchmarks (pairs that the registry does not hold are skipped
    by :func:`lookup`)."""
    cases = [
        c
        for c in all_cases(differentiable=differentiable)
        if asv_grid(c.problem) == name and (methods is None or c.method.name in methods)
    ]
    methods = list(dict.fromkeys(c.method.name for c in cases))
    problems = list(dict.fromkeys(c.problem.id for c in cases))
    return [methods, problems]
