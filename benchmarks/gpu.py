"""``make bench-gpu``: the headline problems, the SVM head, syncs and training steps on a GPU.

One command, one report (``benchmarks/results/gpu/report.md``, with ``report.json`` beside it),
at most ``--budget`` seconds (default 480: cases that would start after it are recorded as
skipped, so a slow device still yields a report). Sections, in order:

1. Group-Lasso layer (``sl.functional.group_lasso``, float32, λ = 0.1 λ_max relative, library
   defaults otherwise): T = 64 tasks of n = 50, m ∈ {6, 64, 256}, a sparse truth (m // 8
   nonzeros) and a dense one (30 % nonzeros, support near n), and the large batch T = 1,024 of
   both. Forward (no grad), forward + implicit backward (``torch.autograd.grad`` to features and
   targets with a fixed cotangent), and the floor: one batched ``Fᵀ Y`` of the same size.
2. Group-lasso SVM head (``sl.functional.group_lasso_svm_dual``, λ2 = 1): 8 episodes of 5-way
   5-shot at m = 1,600 and 16,000 and 5-way 15-shot at m = 16,000, λ1 = 0 and
   λ1 = 0.1 λ1_max (λ1_max solved once per shape to a 1e-2 gap, untimed); floor ``Yᵀ F``.
3. Host–device syncs per solve (`benchmarks.syncs`: profiler reads, and the warnings of
   ``torch.cuda.set_sync_debug_mode("warn")`` on CUDA).
4. One training step of each experiment (`benchmarks.training_step`, paper sizes on CUDA).

Timing: ``torch.cuda.synchronize()`` before and after every timed call, one warm-up call per
case outside the timed region (two on CUDA: kernel selection and caching-allocator growth),
min and median of ``--repeats`` calls. Data: `benchmarks.device_problems`, drawn on the CPU
from fixed seeds and moved to the device.

Usage::

    make bench-gpu                                   # = python -m benchmarks.gpu --device cuda
    python -m benchmarks.gpu --device cuda --budget 300 --out /tmp/gpu
    python -m benchmarks.gpu --device cpu --smoke    # tiny sizes on the CPU, seconds

Without CUDA, ``--device cuda`` exits with a message saying so (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as nnf

import sparselayers as sl
from benchmarks import syncs, training_step
from benchmarks.device_problems import Episodes, Regression

DEFAULT_OUT = Path("benchmarks/results/gpu")
LAM = 0.1  # λ / λ_max of the group-Lasso layer
SPARSE_LAM1 = 0.1  # λ1 / λ1_max of the sparse head
LAM1_MAX_TOL = 1e-2


@dataclass(frozen=True)
class Plan:
    """What one run measures.

    Attributes:
        name: ``"full"`` or ``"smoke"``.
        regression: group-Lasso problems.
        episodes: SVM head shapes (each at λ1 = 0 and λ1 = `SPARSE_LAM1` λ1_max).
        repeats: timed calls per measurement.
        training_size: a key of `benchmarks.training_step.SIZES`.
        training_steps: timed training steps per configuration.
    """

    name: str
    regression: tuple[Regression, ...]
    episodes: tuple[Episodes, ...]
    repeats: int
    training_size: str
    training_steps: int


FULL = Plan(
    "full",
    regression=tuple(
        Regression(T, 50, m, truth)
        for T in (64, 1024)
        for truth in ("sparse", "dense")
        for m in (6, 64, 256)
    ),
    episodes=(Episodes(8, 5, 5, 1600), Episodes(8, 5, 5, 16000), Episodes(8, 5, 15, 16000)),
    repeats=10,
    training_size="paper",
    training_steps=5,
)
SMOKE = Plan(
    "smoke",
    regression=(Regression(4, 20, 6), Regression(4, 20, 16, "dense")),
    episodes=(Episodes(2, 3, 2, 32),),
    repeats=2,
    training_size="smoke",
    training_steps=1,
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> dict[str, float]:
    """Min and median seconds of ``fn()`` over ``repeats`` synchronized calls, after warm-up."""
    for _ in range(2 if device.type == "cuda" else 1):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return {"min_s": min(times), "median_s": statistics.median(times)}


def _quiet(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` with the solvers' non-convergence warnings silenced (counted separately)."""

    def call() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn()

    return call


