"""Sparse meta-learning with group-lasso SVM heads (paper Section 5.2, Appendix C.1, D.3)."""
