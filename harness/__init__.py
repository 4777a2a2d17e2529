"""Experiment harness for "Synergies Between Disentanglement and Sparsity" (ICML 2023).

The harness composes `sparselayers` layers, datasets and metrics into the paper's experiments;
it holds no solver logic. Commands (``python -m harness COMMAND --help`` for options)::

    python -m harness sparse-generalization [--seeds N] [--out DIR]   # Section 2, Figure 1
    python -m harness render-samples [--out DIR] [--data-dir DIR]     # 3D Shapes sample grids
    python -m harness plot runs/<experiment>/<run>/results.json        # redraw figures

Modules: `harness.data` (3D Shapes grid, renderer, real-file reader, latent distributions, tasks,
task sampler), `harness.metrics` (MCC, R, DCI), `harness.crossval` (batched K-fold CV),
`harness.experiments` (one module per command), `harness.cli` (the command registry).
"""
