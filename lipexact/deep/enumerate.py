"""The exact oracle for small deep ReLU networks: a tree search over joint activation patterns.

The tree fixes the units one by one, layer by layer. A node holds the pattern fixed so far, the exact
pre-activation map of its current layer (:mod:`lipexact.deep.exact`: within the region of the upstream
layers' pattern, the pre-activations are affine in ``x``), the exact rows of its region and a point strictly
inside that region (and inside the open box). At the next unit:

- a unit whose pre-activation is constant on the region (zero ``x`` part) follows the sign of its offset and
  adds no row;
- on a box, a unit whose exact range over the box has one sign is stable: no branching, no row;
- otherwise the node branches. The child on the side of the node's point (its exact sign) inherits the point;
  the other child gets one from a ray step across the new hyperplane (verified exactly) or from one region
  decision (:func:`reductions.realizability.decide_region` on the exact rows), which may prove it empty.

A region that no certificate decides keeps its bound in the upper bound and the search ends ``error`` (no
proof), as in the two-layer tree. A stopped search (time limit, node limit, Ctrl-C) returns the proven
bracket: the largest value over the cells visited, the undecided regions' bounds, and for every open node the
norm of ``|W_k| D_{k-1} ... |W_{l+1}| D_l |M_l|`` (``M_l`` the node's exact layer map, ``D`` the fixed-off units
zeroed, free units kept), tightened by interval products (:mod:`lipexact.deep.bounds`), which dominates
``|J|`` entrywise for every completion and therefore its induced 1-, inf- and 2-norms.

Branch and bound (``bnb=True``, method ``bnb``) is the same tree with three additions:

- every node carries a proven bound on all its completions (:class:`lipexact.deep.bounds.DeepBounds`:
  interval products of ``W_k D ... W_{l+1} D_l M_l``, sign-vector products and, at the last layer, the
  enumerated completions; units stable on the box fixed by interval and back-substituted linear bounds,
  float rounding covered by explicit slacks);
- an incumbent: candidates of a local search (:mod:`lipexact.deep.incumbent`: samples, perturbations, then a walk
  across hyperplanes to better neighbouring cells; restarted with twice the effort at 256, 512, ... nodes,
  :func:`lipexact.deep.incumbent.restart_effort`; globally each followed by rounds of
  :func:`lipexact.deep.incumbent.perturb_walk` on a pool of the best cells) and the cell of every node's point, each
  accepted only when its point lies strictly inside its joint region (exact signs); the final witness check
  re-evaluates it;
- a node whose bound is at most ``incumbent * (1 + 0.5e-9)`` is closed (its bound enters the upper bound);
  node selection is best first with plunging on boxes (after each dive, the open node with the largest bound) and
  pure best first globally (``plunge``: there the upper end is the slowest to move; side by side over 600 s,
  11-24-24-1 [1.3424, 1.3736] with plunging, [1.3340, 1.3662] without; 13-20-16-8-3 at 120 s upper end 3.0021 ->
  2.9708; proofs of 11-12-12-1 seed 1 (1,653 -> 2,164 nodes) and 8-10-20-1 seed 0 within the timing noise; on
  boxes neither better nor worse: 10-30-30-30-3 nets on ``[0, 0.1]^10`` within 4-18 nodes, 10-20-20-1 on
  ``[0, 1]^10`` l_inf 5,818 / 5,753 nodes);
- on a box, region LPs (``lp_bounds``, :mod:`lipexact.deep.lp_bounds`): proven intervals of the current layer's
  pre-activations over the node's region (weak duality, any dual vector) replace the box intervals in the
  bound, and a unit they show stable is fixed in the tree once its dual vector verifies exactly as a Farkas
  certificate (no row, no branching, no empty child to decide); and proven intervals of the NEXT layer's
  pre-activations over the region, from the LP relaxation of the node's layer (each free unit's ReLU between
  ``a >= z`` and its chord; :func:`lipexact.deep.lp_bounds.next_layer_intervals`), which the bound intersects
  with its box-propagated ones, at nodes with at most :data:`NEXT_LP_MAX_FREE` free units in their layer. On
  10-30-30-30-3 nets on ``[0, 0.1]^10`` the box bounds left about 13 units of the next layer unknown at a node
  of the second layer and the relaxation proved 70% of them stable (nodes 837 -> 295, 231 -> 103, 216 -> 117,
  117 -> 54 on four nets, l2; 274, 100, 83, 48 with the LPs at every node, which on 10-20-20-1 on ``[0, 1]^10``,
  l_inf, 60 s, cost more than they saved: bracket [1.708, 2.125], against [1.768, 1.781] with the cap and
  [1.768, 2.261] without the relaxation). Each unit's LPs start from the one side that can prove a sign, read
  off the node's point (:func:`lipexact.deep.lp_bounds.sides_at`: a unit positive at a point of the region
  can only be shown positive); the region LPs and the next-layer LPs solve that side only (the other end keeps
  the box or inherited bound). Measured on those nets (seed 2, l2): the other side of a next-layer unit proved
  a sign in 29 of its 1,088 solves; LPs 5,095 -> 3,607 for 297 nodes instead of 295 (``point_sides=False``:
  the earlier order by box intervals, both sides); the region LPs' other side, dropped later, 9% of the time
  on seeds 0-5 in three norms (:func:`lipexact.deep.lp_bounds.region_intervals`).
- globally, in l2, certified LipSDP-neuron bounds (:mod:`lipexact.deep.sdp_bounds`: the node's exact map as the first
  layer, its units fixed off removed): at the root, which caps every node's bound (the children inherit the smaller of
  their bounds), and, once :data:`SDP_AFTER_NODES` nodes are processed, at every node the cheap bounds do not prune.
  Globally the interval bounds leave every later unit free and prune nothing until a layer is almost fixed; the SDP
  bounds see through that. A node whose reduced network is its ancestor's (a unit fixed on keeps the ReLU's slope
  range) reuses that value; one with a unit fixed off first certifies the ancestor's multipliers restricted to the
  kept units (a principal submatrix of the ancestor's LMI) and solves only when they do not prune, the barrier method
  starting from them (:meth:`DeepSearch.sdp_bound`; warm start, side by side with the cold one, one thread, wall, load
  0.8-1.0: proofs of 8-10-20-1 seed 0 13.6 -> 12.3 s (SDP seconds 2.8 -> 2.0), seed 2 7.1 -> 6.6 s (2.2 -> 1.7),
  11-12-12-1 seed 1 9.3 -> 7.2 s (4.5 -> 2.6), the same nodes; 11-24-24-1 at 120 s 11,775 -> 16,485 nodes, upper end
  1.4856 -> 1.4761). Measured (random nets, one thread, wall): 11-24-24-1, 300 s, with SDP bounds at every node
  (before the reuse), bracket [1.259, 1.500] against [1.251, 2.086] after 600 s without; 13-20-16-8-3, 120 s: [2.269,
  3.045] against [2.282, 6.891]; 11-12-12-1: 983 -> 171 nodes (2.1-2.8 s against 3.4 s with the reuse), but at 30-90
  ms a solve small searches ran 4-5x slower (6-10-10-1: 1.15 -> 5.5 s), hence the node count before they start.
  ``sdp_bounds=False`` turns them off. Once they run at every node, the sign-vector bounds
  (:meth:`lipexact.deep.bounds.DeepBounds.signed`, ``early_signs``) run only at the last ReLU layer: before it they
  never pruned nor changed the tree (side by side, global l2, one thread each, two runs at once, load about 2,
  2026-11-29: the same nodes on ten nets; 11-24-24-1 at 3,000 nodes 24.4 -> 22.4 s, trained 27.0 -> 26.1 s, 9-16-16-1
  seeds 0 / 1 proven in 14.0 -> 11.8 s / 116.8 -> 109.5 s; at the first layers of 11-24-24-1 and 13-20-16-8-3 they were
  below the node's LipSDP-capped bound in none of 4,000 calls), though before the LipSDP node bounds start they prune
  (without them from the root, 11-12-12-1 took 1,017 -> 1,564 nodes). With the LipSDP node bounds from the root
  (:data:`SDP_AFTER_NODES` 0) the trees of seven nets were the same with and without them.
- globally (no box), once :data:`SDP_AFTER_NODES` nodes are processed, at nodes of the second ReLU layer on that the
  cheap bounds do not prune: every free unit of the node's layer that an LP (no box) shows to have one sign over the
  node's region is fixed in the tree once the LP's dual vector, projected exactly onto ``y^T A = 0``, verifies as a
  Farkas certificate (:meth:`DeepSearch.tighten_global`; float duals never cancel the ``x`` part exactly). Such a
  node's region is a first-layer cell, on which many later units have one sign: of the 200 open nodes with the
  largest bounds of an 11-24-24-1 search after 120 s, 41 of the 55 in the second layer had 2-18 such units, and
  with them fixed the node's LipSDP bound pruned 42 nodes against 4 without. Side by side over 600 s (two runs at
  once, one thread each): upper end 1.3751 (60,736 nodes) -> 1.3733 (33,370 nodes; 235,948 LPs took 122 s); proofs
  of 8-10-20-1 seed 2 (1,977 -> 1,544 nodes) and 11-12-12-1 seed 1 (1,712 -> 1,653) within the timing noise; global
  l_inf 10-20-20-1 at 60 s 3.4257 -> 3.4167; with pure best-first selection (above) and the test suite running
  beside, 600 s: 1.3770 (36,359 nodes) -> 1.3764 (19,968 nodes). ``global_lp=False`` turns them off; on the first
  layer (``global_lp_layer = 0``) they cost as much as they pruned (11-24-24-1 at 120 s: 1.4144 against 1.4135).
- where the node has units fixed on (before the last ReLU layer), the certified LipSDP bound takes them
  exactly, slope 1 instead of any slope in ``[0, 1]`` (:meth:`DeepSearch.skip_bound`,
  :func:`lipexact.deep.sdp_bounds.node_skip_bound`; solved instead of the plain bound, no longer after it:
  measured there). Without it a unit fixed on
  never lowers a node's bound, and the open nodes that set the upper end of a global search were exactly those
  (11-24-24-1 at 120 s: of the 2,000 with the largest bounds, nearly all in the first layer with 12-19 units on and
  4-7 off, at 1.09-1.12 times the incumbent). Side by side (one thread, wall): 11-24-24-1 at 120 s [1.3189, 1.4741]
  (18,282 nodes) -> [1.3189, 1.4080] (11,447 nodes, 4,117 skip solves in 44 s); proofs of 8-10-20-1 seed 2
  2,137 -> 1,977 nodes (7.5 -> 6.1 s) and 11-12-12-1 seed 1 2,080 -> 1,712 nodes (6.5 -> 6.4 s); on 13-20-16-8-3
  it cost more than it pruned (120 s: 14,870 -> 8,854 nodes, upper end 2.9964 -> 3.0037). ``skip_bounds=False``
  turns it off.
- on a box, a search that stops without a proof takes its upper end no higher than the certified LipSDP bound of
  the box (:meth:`DeepSearch.box_cap`; in l1 / l_inf times the factor below), solved once, after the limit.
- globally in l1 and l_inf, the root's certified LipSDP bound on ``||J||_2`` times ``sqrt(m)`` (l1, ``m`` outputs)
  or ``sqrt(n)`` (l_inf, ``n`` inputs) caps every node's bound (:meth:`DeepSearch.spectral_root_bound`,
  :data:`lipexact.deep.bounds.NORM_FROM_SPECTRAL`); the l1 / l_inf products of layer norms grow with the widths,
  the spectral ones do not (``spectral_root=False`` turns it off).
- at the last ReLU layer LipSDP is not solved where other bounds dominate it: it bounds every completion (any
  slopes in ``[0, 1]``), so with at most :data:`lipexact.deep.bounds.LAST_LAYER_FREE` free units the exact
  enumeration of the last-layer bound is never above it; with more and one output, the certified Shor bound of
  the binary program ``max_t ||c + sum_i t_i w_i M_i||`` (:func:`lipexact.deep.sdp_bounds.
  last_layer_pattern_bound`: units fixed on exact, about 1-2 ms against 15-35 ms a LipSDP solve) replaces it,
  at the root and after the same node count. Measured side by side (seed-0/1/2 random nets, global l2, one
  thread, wall, load 0.6-1.0, 2026-11-27; before -> after): 8-10-20-1 seeds 0 / 2 proven in 31.7 -> 15.2 s /
  12.6 -> 8.1 s (LipSDP solves 1,267 -> 143 / 489 -> 159), 11-12-12-1 seed 1 12.1 -> 8.6 s, seed 0 3.3 -> 3.5 s
  (the same 75 solves); 11-24-24-1 after 120 s [1.2591, 1.4984] -> [1.2591, 1.4963] (9,712 -> 10,052 nodes),
  after 300 s [1.2591, 1.4706] -> [1.2591, 1.4672] (26,703 -> 30,988 nodes; its upper end is set by first-layer
  nodes); 13-20-16-8-3 (last layer of 8) the same tree and time at 7,000 nodes (96.3 / 95.7 s). On boxes the
  Shor bound cost more than it pruned (10-20-20-1 on ``[-1, 1]^10``, l2, 60 s: upper end 1.86 -> 1.93), hence
  global only. ``pattern_bounds=False`` and ``last_layer_sdp=True`` restore the earlier rule.

Branching rule, measured (2-core machine under load; nodes / seconds to proof, bnb):

- ExLipBaB 4-6-6-3 iris net, global l2: ``first`` 56 nodes / 0.11 s, ``largest`` 48 / 0.11 s
  (the enumeration: 2,345 nodes, 1,035 LPs, 7.1 s);
- 8 random 3-5-5-2 nets (N(0, 1)/sqrt(fan-in) weights and biases), global, norms 2, 1, inf (24 runs, all equal to the enumeration): ``first``
  1,966 nodes / 6.0 s in all, ``largest`` 1,316 / 4.0 s; the enumeration 16,776 nodes / 49 s. ``largest``
  (the free unit of the current layer with the largest ``||M_i||_1 * ||column i of |W_k|...|W_{l+1}| ||_1``)
  is the default. ``strong`` (evaluate both children's bounds for every free unit, take the unit with the
  smallest larger child bound) did not pay with the sign-vector bounds: 11-12-12-1 global l2, ``largest``
  3,009 nodes / 65.6 s, ``strong`` 2,983 nodes unfinished at 100 s (load 10).

Time to proof, bnb against the enumeration (same machine, l2, seed-0 nets, N(0, 1)/sqrt(fan-in) weights and
biases): 11-12-12-1 global: bnb optimal in 11.8 s (4,855 nodes), the enumeration stopped at 60 s with
[0.963, 2.86] (truth 1.0623). 10-20-20-1 at a 60 s limit, proven brackets: on [0, 1]^10 bnb [0.697, 1.73],
the enumeration [0.689, 4.72]; on [-1, 1]^10 bnb [0.810, 2.16], the enumeration [0.699, 4.88]; global bnb
[0.838, 2.29], the enumeration [0.690, 4.88]. There the interval-product bounds were too loose to close; the
sign-vector, orthant, last-layer and split bounds (:mod:`lipexact.deep.bounds`) prove 11-12-12-1 global l2
in 4.6 s (1,193 nodes) and l_inf in 1.6 s, but 10-20-20-1 still ends at 60 s with a bracket (``benchmarks.deep``).
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

from lipexact.deep.bounds import BOUND_SLACK, LAST_LAYER_FREE, NORM_FROM_SPECTRAL, DeepBounds, float_offset
from lipexact.deep.certificate import CertificateError, verify_deep_witness
from lipexact.deep.exact import AffineMap, ExactNetwork, dyadic, exact_rows
from lipexact.deep.incumbent import cell_walk, local_search, pattern_norms, perturb_walk, restart_effort
from lipexact.deep.network import ReLUNetwork
from lipexact.exact.region_decider import RegionDecider
from lipexact.domain import Box
from lipexact.exact.problem import RELATIVE_TOLERANCE, Clock
from lipexact.exact.progress import SearchProgress
from lipexact.norms import jacobian_norms
from lipexact.result import Status
from reductions.realizability import certify_point, decide_region

__all__ = ["DeepSearch", "DeepOutcome", "BOUND_SLACK"]


@dataclass
class DeepNode:
    layer: int
    """Current ReLU layer (0-based)."""
    patterns: list
    """Fixed patterns of the layers before ``layer`` (bool arrays)."""
    current: np.ndarray
    """Pattern of ``layer`` so far: int8, 1 on, 0 off, -1 free."""
    affine: AffineMap
    rows: list
    """Exact rows of the region: ``(numerators, offset, denominator)``; the last one is the branched unit's."""
    point: np.ndarray | None
    parent_point: np.ndarray | None = None
    depth: int = 0
    bound: float = math.inf
    """Proven upper bound on every completion (branch and bound; ``inf`` when not computed)."""
    region: tuple | None = None
    """Proven intervals ``(lo, hi)`` of ``layer``'s pre-activations over an enclosing region (``lp_bounds``)."""
    checked: int = -1
    """The layer whose free units :meth:`DeepSearch.fix_unbranched` has checked (constant or stable on the box:
    properties of the layer's map, the same for every node of that layer)."""
    sdp: SdpRecord | None = None
    """The last LipSDP node bound on the path (:meth:`DeepSearch.sdp_bound`)."""
    witnesses: tuple | None = None
    """``(points, rays)`` that the global sign LPs of an enclosing node found (:meth:`DeepSearch.tighten_global`):
    float hints, used only where they still satisfy this node's rows."""


