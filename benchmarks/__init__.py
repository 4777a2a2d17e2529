"""Benchmarks of sparselayers: an asv suite (``bench_*.py``) and a pytest-benchmark suite
(``test_*.py``) over one registry of cases (``cases.py``), and the report (``report.py``).

Profiles (``SPARSELAYERS_BENCH_PROFILE``): ``tiny`` (every case once, tiny sizes; ``make test``),
``quick`` (``make bench``, ``asv run --quick``) and ``full``.
"""
