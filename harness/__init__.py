"""Experiment harness for "Synergies Between Disentanglement and Sparsity" (ICML 2023).

The harness composes `sparselayers` layers, datasets and metrics into the paper's experiments.
It holds no solver logic: every fit goes through `sparselayers`. Run ``python -m harness --help``.
"""
