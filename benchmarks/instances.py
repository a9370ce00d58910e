"""Section 5b: the public Max-Cut / QUBO instances, solved through the reduction to LIP-CST.

Each instance of ``../shared/instances`` (beside the repository) is read with the Biq Mac readers of
:mod:`reductions.formats`, reduced to a two-layer ReLU network by ``reductions.chain.to_lipcst``, solved
by :func:`lipexact.lipschitz` with each configured method under a time limit, mapped back to a cut / QUBO
value and compared with the published optimum of ``optima.json``. A stopped search reports the bracket it
proved.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.measure import Measurement, from_result
from reductions.validation import require
from benchmarks.report import Check, Section, Table

__all__ = ["instances_root", "selected_instances", "section"]


def instances_root() -> Path:
    """``../shared/instances`` relative to the repository root."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "instances"


def selected_instances(root: Path, families: tuple[str, ...], max_n: int | None = None,
                       extra: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """``(relative path, optima entry)`` for the instances of the chosen families (at most ``max_n``
    variables when given) and the ``extra`` paths, smallest first."""
    optima = json.loads((root / "optima.json").read_text(encoding="utf-8"))
    chosen = [(path, entry) for path, entry in optima.items()
              if path in extra or (entry.get("family") in families and (max_n is None or entry["n"] <= max_n))]
    return sorted(chosen, key=lambda item: (item[1]["n"], item[0]))


def section(ctx) -> Section:
    cfg = ctx.config
    result = Section("instances", "5b. Max-Cut / QUBO instances through the reduction")
    root = instances_root()
    if not (root / "optima.json").exists():
        result.text.append(f"Skipped: the instance folder {root} (../shared/instances beside the repository) "
                           "is absent on this machine.")
        return result
    chosen = selected_instances(root, cfg.instance_families, cfg.instance_max_n, cfg.instance_extra)
    limit = "" if cfg.instance_max_n is None else f" with n <= {cfg.instance_max_n}"
    limit += f", plus {', '.join(cfg.instance_extra)}" if cfg.instance_extra else ""
    result.text.append(
        f"{len(chosen)} instance(s) of the families {', '.join(cfg.instance_families)}{limit} from {root}; "
        f"each solved by {', '.join(cfg.instance_methods)} with a time limit of {cfg.instance_time_limit:g} s per "
        "instance and method (cpu).")
    try:
        from reductions import chain  # noqa: F401  (the Max-Cut/QUBO -> LIP-CST chain)
    except ImportError as error:
        reason = f"{type(error).__name__}: {error}"
        missing = Measurement("exact", "reduction chain", "unavailable", reason=reason)
        rows = [[path, entry["problem"], entry["n"], entry["optimum"], missing, "-"] for path, entry in chosen]
        result.tables.append(Table("instances_table", "Published optima versus the reduction + exact solver",
                                   ["instance", "problem", "n", "published optimum", "ours", "match"], rows))
        result.checks.append(Check("instances solved through the reduction match the published optima", None,
                                   reason))
        return result
    return _solve_all(ctx, result, root, chosen)


_READERS = {"biqmac_graph": "read_rudy", "biqmac_sparse_qubo": "read_qubo_sparse"}


def _read(root: Path, path: str, entry: dict):
    from reductions import formats

    require(entry.get("format") in _READERS, f"optima.json[{path}].format", f"one of {sorted(_READERS)}",
            repr(entry.get("format")))
    return getattr(formats, _READERS[entry["format"]])(root / path)


def solve_instance(root: Path, path: str, entry: dict, time_limit: float, seed: int = 0,
                   method: str = "auto") -> dict[str, Any]:
    """Read, reduce, solve and map back one instance; every number of the returned row is computed here."""
    import lipexact
    from lipexact.network import TwoLayerReLU
    from reductions.base import Solution
    from lipexact.reduce import source_bound
    from reductions.chain import reduce_to_lipcst

    source = _read(root, path, entry)
    reduced = reduce_to_lipcst(source)
    lipcst = reduced.lipcst
    net = TwoLayerReLU(lipcst.M1, lipcst.M2)
    offset, scale = reduced.value_map
    row: dict[str, Any] = {"instance": path, "problem": entry["problem"], "n": entry["n"],
                           "published": entry["optimum"], "source": entry.get("source", ""),
                           "chain": " -> ".join(reduced.chain.names), "network": f"{net.n_inputs}-{net.n_hidden}-1",
                           "maximize": float(scale) > 0}
    start = time.perf_counter()
    try:
        result = lipexact.lipschitz(net, method=method, norm=2, time_limit=time_limit, seed=seed)
    except (ImportError, NotImplementedError) as error:
        row["measurement"] = Measurement("exact", method, "unavailable", reason=f"{type(error).__name__}: {error}")
        return row
    except Exception as error:  # recorded in the report
        row["measurement"] = Measurement("exact", method, "error", kind="error", reason=f"{type(error).__name__}: {error}")
        return row
    measured = from_result("exact", method, result, time.perf_counter() - start, "cpu")
    measured.extra["auto"] = result.stats.get("auto")
    row["measurement"] = measured
    row["found"] = None
    if result.witness is not None:
        mapped = reduced.map_back(Solution.at_witness(lipcst, np.asarray(result.witness)))
        row["found"] = mapped.value
        row["found_certificate"] = np.asarray(mapped.certificate).astype(int).tolist()
    bound = source_bound(reduced, result)  # rounded outward, exact for integer data
    row["bound"] = bound if bound is None or isinstance(bound, (int, float)) else float(bound)
    return row


def _solve_all(ctx, result: Section, root: Path, chosen: list[tuple[str, dict]]) -> Section:
    cfg = ctx.config
    methods = cfg.instance_methods
    bar = ctx.bar(len(chosen) * len(methods), "instances")
    rows = []
    proven: set[str] = set()
    for path, entry in chosen:
        for method in methods:
            bar.set_postfix_str(f"{path} {method}")
            row = solve_instance(root, path, entry, cfg.instance_time_limit, seed=ctx.seed, method=method)
            bar.update(1)
            rows.append(_verdict_row(result, row, method))
            if rows[-1][-1] == "yes":
                proven.add(path)
            result.records.append({"method": method,
                                   **{k: (v.to_dict() if isinstance(v, Measurement) else v) for k, v in row.items()}})
    bar.close()
    unsolved = [path for path, _ in chosen if path not in proven]
    notes = ["'ours' is the cut / QUBO value of the solver's witness mapped back through the reduction "
             "(re-evaluated exactly); 'proven bound' is (L_upper^2 - offset) / scale computed exactly and rounded "
             "outward to an integer (lipexact.reduce.source_bound), an upper bound on a maximum cut and a lower "
             "bound on a QUBO minimum.",
             f"Exact methods: {', '.join(methods)} (lipexact.lipschitz; 'auto' names the method it ran); time "
             f"limit {cfg.instance_time_limit:g} s per instance and method; cpu.",
             f"Proven optimal by at least one method: {len(proven)} of {len(chosen)} instances."]
    if unsolved:
        notes.append(f"Not proven by any method within the time limit: {', '.join(unsolved)} (see the proven "
                     "bracket of each).")
    result.tables.append(Table(
        "instances_table", "Published optima versus the reduction + exact solver",
        ["instance", "problem", "n", "chain", "network (inputs-hidden-1)", "method", "published optimum",
         "ours (from the witness)", "proven bound", "status", "seconds", "match"], rows, notes))
    return result


def _verdict_row(result: Section, row: dict[str, Any], method: str) -> list[Any]:
    """The table row of one solve, after adding its check (optimum matches, or lies in the proven bracket)."""
    m: Measurement = row["measurement"]
    path, published = row["instance"], row["published"]
    found, bound = row.get("found"), row.get("bound")
    ran = m.extra.get("auto") if method == "auto" else None
    label = f"auto ({ran})" if ran else method
    if m.kind == "exact" and found is not None:
        match = found == published
        result.checks.append(Check(f"{path} ({label}): optimum through the reduction equals the published optimum",
                                   bool(match), f"ours {found}, published {published}"))
        verdict = "yes" if match else "NO"
    elif m.outcome == "stopped":
        inside = None
        if found is not None and bound is not None:
            tolerance = 1e-9 * max(1.0, abs(bound))
            inside = (found <= published <= bound + tolerance) if row["maximize"] else \
                (bound - tolerance <= published <= found)
        result.checks.append(Check(f"{path} ({label}): published optimum lies in the bracket proven before the "
                                   "time limit", inside, f"found {found}, proven bound {bound}"))
        verdict = "not proven (time limit)"
    else:
        verdict = "-"
    return [path, row["problem"], row["n"], row["chain"], row["network"], label, published, found, bound,
            m.status or m, m.seconds if m.available else m, verdict]
