"""Benchmark profiles: the sizes of every suite and the timing budget, chosen by an env variable.

``SPARSELAYERS_BENCH_PROFILE`` is ``tiny`` (tiny sizes, one round: keeps every benchmark
exercised by ``make test``), ``quick`` (the default of pytest-benchmark and ``make bench``),
``asv`` (the default of the asv suite: the quick sizes without the largest SVM head and the
slowest baselines' largest sizes, so that ``asv run --quick`` stays within minutes) or ``full``
(larger sweeps, more rounds).

``SPARSELAYERS_BENCH_THREADS`` is torch's CPU threads: a positive int (default 1: one core for
every method, as scikit-learn's coordinate descent and the conic solvers use; single-threaded
timings stay meaningful on a shared machine) or ``default``: torch's own default, what a user
gets, obtained by *not* calling ``torch.set_num_threads`` at all (in this torch build a call
with n ≥ 2 breaks batched LU, see DESIGN §6). ``SPARSELAYERS_BENCH_SUITES`` (comma-separated
suite names of ``cases.suites``) restricts the pytest-benchmark suite to those suites.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

PROFILE_ENV = "SPARSELAYERS_BENCH_PROFILE"
THREADS_ENV = "SPARSELAYERS_BENCH_THREADS"
SUITES_ENV = "SPARSELAYERS_BENCH_SUITES"
DEFAULT_THREADS = "default"
"""The value of ``SPARSELAYERS_BENCH_THREADS`` that leaves torch's thread count alone."""


@dataclass(frozen=True)
class Profile:
    """Sizes and timing budget of one profile.

    Attributes:
        name: ``tiny``, ``quick``, ``asv`` or ``full``.
        tasks: T of the headline problems (the headline setting: 64).
        samples: n of the headline problems.
        features: the m values of the headline problems.
        variant_features: m of the variant problems (k > 1, float64, other λ fractions).
        classes: k > 1 values of the group-Lasso variants (MultiTaskLasso).
        lam_fracs: λ/λ_max values of the variants besides the headline 0.1.
        sweep_tasks, sweep_samples, sweep_features: the scaling sweeps (one axis each, the
            others at the centre ``(sweep_center)``).
        sweep_center: ``(T, n, m)`` of the sweeps' centre.
        baseline_tasks: tasks solved by the per-task baselines (cvxpylayers, the cvxpy mode),
            the first ones of the same batch; their times are reported per task.
        cvxpy_max_features: largest m on which cvxpylayers runs in the sweeps.
        family_features: the m values of the dense-truth and correlated-design families.
        wide_shape: ``(n, m)`` of the m ≫ n family (T = ``tasks``).
        inner_shape: ``(T, n, m)`` of the paper's disentanglement inner problem.
        large_batch: ``(T, n, m)`` of the large-batch family.
        svm_tasks, svm_ways, svm_shots, svm_features, svm_lam1_fracs: the SVM-head problems.
        budget_s: time spent on the timed rounds of one benchmark (rounds = budget / one call).
        max_rounds: at most this many timed rounds.
        warmup: run one untimed call before timing.
    """

    name: str
    tasks: int
    samples: int
    features: tuple[int, ...]
    variant_features: int
    classes: tuple[int, ...]
    lam_fracs: tuple[float, ...]
    sweep_tasks: tuple[int, ...]
    sweep_samples: tuple[int, ...]
    sweep_features: tuple[int, ...]
    sweep_center: tuple[int, int, int]
    baseline_tasks: int
    cvxpy_max_features: int
    family_features: tuple[int, ...]
    wide_shape: tuple[int, int]
    inner_shape: tuple[int, int, int]
    large_batch: tuple[int, int, int]
    svm_tasks: int
    svm_ways: int
    svm_shots: tuple[int, ...]
    svm_features: tuple[int, ...]
    svm_lam1_fracs: tuple[float, ...]
    budget_s: float
    max_rounds: int
    warmup: bool