@dataclass(frozen=True)
class SdpRecord:
    """A LipSDP node bound that a node's descendants start from: its ``layer``; ``units``, the units of that layer
    in the solved network (kept: not fixed off; with ``skip``, the free ones: the units on passed through the
    skip); the ``multipliers`` that proved it (one vector per hidden layer of that network, the first over
    ``units``); the certified ``value`` (``inf`` and no multipliers when nothing certified: not retried below)."""

    layer: int
    units: np.ndarray
    multipliers: list | None
    value: float
    skip: bool = False

    def start(self, layer: int, units: np.ndarray) -> list | None:
        """Multipliers to warm-start a descendant's bound whose first hidden layer is ``units`` (a mask over the
        units of ``layer``): these restricted to them in the same layer (when they are among :attr:`units`; a
        record with units on never covers a node without them, the units on staying on in their layer), or the
        next layer's on in the layer after; None otherwise."""
        if self.multipliers is None:
            return None
        if self.layer == layer and not np.any(units & ~self.units):
            return [self.multipliers[0][units[self.units]]] + list(self.multipliers[1:])
        if self.layer + 1 == layer and len(self.multipliers) > 1:
            return [self.multipliers[1][units]] + list(self.multipliers[2:])
        return None


@dataclass
class DeepOutcome:
    status: Status
    value: float | None
    point: np.ndarray | None
    upper: float
    stats: dict = field(default_factory=dict)


