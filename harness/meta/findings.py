"""What Fig. 5 of the paper says, checked on the rows of a meta-svm sweep.

The paper (Section 5.2): the sparse heads reach the dense head's accuracy "while using only a
few of the features available (around 30 % of sparsity)", accuracy falls as the sparsity grows
further, and the sorted per-feature usage decreases gradually — features are reused across
tasks rather than split into task-specific sets. The thresholds, fixed before the sweep ran:

* as accurate: a head with average column sparsity ≥ 30 % within 1 point of the dense SVM;
* falling: over the heads sparser than the sparsest such head (collapsed ones excluded),
  accuracy and sparsity have a negative rank correlation, and the sparsest non-collapsed head
  is more than 1 point below the dense one;
* gradual usage: at the sparsest head that is as accurate, at least a third of the features
  are used by between 10 % and 90 % of the tasks;
* collapsed: a head whose 95 % interval contains chance (1 / way), or that is within half a
  point of it (an all-zero head predicts one class: its interval has width 0). With
  ``λ1 / λ1_max > 1`` the head is zero on every task by the definition of ``λ1_max``, so no
  gradient reaches the backbone; it is reported, not hidden.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr

from harness.results import Finding

SPARSE = 0.30
POINTS = 0.01
REUSE_BAND = (0.1, 0.9)
REUSE_SHARE = 1 / 3

Rows = list[dict[str, Any]]


def _svm(rows: Rows) -> Rows:
    return sorted((r for r in rows if r["head"] == "svm"), key=lambda r: r["lam1"])


def collapsed(row: dict[str, Any], way: int) -> bool:
    """The head's accuracy interval contains chance, or it is within half a point of it."""
    return abs(row["accuracy"] - 1 / way) <= max(row["ci95"], 0.005)


def reuse_share(row: dict[str, Any]) -> float:
    """Share of the features used by between 10 % and 90 % of the test tasks."""
    usage = np.asarray(row["usage"])
    return float(((usage >= REUSE_BAND[0]) & (usage <= REUSE_BAND[1])).mean())


def findings(rows: Rows, way: int, planned: int | None = None) -> list[Finding]:
    """The Fig. 5 claims on ``rows`` (pending until ``planned`` heads are all finished)."""
    svm = _svm(rows)
    dense = next((r for r in svm if r["lam1"] == 0), None)
    if dense is None or (planned is not None and len(rows) < planned):
        return [Finding("Fig. 5 (all claims)", f"{len(rows)} of {planned} heads", "pending")]
    out = []
    as_good = [
        r for r in svm if r["sparsity"] >= SPARSE and r["accuracy"] >= dense["accuracy"] - POINTS
    ]
    best = max(as_good, key=lambda r: r["sparsity"], default=None)
    ours = (
        f"λ1/λ1_max = {best['lam1']:g}: {100 * best['accuracy']:.1f} % at "
        f"{100 * best['sparsity']:.0f} % sparsity (dense {100 * dense['accuracy']:.1f} %)"
        if best
        else f"none (dense {100 * dense['accuracy']:.1f} %)"
    )
    out.append(
        Finding(
            "a head ≥ 30 % sparse within 1 point of the dense SVM",
            ours,
            "reproduced" if best else "not reproduced",
        )
    )
    threshold = best["sparsity"] if best else SPARSE
    beyond = [r for r in svm if r["sparsity"] > threshold and not collapsed(r, way)]
    if len(beyond) >= 2:
        rho = float(spearmanr([r["sparsity"] for r in beyond], [r["accuracy"] for r in beyond])[0])
        last = max(beyond, key=lambda r: r["sparsity"])
        drop = dense["accuracy"] - last["accuracy"]
        ours = (
            f"rank correlation {rho:.2f} over {len(beyond)} heads; sparsest "
            f"({100 * last['sparsity']:.0f} %) {100 * drop:.1f} points below dense"
        )
        verdict = "reproduced" if rho < 0 and drop > POINTS else "not reproduced"
    else:
        ours, verdict = f"{len(beyond)} non-collapsed head(s) sparser than that", "not reproduced"
    out.append(Finding("accuracy falls as the sparsity grows past that", ours, verdict))
    if best:
        share = reuse_share(best)
        out.append(
            Finding(
                "feature usage decreases gradually (features reused across tasks)",
                f"{100 * share:.0f} % of the features used by 10–90 % of the tasks "
                f"(λ1/λ1_max = {best['lam1']:g})",
                "reproduced" if share >= REUSE_SHARE else "not reproduced",
            )
        )
    down = [r for r in svm if collapsed(r, way)]
    text = ", ".join(
        f"{r['lam1']:g} ({100 * r['accuracy']:.1f} %, sparsity {100 * r['sparsity']:.0f} %)"
        for r in down
    )
    out.append(
        Finding(
            "collapsed heads (at chance: 95 % interval or ± 0.5 point)",
            text or "none",
            "reported",
        )
    )
    return out


__all__ = ["collapsed", "findings", "reuse_share"]
