"""The disentanglement experiments of Section 5.1 / Appendix D.2: methods, training, evaluation,
sweeps and figures. The command is `harness.experiments.disentanglement`."""