#: Branching rules of the branch and bound (the enumeration branches on the first free unit).
BRANCH_RULES = ("first", "largest", "strong")
#: When branch and bound on a box tightens the node bounds by region LPs (:class:`DeepSearch` ``lp_bounds``).
LP_BOUNDS = ("off", "layer", "node")
#: ``lp_bounds``: most units per node whose LPs are solved (the largest branching scores first; measured in
#: :class:`DeepSearch`).
LP_UNITS = 8
#: Most next-layer units per node bounded by the LP relaxation (:meth:`DeepSearch.tighten_next`).
NEXT_LP_UNITS = 30
#: The LP relaxation of the next layer runs at nodes with at most this many free units in their own layer.
NEXT_LP_MAX_FREE = 4
#: ``sdp_bounds``: the LipSDP node bounds run at the root and, once the search has processed this many nodes, at every
#: node the cheap bounds do not prune; the last layer's binary program (``pattern_bounds``) and the global sign LPs
#: (``global_lp``) likewise. It was 1,000 when a solve took 30-90 ms (at every node small searches were 4-5x slower
#: then, 6-10-10-1 global 1.15 -> 5.5 s); since the warm starts and the faster barrier they pay from the root. Measured
#: (global, one thread, CPU seconds, 1,000 -> 0, both in turn in one process, load 0.7-1.1, 2026-11-29): l2 proofs of
#: 11-12-12-1 seeds 0 / 1 / 2 in 4.7 -> 0.28 s (1,017 -> 53 nodes) / 5.6 -> 0.36 s / 3.9 -> 0.37 s, trained 11-12-12-1
#: 4.6 -> 0.22 s, 8-10-20-1 seeds 0 / 1 / 2 9.0 -> 7.8 s / 2.1 -> 1.6 s / 4.7 -> 2.8 s, 9-16-16-1 seed 0 8.6 -> 2.8 s,
#: 8-8-8-8-1 seed 0 1.4 -> 0.26 s; nets proven within 1.5 s up to 1.3x slower (6-10-10-1 seed 0 1.08 -> 1.36 s,
#: 5-10-10-1 1.57 -> 1.95 s); l1 / l_inf proofs 0.64-1.4x (8-10-20-1 seed 2 l1 3.3 -> 2.1 s, 11-12-12-1 l1 0.22 -> 0.31
#: s); 10-20-20-1 l1 / l_inf brackets at 40 s slightly tighter; at 90 s the brackets of 11-24-24-1 and 13-20-16-8-3 and
#: trained 9-16-16-1's proof (99 s) unchanged.
SDP_AFTER_NODES = 0
#: Most inputs plus hidden units of a network whose LipSDP bound :meth:`DeepSearch.box_cap` solves.
BOX_CAP_SIZE = 200
#: Globally, rounds of :func:`lipexact.deep.incumbent.perturb_walk` after the first local search ... Measured
#: (seed-0 random nets, global l2, one thread, wall, load 0.5-1.0; without -> with the rounds, 256 and one per 8
#: restart samples): bracket at 120 s 13-20-16-8-3 [2.2686, 3.0322] -> [2.4956, 3.0308], 11-24-24-1
#: [1.2591, 1.4880] -> [1.3189, 1.4862]; 10-20-20-1 at 60 s the same (0.9714 below); time to proof 11-12-12-1
#: 4.6 -> 2.7 s (seed 0), 7.7 -> 8.6 s (seed 1), 8-10-20-1 seed 2 6.3 -> 7.2 s. On boxes none (``walks``): there
#: the rounds found nothing better (10-20-20-1, 60 s: [0, 1]^10 l_inf proven in 31.4 s either way, [-1, 1]^10 l2
#: the same lower end 0.9172; 10-30-30-30-3 on [-1, 1]^10 l2 1.3201 -> 1.3413) and cost 7-11% of the nodes.
SEED_WALK_ROUNDS = 256
#: ... and at each restart, one round per this many of the restart's samples.
RESTART_WALK_SHARE = 8
#: Points and rays a node keeps for its children's global sign LPs (:meth:`DeepSearch.tighten_global`), each, and
#: the most floats they may take in all (an open node's memory: fewer of each for wide inputs).
WITNESSES_KEPT = 16
WITNESS_FLOATS = 2048
#: Cells kept in the pool of :func:`lipexact.deep.incumbent.perturb_walk`.
WALK_POOL = 32


