"""Functional forms of the layers."""

from sparselayers.functional.group_lasso import group_lasso
from sparselayers.functional.l21 import l21_norm
from sparselayers.functional.ridge import ridge

__all__ = ["group_lasso", "l21_norm", "ridge"]
