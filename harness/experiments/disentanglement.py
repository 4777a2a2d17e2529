"""``python -m harness disentanglement``: the adapter of `harness.disentanglement.experiment`."""

from harness.disentanglement.experiment import (
    HELP,
    NAME,
    RESUMES,
    add_arguments,
    configs_from_args,
    plot,
    run,
    settings,
    summary_table,
)

__all__ = [
    "HELP",
    "NAME",
    "RESUMES",
    "add_arguments",
    "configs_from_args",
    "plot",
    "run",
    "settings",
    "summary_table",
]