def regression_case(problem: Regression, device: torch.device, repeats: int) -> dict[str, Any]:
    """Forward, forward + implicit backward and floor of the group-Lasso layer on ``problem``."""
    F, Y, cot = problem.data(device, torch.float32)

    def forward() -> Any:
        with torch.no_grad():
            return sl.functional.group_lasso(F, Y, LAM, relative=True)

    def forward_backward() -> Any:
        f, y = F.detach().requires_grad_(), Y.detach().requires_grad_()
        sol = sl.functional.group_lasso(f, y, LAM, relative=True)
        return torch.autograd.grad(sol.weights, (f, y), cot)

    def floor() -> Any:
        return F.mT @ Y.unsqueeze(-1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        sol = forward()
    result: dict[str, Any] = {
        "problem": problem.label,
        **asdict(problem),
        "n_iter_max": int(sol.n_iter.max()),
        "gap_max": float(sol.gap.max()),
        "converged": bool(sol.converged.all()),
        "support_mean": float((sol.weights != 0).sum(-1).float().mean()),
        "warnings": len(caught),
        "forward": timed(_quiet(forward), device, repeats),
        "forward_backward": timed(_quiet(forward_backward), device, repeats),
        "floor": timed(floor, device, repeats),
    }
    return _ratios(result, problem.T)


def svm_case(
    episodes: Episodes, lam1_fraction: float, device: torch.device, repeats: int
) -> dict[str, Any]:
    """Forward, forward + implicit backward and floor of the SVM head on ``episodes``."""
    F, labels, cot = episodes.data(device, torch.float32)
    lam1: float | torch.Tensor = 0.0
    lam1_max_s = 0.0
    if lam1_fraction > 0:
        _sync(device)
        start = time.perf_counter()
        lam1_max = sl.functional.svm_lambda1_max(
            F, labels, num_classes=episodes.way, tol=LAM1_MAX_TOL
        )
        _sync(device)
        lam1_max_s = time.perf_counter() - start
        lam1 = lam1_fraction * lam1_max
    onehot = nnf.one_hot(labels, episodes.way).to(F.dtype)

    def solve(features: torch.Tensor) -> Any:
        return sl.functional.group_lasso_svm_dual(
            features, labels, lam1, 1.0, num_classes=episodes.way
        )

    def forward() -> Any:
        with torch.no_grad():
            return solve(F)

    def forward_backward() -> Any:
        f = F.detach().requires_grad_()
        return torch.autograd.grad(solve(f).weights, (f,), cot)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        sol = forward()
    used = (sol.weights != 0).any(-2).float().mean(-1)  # (T,) fraction of features used
    result: dict[str, Any] = {
        "problem": f"{episodes.label} λ1={lam1_fraction:g} λ1_max",
        **asdict(episodes),
        "lam1_fraction": lam1_fraction,
        "lam1_max_seconds": lam1_max_s,
        "n_iter_max": int(sol.n_iter.max()),
        "gap_max": float(sol.gap.max()),
        "converged": bool(sol.converged.all()),
        "features_used": float(used.mean()),
        "warnings": len(caught),
        "forward": timed(_quiet(forward), device, repeats),
        "forward_backward": timed(_quiet(forward_backward), device, repeats),
        "floor": timed(lambda: onehot.mT @ F, device, repeats),
    }
    return _ratios(result, episodes.T)


def _ratios(result: dict[str, Any], tasks: int) -> dict[str, Any]:
    floor = result["floor"]["median_s"]
    for key in ("forward", "forward_backward"):
        result[key]["per_task_ms"] = 1e3 * result[key]["median_s"] / tasks
        result[key]["x_floor"] = result[key]["median_s"] / floor if floor > 0 else float("nan")
    return result


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.2f}"


