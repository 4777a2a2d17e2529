"""Tests of the suite's own logic: the problem families' data, the thread and suite settings,
the op counts, the worst-family headline and the report built from rows."""

from __future__ import annotations

import json
import math

import pytest
import torch

from benchmarks import headline, profiles
from benchmarks.cases import (
    DENSE_TRUTH_FRACTION,
    METHODS,
    Problem,
    families,
    methods_for,
    suites,
)
from benchmarks.data import regression_data
from benchmarks.measure import count_ops
from benchmarks.profiles import PROFILES
from benchmarks.report_text import render
from benchmarks.results_io import Row


def _adjacent_correlation(problem: Problem) -> float:
    F = regression_data(problem).features.double().reshape(-1, problem.m)
    return float(torch.corrcoef(F.T).diagonal(1).mean())


def test_toeplitz_design_correlates_neighbouring_features() -> None:
    iid = Problem("group_lasso", 20, 50, 8, 1, "float64", 0.1)
    toeplitz = Problem("group_lasso", 20, 50, 8, 1, "float64", 0.1, correlation=0.9)
    assert _adjacent_correlation(toeplitz) == pytest.approx(0.9, abs=0.03)
    assert abs(_adjacent_correlation(iid)) < 0.1
    variances = regression_data(toeplitz).features.reshape(-1, 8).var(0)
    assert torch.allclose(variances, torch.ones(8, dtype=torch.float64), atol=0.15)


