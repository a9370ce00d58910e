"""The shared error contract of the command-line tools (lipexact/cli.py): broken pipes and full disks."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lipexact import TwoLayerReLU
from lipexact.cli import EXIT_BROKEN_PIPE, EXIT_OUTPUT_FAILED, run_cli
from lipexact.io import save
from reductions import files

ROOT = Path(__file__).resolve().parents[1]
NET = TwoLayerReLU([[1, 2], [-1, 1], [2, -1]], [[1, -1, 2]], b1=[0, 1, -1])
K3 = "3 3\n1 2 1\n2 3 1\n1 3 1\n"


class ClosedPipe:
    """A stdout whose reader has gone: every write raises BrokenPipeError."""

    def write(self, text):
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    def flush(self):
        pass


class FullDisk:
    """A stdout redirected to a full disk: every write raises ENOSPC."""

    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self):
        pass


def test_broken_pipe_is_one_line_and_exit_141(monkeypatch, capsys):
    def main(argv):
        print("a result line")
        return 0

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert run_cli("prog", main, []) == EXIT_BROKEN_PIPE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("prog: error: ") and "broken pipe" in err[0]


@pytest.fixture
def inputs(tmp_path):
    save(NET, tmp_path / "net.json")
    (tmp_path / "k3.rudy").write_text(K3)
    return tmp_path


COMMANDS = {
    "solve": ["lipexact.solve", "net.json", "--method", "brute"],
    "reduce": ["lipexact.reduce", "k3.rudy", "--solve", "--method", "brute"],
    "bound": ["lipexact.bound", "net.json", "--methods", "frobenius", "--device", "cpu", "--threads", "1"],
}


@pytest.mark.parametrize("tool, buffered", [(tool, True) for tool in sorted(COMMANDS)] + [("solve", False)])
def test_stdout_closed_by_its_reader_gives_one_line_and_no_traceback(inputs, tool, buffered):
    module, *args = COMMANDS[tool]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(ROOT)
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=inputs, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    process.stdout.close()                           # the reader goes away before the tool prints anything
    _, err = process.communicate(timeout=300)
    assert process.returncode == EXIT_BROKEN_PIPE, err
    assert "Traceback" not in err and "Exception ignored" not in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "broken pipe" in errors[0]
    if tool != "reduce":                             # reduce also prints its chain to stderr
        assert err.strip().splitlines() == errors


def _disk_full_after(count):
    def write_all(descriptor, data):
        os.write(descriptor, bytes(data[:count]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return write_all


def _main(tool):
    from lipexact import bound, reduce, solve

    return {"solve": solve.main, "reduce": reduce.main, "bound": bound.main}[tool]


@pytest.mark.parametrize("old", [None, "old results\n"])
@pytest.mark.parametrize("tool", sorted(COMMANDS))
def test_full_disk_gives_one_line_exit_74_and_no_partial_file(inputs, tool, old, monkeypatch, capsys):
    module, *args = COMMANDS[tool]
    out = inputs / "out.json"
    if old is not None:
        out.write_text(old)
    before = sorted(p.name for p in inputs.iterdir())
    monkeypatch.setattr(files, "_write_all", _disk_full_after(10))
    monkeypatch.chdir(inputs)
    option = "--json" if tool == "bound" else "-o"
    assert _main(tool)([*args, option, str(out)]) == EXIT_OUTPUT_FAILED
    err = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(err) == 1 and "No space left on device" in err[0]
    assert sorted(p.name for p in inputs.iterdir()) == before       # no temporary, no partial file
    assert (out.read_text() == old) if old is not None else not out.exists()


def test_full_disk_on_stdout_gives_one_line_and_exit_74(inputs, monkeypatch, capsys):
    from lipexact.reduce import main

    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert main([str(inputs / "k3.rudy")]) == EXIT_OUTPUT_FAILED
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "python -m lipexact.reduce: error: output: No space left on device"


SCRIPT = """
import os, sys
from lipexact.cli import stdout_to_stderr
print("before")
with stdout_to_stderr():
    print("inside")
    os.write(1, b"from C\\n")                      # what a C library writes to file descriptor 1
print("after")
with stdout_to_stderr(enabled=False):
    print("kept")
"""


def test_stdout_to_stderr_moves_file_descriptor_1_and_restores_it():
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "before\nafter\nkept\n" and run.stderr == "inside\nfrom C\n"
