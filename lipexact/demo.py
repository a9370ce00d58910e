"""``python -m lipexact.demo``: Max-Cut of the Petersen graph, computed as a Lipschitz constant.

The Petersen graph (built with networkx) is reduced to a bias-free two-layer ReLU network whose
squared Lipschitz constant is the maximum cut (Scaman & Virmaux 2018: that is why computing
Lipschitz constants is NP-hard). The network is solved exactly with :func:`lipexact.lipschitz`, the
witness input is mapped back to a cut (witness -> activation pattern -> cut), and the cut is checked
against brute force on the graph.

References
----------
Scaman, K. and Virmaux, A., "Lipschitz regularity of deep neural networks: analysis and efficient
estimation", NeurIPS 2018, arXiv:1805.10965.
"""

from __future__ import annotations

import sys
from typing import Sequence

import numpy as np

__all__ = ["main", "run_demo"]


def run_demo(method: str = "auto") -> dict:
    """Reduce, solve, map back and check; return the numbers that :func:`main` prints.

    See :func:`main` for a run.
    """
    import networkx as nx

    from lipexact.exact import lipschitz
    from lipexact.network import TwoLayerReLU
    from reductions.base import Solution
    from reductions.chain import reduce_to_lipcst
    from reductions.instances import MaxCut

    graph = MaxCut.from_networkx(nx.petersen_graph())
    reduced = reduce_to_lipcst(graph)
    lipcst = reduced.lipcst
    result = lipschitz(TwoLayerReLU(lipcst.M1, lipcst.M2), method=method)
    if result.witness is None:
        raise RuntimeError(f"the solver returned no witness: {result}")
    witness = Solution.at_witness(lipcst, np.asarray(result.witness))
    cut = reduced.map_back(witness)
    optimum, _ = graph.brute_force()
    return {
        "graph": graph,
        "reduced": reduced,
        "result": result,
        "L_squared": witness.value,
        "cut": cut.certificate,
        "cut_value": cut.value,
        "brute_force": optimum,
        "status": result.status.value,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the demo; exit code 0 when L(f)^2, the mapped-back cut and brute force agree.

    Examples
    --------
    >>> main()  # doctest: +ELLIPSIS
    Max-Cut of the Petersen graph as the Lipschitz constant of a ReLU network
    ...
    L(f)^2 = 12 (exact, from the witness's activation pattern)
    ...
    check: OK, L(f)^2 = max cut = brute force
    0
    """
    import argparse

    from lipexact.reduce import describe_chain

    parser = argparse.ArgumentParser(
        prog="python -m lipexact.demo",
        description="Reduce Max-Cut on the Petersen graph to the Lipschitz constant of a two-layer ReLU network, "
                    "solve it exactly, map the witness back to a cut and check it against brute force. Exit "
                    "code 0 when the three agree, 1 otherwise. Takes no input.")
    parser.add_argument("--method", default="auto", choices=["auto", "brute", "enumerate", "bnb", "milp"],
                        help="exact method (default: auto)")
    args = parser.parse_args([] if argv is None else list(argv))
    report = run_demo(args.method)
    graph, reduced, result = report["graph"], report["reduced"], report["result"]
    lipcst = reduced.lipcst
    side = report["cut"]
    print("Max-Cut of the Petersen graph as the Lipschitz constant of a ReLU network")
    print(f"graph: {graph.n} nodes, {len(graph.edges)} unit-weight edges")
    print(describe_chain(reduced))
    print(f"network: f(x) = 1^T relu(M1 x), {lipcst.n_inputs} inputs, {lipcst.n_hidden} hidden ReLUs, "
          f"{lipcst.n_outputs} output (M1 = signed incidence matrix, integer)")
    print(f"solver: {result}")
    print(f"L(f) = {result.value:.12g}")
    print(f"L(f)^2 = {report['L_squared']} (exact, from the witness's activation pattern)")
    print(f"cut mapped back from the witness: S = {[int(i) for i in np.flatnonzero(side)]}, "
          f"value {report['cut_value']}")
    print(f"brute force over all 2^{graph.n} cuts: {report['brute_force']}")
    ok = report["cut_value"] == report["brute_force"] == report["L_squared"] and report["status"] == "optimal"
    print("check: " + ("OK, L(f)^2 = max cut = brute force" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
