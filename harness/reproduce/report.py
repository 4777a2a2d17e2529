"""``REPRODUCTION.md``: Fig. 1, Section 5.1's claims, Fig. 5, notes and figures, from results
files only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.reproduce.claims import check_all

TITLE = """# Reproduction of the paper's figures — scale `{scale}`

Written by `python -m harness reproduce --scale {scale}` from the results files in this
directory: `fig1/results.json` (Section 2), `rows/` (Section 5.1 / Appendix D.2: one JSON file
per run, with scores, training history and traversals) and `fig5/rows/` (Section 5.2: one file
per head). `python -m harness reproduce --scale {scale} --report-only` rewrites this file and the
figures from them.
"""

HEADER = """Settings of the scale: preset
`{preset}` (`harness/disentanglement/config.py`), {seeds} seed(s); {finished} of {total} rows
finished. Their training loops took {seconds:.0f} s ({per_run:.0f} s per training run, one torch
thread each, two runs at a time on a 2-core machine; wall time, so it includes waiting for a
core when the machine was busy).

"Best λ" is the authors' choice: per seed, the λ with the highest *test* MCC, averaged over
seeds (their figure scripts). The column "ours, validation λ" picks per seed the λ of lowest
held-out validation MSE instead (the inner problem fit on half of each validation task's
samples, scored on the other half), a criterion that uses no ground-truth latent; the paper
warns that such goodness-of-fit scores are uninformative for disentanglement, and the column
shows how far they are from the test choice.
"""


def claims_table(rows: list[dict[str, Any]], planned: list[dict[str, Any]] | None = None) -> str:
    """The markdown table of every claim's verdict (pending until its λ grids are finished)."""
    lines = [
        "| figure | setting | paper | ours (best λ) | ours, validation λ | scale | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in check_all(rows, planned):
        verdict = {"reproduced": "✅ reproduced", "not reproduced": "❌ not reproduced"}.get(
            v.verdict, "⏳ pending"
        )
        lines.append(
            f"| {v.figure} | {v.setting} | {v.paper} | {v.ours} | {v.ours_validation} | "
            f"{{scale}} | {verdict} |"
        )
    return "\n".join(lines)


def write_report(
    out: Path,
    scale: str,
    scale_settings: Any,
    rows: list[dict[str, Any]],
    planned: list[dict[str, Any]],
    figures: dict[str, tuple[str, list[Path]]],
    sections: dict[str, tuple[str, str, list[Path]]] | None = None,
    notes: str = "",
) -> Path:
    """Write ``out/REPRODUCTION.md``: Fig. 1, Section 5.1's claims, Fig. 5 (``sections``:
    name -> (title, markdown, figures) of the studies), notes, then Section 5.1's figures."""
    sections = sections or {}

    def study(name: str) -> str:
        if name not in sections:
            return ""
        title, body, paths = sections[name]
        images = "".join(
            f"![{Path(p).stem}]({Path(p).relative_to(out).as_posix()})\n" for p in paths
        )
        return f"\n## {name}: {title}\n\n{body}\n{images}"

    text = TITLE.format(scale=scale) + study("fig1")
    if planned:
        text += _sweep_section(out, scale, scale_settings, rows, planned)
    text += study("fig5")
    notes_file = Path(out) / "NOTES.md"
    if notes_file.is_file():
        notes = notes_file.read_text() + ("\n" + notes if notes else "")
    if notes:
        text += (
            "\n## Notes\n\n_Written by hand from the results above (`NOTES.md`), not "
            "regenerated:_\n\n" + notes.strip() + "\n"
        )
    if figures:
        text += "\n## Figures of Section 5.1 / Appendix D.2\n"
    for name, (title, paths) in figures.items():
        text += f"\n### {name}: {title}\n\n"
        if not paths:
            text += "_No finished rows yet._\n"
        for path in paths:
            relative = Path(path).relative_to(out)
            text += f"![{relative.stem}]({relative.as_posix()})\n"
    path = Path(out) / "REPRODUCTION.md"
    path.write_text(text)
    return path


def _sweep_section(
    out: Path,
    scale: str,
    scale_settings: Any,
    rows: list[dict[str, Any]],
    planned: list[dict[str, Any]],
) -> str:
    units = {r["trained_as"]: r["train_seconds"] for r in rows}
    seconds = sum(units.values())
    text = "\n## Section 5.1 / Appendix D.2: disentanglement\n\n" + HEADER.format(
        scale=scale,
        preset=scale_settings.preset,
        seeds=len({p["seed"] for p in planned}),
        finished=len(rows),
        total=len(planned),
        seconds=seconds,
        per_run=seconds / max(len(units), 1),
    )
    if scale == "smoke":
        text += (
            "\nThe smoke scale trains for a few steps: it checks the pipeline, and its verdicts"
            " say nothing about the paper.\n"
        )
    return text + "\n### Claims\n\n" + claims_table(rows, planned).replace("{scale}", scale) + "\n"


__all__ = ["claims_table", "write_report"]
