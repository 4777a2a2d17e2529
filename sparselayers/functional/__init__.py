"""Functional forms of the layers."""

from sparselayers.functional.group_lasso import group_lasso
from sparselayers.functional.l21 import l21_norm
from sparselayers.functional.ridge import ridge
from sparselayers.functional.svm import group_lasso_svm_dual

__all__ = ["group_lasso", "group_lasso_svm_dual", "l21_norm", "ridge"]