class DeepSearch:
    """Tree search over joint activation patterns: cell enumeration, or branch and bound (``bnb=True``).

    Parameters
    ----------
    net : ReLUNetwork
    norm : {"2", "1", "inf"}
    domain : Box, optional
    clock : Clock
    node_limit : int, optional
    progress : bool
    bnb : bool
        Prune with the node bounds of :mod:`lipexact.deep.bounds` against an incumbent (seeded by
        :mod:`lipexact.deep.incumbent`), best-first with plunging.
    branch : {"first", "largest"}, optional
        Branch on the first free unit of the current layer, or on the free unit with the largest
        ``||M_i||_1 * ||column i of |W_k|...|W_{l+1}| ||_1``. Default: ``largest`` for branch and bound
        (measured, module docstring), ``first`` for the enumeration.
    seed : int
        Seed of the local search (branch and bound).
    jacobian : {"signed", "interval"}
        The node bounds of :class:`lipexact.deep.bounds.DeepBounds` (``interval``: entrywise only, the
        earlier bound, kept for side-by-side measurements).
    lp_bounds : {"node", "layer", "off"}
        Boxes, branch and bound: LP-tightened pre-activation intervals over the node's region
        (:mod:`lipexact.deep.lp_bounds`, proven by weak duality) for the node bounds, computed when a node
        enters a layer (``layer``) or at every node that branches (``node``, the default), for at most
        :data:`LP_UNITS` of the units the box leaves free (largest branching score first); the children inherit
        them. A unit whose LP interval has one sign is also fixed in the tree when its dual vector verifies
        exactly as a Farkas certificate (:func:`lipexact.deep.lp_bounds.certify_sign`). Measured side by side
        (``python -m benchmarks.deep_lp_bounds``, CPU seconds, two runs at load 0.9-1.7 and 1.7-3.8): six
        10-30-30-30-3 nets/norms on ``[0, 0.1]^10``, medians ``off`` 1.77 s / 930 nodes, ``layer`` 1.23 s / 428,
        ``node`` 1.00 s / 238 (all optimal; the other run 2.03, 1.33, 1.07 s); 10-20-20-1 on ``[0, 1]^10`` l_inf
        at 60 s: bracket tops 2.226 / 2.190 (``off``), 2.187 / 2.239 (``layer``), 2.211 / 2.179 (``node``), all
        above 1.768: no gain, no loss. The LPs only for the bound (no fixing in the tree) were slower than
        ``node`` (seed 0, l2: 4.3-6.1 s against 2.7 s CPU); no cap on the units a node (instead of 8) gave the
        same nodes on 10-30-30-30-3 and a wider 10-20-20-1 bracket (2.26).

    Examples
    --------
    >>> net = ReLUNetwork([([[1, 0], [0, 1]], None), ([[1, 1]], [-1]), ([[3]], None)])
    >>> outcome = DeepSearch(net, "2", None, Clock()).run()
    >>> outcome.status.value, round(outcome.value, 12), outcome.stats["cells"]
    ('optimal', 4.242640687119, 7)
    >>> outcome = DeepSearch(net, "2", None, Clock(), bnb=True).run()
    >>> outcome.status.value, round(outcome.value, 12), outcome.upper >= outcome.value
    ('optimal', 4.242640687119, True)
    """

    def __init__(self, net: ReLUNetwork, norm: str, domain: Box | None, clock: Clock, node_limit: int | None = None,
                 progress: bool = False, bnb: bool = False, branch: str | None = None, seed: int = 0,
                 jacobian: str = "signed", lp_bounds: str = "node"):
        if lp_bounds not in LP_BOUNDS:
            raise ValueError(f"lp_bounds must be one of {LP_BOUNDS}, got {lp_bounds!r}")
        self.lp_bounds = lp_bounds if (bnb and domain is not None) else "off"
        self.lp_fix = True  # False: the LP intervals only tighten the bounds (for measurements)
        self.lp_units = LP_UNITS
        self.lp_hints = True  # False: the children re-solve every LP (for measurements)
        self.fast_regions = True  # False: decide_region only, the earlier path (for measurements)
        self.point_sides = True  # False: LP sides ordered by the box intervals, both solved (for measurements)
        self.next_lp = self.lp_bounds == "node"  # next-layer intervals by LP relaxation (tighten_next)
        self.lp_witnesses = True  # False: next-layer and global sign LPs also where witnesses show both signs
        # LipSDP-neuron node bounds (:mod:`lipexact.deep.sdp_bounds`): global l2 branch and bound
        self.sdp_bounds = bnb and domain is None and norm == "2"
        # the last layer's binary program (:func:`lipexact.deep.sdp_bounds.last_layer_pattern_bound`): global, one
        # output, l2 (on boxes the interval bounds leave few units free and it cost more than it pruned: measured)
        self.pattern_bounds = bnb and domain is None and norm == "2" and net.weights[-1].shape[0] == 1
        self.last_layer_sdp = False  # True: LipSDP at the last layer too (for measurements)
        self.global_lp = bnb and domain is None  # globally, units of one sign over the region fixed by LP
        self.plunge = domain is not None  # globally pure best first (module docstring: measured)
        self.global_lp_layer = 1  # ... at nodes of this ReLU layer and later (module docstring: measured)
        self.skip_bounds = self.sdp_bounds  # units fixed on exact in the LipSDP node bounds (DeepSearch.skip_bound)
        # globally in l1 / l_inf: the root's LipSDP bound times the norm factor (DeepSearch.spectral_root_bound)
        self.spectral_root = bnb and domain is None and norm in NORM_FROM_SPECTRAL
        self.net = net
        self.norm = norm
        self.domain = domain
        self.clock = clock
        self.node_limit = node_limit
        self.bnb = bnb
        self.branch = branch if branch is not None else ("largest" if bnb else "first")
        self.seed = seed
        self.exact = ExactNetwork(net)
        self.n = net.n_inputs
        self.hidden = net.hidden_sizes
        self.progress = SearchProgress("deep-bnb" if bnb else "deep-enumerate", progress)
        if domain is not None:
            corners = dyadic(np.concatenate([domain.lower, domain.upper]))
            self.box_low = type(corners)(corners.values[:self.n], corners.exponent)
            self.box_high = type(corners)(corners.values[self.n:], corners.exponent)
            self.lower, self.upper = domain.lower, domain.upper
        else:
            self.lower = self.upper = None
        self.bounds = DeepBounds(net, norm, None if domain is None else (domain.lower, domain.upper), jacobian)
        self.best_value = -math.inf
        self.best_point: np.ndarray | None = None
        self.closed = -math.inf
        self.undecided = -math.inf
        self.child_bounds: dict = {}  # strong branching: the bounds of the chosen unit's children
        self.stats = {"nodes": 0, "cells": 0, "lps": 0, "ray_points": 0, "empty": 0, "undecided": 0,
                      "stable_by_box": 0, "constant_units": 0, "max_frontier": 0}
        if bnb:
            self.stats.update({"pruned_by_bound": 0, "incumbent_updates": 0, "restarts": 0, "branch": self.branch})
        self.restart_seconds = 0.0
        self.pool: list = []  # the local searches' best cells, (value, point), for perturb_walk
        self.walks = domain is None  # perturb_walk rounds after each local search (measured: SEED_WALK_ROUNDS)

    # ------------------------------------------------------------------ bounds and incumbent
    def node_bound(self, node: DeepNode) -> float:
        """Proven upper bound on the value of every completion of ``node`` (:mod:`lipexact.deep.bounds`)."""
        return min(node.bound, self.bounds.bound(node.layer, node.current, node.affine, node.region))

    def tighten(self, node: DeepNode) -> bool | None:
        """``lp_bounds``: proven intervals over the node's region for its free units (the children inherit
        them), and every unit they call stable whose dual vector verifies exactly fixed in the tree, then
        :meth:`fix_unbranched` again; True when the node became a leaf, None when nothing changed."""
        changed = None
        start_layer = node.layer
        inherited_next = node.region[3] if node.region is not None and len(node.region) > 3 else None
        while node.rows and (node.region is None or self.lp_bounds == "node"):
            from lipexact.deep.lp_bounds import certify_sign, region_intervals, sides_at

            free = units = np.flatnonzero(node.current < 0)
            linear = node.affine.float_linear()
            if units.size > self.lp_units:  # the units that reach the outputs most (the branching score)
                score = self.bounds.contribution(node.layer, linear)[units]
                units = units[np.argsort(-score, kind="stable")[:self.lp_units]]
            A, c, _ = self.region(node.rows)
            hints = node.region[2] if node.region is not None and self.lp_hints else None
            offset = float_offset(node.affine)
            first = sides_at(linear @ node.point + offset) if self.point_sides and node.point is not None else None
            found = region_intervals(linear, offset, A, c, self.lower, self.upper, units, hints=hints, first=first,
                                     other_side=not self.point_sides)
            self.stats["region_lps"] = self.stats.get("region_lps", 0) + found.lps
            if node.region is not None:
                found.lo, found.hi = np.maximum(found.lo, node.region[0]), np.minimum(found.hi, node.region[1])
            fixed = False
            for i in free.tolist():
                on = found.lo[i] > 0
                if not (on or found.hi[i] < 0):
                    continue
                duals = found.duals_low[i] if on else found.duals_high[i]
                row = node.affine.row(i, 1 if on else -1)
                if self.lp_fix and duals is not None and certify_sign(node.rows, row, duals, self.lower, self.upper,
                                                                      self.n):
                    self.fix_proven(node, i, on)
                    fixed = True
            # the children need the intervals and the optima's points (hints), not the dual vectors: drop them
            node.region = (found.lo, found.hi, replace(found, duals_low=[], duals_high=[]))
            if not fixed:
                break
            changed = False
            moved = self.after_fixing(node)
            if moved is None:  # same region: its other intervals stand
                break
            if moved:
                return True
            node.region = None
        if (self.next_lp and node.region is not None and node.rows and node.layer + 1 < len(self.hidden)
                and np.count_nonzero(node.current < 0) <= NEXT_LP_MAX_FREE):
            self.tighten_next(node, inherited_next if node.layer == start_layer else None)
        return changed

    def tighten_global(self, node: DeepNode) -> bool | None:
        """Globally (no box): every free unit of the node's layer that an LP shows to have one sign over the node's
        region, fixed in the tree once the LP's dual vector, projected exactly, verifies as a Farkas certificate
        (:func:`lipexact.deep.lp_bounds.certify_sign` without a box), then :meth:`fix_unbranched` again. One LP per
        unit, the side of the node's point; none where a point found by an earlier LP of the node or of an enclosing
        node (:meth:`inherited_witnesses`), or the ray of an unbounded one, already shows the unit's other sign
        (:meth:`shows_both_signs`: three LPs in four were unbounded). Measured (11-24-24-1, global l2, 8,000 nodes,
        CPU seconds): 39,661 LPs without witnesses, 19,872 with the node's own, 14,732 with the inherited ones too,
        the same upper end and 7,531 / 7,538 / 7,538 units fixed, LP time 30.6 / 18.8 / 12.3 s. True when the node
        became a leaf, None when nothing changed, False otherwise."""
        from lipexact.deep.lp_bounds import RegionLP, certify_sign, sides_at

        changed = None
        while node.rows:
            free = np.flatnonzero(node.current < 0)
            linear, offset = node.affine.float_linear(), float_offset(node.affine)
            first = sides_at(linear @ node.point + offset)
            A, c, _ = self.region(node.rows)
            model = RegionLP(A, c, np.full(self.n, -np.inf), np.full(self.n, np.inf))
            fixed = False
            points, rays = self.inherited_witnesses(node, A, c)
            for i in free.tolist():
                side = int(first[i])  # 1: the unit is negative at the point, maximize it; -1: minimize it
                if self.lp_witnesses and self.shows_both_signs(side * linear[i], side * offset[i], points, rays):
                    self.stats["region_lps_witnessed"] = self.stats.get("region_lps_witnessed", 0) + 1
                    continue
                duals = model.dual_for_max(side * linear[i])
                self.stats["region_lps"] = self.stats.get("region_lps", 0) + 1
                if model.ray is not None and _satisfies(A, np.zeros(A.shape[0]), model.ray):
                    rays.append(model.ray)
                if model.point is not None:
                    points.append(model.point)
                if model.point is None or side * (float(linear[i] @ model.point) + offset[i]) >= 0:
                    continue
                if certify_sign(node.rows, node.affine.row(i, -side), duals, None, None, self.n):
                    self.fix_proven(node, i, side < 0)
                    fixed = True
            kept = max(1, min(WITNESSES_KEPT, WITNESS_FLOATS // (2 * self.n)))
            node.witnesses = (points[-kept:], rays[-kept:])
            if not fixed:
                break
            changed = False
            moved = self.after_fixing(node)
            if moved is None:
                break
            if moved:
                return True
        return changed

    def inherited_witnesses(self, node: DeepNode, A: np.ndarray, c: np.ndarray) -> tuple[list, list]:
        """The points and rays of ``node.witnesses`` (an enclosing node's) that still satisfy every row ``A x + c
        >= 0`` of the node's region (points) or ``A d >= 0`` (rays), with relative float tolerances: new lists."""
        if node.witnesses is None or not self.lp_witnesses:
            return [], []
        points, rays = node.witnesses
        cone = np.zeros(A.shape[0])
        return [p for p in points if _satisfies(A, c, p)], [d for d in rays if _satisfies(A, cone, d)]

    @staticmethod
    def shows_both_signs(cost: np.ndarray, constant: float, points: list, rays: list) -> bool:
        """Whether the affine ``cost x + constant`` (a unit's pre-activation times the side :meth:`tighten_global`
        would maximize, hoping for a negative maximum) is ``>= 0`` at one of ``points`` (of the region) or grows
        along one of ``rays`` (recession directions of the region): then its maximum is not negative and the LP
        cannot fix the unit. Floats: only a choice of which LPs to solve."""
        return (any(float(cost @ p) + constant >= 0 for p in points)
                or any(float(cost @ d) > 0 for d in rays))

    def fix_proven(self, node: DeepNode, unit: int, on: bool) -> None:
        """Fix ``unit`` of the node's layer, whose sign an exact certificate proved (on a copy of the pattern,
        which the node may share with its parent)."""
        node.current = node.current.copy()
        node.current[unit] = 1 if on else 0
        self.stats["stable_by_lp"] = self.stats.get("stable_by_lp", 0) + 1

    def after_fixing(self, node: DeepNode) -> bool | None:
        """:meth:`fix_unbranched` after units were fixed: True when the node became a leaf, False when it moved to
        a later layer, None when it stayed in its layer."""
        layer = node.layer
        if self.fix_unbranched(node):
            return True
        return None if node.layer == layer else False

    def tighten_next(self, node: DeepNode, inherited: tuple | None = None) -> None:
        """Proven intervals of the next layer's pre-activations over the node's region, from the LP relaxation
        of :func:`lipexact.deep.lp_bounds.next_layer_intervals`, for the next-layer units the box bounds leave
        unknown (at most :data:`NEXT_LP_UNITS`, the largest reach first); intersected with ``inherited`` (the
        parent's, when the node is in the parent's layer: a subregion keeps them) and kept as the fourth entry of
        ``node.region`` for the node bounds. One LP per unit: the side that can prove its sign at the node's
        point (the other end keeps the box bound; module docstring)."""
        from lipexact.deep.lp_bounds import next_layer_intervals, sides_at

        linear, offset = node.affine.float_linear(), float_offset(node.affine)
        known = node.region[:3] + (None if inherited is None else inherited[:2],)
        spans: list = []
        states = self.bounds.stability(node.layer, node.current, linear, offset, known, spans)
        units = np.flatnonzero(states[1] < 0)  # not shown stable by the box bounds nor by the parent's LPs
        if units.size > NEXT_LP_UNITS:
            reach = self.bounds.reach[node.layer + 1][units]
            units = units[np.argsort(-reach, kind="stable")[:NEXT_LP_UNITS]]
        if not units.size:
            node.region = node.region[:3] + (inherited,)
            return
        A, c, _ = self.region(node.rows)
        if self.point_sides and node.point is not None:  # the next layer at the node's point: one side per unit
            after = np.maximum(linear @ node.point + offset, 0.0)  # the point's activations (it is in the region)
            first = sides_at(self.bounds.weights[node.layer + 1] @ after + self.bounds.biases[node.layer + 1])
        else:
            first = np.where(spans[1][1] < -spans[1][0], 1, -1)  # the side nearer zero, by the box intervals
        found = next_layer_intervals(linear, offset, node.current, node.region[0], node.region[1], A, c,
                                     self.lower, self.upper, self.bounds.weights[node.layer + 1],
                                     self.bounds.biases[node.layer + 1], units,
                                     hints=None if inherited is None or not self.lp_hints else inherited[2],
                                     first=first, other_side=not self.point_sides,
                                     witnesses=self.witnesses(node) if self.lp_witnesses else None)
        self.stats["next_lps"] = self.stats.get("next_lps", 0) + found.lps
        self.stats["next_lps_witnessed"] = self.stats.get("next_lps_witnessed", 0) + found.skipped
        lo, hi = found.lo, found.hi
        if inherited is not None:
            lo, hi = np.maximum(lo, inherited[0]), np.minimum(hi, inherited[1])
        node.region = node.region[:3] + ((lo, hi, found.points),)

    def witnesses(self, node: DeepNode) -> np.ndarray | None:
        """Points of the node's region for :func:`lipexact.deep.lp_bounds.next_layer_intervals`'s ``witnesses``:
        its point and the optima of its region LPs (floats: they only choose which LPs to solve)."""
        found = node.region[2] if node.region is not None else None
        points = [node.point] if node.point is not None else []
        if found is not None:
            points += [p for p in (found.points_low or []) + (found.points_high or []) if p is not None]
        return np.array(points, dtype=np.float64).reshape(-1, self.n) if points else None

    def sdp_bound(self, node: DeepNode) -> float:
        """The certified LipSDP-neuron bound of the node (:func:`lipexact.deep.sdp_bounds.node_sdp_bound`); a node
        with units fixed on before the last ReLU layer takes the bound with those units exact instead
        (:meth:`skip_bound`), the plain one only where that one certifies nothing. A node whose reduced network is
        its ancestor's (same layer, same units fixed off: units fixed on keep the ``[0, 1]`` slope range) has that
        ancestor's value, already in its inherited bound: nothing is solved. Otherwise the ancestor's multipliers
        (restricted to the units kept, or from the layer after the ancestor's) are certified first, and the SDP is
        solved only when they do not prune (the barrier method warm-started from them:
        :func:`lipexact.bounds.sdp.lipsdp.certified_solution`)."""
        from lipexact.deep.sdp_bounds import node_sdp_bound

        if self.takes_skip(node):
            value = self.skip_bound(node)
            if math.isfinite(value):
                return value
        keep = node.current != 0
        known = node.sdp
        if known is not None and not known.skip and known.layer == node.layer and np.array_equal(known.units, keep):
            return known.value
        start = None if known is None else known.start(node.layer, keep)
        started = time.perf_counter()
        value, multipliers = node_sdp_bound(self.bounds.weights, node.layer, node.affine.float_linear(),
                                            node.current, self.bounds.tails[node.layer + 1], start=start,
                                            target=self.sdp_target(node))
        node.sdp = SdpRecord(node.layer, keep, multipliers, value)
        self.stats["sdp_bounds"] = self.stats.get("sdp_bounds", 0) + 1
        self.stats["sdp_seconds"] = self.stats.get("sdp_seconds", 0.0) + time.perf_counter() - started
        return value

    def sdp_target(self, node: DeepNode) -> float | None:
        """The ``target`` of a node's LipSDP solve: the pruning threshold (the barrier stops once the side is known,
        :data:`lipexact.bounds.sdp.barrier.TARGET_TOLERANCE`); None at the root, whose bound caps every node's: solved
        to the end."""
        return self.threshold() if node.depth > 0 else None

    def takes_skip(self, node: DeepNode) -> bool:
        """Whether the node's LipSDP bound takes its units fixed on exactly (:meth:`skip_bound`): it has some and
        its layer is not the last ReLU layer (their pre-activations pass to the next one as a skip)."""
        return (self.skip_bounds and node.layer + 2 < len(self.bounds.weights)
                and bool(np.any(node.current == 1)))

    def skip_bound(self, node: DeepNode) -> float:
        """The certified LipSDP bound of the node with its units fixed on exact (slope 1, not any slope in
        ``[0, 1]``: :func:`lipexact.deep.sdp_bounds.node_skip_bound`), solved from the multipliers of the nearest
        ancestor's bound restricted to the node's free units (or from its next layer on); ``inf`` when nothing
        certifies. Measured against solving the plain bound first and this one where that did not prune (global
        l2, random nets, two runs at once, one thread each, 2026-11-28): the same trees where both proved
        (11-12-12-1 seeds 0 and 1, 8-10-20-1 seeds 0 and 2), 9-16-16-1 seed 1 proven in 176.9 -> 136.4 s (the
        same 17,347 nodes; SDP seconds 64.2 -> 31.5); at 120 s 11-24-24-1 7,211 -> 8,832 nodes, upper end
        1.3972 -> 1.3925, and 13-20-16-8-3 5,775 -> 8,299 nodes, upper end 2.9668 -> 2.9523."""
        from lipexact.deep.sdp_bounds import node_skip_bound

        state, known = node.current, node.sdp
        free = state < 0
        start = None if known is None else known.start(node.layer, free)
        started = time.perf_counter()
        value, multipliers = node_skip_bound(self.bounds.weights, node.layer, node.affine.float_linear(), state,
                                             self.bounds.tails, start=start, target=self.sdp_target(node))
        if multipliers is not None and free.any():
            node.sdp = SdpRecord(node.layer, free, multipliers, value, skip=True)
        self.stats["skip_bounds"] = self.stats.get("skip_bounds", 0) + 1
        self.stats["skip_seconds"] = self.stats.get("skip_seconds", 0.0) + time.perf_counter() - started
        return value

    def through_spectral(self) -> tuple[float, list]:
        """``(factor, tails)``: ``||J|| <= factor ||J||_2`` for the search's norm (1 in l2, else that of
        :data:`lipexact.deep.bounds.NORM_FROM_SPECTRAL`, rounded up by a relative ``1e-12``) and the proven
        spectral tails ``||W_i||_2 ... ||W_k||_2`` that a LipSDP node bound needs."""
        if self.norm == "2":
            return 1.0, self.bounds.tails
        factor = NORM_FROM_SPECTRAL[self.norm](self.net.weights[-1].shape[0], self.n) * (1 + 1e-12)
        return factor, self.bounds.spectral[1]

    def spectral_root_bound(self, node: DeepNode) -> float:
        """Globally in l1 / l_inf, at the root: ``factor * L2``, ``L2`` the node's certified LipSDP bound on
        ``||J||_2`` (:func:`lipexact.deep.sdp_bounds.node_sdp_bound`, spectral tails) and ``factor`` that of
        :data:`lipexact.deep.bounds.NORM_FROM_SPECTRAL` (``sqrt`` of the outputs for l1, of the inputs for l_inf;
        :meth:`through_spectral`). It caps every node's bound (children inherit the smaller). Measured
        (seed-0 random nets, root bounds without -> with): 10-30-30-30-3 l1 19.0 -> 5.0, l_inf 34.7 -> 9.1;
        13-20-16-8-3 l_inf 26.1 -> 11.0; 10-20-20-1 l1 2.33 -> 1.21 (one output: factor 1), 30-60 ms a solve."""
        from lipexact.deep.sdp_bounds import node_sdp_bound

        factor, tails = self.through_spectral()
        value, _ = node_sdp_bound(self.bounds.weights, node.layer, node.affine.float_linear(), node.current,
                                  tails[node.layer + 1])  # the root's: solved to the end (sdp_target)
        self.stats["sdp_bounds"] = self.stats.get("sdp_bounds", 0) + 1  # (no seconds: the l1 / l_inf stats are
        return factor * value  # reproducible, the batch runner compares them)

    def box_cap(self) -> float:
        """Branch and bound on a box, when the search stops without a proof: a certified LipSDP bound on the whole
        box (:func:`lipexact.deep.sdp_bounds.node_sdp_bound` at the root, the first-layer units off on the box
        removed), times :data:`lipexact.deep.bounds.NORM_FROM_SPECTRAL`'s factor in l1 / l_inf; it bounds every
        completion, so the bracket's upper end is at most it. ``inf`` elsewhere and for networks whose LMI exceeds
        :data:`BOX_CAP_SIZE` (solved once, after the limit: measured 0.06 s for 10-30-30-30-3, 4.5 s for
        10-100-100-1). Globally the root's LipSDP bound already caps every node (l2: :meth:`sdp_bound`; l1 / l_inf:
        :meth:`spectral_root_bound`). Measured (seed-0 random 10-30-30-30-3, upper ends at 60 s without, the cap
        with): l_inf on ``[0, 1]^10`` 28.8 -> 8.87, on ``[-1, 1]^10`` 33.2 -> 9.12; l2 on ``[0, 1]^10`` 10.1 -> 2.80."""
        from lipexact.deep.sdp_bounds import node_sdp_bound

        if not self.bnb or self.domain is None or self.n + sum(self.hidden) > BOX_CAP_SIZE:
            return math.inf
        root = self.exact.first()
        linear = root.float_linear()
        state = self.bounds.stability(0, np.full(self.hidden[0], -1, dtype=np.int8), linear, float_offset(root))[0]
        factor, tails = self.through_spectral()
        value, _ = node_sdp_bound(self.bounds.weights, 0, linear, state, tails[1])
        self.stats["sdp_bounds"] = self.stats.get("sdp_bounds", 0) + 1  # (no seconds: reproducible stats)
        self.stats["box_cap"] = factor * value
        return factor * value

    def pattern_bound(self, node: DeepNode) -> float:
        """The certified bound of the last layer's binary program
        (:func:`lipexact.deep.sdp_bounds.last_layer_pattern_bound`): one output, l2, a node of the last ReLU layer."""
        from lipexact.deep.sdp_bounds import last_layer_pattern_bound

        started = time.perf_counter()
        value = last_layer_pattern_bound(self.bounds.weights[-1], node.affine.float_linear(), node.current,
                                         target=self.threshold())
        self.stats["pattern_bounds"] = self.stats.get("pattern_bounds", 0) + 1
        self.stats["pattern_seconds"] = self.stats.get("pattern_seconds", 0.0) + time.perf_counter() - started
        return value

    def threshold(self) -> float:
        """Nodes whose bound is at most this cannot hold a value above the incumbent (relative tolerance)."""
        if self.best_value == -math.inf:
            return -math.inf
        return self.best_value * (1 + 0.5 * RELATIVE_TOLERANCE) if self.best_value > 0 else self.best_value

    def offer(self, x: np.ndarray, value: float | None = None) -> bool:
        """Take the cell of ``x`` as the incumbent when it is better and ``x`` lies strictly inside it
        (exact signs, :func:`lipexact.deep.certificate.verify_deep_witness`)."""
        if value is None:
            value = float(pattern_norms(self.net, x, self.norm)[0])
            if not value > self.best_value:
                return False
            value, x = cell_walk(self.net, self.norm, x, value, self.domain)  # improve a new candidate first
        if not value > self.best_value:
            return False
        try:
            witness = verify_deep_witness(self.net, x, self.norm, self.domain, exact=self.exact)
        except CertificateError:
            return False
        if not witness.value > self.best_value:
            return False
        self.best_value, self.best_point = witness.value, np.asarray(x, dtype=np.float64).copy()
        self.stats["incumbent_updates"] += 1
        return True

    def pruned_by(self, node: DeepNode, bound: float, counter: str) -> bool:
        """Tighten the node's bound with a further proven ``bound``; when that closes the node, count it under
        ``counter``, prune it and return True."""
        node.bound = min(node.bound, bound)
        if node.bound > self.threshold():
            return False
        self.stats[counter] = self.stats.get(counter, 0) + 1
        self.prune(node.bound)
        return True

    def prune(self, bound: float) -> None:
        self.stats["pruned_by_bound"] += 1
        self.closed = max(self.closed, bound)

    # ------------------------------------------------------------------ points
    def region(self, rows: list) -> tuple:
        exact = exact_rows(rows, self.n)
        return exact.A, exact.c, exact

    def ray_point(self, rows: list, x: np.ndarray) -> np.ndarray | None:
        """Cross the last row's hyperplane from ``x`` (inside every other row) along its normal."""
        A, c, exact = self.region(rows)
        a, offset = A[-1], c[-1]
        length = float(np.linalg.norm(a))
        if not (math.isfinite(length) and length > 0 and np.all(np.isfinite(A)) and np.all(np.isfinite(c))):
            return None
        u = a / length
        cross = max(-(float(a @ x) + offset) / length, 0.0)
        rates = A[:-1] @ u
        values = A[:-1] @ x + c[:-1]
        limit = math.inf
        towards = rates < 0
        if np.any(towards):
            limit = float(np.min(values[towards] / -rates[towards]))
        if self.lower is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                up = np.where(u > 0, (self.upper - x) / u, np.inf)
                down = np.where(u < 0, (self.lower - x) / u, np.inf)
            limit = min(limit, float(np.min(up)), float(np.min(down)))
        end = min(limit, 2 * cross + 1e-3 * (1.0 + float(np.max(np.abs(x)))))
        if not end > cross:
            return None
        candidate = x + 0.5 * (cross + end) * u
        if certify_point(A, c, candidate, self.lower, self.upper, exact=exact):
            return candidate
        return None

    def find_point(self, node: DeepNode) -> tuple[str, np.ndarray | None]:
        """``("nonempty", point)``, ``("empty", None)`` or ``("undecided", None)`` for a node without a point."""
        if node.parent_point is not None:
            point = self.ray_point(node.rows, node.parent_point)
            if point is not None:
                self.stats["ray_points"] += 1
                return "nonempty", point
        A, c, exact = self.region(node.rows)
        self.stats["lps"] += 1
        if self.fast_regions:
            if getattr(self, "region_lp", None) is None:
                self.region_lp = RegionDecider(self.n, self.lower, self.upper)
            fast = self.region_lp.decide(A, c, exact)  # one HiGHS LP, its answer verified exactly, or None
            key = "fallback" if fast is None else "fast_lp"
            self.stats[key] = self.stats.get(key, 0) + 1
            if fast is not None:
                return fast.status, fast.point
        decision = decide_region(A, c, self.lower, self.upper, exact=exact)
        return decision.status, decision.point

    # ------------------------------------------------------------------ the search
    def root(self) -> DeepNode:
        point = self.domain.center.copy() if self.domain is not None else np.zeros(self.n)
        node = DeepNode(0, [], np.full(self.hidden[0], -1, dtype=np.int8), self.exact.first(), [], point)
        if self.bnb:
            node.bound = self.node_bound(node)
        return node

    def seed_incumbent(self) -> None:
        """Offer the candidates of the local search (:mod:`lipexact.deep.incumbent`), then of
        :data:`SEED_WALK_ROUNDS` rounds of :func:`lipexact.deep.incumbent.perturb_walk` from them (globally)."""
        rng = np.random.default_rng(self.seed)
        self.walk(local_search(self.net, self.norm, self.domain, rng), rng, SEED_WALK_ROUNDS if self.walks else 0)

    def walk(self, found: list, rng: np.random.Generator, rounds: int) -> None:
        """Offer ``found`` (``(value, point)`` candidates), merge them into the pool of the best
        :data:`WALK_POOL` cells seen by the local searches, run ``rounds`` of
        :func:`lipexact.deep.incumbent.perturb_walk` on the pool and offer its cells."""
        for value, x in found:
            self.offer(x, value)
        if rounds <= 0:
            return
        pool = sorted(self.pool + list(found), key=lambda item: -item[0])[:WALK_POOL]
        self.pool = perturb_walk(self.net, self.norm, self.domain, pool, rng, rounds)
        self.stats["walk_rounds"] = self.stats.get("walk_rounds", 0) + rounds  # (no seconds: stats are reproducible)
        for value, x in self.pool:
            self.offer(x, value)

    def restart_incumbent(self) -> None:
        """At the node counts of :func:`lipexact.deep.incumbent.restart_effort`, a larger local search (seeded
        by the seed and the node count), unless the time left is below twice the last restart's cost."""
        effort = restart_effort(self.stats["nodes"])
        if effort is None:
            return
        if self.clock.time_limit is not None and self.clock.remaining() < 2 * self.restart_seconds:
            return
        samples, keep = effort
        started = time.perf_counter()
        rng = np.random.default_rng([self.seed, self.stats["nodes"]])
        found = local_search(self.net, self.norm, self.domain, rng, samples=samples, steps=25 * keep, keep=keep)
        self.walk(found, rng, samples // RESTART_WALK_SHARE if self.walks else 0)
        self.restart_seconds = 2 * (time.perf_counter() - started)  # the next one has twice the samples
        self.stats["restarts"] += 1

    def run(self) -> DeepOutcome:
        dive = [self.root()]  # depth first; branch and bound: the current dive
        pool: list = []  # branch and bound: the other open nodes, largest bound first
        pushed = 0
        status = Status.OPTIMAL
        current = None
        try:
            if self.bnb:
                self.seed_incumbent()
            while dive or pool:
                if self.node_limit is not None and self.stats["nodes"] >= self.node_limit:
                    status = Status.NODE_LIMIT
                    break
                if self.clock.expired():
                    status = Status.TIME_LIMIT
                    break
                if self.bnb:
                    self.restart_incumbent()
                if not dive:
                    dive.append(heapq.heappop(pool)[2])
                current = dive.pop()
                before = len(dive)
                self.process(current, dive)
                current = None
                if self.bnb and (len(dive) <= before or not self.plunge):  # the dive ended: from the largest bound
                    for node in dive:
                        heapq.heappush(pool, (-node.bound, pushed, node))
                        pushed += 1
                    dive.clear()
                self.stats["max_frontier"] = max(self.stats["max_frontier"], len(dive) + len(pool))
                if self.progress.enabled:
                    self.progress.update(self.lower_value(), self.open_upper(dive, pool), self.stats["nodes"])
        except KeyboardInterrupt:
            status = Status.INTERRUPTED
        stack = dive + [entry[2] for entry in pool]
        if current is not None:
            stack.append(current)
        if status is Status.OPTIMAL:
            upper = max(self.closed, self.best_value, self.undecided)
            if self.undecided > self.threshold():
                status = Status.ERROR
                self.stats["no_proof"] = (f"{self.stats['undecided']} region(s) that no exact certificate decides "
                                          "may hold a larger value")
        else:
            bounds = [node.bound if self.bnb else self.node_bound(node) for node in stack]  # bnb: proven at creation
            upper = max([self.closed, self.best_value, self.undecided] + bounds)
            if status is not Status.INTERRUPTED and upper > self.best_value:
                upper = min(upper, self.box_cap())
        self.progress.update(self.lower_value(), upper, self.stats["nodes"], force=True)
        return DeepOutcome(status, self.lower_value(), self.best_point, upper, self.stats)

    def open_upper(self, dive: list, pool: list) -> float | None:
        """Branch and bound, during the search: the proven upper end so far (the largest bound of an open node, of
        a closed node or of an undecided region, and the incumbent); None for the enumeration, whose open nodes have
        no bound until it stops. ``pool`` is a heap of ``(-bound, ...)``: its largest bound is at the top."""
        if not self.bnb:
            return None
        bounds = [node.bound for node in dive] + ([-pool[0][0]] if pool else [])
        upper = max([self.closed, self.best_value, self.undecided] + bounds)
        return upper if upper > -math.inf else None

    def lower_value(self) -> float | None:
        return None if self.best_value == -math.inf else self.best_value

    def keep_undecided(self, node: DeepNode) -> None:
        self.stats["undecided"] += 1
        self.undecided = max(self.undecided, self.node_bound(node))

    def leaf(self, node: DeepNode) -> None:
        self.stats["cells"] += 1
        J = self.net.jacobian_of_patterns(node.patterns)
        value = float(jacobian_norms(J, self.norm))
        self.closed = max(self.closed, value)
        if value > self.best_value:
            self.best_value, self.best_point = value, node.point

    def fix_unbranched(self, node: DeepNode) -> bool:
        """Fix every unit that needs no branching (constant or stable on the box), layer after layer; True
        when the node became a leaf (and was counted)."""
        while True:
            free = np.flatnonzero(node.current < 0) if node.checked != node.layer else np.empty(0, dtype=np.int64)
            node.checked = node.layer
            if free.size:
                node.current = node.current.copy()
            for i in free.tolist():
                if node.affine.zero_row(i):
                    self.stats["constant_units"] += 1
                    node.current[i] = 1 if node.affine.e[i] > 0 else 0
                elif self.domain is not None:
                    low, high = node.affine.box_range(i, self.box_low, self.box_high)
                    if low >= 0 or high <= 0:  # a non-constant affine function is strictly positive (negative)
                        self.stats["stable_by_box"] += 1  # on the open box when its closed-box min (max) is >= 0
                        node.current[i] = 1 if low >= 0 else 0
            if np.any(node.current < 0):
                return False
            node.patterns = node.patterns + [node.current.astype(bool)]
            if node.layer == len(self.hidden) - 1:
                self.leaf(node)
                return True
            node.affine = self.exact.compose(node.layer + 1, node.affine, node.patterns[-1])
            node.layer += 1
            node.current = np.full(self.hidden[node.layer], -1, dtype=np.int8)

    def choose(self, node: DeepNode) -> int:
        free = np.flatnonzero(node.current < 0)
        if self.branch == "strong" and free.size > 1:
            best, chosen = None, int(free[0])
            for unit in free.tolist():
                pair = []
                for on in (0, 1):
                    current = node.current.copy()
                    current[unit] = on
                    pair.append(self.bounds.bound(node.layer, current, node.affine, node.region))
                key = (max(pair), min(pair))
                if best is None or key < best:
                    best, chosen = key, unit
                self.child_bounds[(unit, 0)], self.child_bounds[(unit, 1)] = pair
            return chosen
        if self.branch == "largest" and free.size > 1:
            scores = self.bounds.contribution(node.layer, node.affine.float_linear())[free]
            return int(free[int(np.argmax(scores))])
        return int(free[0])

    def process(self, node: DeepNode, stack: list) -> None:
        self.stats["nodes"] += 1
        if self.sdp_bounds and self.stats["nodes"] > SDP_AFTER_NODES:
            self.bounds.early_signs = False  # the LipSDP node bounds run: sign vectors at the last ReLU layer only
        if self.bnb and node.bound <= self.threshold():
            self.prune(node.bound)
            return
        inherited = node.point is not None and node.depth > 0  # the parent offered this point already
        if node.point is None:
            status, point = self.find_point(node)
            if status == "empty" or (status == "nonempty" and point is None):
                self.stats["empty"] += 1
                return
            if status != "nonempty":
                self.keep_undecided(node)
                return
            node.point, node.parent_point = np.asarray(point, dtype=np.float64), None
        x = node.point
        layer_before = node.layer
        if self.fix_unbranched(node):
            return
        if node.layer != layer_before:
            node.region = None  # intervals of the layer before
        tightened = self.tighten(node) if self.lp_bounds != "off" else None
        if tightened:
            return
        if self.bnb:
            if node.layer != layer_before or node.depth == 0 or tightened is not None:
                node.bound = self.node_bound(node)  # units fixed since the bound was taken: tighten it
            if not inherited:
                self.offer(x)
            if node.bound <= self.threshold():
                self.prune(node.bound)
                return
            costly_bounds = node.depth == 0 or self.stats["nodes"] > SDP_AFTER_NODES
            if self.global_lp and costly_bounds and node.layer >= self.global_lp_layer:
                started = time.perf_counter()
                tightened = self.tighten_global(node)
                if self.norm == "2":  # (l1 / l_inf stats hold no seconds: reproducible, the batch runner compares them)
                    self.stats["lp_seconds"] = self.stats.get("lp_seconds", 0.0) + time.perf_counter() - started
                if tightened:
                    return
                if tightened is not None:
                    node.bound = self.node_bound(node)
                    if node.bound <= self.threshold():
                        self.prune(node.bound)
                        return
            last = node.layer == len(self.hidden) - 1
            wide = np.count_nonzero(node.current < 0) > LAST_LAYER_FREE  # (fewer: the last-layer bound is exact)
            if self.pattern_bounds and last and wide and costly_bounds:
                if self.pruned_by(node, self.pattern_bound(node), "pruned_by_pattern"):
                    return
            # at the last layer LipSDP cannot beat the exact enumeration (<= LAST_LAYER_FREE free units) and seldom
            # the binary program (units fixed on exact); at a root there it caps everything: solved once
            lipsdp_useful = not last or self.last_layer_sdp or (wide and (not self.pattern_bounds or node.depth == 0))
            if self.sdp_bounds and lipsdp_useful and costly_bounds:
                if self.pruned_by(node, self.sdp_bound(node), "pruned_by_sdp"):
                    return
            if self.spectral_root and node.depth == 0:
                if self.pruned_by(node, self.spectral_root_bound(node), "pruned_by_sdp"):
                    return
        self.child_bounds = {}
        unit = self.choose(node)
        side = int(node.affine.signs(x)[unit])
        children = []
        for on in (False, True):
            row = node.affine.row(unit, 1 if on else -1)
            inherits = side == (1 if on else -1)
            current = node.current.copy()
            current[unit] = 1 if on else 0
            child = DeepNode(node.layer, node.patterns, current, node.affine, node.rows + [row],
                             x if inherits else None, None if inherits else x, node.depth + 1, region=node.region,
                             checked=node.checked, sdp=node.sdp, witnesses=node.witnesses)
            if self.bnb:
                known = self.child_bounds.get((unit, int(on)))
                if known is None:
                    known = self.bounds.bound(child.layer, child.current, child.affine, node.region)
                child.bound = min(node.bound, known)
            children.append(child)
        # explore first (push last): the larger bound, then the child that inherits the point
        children.sort(key=lambda child: (child.bound if self.bnb else 0.0, child.point is not None))
        threshold = self.threshold()
        for child in children:
            if self.bnb and child.bound <= threshold:
                self.prune(child.bound)
            else:
                stack.append(child)


def run_search(net: ReLUNetwork, norm: str, domain: Box | None, clock: Clock, node_limit: int | None = None,
               progress: bool = False, bnb: bool = False, branch: str | None = None, seed: int = 0,
               jacobian: str = "signed", lp_bounds: str = "node") -> DeepOutcome:
    """Run :class:`DeepSearch` (see there), with one BLAS thread (:func:`lipexact.threads.small_blas`: the node
    bounds are many small products; under load, several BLAS threads made them 5-8x slower, measured)."""
    from lipexact.threads import small_blas

    with small_blas():
        return DeepSearch(net, norm, domain, clock, node_limit, progress, bnb=bnb, branch=branch, seed=seed,
                          jacobian=jacobian, lp_bounds=lp_bounds).run()


__all__.append("run_search")


def _satisfies(A: np.ndarray, c: np.ndarray, x: np.ndarray) -> bool:
    """Whether ``A x + c >= 0`` up to a relative float tolerance (``1e-9`` of ``|A| |x| + |c|``): a point of the
    region (or, with ``c = 0``, a recession direction of it) for the float hints of the global sign LPs."""
    with np.errstate(all="ignore"):
        return bool(np.all(A @ x + c >= -1e-9 * (np.abs(A) @ np.abs(x) + np.abs(c))))
