"""``python -m harness reproduce``: every figure's sweep at one scale, then the figures and
``REPRODUCTION.md`` (one row per claim of the paper, ours beside it, with a verdict)."""
