"""The README's Python examples run, in order, as a user would paste them."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples_and_each_runs_on_its_own(capsys):
    blocks = python_blocks()
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})  # a fresh namespace: each block has its own imports
    printed = capsys.readouterr().out
    assert "optimal" in printed and "12.0 12" in printed


def test_the_ci_test_command_is_in_the_readme():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "README.md" in ci
    assert re.search(r"^python3 -m venv .*python -m pytest", README.read_text(), flags=re.M)
