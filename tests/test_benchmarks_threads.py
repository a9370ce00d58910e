"""The busy-core helper of ``benchmarks.threads`` (the timings themselves are the benchmark's job)."""

import os
import signal
import subprocess
import sys
import time

import psutil

from benchmarks.threads import BUSY_LOOP, busy_core


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_busy_core_runs_during_the_block_and_stops_after():
    with busy_core() as process:
        assert process.poll() is None
    assert process.poll() is not None


def test_the_busy_loop_ends_when_the_benchmark_is_killed():
    launcher = ("import os, subprocess, sys\n"
                f"child = subprocess.Popen([sys.executable, '-c', {BUSY_LOOP!r}, str(os.getpid())])\n"
                "print(child.pid, flush=True)\n"
                "child.wait()\n")
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        assert not _gone(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 60  # the loop checks its parent every million iterations (milliseconds)
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child)
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)
