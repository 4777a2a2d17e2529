"""``python -m harness reproduce``: the adapter of `harness.reproduce.command`."""

from harness.reproduce.command import (
    HELP,
    NAME,
    OUT_DEFAULT,
    RESUMES,
    add_arguments,
    default_out,
    plot,
    run,
)

__all__ = ["HELP", "NAME", "OUT_DEFAULT", "RESUMES", "add_arguments", "default_out", "plot", "run"]
