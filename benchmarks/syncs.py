"""Host–device synchronizations per solve of the sparse layers.

A solver that reads a device value on the host (``bool(t)``, ``t.item()``, ``float(t)``, a
data-dependent shape such as ``t.nonzero()`` or boolean indexing) stalls a GPU's queue until the
value arrives; on a GPU these reads, not the arithmetic, bound small problems. Counted here:

- on every device, from a ``torch.profiler`` trace of the call: ``aten::_local_scalar_dense``
  (the op behind every ``bool()`` / ``.item()`` / ``float()`` of a tensor) and ``aten::nonzero``
  (behind ``nonzero`` and boolean-mask indexing); their sum is the ``host reads`` column;
- on CUDA, also the warnings of ``torch.cuda.set_sync_debug_mode("warn")``, which flags every
  synchronizing copy or stream wait that goes through c10's CUDA wrappers (what a GPU really
  waits for; torch documents it as covering most, not all, synchronizing operations).

Each count is for one call after a warm-up call: the forward (a solve with inputs that require
grad, the training path), the backward alone (``torch.autograd.grad`` of the solution with a
fixed cotangent; the forward ran outside the counted region), and their sum. Cases: the
group-Lasso headline (T = 64, n = 50, m ∈ {6, 64, 256}, float32, λ = 0.1 λ_max, implicit
backward) and the group-lasso SVM head (8 episodes of 5-way 5-shot, m = 1,600, λ2 = 1,
λ1 = 0 and λ1 = 0.1 λ1_max), both at the library's default tolerance; ``n_iter`` (max over the
tasks) says how many iterations the reads are spread over.

Usage::

    python -m benchmarks.syncs                  # CPU: profiler counts
    python -m benchmarks.syncs --device cuda    # profiler counts + sync-debug warnings
    python -m benchmarks.syncs --smoke          # tiny shapes, seconds

It prints a Markdown table and writes it (and the JSON) to ``--out``, by default
``benchmarks/results/syncs.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

import sparselayers as sl
from benchmarks.device_problems import Episodes, Regression

DEFAULT_OUT = Path("benchmarks/results/syncs")
PROFILED_OPS = ("aten::_local_scalar_dense", "aten::item", "aten::is_nonzero", "aten::nonzero")
SPARSE_LAM1 = 0.1  # λ1 / λ1_max
LAM1_MAX_TOL = 1e-2


@dataclass(frozen=True)
class SyncCase:
    """One layer call to count: ``solve(requires_grad)`` returns ``(solution, inputs)``."""

    name: str
    solve: Callable[[bool], tuple[Any, tuple[torch.Tensor, ...]]]
    cotangent: torch.Tensor


def group_lasso_case(problem: Regression, device: torch.device) -> SyncCase:
    """The group-Lasso layer on ``problem`` (float32, λ = 0.1 λ_max, implicit backward)."""
    F, Y, cot = problem.data(device, torch.float32)

    def solve(grad: bool) -> tuple[Any, tuple[torch.Tensor, ...]]:
        f, y = F.detach().requires_grad_(grad), Y.detach().requires_grad_(grad)
        return sl.functional.group_lasso(f, y, 0.1, relative=True), (f, y)

    return SyncCase(f"group_lasso {problem.label}", solve, cot)


def svm_case(episodes: Episodes, lam1_fraction: float, device: torch.device) -> SyncCase:
    """The group-lasso SVM head on ``episodes`` (float32, λ2 = 1, λ1 = fraction · λ1_max)."""
    F, labels, cot = episodes.data(device, torch.float32)
    lam1: float | torch.Tensor = 0.0
    if lam1_fraction > 0:
        lam1_max = sl.functional.svm_lambda1_max(
            F, labels, num_classes=episodes.way, tol=LAM1_MAX_TOL
        )
        lam1 = lam1_fraction * lam1_max

    def solve(grad: bool) -> tuple[Any, tuple[torch.Tensor, ...]]:
        f = F.detach().requires_grad_(grad)
        sol = sl.functional.group_lasso_svm_dual(f, labels, lam1, 1.0, num_classes=episodes.way)
        return sol, (f,)

    return SyncCase(f"svm head {episodes.label} λ1={lam1_fraction:g} λ1_max", solve, cot)


def cases(device: torch.device, smoke: bool = False) -> list[Callable[[], SyncCase]]:
    """Builders of the counted cases (the headline shapes, or tiny ones with ``smoke``)."""
    ms, T, ep = ((6, 16), 4, Episodes(2, 3, 2, 32)) if smoke else ((6, 64, 256), 64, None)
    ep = ep or Episodes(8, 5, 5, 1600)
    builders: list[Callable[[], SyncCase]] = [
        lambda m=m: group_lasso_case(Regression(T, 50, m), device) for m in ms
    ]
    builders += [lambda f=f: svm_case(ep, f, device) for f in (0.0, SPARSE_LAM1)]
    return builders


def profiled_reads(fn: Callable[[], Any]) -> dict[str, int]:
    """Counts of `PROFILED_OPS` in a profiler trace of ``fn()``."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    counts = {e.key: e.count for e in prof.key_averages() if e.key in PROFILED_OPS}
    return {op: counts.get(op, 0) for op in PROFILED_OPS}


