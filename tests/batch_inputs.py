"""Small inputs for the batch tests: Max-Cut graphs, a sparse QUBO, a two-layer and a deep network, and a
task function that waits for a release file (a deterministic slow task for fault tests)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from lipexact.batch.work import run_task
from lipexact.deep.network import ReLUNetwork
from lipexact.io import save
from lipexact.network import TwoLayerReLU

RELEASE_SECONDS = 120


def write_inputs(folder: Path) -> dict[str, Path]:
    """A folder of five small inputs (each solves in well under a second) plus files a walk must skip."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"k3": folder / "k3.rudy", "c5": folder / "c5", "qubo": folder / "q3.sparse",
             "two_layer": folder / "two_layer.json", "deep": folder / "deep.json"}
    paths["k3"].write_text("3 3\n1 2 1\n2 3 1\n1 3 1\n")
    paths["c5"].write_text("5 5\n1 2 1\n2 3 1\n3 4 1\n4 5 1\n1 5 2\n")
    paths["qubo"].write_text("3 5\n1 1 -3\n1 2 2\n2 2 -1\n2 3 -2\n3 3 1\n")
    rng = np.random.default_rng(0)
    save(TwoLayerReLU(rng.normal(size=(6, 3)), rng.normal(size=(2, 6)), rng.normal(size=6), rng.normal(size=2)),
         paths["two_layer"])
    save(ReLUNetwork([(rng.normal(size=(4, 2)), rng.normal(size=4)), (rng.normal(size=(3, 4)), rng.normal(size=3)),
                      (rng.normal(size=(1, 3)), rng.normal(size=1))]), paths["deep"])
    (folder / "README.md").write_text("# notes, not an instance\n")
    (folder / "optima.json").write_text('{"k3.rudy": {"optimum": 2}}\n')
    return paths


def waiting_task(task, address: str = "in-process") -> dict:
    """Run ``task``, but for an input named ``slow*`` first append this process's id to ``started.txt``
    beside it and wait until a file ``release`` appears there (at most :data:`RELEASE_SECONDS`)."""
    folder = Path(task.input.path).parent
    if Path(task.input.path).name.startswith("slow"):
        with open(folder / "started.txt", "a") as stream:
            stream.write(f"{os.getpid()}\n")
        deadline = time.monotonic() + RELEASE_SECONDS
        while not (folder / "release").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("never released")
            time.sleep(0.02)
    return run_task(task, address)


def started_pids(folder: Path, count: int, timeout: float = 60) -> list[int]:
    """The process ids in ``folder/started.txt`` once there are ``count`` of them (a bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        marker = folder / "started.txt"
        pids = [int(p) for p in marker.read_text().split()] if marker.exists() else []
        if len(pids) >= count:
            return pids
        time.sleep(0.02)
    raise AssertionError(f"{count} starts not seen in {timeout} s")
