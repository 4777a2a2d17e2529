"""Results files: one JSON document per run, from which every figure is redrawn.

Layout: ``{"experiment": <registry name>, "config": {...}, "rows": [{...}, ...], ...}`` plus
whatever else the experiment records (timings, diagnostics).
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

RESULTS_FILENAME = "results.json"


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded next to the results."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_results(out_dir: Path, experiment: str, config: dict[str, Any], **fields: Any) -> Path:
    """Write ``out_dir/results.json`` and return its path. A file that already holds the same
    results is left as it is (the ``environment`` block, with its time stamp, is not compared):
    re-running a finished study, e.g. ``reproduce`` on the committed results, rewrites nothing."""
    document = {"experiment": experiment, "config": config, **fields, "environment": environment()}
    path = Path(out_dir) / RESULTS_FILENAME
    text = json.dumps(document, indent=2) + "\n"
    if path.exists() and _same_results(path, json.loads(text)):
        return path
    path.write_text(text)
    return path


def _same_results(path: Path, document: dict[str, Any]) -> bool:
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    strip = lambda d: {k: v for k, v in d.items() if k != "environment"}  # noqa: E731
    return isinstance(old, dict) and strip(old) == strip(document)


@dataclass(frozen=True)
class Finding:
    """A statement of the paper checked on our results: what we measured and the verdict
    (``"reproduced"``, ``"not reproduced"``, ``"pending"`` or ``"reported"``)."""

    claim: str
    ours: str
    verdict: str


VERDICT_MARKS = {
    "reproduced": "✅ reproduced",
    "not reproduced": "❌ not reproduced",
    "pending": "⏳ pending",
    "reported": "ℹ️ reported",
}


def findings_table(findings: list[Finding]) -> str:
    """A markdown table of ``findings``."""
    lines = ["| claim | ours | verdict |", "| --- | --- | --- |"]
    lines += [f"| {f.claim} | {f.ours} | {VERDICT_MARKS[f.verdict]} |" for f in findings]
    return "\n".join(lines)