PROFILES = {
    "tiny": Profile(
        name="tiny",
        tasks=3,
        samples=12,
        features=(4, 8),
        variant_features=5,
        classes=(2,),
        lam_fracs=(0.5,),
        sweep_tasks=(1, 2),
        sweep_samples=(8, 16),
        sweep_features=(3, 6),
        sweep_center=(2, 10, 4),
        baseline_tasks=2,
        cvxpy_max_features=8,
        family_features=(8,),
        wide_shape=(6, 8),
        inner_shape=(8, 50, 6),
        large_batch=(16, 12, 5),
        svm_tasks=2,
        svm_ways=3,
        svm_shots=(2,),
        svm_features=(10,),
        svm_lam1_fracs=(0.0, 0.5),
        budget_s=0.0,
        max_rounds=1,
        warmup=False,
    ),
    "quick": Profile(
        name="quick",
        tasks=64,
        samples=50,
        features=(6, 64, 256),
        variant_features=64,
        classes=(5,),
        lam_fracs=(0.01, 0.5),
        sweep_tasks=(1, 4, 16, 64, 256),
        sweep_samples=(25, 50, 200, 800),
        sweep_features=(6, 16, 64, 256, 1024),
        sweep_center=(64, 50, 64),
        baseline_tasks=4,
        cvxpy_max_features=256,
        family_features=(6, 64, 256),
        wide_shape=(25, 256),
        inner_shape=(8, 50, 6),
        large_batch=(1024, 50, 64),
        svm_tasks=8,
        svm_ways=5,
        svm_shots=(5, 15),
        svm_features=(1600, 16000),
        svm_lam1_fracs=(0.0, 0.5),
        budget_s=1.0,
        max_rounds=15,
        warmup=True,
    ),
    "full": Profile(
        name="full",
        tasks=64,
        samples=50,
        features=(6, 64, 256),
        variant_features=64,
        classes=(3, 10),
        lam_fracs=(0.01, 0.03, 0.3, 0.5),
        sweep_tasks=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
        sweep_samples=(25, 50, 100, 200, 400, 800, 1600),
        sweep_features=(6, 16, 32, 64, 128, 256, 512, 1024, 2048),
        sweep_center=(64, 50, 64),
        baseline_tasks=16,
        cvxpy_max_features=256,
        family_features=(6, 64, 256),
        wide_shape=(25, 256),
        inner_shape=(8, 50, 6),
        large_batch=(1024, 50, 64),
        svm_tasks=8,
        svm_ways=5,
        svm_shots=(1, 5, 15),
        svm_features=(1600, 16000),
        svm_lam1_fracs=(0.0, 0.1, 0.3, 0.5, 0.7, 0.9),
        budget_s=5.0,
        max_rounds=50,
        warmup=True,
    ),
}

# The asv suite runs ``setup`` (data, λ1_max, layer construction) again in a fresh process for
# every benchmark of every parameter pair, so its profile keeps one size per family and leaves
# out what is slow to set up or adds little to a history: the SVM head at m = 16,000 (λ1_max
# alone takes 1–2 minutes per size), cvxpylayers above m = 6 (seconds of construction per
# benchmark), the other λ fractions and the sweeps (the report plots them).
PROFILES["asv"] = replace(
    PROFILES["quick"],
    name="asv",
    lam_fracs=(),
    sweep_tasks=(),
    sweep_samples=(),
    sweep_features=(),
    baseline_tasks=2,
    cvxpy_max_features=6,
    family_features=(64,),
    svm_features=(1600,),
)


def profile_name() -> str:
    """The profile named by ``SPARSELAYERS_BENCH_PROFILE`` (default ``quick``)."""
    name = os.environ.get(PROFILE_ENV, "quick").strip().lower() or "quick"
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {sorted(PROFILES)}, got {name!r}")
    return name


def current_profile() -> Profile:
    """The active :class:`Profile`."""
    return PROFILES[profile_name()]


def threads_setting() -> str:
    """``SPARSELAYERS_BENCH_THREADS`` (default ``"1"``), validated: a positive int or
    ``default``."""
    value = os.environ.get(THREADS_ENV, "1").strip().lower() or "1"
    if value != DEFAULT_THREADS and not (value.isdigit() and int(value) >= 1):
        raise ValueError(
            f"{THREADS_ENV} must be a positive int or {DEFAULT_THREADS!r}, got {value!r}"
        )
    return value


def configure_threads() -> int:
    """Apply :func:`threads_setting` to torch (nothing for ``default``); returns torch's thread
    count."""
    import torch

    value = threads_setting()
    if value != DEFAULT_THREADS:
        torch.set_num_threads(int(value))
    return torch.get_num_threads()


def selected_suites() -> tuple[str, ...] | None:
    """The suites named by ``SPARSELAYERS_BENCH_SUITES`` (None: every suite)."""
    value = os.environ.get(SUITES_ENV, "").strip()
    return tuple(name.strip() for name in value.split(",") if name.strip()) or None