def _table(rows: list[dict[str, Any]], extra: tuple[str, str]) -> list[str]:
    """Markdown rows of a timing section; ``extra`` = (column title, result key)."""
    lines = [
        f"| problem | fwd ms (min / med) | fwd+bwd ms (min / med) | floor ms | fwd × floor "
        f"| fwd+bwd × floor | fwd ms / task | n_iter | gap | {extra[0]} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r or "skipped" in r:
            lines.append(f"| {r['problem']} | {r.get('error') or r['skipped']} |" + " |" * 8)
            continue
        f, fb = r["forward"], r["forward_backward"]
        lines.append(
            f"| {r['problem']} | {_ms(f['min_s'])} / {_ms(f['median_s'])} | "
            f"{_ms(fb['min_s'])} / {_ms(fb['median_s'])} | {_ms(r['floor']['median_s'])} | "
            f"{f['x_floor']:.0f} | {fb['x_floor']:.0f} | {f['per_task_ms']:.3f} | "
            f"{r['n_iter_max']} | {r['gap_max']:.1e}{'' if r['converged'] else ' (!)'} | "
            f"{r[extra[1]]:.2f} |"
        )
    return lines


def report(record: dict[str, Any], out: Path) -> str:
    """The Markdown report of ``record`` (sections that ran so far)."""
    env = record["environment"]
    lines = [
        "# GPU benchmark report (`make bench-gpu`)",
        "",
        f"Device `{env['device']}`{' (' + env['gpu'] + ')' if 'gpu' in env else ''}, torch "
        f"{env['torch']}, CUDA {env.get('cuda')}, plan `{record['plan']}`, "
        f"{record['elapsed_s']:.0f} s of a {record['budget_s']:.0f} s budget. Medians of "
        f"{record['repeats']} synchronized calls after warm-up; floor = one batched "
        "`Fᵀ Y` (`Yᵀ F` for the head) of the same size; (!) = not converged within max_iter.",
        "",
        "## Group-Lasso layer (float32, λ = 0.1 λ_max, implicit backward)",
        "",
        *_table(record["regression"], ("support", "support_mean")),
        "",
        "## SVM head (λ2 = 1; λ1_max to a 1e-2 gap, untimed)",
        "",
        *_table(record["svm"], ("features used", "features_used")),
        "",
    ]
    for name in ("syncs", "training_step"):
        path = out / f"{name}.md"
        if name in record["done"] and path.exists():
            text = path.read_text().replace("\n# ", "\n## ")
            lines += [text.replace("# ", "## ", 1) if text.startswith("# ") else text, ""]
        elif name in record["skipped"]:
            lines += [f"## {name}: skipped ({record['skipped'][name]})", ""]
    return "\n".join(lines)


def environment(device: torch.device) -> dict[str, Any]:
    return training_step.environment(device)


def run(
    device: torch.device,
    plan: Plan,
    out: Path,
    budget_s: float,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run ``plan`` on ``device`` within ``budget_s``; write ``out``/report.{md,json}."""
    begin = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "environment": environment(device),
        "plan": plan.name,
        "budget_s": budget_s,
        "repeats": plan.repeats,
        "regression": [],
        "svm": [],
        "done": [],
        "skipped": {},
        "elapsed_s": 0.0,
    }

    def save() -> None:
        record["elapsed_s"] = time.perf_counter() - begin
        (out / "report.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        (out / "report.md").write_text(report(record, out))

    def over_budget() -> bool:
        return time.perf_counter() - begin > budget_s

    cases: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        ("regression", p.label, lambda p=p: regression_case(p, device, plan.repeats))
        for p in plan.regression
    ]
    cases += [
        (
            "svm",
            f"{e.label} λ1={f:g} λ1_max",
            lambda e=e, f=f: svm_case(e, f, device, plan.repeats),
        )
        for e in plan.episodes
        for f in (0.0, SPARSE_LAM1)
    ]
    for section, label, case in cases:
        if over_budget():
            record[section].append({"problem": label, "skipped": "budget spent"})
            continue
        log(f"bench-gpu: {section} {label} ...")
        try:
            record[section].append(case())
        except Exception as err:  # a failed case is reported, not fatal
            record[section].append({"problem": label, "error": repr(err)[:300]})
            log(f"  failed: {record[section][-1]['error']}")
        save()
    if over_budget():
        record["skipped"]["syncs"] = "budget spent"
    else:
        syncs.run(device, out / "syncs", smoke=plan.name == "smoke", log=log)
        record["done"].append("syncs")
        save()
    remaining = budget_s - (time.perf_counter() - begin)
    if remaining <= 0:
        record["skipped"]["training_step"] = "budget spent"
    else:
        size = training_step.SIZES[plan.training_size]
        training_step.run(
            device,
            size,
            steps=plan.training_steps,
            warmup=2 if device.type == "cuda" else 1,
            out=out / "training_step",
            only=size.experiments,
            deadline=time.perf_counter() + remaining,
            log=log,
        )
        record["done"].append("training_step")
    save()
    log(f"bench-gpu: wrote {out / 'report.md'} ({record['elapsed_s']:.0f} s)")
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu",
        description="Headline group-Lasso and SVM-head problems, syncs and training steps on a "
        "device, in one report.",
    )
    parser.add_argument("--device", default="cuda", help="torch device (default: cuda)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes (the CPU smoke test; the full plan is sized for a GPU)",
    )
    parser.add_argument(
        "--budget", type=float, default=480.0, help="seconds after which cases are skipped"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        build = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU build"
        parser.exit(
            2,
            f"bench-gpu: CUDA is not available (torch {torch.__version__}, {build}); run it on "
            "a machine with an NVIDIA GPU and a CUDA build of torch (make install "
            'TORCH_SPEC="torch>=2.4,<3"), or try the CPU path: '
            "python -m benchmarks.gpu --device cpu --smoke\n",
        )
    run(device, SMOKE if args.smoke else FULL, args.out, args.budget)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