def test_dense_truth_activates_thirty_percent_of_the_features() -> None:
    m = 40
    dense = Problem("group_lasso", 4, 30, m, 1, "float32", 0.1, truth="dense")
    sparse = Problem("group_lasso", 4, 30, m, 1, "float32", 0.1)
    active = (regression_data(dense).true_weights != 0).any(-2).sum(-1)
    assert active.tolist() == [round(DENSE_TRUTH_FRACTION * m)] * 4
    assert (regression_data(sparse).true_weights != 0).any(-2).sum(-1).tolist() == [m // 8] * 4


def test_default_problems_keep_their_ids_and_new_fields_extend_them() -> None:
    base = Problem("group_lasso", 64, 50, 256, 1, "float32", 0.1)
    assert base.id == "group_lasso-T64-n50-m256-k1-float32-lam0.1"
    both = Problem("group_lasso", 64, 50, 256, 1, "float32", 0.1, correlation=0.9, truth="dense")
    assert both.id == base.id + "-toeplitz0.9-densetruth"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"correlation": 1.0}, "correlation"),
        ({"correlation": -0.1}, "correlation"),
        ({"truth": "medium"}, "truth"),
    ],
)
def test_problem_rejects_bad_families(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Problem("group_lasso", 2, 10, 4, 1, "float32", 0.1, **kwargs)


def test_svm_problem_rejects_regression_families() -> None:
    with pytest.raises(ValueError, match="regression"):
        Problem("svm", 2, 6, 10, 3, "float32", 0.5, correlation=0.5)


@pytest.mark.parametrize("name", ["tiny", "quick", "asv"])
def test_families_are_measured_against_the_headline_methods(name: str) -> None:
    profile = PROFILES[name]
    groups = families(profile)
    head = {pb.m: methods_for(pb, profile) for pb in suites(profile)["headline"]}
    assert [pb.id for group in list(groups.values())[1:] for pb in group] == [
        pb.id for pb in suites(profile)["families"]
    ]
    for group in list(groups.values())[1:3]:  # dense truth, correlated design: same sizes
        for pb in group:
            assert methods_for(pb, profile) == head[pb.m]


def test_asv_profile_leaves_out_the_slow_setups() -> None:
    svm = suites(PROFILES["asv"])["svm"]
    assert svm and max(pb.m for pb in svm) < 10_000


def test_threads_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(profiles.THREADS_ENV, "default")
    assert profiles.threads_setting() == "default"

    def refuse(n: int) -> None:
        raise AssertionError("set_num_threads must not be called for 'default'")

    monkeypatch.setattr(torch, "set_num_threads", refuse)
    assert profiles.configure_threads() == torch.get_num_threads()
    for bad in ("0", "two"):
        monkeypatch.setenv(profiles.THREADS_ENV, bad)
        with pytest.raises(ValueError, match=profiles.THREADS_ENV):
            profiles.threads_setting()


def test_selected_suites(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(profiles.SUITES_ENV, raising=False)
    assert profiles.selected_suites() is None
    monkeypatch.setenv(profiles.SUITES_ENV, "headline, families")
    assert profiles.selected_suites() == ("headline", "families")


def test_count_ops_counts_ops_and_host_syncs() -> None:
    x = torch.arange(6.0) - 2

    def solve() -> None:
        float(x.sum())  # one scalar read
        _ = x[x > 0]  # boolean indexing: a data-dependent shape
        _ = x * 2

    counts = count_ops(solve)
    assert counts["ops"] >= 4
    assert counts["scalar_reads"] == 1
    assert counts["syncs"] >= 2
    assert count_ops(lambda: x * 2)["syncs"] == 0


def _row(problem: str, method: str, forward: float, forward_backward: float | None = None) -> Row:
    m = METHODS[method]
    row = Row(
        f"{problem}-{method}", problem, "group_lasso", method, m.role, 4, 10, 6, 1, "", 0.1, 4
    )
    row.forward, row.forward_backward = forward, forward_backward
    return row


def _rows(*rows: Row) -> dict[str, Row]:
    return {row.case: row for row in rows}


def test_headline_keeps_the_worst_family() -> None:
    rows = _rows(
        _row("a", "sl-implicit", 1.0, 2.0),
        _row("a", "sklearn", 10.0),
        _row("b", "sl-implicit", 1.0, 2.0),
        _row("b", "sklearn", 2.5),
        _row("c", "sl-implicit", 1.0, 2.0),
    )
    failed = _row("c", "sklearn", 0.1)
    failed.status, failed.error = "failed", "ValueError: boom"
    rows[failed.case] = failed
    labels = {"a": "easy", "b": "hard", "c": "broken"}
    comparison = headline.comparisons(rows, ["a", "b", "c"])
    assert [(c.method, c.kind, c.target) for c in comparison] == [("sklearn", "forward", 3.0)]
    result = headline.outcome(rows, ["a", "b", "c"], comparison[0])
    assert (result.worst, result.speedup, result.best, result.measured) == ("b", 2.5, 10.0, 2)
    assert result.failed == [failed]
    (line,) = headline.headline_lines(rows, ["a", "b", "c"], labels, "1")
    assert "hard" in line[2] and line[5] == "2.5×" and "**no**" in line[8] and "boom" in line[8]


def test_headline_ignores_a_negative_backward() -> None:
    rows = _rows(_row("a", "sl-implicit", 1.0, 2.0), _row("a", "sl-unroll", 3.0, 2.5))
    backward = headline.Comparison("sl-unroll", "backward", "", None)
    assert headline.speedup(rows, "a", backward) is None  # 2.5 − 3.0 < 0
    assert not math.isnan(headline.speedup(rows, "a", headline.comparisons(rows, ["a"])[0]))


def test_report_renders_without_internal_headings(tmp_path) -> None:
    profile = PROFILES["tiny"]
    groups, registry = families(profile), suites(profile)
    rows: dict[str, Row] = {}
    for i, pb in enumerate(registry["headline"] + registry["families"]):
        for method, scale in (("sl-implicit", 1.0), ("sklearn", 2.0 + i), ("floor", 0.01)):
            row = _row(pb.id, method, scale, 2 * scale if method == "sl-implicit" else None)
            row.m, row.T = pb.m, pb.T
            row.metrics = {"ops_forward": 100.0, "syncs_forward": 3.0, "scalar_reads_forward": 1.0}
            rows[row.case] = row
    header = {
        "machine": {},
        "commit": {},
        "datetime": "now",
        "profile": "tiny",
        "threads": 1,
        "torch": torch.__version__,
    }
    text = render(rows, header, registry, groups, tmp_path, rows, dict(header, threads=2))
    assert "## Headline: the worst family" in text
    assert "issue" not in text.lower()
    assert "2×" in text  # the worst speed-up against scikit-learn (problem 0: 2 / 1)
    assert "| ≤ 30× |" in text  # the floor target of the ops table
    assert "minutes apart" in text  # the threads table from the two runs
    # With an interleaved comparison the threads table comes from it.
    ids = [pb.id for pb in registry["headline"] + registry["families"]]
    one = {i: {"forward": 1.0, "forward_backward": 2.0} for i in ids}
    default = {i: {"forward": 0.5, "forward_backward": 1.0} for i in ids}
    interleaved = {
        "rounds": 1, "repeats": 3, "default_threads": 2, "times": {"1": [one], "default": [default]}
    }  # fmt: skip
    text = render(rows, header, registry, groups, tmp_path, rows, header, interleaved)
    assert "against one thread, interleaved" in text and "minutes apart" not in text
    assert "| 0.5× (0.50–0.50) |" in text and "| yes |" in text


def test_lambda1_max_is_kept_between_processes(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import data

    monkeypatch.setattr(data, "LAM1_MAX_CACHE", tmp_path / "lam1_max.json")
    size = (2, 6, 10, 3, "float32")
    data.mean_lambda1_max.cache_clear()
    value = data.mean_lambda1_max(*size)
    (key,) = data._read_cache()
    assert data._read_cache()[key] == value > 0
    data._write_cache({key: 123.0})  # what a later process finds is what it uses
    data.mean_lambda1_max.cache_clear()
    assert data.mean_lambda1_max(*size) == 123.0
    data.mean_lambda1_max.cache_clear()


def test_lambda1_max_cache_follows_the_solver_source(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from benchmarks import data

    assert b"def barrier_saddle_point" in data._lam1_max_sources()  # the solver is in the key
    monkeypatch.setattr(data, "LAM1_MAX_CACHE", tmp_path / "lam1_max.json")
    size = (2, 6, 10, 3, "float32")
    data.mean_lambda1_max.cache_clear()
    value = data.mean_lambda1_max(*size)
    (key,) = data._read_cache()
    data._write_cache({key: 123.0})
    # Another solver: the stored value is not used, the solve runs again.
    monkeypatch.setattr(data, "_lam1_max_sources", lambda: b"another solver")
    data.mean_lambda1_max.cache_clear()
    assert data.mean_lambda1_max(*size) == value
    assert len(data._read_cache()) == 2
    data.mean_lambda1_max.cache_clear()


def test_interleaved_threads_comparison_and_its_table() -> None:
    from benchmarks import interleaved, tables

    def times(forward, backward):
        return {"p": {"forward": forward, "forward_backward": backward}}

    one, default = [times(1.0, 2.0), times(1.2, 2.0)], [times(0.9, 2.2), times(1.5, 2.05)]
    data = {
        "rounds": 2,
        "repeats": 5,
        "default_threads": 2,
        "times": {"1": one, "default": default},
    }
    compared = interleaved.comparison(data)["p"]
    # Ratio of the best times (0.9 / 1.0, 2.05 / 2.0) and the range of the per-round ratios.
    assert compared["forward"].ratio == pytest.approx(0.9)
    assert (compared["forward"].low, compared["forward"].high) == pytest.approx((0.9, 1.25))
    assert compared["forward_backward"].ratio == pytest.approx(1.025)
    (line,) = tables.interleaved_threads_lines(interleaved.comparison(data), ["p", "absent"])
    assert line[-1] == "within noise"  # 2.5 % slower: within NOT_SLOWER_NOISE
    data["times"]["default"][1] = times(1.5, 2.5)
    data["times"]["default"][0] = times(0.9, 2.5)
    (line,) = tables.interleaved_threads_lines(interleaved.comparison(data), ["p"])
    assert line[-1] == "**no**"


def test_interleaved_headline_takes_the_side_by_side_times() -> None:
    from benchmarks.interleaved import as_rows

    # The suite timed our layer during a burst of load (2.0 against 1.0 next to the baseline).
    suite = _rows(_row("a", "sl-implicit", 2.0, 3.0), _row("a", "sklearn", 4.0))
    suite.update(_rows(_row("b", "sl-implicit", 1.0, 2.0), _row("b", "sklearn", 9.0)))
    suite["a-sklearn"].metrics = {"gap": 1e-7}
    times = [{p: {"forward": f, "forward_backward": 2.0} for p in "ab"} for f in (1.0, 1.2)]
    data = {
        "rounds": 2,
        "times": {"1": times},
        "baselines": {"1": [{"a": {"sklearn": 4.0}, "b": {}}, {"a": {"sklearn": 3.0}, "b": {}}]},
        "failed": {"1": [{"b": {"sklearn": "ValueError: boom"}}, {}]},
    }
    ab = as_rows(data, "1", suite)
    assert ab.methods == {"sklearn"}
    assert ab.best["a-sl-implicit"].forward == 1.0 and ab.best["a-sklearn"].forward == 3.0
    assert ab.best["a-sklearn"].metrics == {"gap": 1e-7}  # accuracy from the suite's row
    assert ab.rounds[0]["b-sklearn"].status == "failed"
    assert ab.best["b-sklearn"].status == "failed"  # it never ran: failed in the best too
    comparison = headline.comparisons(suite, ["a"])[0]
    assert headline.outcome(suite, ["a"], comparison).speedup == 2.0
    assert headline.spread(ab, "a", comparison) == pytest.approx((2.5, 4.0))
    (line,) = headline.headline_lines(suite, ["a"], {"a": "fam"}, "1", ab)
    assert line[5] == "3×" and line[8] == "yes"  # best 3.0 / best 1.0, not the suite's 2×
    assert line[-1] == "interleaved, 2 rounds: 2.5–4×"
    (line,) = headline.headline_lines(suite, ["a", "b"], {}, "1", ab)
    assert "failed on 1: ValueError: boom" in line[8]
    (line,) = headline.headline_lines(suite, ["a"], {"a": "fam"}, "1")
    assert line[5] == "2×" and line[-1] == "suite"


def test_interleaved_runs_its_workers_and_the_report_shows_it(tmp_path) -> None:
    from benchmarks import interleaved
    from benchmarks.cases import all_cases

    out = tmp_path / "interleaved.json"
    data = interleaved.measure("tiny", rounds=1, repeats=1, out=out)
    assert json.loads(out.read_text()) == data
    cases = all_cases(PROFILES["tiny"], only=interleaved.SUITES)
    ours = {c.problem.id for c in cases}
    assert set(data["times"]["1"][0]) == set(data["times"]["default"][0]) == ours
    # Every targeted baseline of every problem was timed or recorded as failed.
    for setting in interleaved.SETTINGS:
        (timed,), (failed,) = data["baselines"][setting], data["failed"][setting]
        for case in filter(interleaved.targeted, cases):
            problem, method = case.problem.id, case.method.name
            assert method in timed[problem] or method in failed.get(problem, {})
    assert data["tasks"]["group_lasso-T8-n50-m6-k1-float32-lam0.1"]["cvxpylayers"] == 2
    compared = interleaved.comparison(data)
    assert all(c.ratio > 0 for kinds in compared.values() for c in kinds.values())


def test_svm_cost_table_takes_the_interleaved_rounds() -> None:
    from benchmarks import tables
    from benchmarks.interleaved import as_rows

    def head(lam: float, fb: float) -> Row:
        problem = f"svm-T8-n25-m1600-k5-float32-lam{lam:g}"
        case = f"{problem}-sl-implicit"
        row = Row(case, problem, "svm", "sl-implicit", "ours", 8, 25, 1600, 5, "float32", lam, 8)
        row.forward_backward = fb
        return row

    # The suite timed the λ1 > 0 head during a burst of load (8.0 against 5.0 side by side).
    suite = _rows(head(0.0, 2.0), head(0.5, 8.0))
    (line,) = tables.svm_cost_lines(suite)
    assert line[4] == "4×" and line[-1] == "suite"
    zero, other = (f"svm-T8-n25-m1600-k5-float32-lam{lam}" for lam in ("0", "0.5"))
    times = [{zero: {"forward_backward": 2.0}, other: {"forward_backward": b}} for b in (5.0, 6.0)]
    ab = as_rows({"rounds": 2, "times": {"1": times}}, "1", suite)
    (line,) = tables.svm_cost_lines({**suite, **ab.best}, ab.rounds)
    assert line[4] == "2.5×" and line[-1] == "interleaved, 2 rounds: 2.5–3×"
