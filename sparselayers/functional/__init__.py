"""Functional forms of the layers."""

from sparselayers.functional.group_lasso import group_lasso
from sparselayers.functional.l21 import l21_norm
from sparselayers.functional.lambda_max import (
    group_lasso_lambda_max,
    ridge_scale,
    svm_lambda1_max,
)
from sparselayers.functional.ridge import ridge
from sparselayers.functional.svm import group_lasso_svm_dual

__all__ = [
    "group_lasso",
    "group_lasso_lambda_max",
    "group_lasso_svm_dual",
    "l21_norm",
    "ridge",
    "ridge_scale",
    "svm_lambda1_max",
]
