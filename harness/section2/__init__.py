"""The Section 2 study: disentanglement + sparsity generalize from few samples (Figure 1, D.1).

`config` holds its settings (`StudyConfig`), `study` the simulation, the fits and `run_study`
(with the reproduction note), `figures` Figure 1 and the text table drawn from a results file.
"""
