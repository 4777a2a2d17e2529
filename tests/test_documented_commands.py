"""The commands the README and the docs show exist as written: every ``python -m harness SUB``
they mention answers ``--help``, and every example script they name is in ``examples/``."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.rst"))]
TEXT = "\n".join(path.read_text() for path in DOCS)
SUBCOMMANDS = sorted(set(re.findall(r"python -m harness ([a-z][a-z0-9-]+)", TEXT)))


def test_the_docs_name_harness_commands():
    assert {"reproduce", "sparse-generalization", "disentanglement", "meta-svm"} <= set(SUBCOMMANDS)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_documented_harness_command_answers_help(subcommand):
    done = subprocess.run(
        [sys.executable, "-m", "harness", subcommand, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_documented_examples_exist():
    for script in set(re.findall(r"examples/([a-z_]+\.py)", TEXT)):
        assert (ROOT / "examples" / script).is_file(), script
