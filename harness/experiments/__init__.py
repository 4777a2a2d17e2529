"""Experiments of the harness, one module each, registered in `harness.cli.EXPERIMENTS`."""
