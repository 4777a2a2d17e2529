"""Benchmark profiles: the sizes of every suite and the timing budget, chosen by an env variable.

``SPARSELAYERS_BENCH_PROFILE`` is ``tiny`` (tiny sizes, one round: keeps every benchmark
exercised by ``make test``), ``quick`` (the default: ``make bench``, ``asv run --quick``) or
``full`` (larger sweeps, more rounds). ``SPARSELAYERS_BENCH_THREADS`` sets torch's CPU threads
(default 1: one core for every method, as scikit-learn's coordinate descent and the conic solvers
use; and single-threaded timings stay meaningful on a shared machine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_ENV = "SPARSELAYERS_BENCH_PROFILE"
THREADS_ENV = "SPARSELAYERS_BENCH_THREADS"


@dataclass(frozen=True)
class Profile:
    """Sizes and timing budget of one profile.

    Attributes:
        name: ``tiny``, ``quick`` or ``full``.
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


def profile_name() -> str:
    """The profile named by ``SPARSELAYERS_BENCH_PROFILE`` (default ``quick``)."""
    name = os.environ.get(PROFILE_ENV, "quick").strip().lower() or "quick"
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV} must be one of {sorted(PROFILES)}, got {name!r}")
    return name


def current_profile() -> Profile:
    """The active :class:`Profile`."""
    return PROFILES[profile_name()]


def configure_threads() -> int:
    """Set torch's CPU threads from ``SPARSELAYERS_BENCH_THREADS`` (default 1); returns it."""
    import torch

    threads = int(os.environ.get(THREADS_ENV, "1"))
    if threads < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive int, got {threads}")
    torch.set_num_threads(threads)
    return threads
