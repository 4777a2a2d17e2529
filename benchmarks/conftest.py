"""pytest configuration of the benchmark suite.

Without ``SPARSELAYERS_BENCH_PROFILE``, a run with ``--benchmark-only`` (or
``--benchmark-json``) uses the ``quick`` profile and any other run (``make test``) the ``tiny``
one, where every benchmark runs once on tiny sizes with pytest-benchmark's timing disabled: the
benchmarks are then tests that keep the suite from rotting, with no timing assertion.
"""

from __future__ import annotations

import os

import pytest

from benchmarks.profiles import PROFILE_ENV, configure_threads


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    only = bool(config.getoption("benchmark_only", False))
    json_out = config.getoption("benchmark_json", None)
    if PROFILE_ENV not in os.environ:
        os.environ[PROFILE_ENV] = "quick" if (only or json_out) else "tiny"
    if os.environ[PROFILE_ENV] == "tiny" and not (only or json_out):
        config.option.benchmark_disable = True
    configure_threads()
