"""lipexact.batch on Dask: a LocalCluster of two single-threaded worker processes (one per module)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("distributed")

import dask  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from lipexact.batch.api import solve_many  # noqa: E402
from lipexact.batch.cli import main  # noqa: E402
from tests.batch_inputs import started_pids, waiting_task, write_inputs  # noqa: E402

COMPARED = ("key", "status", "value", "lower", "upper", "source_value", "source_bound", "error")


@pytest.fixture(scope="module")
def cluster():
    settings = {"distributed.scheduler.worker-saturation": 1.0, "distributed.scheduler.allowed-failures": 3}
    with dask.config.set(settings):
        local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(local)
    yield local, client
    client.close()
    local.close()


def _worker_pids(client) -> set[int]:
    return set(client.run(os.getpid).values())


def _certificates(line: dict) -> dict:
    result = line.get("lipschitz_result") or line.get("solution", {}).get("lipschitz_result") or {}
    source = (line.get("solution") or {}).get("source_solution")
    return {"witness": result.get("witness"), "pattern": result.get("pattern"),
            "certificate": result.get("certificate"), "source_solution": source}


def test_results_on_the_cluster_equal_the_in_process_results(tmp_path, cluster):
    local, client = cluster
    write_inputs(tmp_path)
    (tmp_path / "broken.rudy").write_text("3 1\n1 2 x\n")
    options = dict(methods=["auto", "bnb"], norms=["2", "inf"], seed=3)
    here = solve_many([tmp_path], **options)
    out = tmp_path / "out.jsonl"
    there = solve_many([tmp_path], scheduler=local.scheduler_address, output=out, **options)
    assert solve_many([tmp_path], scheduler="tcp://127.0.0.1:1", output=out, **options) == there  # all done:
    # no scheduler is contacted (nothing listens on port 1)
    assert len(here) == len(there) == 24
    for a, b in zip(here, there):
        assert {k: a.get(k) for k in COMPARED} == {k: b.get(k) for k in COMPARED}
        assert _certificates(a) == _certificates(b)
    assert sum(line["status"] == "optimal" for line in there) == 14  # instances take norm 2 only: 6 error lines
    broken = [line for line in there if line["input"]["path"].endswith("broken.rudy")]
    assert len(broken) == 4 and all("broken.rudy line 2: expected a number, got 'x'" in line["error"]
                                    for line in broken if line["norm"] == "2")
    assert {line["worker"]["pid"] for line in there} <= _worker_pids(client)
    assert all(line["worker"]["address"].startswith("tcp://") for line in there)


def test_a_killed_workers_task_is_retried_on_another_worker(tmp_path, cluster):
    local, client = cluster
    slow = tmp_path / "slow.rudy"
    slow.write_text("3 3\n1 2 1\n2 3 1\n1 3 1\n")
    out = tmp_path / "out.jsonl"
    runner = threading.Thread(target=solve_many, args=([slow],),
                              kwargs=dict(methods=["brute"], scheduler=local.scheduler_address, output=out,
                                          run=waiting_task))
    runner.start()
    try:
        first, = started_pids(tmp_path, 1)
        assert first in _worker_pids(client)  # a worker process of the cluster this test started
        os.kill(first, signal.SIGKILL)
        second = started_pids(tmp_path, 2)[1]  # the scheduler started the task again
        assert second != first
    finally:
        (tmp_path / "release").touch()
        runner.join(120)
    line, = [json.loads(raw) for raw in out.read_text().splitlines()]
    assert line["status"] == "optimal" and line["source_value"] == 2 and line["worker"]["pid"] == second


def test_a_task_whose_workers_all_died_is_an_error_line():
    from distributed.scheduler import KilledWorker

    from lipexact.batch.cluster import _line_of
    from lipexact.batch.tasks import InputFile, Task

    class Lost:
        status = "error"

        def exception(self):
            return KilledWorker("lipexact-batch-x", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)

    line = _line_of(Lost(), Task(InputFile("/g.rudy", "0" * 64, "instance"), "bnb", "2"))
    assert line["status"] == "error" and "worker died each time" in line["error"]


def test_a_task_over_its_hard_limit_is_an_error_line_and_its_worker_is_restarted(tmp_path, cluster):
    local, client = cluster
    write_inputs(tmp_path)
    slow = tmp_path / "slow.rudy"
    slow.write_text("2 1\n1 2 1\n")
    try:
        lines = solve_many([slow, tmp_path / "k3.rudy"], methods=["brute"], scheduler=local.scheduler_address,
                           hard_limit=2.0, run=waiting_task)
        # the first start is the one the hard limit stopped; under load the scheduler has once started the task a
        # second time (a restart racing the cancel), which the release below lets finish
        stuck = started_pids(tmp_path, 1)[0]
        assert lines[0]["status"] == "error" and "hard time limit of 2 s exceeded" in lines[0]["error"]
        assert "was restarted" in lines[0]["error"]
        assert lines[1]["status"] == "optimal"
        client.wait_for_workers(2, timeout=60)
        assert stuck not in _worker_pids(client)
    finally:
        (tmp_path / "release").touch()


def test_cli_on_a_local_cluster_it_starts(tmp_path):
    """The local:N path (one worker here, to start fast; the module's cluster has two)."""
    paths = write_inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    code = main([str(paths["k3"]), str(paths["qubo"]), "--methods", "brute", "--scheduler", "local:1", "-o",
                 str(out), "--quiet"])
    lines = [json.loads(raw) for raw in Path(out).read_text().splitlines()]
    assert code == 0 and sorted(line["source_value"] for line in lines) == [-4, 2]
    assert all(line["worker"]["pid"] != os.getpid() for line in lines)


def test_benchmark_sections_run_on_the_cluster_and_say_so(tmp_path, cluster):
    from benchmarks.config import CONFIGS
    from benchmarks.sections_on_dask import run_sections
    from benchmarks.tables import Context

    local, _ = cluster
    ctx = Context(config=CONFIGS["smoke"], seed=0, devices=["cpu"], out=tmp_path, progress=False)
    sections = run_sections(["instances", "devices"], ctx, local.scheduler_address, progress=False)
    assert list(sections) == ["instances"]  # devices stays in the main process
    assert sections["instances"].key == "instances" and sections["instances"].seconds > 0
    assert "up to 2 sections ran at once" in sections["instances"].text[-1]
