"""``render-samples``: sample grids of the 3D Shapes images and the renderer's throughput.

The command is `harness.data.gallery`: one flag per `GalleryConfig` field (``--supersample``,
rays per pixel along each axis; ``--seed``, of the random samples; ``--benchmark-images``,
images per throughput measurement, 0 for none), plus where and how it runs (``--device``,
``--data-dir`` to show the real ``3dshapes.h5`` instead of the procedural renderer,
``--threads``). Writes ``factor_sweeps.png``, ``samples.png`` and ``results.json`` (the grid
points shown and the measured images/s).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from harness.config import add_config_arguments, config_overrides, config_to_dict
from harness.data.gallery import GalleryConfig, draw_gallery, gallery_figures, render_gallery
from harness.devices import add_threads_argument, device_argument
from harness.results import write_results

NAME = "render-samples"
HELP = "save sample grids of the 3D Shapes images (one factor per row) and time the renderer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m harness render-samples``."""
    add_config_arguments(parser, GalleryConfig)
    parser.add_argument(
        "--device",
        default="cpu",
        type=device_argument,
        help="torch device to render on (default: cpu)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="show the real 3dshapes.h5 in this directory instead of the procedural renderer",
    )
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> None:
    """Render the grids, measure throughput and write figures + results into ``args.out``."""
    config = GalleryConfig(**config_overrides(args, GalleryConfig))
    torch.set_num_threads(args.threads)
    device, out = torch.device(args.device), Path(args.out)
    source, fields = render_gallery(config, args.data_dir, device)
    for key, value in (fields["throughput"] or {}).items():
        print(f"{key}: {value:,.0f}")
    data_dir = None if args.data_dir is None else str(args.data_dir)
    record = {**config_to_dict(config), "device": str(device), "data_dir": data_dir}
    record["threads"] = torch.get_num_threads()
    write_results(out, NAME, record, **fields)
    for path in draw_gallery(source, fields["base_point"], fields["sample_indices"], out):
        print(f"wrote {path}")


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Redraw the grids of a results file (`harness.data.gallery.gallery_figures`)."""
    return gallery_figures(results, out_dir)
