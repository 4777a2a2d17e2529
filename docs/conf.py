"""Sphinx configuration: ``make docs`` builds ``docs/_build/html`` with warnings as errors."""

import sparselayers

project = "sparselayers"
author = "The sparselayers developers"
copyright = "2026, the sparselayers developers"
release = sparselayers.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # Google-style "Args:" / "Returns:" sections
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_theme_options = {"description": "Exact, differentiable sparse optimization layers"}
