"""Sparse meta-learning with group-lasso SVM heads (paper Section 5.2, Appendix C.1, D.3).

`config` holds the settings and presets (`MetaConfig`), `heads` the base learners, `model` the
backbone + head, `train` episodic training with resume, `evaluate` the meta-test scores,
`experiment` the sweep over λ1, `figures` Figure 5 drawn from a results file.
"""