def cuda_sync_warnings(fn: Callable[[], Any]) -> int:
    """Synchronizing CUDA operations of ``fn()`` flagged by ``set_sync_debug_mode("warn")``."""
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        previous = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode(previous)
    return sum("synchroniz" in str(w.message) for w in caught)


def _prepared(case: SyncCase, phase: str) -> Callable[[], Any]:
    """The call to count: the forward, or the backward of a graph built here (uncounted)."""
    if phase == "forward":
        return lambda: case.solve(True)
    sol, inputs = case.solve(True)
    return lambda: torch.autograd.grad(sol.weights, inputs, case.cotangent)


def count(case: SyncCase, device: torch.device) -> dict[str, Any]:
    """Reads of the forward, the backward alone and both, for one call after a warm-up."""
    sol, inputs = case.solve(True)
    torch.autograd.grad(sol.weights, inputs, case.cotangent)  # warm-up of both passes
    result: dict[str, Any] = {"name": case.name, "n_iter": int(sol.n_iter.max())}
    for phase in ("forward", "backward"):
        reads = profiled_reads(_prepared(case, phase))
        result[phase] = {
            **reads,
            "host_reads": reads["aten::_local_scalar_dense"] + reads["aten::nonzero"],
        }
        if device.type == "cuda":
            result[phase]["cuda_sync_warnings"] = cuda_sync_warnings(_prepared(case, phase))
    result["total"] = {k: v + result["backward"][k] for k, v in result["forward"].items()}
    return result


def markdown(results: list[dict[str, Any]], device: torch.device) -> str:
    """The Markdown table of ``results``."""
    cuda = device.type == "cuda"
    cols = ["layer / shape", "n_iter", "fwd reads", "bwd reads", "fwd+bwd reads"]
    if cuda:
        cols += ["fwd CUDA syncs", "bwd CUDA syncs", "fwd+bwd CUDA syncs"]
    lines = [
        f"# Host–device syncs per solve ({device})\n",
        "reads = `aten::_local_scalar_dense` + `aten::nonzero` in a profiler trace of one call"
        + ("; CUDA syncs = `set_sync_debug_mode('warn')` warnings" if cuda else "")
        + ".\n",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | failed: {r['error']} |" + " |" * (len(cols) - 2))
            continue
        cells = [r["name"], str(r["n_iter"])]
        cells += [str(r[p]["host_reads"]) for p in ("forward", "backward", "total")]
        if cuda:
            cells += [str(r[p]["cuda_sync_warnings"]) for p in ("forward", "backward", "total")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run(
    device: torch.device, out: Path, smoke: bool = False, log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Count every case; write ``out``.md and ``out``.json; return the results."""
    results = []
    for i, build in enumerate(cases(device, smoke)):
        try:
            case = build()
            log(f"syncs: {case.name} ...")
            results.append(count(case, device))
        except Exception as err:  # a failed case is reported, not fatal
            results.append({"name": f"case {i}", "error": repr(err)[:300]})
            log(f"syncs: failed: {results[-1]['error']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    table = markdown(results, device)
    out.with_suffix(".md").write_text(table)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    log(table)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.syncs", description="Count host-device syncs per solve."
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"report stem (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("syncs: --device cuda but CUDA is not available")
    run(device, args.out.with_suffix(""), args.smoke)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
