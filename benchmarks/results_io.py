"""Read a pytest-benchmark JSON file into one :class:`Row` per case (forward and
forward+backward side by side), the input of the report's tables and plots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

METRIC_KEYS = ("gap", "support", "weight_error", "grad_error") + tuple(
    f"{key}_{kind}"
    for key in ("ops", "syncs", "scalar_reads")
    for kind in ("forward", "forward_backward")
)
"""Accuracy metrics and op counts (``measure.op_counts``) read from ``extra_info``."""
STATISTIC = "min"
"""The statistic of the timed rounds that the report uses: the minimum, since on a shared
machine other jobs only ever add time to a round (the JSON keeps every statistic)."""


@dataclass
class Row:
    """One case: its description, times (s, :data:`STATISTIC` of the rounds) and accuracy."""

    case: str
    problem: str
    layer: str
    method: str
    role: str
    T: int
    n: int
    m: int
    k: int
    dtype: str
    lam: float
    tasks: int
    dual_ridge: float = 0.0
    forward: float | None = None
    forward_backward: float | None = None
    backward_alone: float | None = None
    rounds: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float | None] = field(default_factory=dict)
    status: str = "ok"
    error: str = ""

    def per_task(self, kind: str) -> float | None:
        """Time of ``kind`` divided by the tasks this method solved."""
        value = getattr(self, kind)
        return None if value is None else value / self.tasks

    @property
    def backward(self) -> float | None:
        """Backward-only time: measured alone where it was, else fwd+bwd − fwd."""
        if self.backward_alone is not None:
            return self.backward_alone
        if self.forward is None or self.forward_backward is None:
            return None
        return self.forward_backward - self.forward


def load_rows(path: Path) -> tuple[dict[str, Row], dict]:
    """``({case id: Row}, header)``; header holds machine and commit info of the run."""
    document = json.loads(Path(path).read_text())
    rows: dict[str, Row] = {}
    for bench in document["benchmarks"]:
        info = bench.get("extra_info", {})
        if "case" not in info:
            continue
        row = rows.get(info["case"])
        if row is None:
            fields = ("problem", "layer", "method", "role", "T", "n", "m", "k", "dtype")
            row = Row(
                case=info["case"],
                lam=float(info["lam"]),
                tasks=int(info["tasks"]),
                dual_ridge=float(info.get("dual_ridge", 0.0)),
                **{key: info[key] for key in fields},
            )
            rows[row.case] = row
        kind = "backward_alone" if info["kind"] == "backward" else info["kind"]
        if info.get("status") == "failed":
            row.status, row.error = "failed", info.get("error", "")
        else:
            setattr(row, kind, bench["stats"][STATISTIC])
            row.rounds[kind] = bench["stats"]["rounds"]
        for key in METRIC_KEYS:
            if key in info:
                row.metrics[key] = info[key]
    header = {
        "machine": document.get("machine_info", {}),
        "commit": document.get("commit_info", {}),
        "datetime": document.get("datetime", ""),
        "profile": _profile(document),
        "threads": _first(document, "threads"),
        "threads_setting": str(_first(document, "threads_setting") or _first(document, "threads")),
        "torch": _first(document, "torch"),
    }
    return rows, header


def _first(document: dict, key: str):
    for bench in document["benchmarks"]:
        if key in bench.get("extra_info", {}):
            return bench["extra_info"][key]
    return None


def _profile(document: dict) -> str:
    return _first(document, "profile") or "?"
