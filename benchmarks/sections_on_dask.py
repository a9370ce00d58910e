"""Benchmark sections as Dask tasks: ``python -m benchmarks.run --scheduler local:N|ADDRESS``.

The independent sections run as one task each on single-threaded workers (``LIPEXACT_THREADS=1``, one
section per worker at a time: N workers, N sections at once; give N at most the number of cores so that
timings are not disturbed by each other more than by sharing the machine). Each section seeds torch and
numpy with the run's seed itself (in one process the sections share one random state in their order).
Kept in this process, after the others: ``devices`` (it totals the bound timings of the other sections) and
``threads`` (it starts its own busy process and compares thread counts: it needs the machine to itself).
Sections write their figures into the output folder from the worker, so on a cluster that folder must be
on a file system every worker sees. Every section run on a worker says so in its text, with the count of
workers.
"""

from __future__ import annotations

import copy
import sys
import time
from typing import Any, Sequence

__all__ = ["IN_PROCESS", "run_sections"]

#: Sections that always run in the main process, after the distributed ones.
IN_PROCESS = ("devices", "threads")


def _run_section(name: str, ctx: Any) -> tuple[Any, list[dict], str]:
    """On a worker: seed, run one section, time it (wall, CPU, load at start and end); the section, its bound
    timings, the worker's address."""
    import numpy as np
    import torch
    from distributed import get_worker

    from benchmarks.report import cpu_clock, load_now
    from benchmarks.tables import SECTIONS

    torch.manual_seed(ctx.seed)
    np.random.seed(ctx.seed)
    start, cpu, load = time.perf_counter(), cpu_clock(), load_now()
    section = SECTIONS[name](ctx)
    section.seconds = time.perf_counter() - start
    section.cpu_seconds = cpu_clock() - cpu
    section.load = (load, load_now())
    return section, ctx.bound_timings, get_worker().address


def run_sections(chosen: Sequence[str], ctx: Any, scheduler: str, progress: bool = True) -> dict[str, Any]:
    """Run the chosen sections other than :data:`IN_PROCESS` on Dask; their sections by name. The bound
    timings they record are appended to ``ctx.bound_timings`` in the order of ``chosen``."""
    from distributed import as_completed
    from tqdm import tqdm

    from lipexact.batch.cluster import connect

    names = [name for name in chosen if name not in IN_PROCESS]
    if not names:
        return {}
    client, cluster = connect(scheduler)
    try:
        workers = client.scheduler_info()["workers"]
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        remote_ctx = copy.copy(ctx)
        remote_ctx.progress, remote_ctx.bound_timings = False, []
        futures = {client.submit(_run_section, name, remote_ctx, key=f"benchmark-section-{name}", pure=False): name
                   for name in names}
        done: dict[str, tuple[Any, list[dict], str]] = {}
        bar = tqdm(total=len(names), desc=f"sections on Dask ({scheduler})", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            bar.set_postfix_str(futures[future])
            bar.update(1)
        bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    sections = {}
    for name in names:
        section, timings, address = done[name]
        ctx.bound_timings.extend(timings)
        section.text.append(f"Ran as a Dask task on worker {address} ({scheduler}: {len(workers)} workers, "
                            f"{threads} threads, so up to {threads} sections ran at once, one per worker; each "
                            "worker single-threaded).")
        sections[name] = section
    return sections
