"""Local search across the activation regions of a piecewise-linear network (for the lower bounds).

The Jacobian of a network with piecewise-linear activations (ReLU, LeakyReLU, Hardtanh, ...) is constant
on each activation region, so gradients of ``||J(x)||`` vanish and the search must move between
regions. A *unit* is one input coordinate of such an activation module; crossing one of its kinks moves
the input into a neighbouring region. :func:`region_walk` improves points by such moves: at a point
with top singular pair ``(u, v)`` it crosses the units whose crossing raises ``||J||`` most to first
order (``(slope across - slope now) (u . df/dh_i) (dz_i/dx . v)``), and samples the regions met along
``+-v``. Units are read by forward hooks on the activation modules of any ``torch.nn.Module``; all the
derivatives come from (double) backpropagation, batched over points.
"""

from __future__ import annotations

import math

import torch

from lipexact.bounds.layer_kinds import describe_activation

__all__ = ["ActivationUnits", "region_walk", "GRADIENT_UNITS", "UNIT_ENTRIES"]

#: Models with at most this many units get every unit's gradient, and moves that keep the other units' sides.
GRADIENT_UNITS = 256
#: ... as long as the gradients of a batch of points hold at most this many entries.
UNIT_ENTRIES = 1 << 21


class ActivationUnits:
    """The units of the piecewise-linear activation modules of a model with kinks (ReLU, LeakyReLU,
    Hardtanh, ...), read by forward hooks on those modules during a forward pass.

    A unit is one coordinate of the input ``z`` of such a module; crossing one of its kinks moves the
    input into a neighbouring activation region. Works for any module that calls its activations as
    modules (functional calls are invisible, and then there are no units).

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1), torch.nn.Tanh())
    >>> units = ActivationUnits(net)
    >>> out, records = units.forward(torch.zeros(5, 2))
    >>> bool(units), len(records), tuple(records[0][2].shape)  # ReLU only: tanh has no kink
    (True, 1, (5, 3))
    """

    def __init__(self, module):
        self.module = module
        self.leaves = {}
        for leaf in module.modules():
            activation = describe_activation(leaf)
            if activation is not None and activation.piecewise_linear and activation.kinks:
                self.leaves[leaf] = activation

    def __bool__(self) -> bool:
        return bool(self.leaves)

    def forward(self, X):
        """The model's output at ``X`` and ``[(leaf, kinks, z, h)]``: input and output of every hooked call."""
        records = []

        def hook(leaf, inputs, output):
            records.append((leaf, self.leaves[leaf].kinks, inputs[0], output))

        handles = [leaf.register_forward_hook(hook) for leaf in self.leaves]
        try:
            out = self.module(X)
        finally:
            for handle in handles:
                handle.remove()
        return out, records

    @staticmethod
    def flat(tensors, B):
        return torch.cat([t.reshape(B, -1) for t in tensors], dim=1)

    def directional(self, X, records, D):
        """Directional derivatives along ``D`` of every unit's ``z`` (double backpropagation, no forward AD)."""
        B = X.shape[0]
        zs = [z for _, _, z, _ in records]
        dummies = [torch.zeros_like(z, requires_grad=True) for z in zs]
        (g,) = torch.autograd.grad(zs, X, grad_outputs=dummies, create_graph=True, retain_graph=True,
                                   allow_unused=True)
        if g is None or not g.requires_grad:
            return torch.zeros((B, sum(z[0].numel() for z in zs)), dtype=X.dtype, device=X.device)
        tangents = torch.autograd.grad((g * D).sum(), dummies, allow_unused=True)
        return self.flat([torch.zeros_like(z) if t is None else t.detach() for z, t in zip(zs, tangents)], B)

    @staticmethod
    def kink_table(records, B):
        """Per unit: its kinks as a padded ``(B, U, k)`` tensor (``nan`` pads) for crossing computations."""
        width = max(len(kinks) for _, kinks, _, _ in records)
        parts = []
        for _, kinks, z, _ in records:
            row = torch.full((width,), math.nan, dtype=z.dtype, device=z.device)
            row[:len(kinks)] = torch.tensor(kinks, dtype=z.dtype, device=z.device)
            parts.append(row.expand(B, z[0].numel(), width))
        return torch.cat(parts, dim=1)

    @staticmethod
    def slopes(records, B, points):
        """The activation's derivative at ``points`` (a flat ``(B, U)`` tensor of pre-activation values)."""
        out, start = [], 0
        for leaf, _, z, _ in records:
            width = z[0].numel()
            values = points[:, start:start + width].reshape(z.shape).detach().clone().requires_grad_(True)
            start += width
            with torch.enable_grad():
                (slope,) = torch.autograd.grad(leaf(values).sum(), values)
            out.append(slope.reshape(B, -1))
        return torch.cat(out, dim=1)


def _crossing_times(z, dz, kinks):
    """``(B, U, k)`` times ``t > 0`` at which ``z + t dz`` reaches each kink (``inf`` when never)."""
    with torch.no_grad():
        t = (kinks - z[..., None]) / dz[..., None]
    return torch.where(torch.isfinite(t) & (t > 0), t, torch.full_like(t, math.inf))


def _probe(units, X, U, V):
    """At every point: ``z``, the kink tables, the first-order gain of crossing each unit's nearest kink
    and the directional derivatives ``dz`` along ``V`` (the top right singular vectors)."""
    B = X.shape[0]
    X = X.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out, records = units.forward(X)
        if not records or not out.requires_grad:
            return None
        outputs = [h for _, _, _, h in records]
        grads = torch.autograd.grad((out.reshape(B, -1) * U).sum(), outputs, retain_graph=True, allow_unused=True)
        dz = units.directional(X, records, V.reshape(X.shape))
    z = units.flat([r[2].detach() for r in records], B)
    ua = units.flat([torch.zeros_like(h) if g is None else g for h, g in zip(outputs, grads)], B)
    kinks = units.kink_table(records, B)
    distance = (z[..., None] - kinks).abs().nan_to_num(math.inf)
    nearest = kinks.gather(2, distance.argmin(dim=2, keepdim=True))[..., 0]
    side = torch.where(z >= nearest, 1.0, -1.0).to(z.dtype)
    across = nearest - side * 1e-6 * (1 + nearest.abs())
    gain = (units.slopes(records, B, across) - units.slopes(records, B, z)) * ua * dz
    state = {"z": z, "dz": dz, "kinks": kinks, "nearest": nearest, "side": side, "gain": gain}
    if z.shape[1] <= GRADIENT_UNITS and B * z.shape[1] * X[0].numel() <= UNIT_ENTRIES:
        state["G"] = _unit_gradients(units, X.detach(), z.shape[1])
    return state


def _unit_gradients(units, X, count):
    """``(B, U, n)``: the gradient of every unit's pre-activation at every point (one backward pass over
    ``U`` copies of each point)."""
    B = X.shape[0]
    Xr = X.repeat_interleave(count, dim=0).clone().requires_grad_(True)
    with torch.enable_grad():
        _, records = units.forward(Xr)
        z = units.flat([r[2] for r in records], B * count)
        picked = z.reshape(B, count, count).diagonal(dim1=1, dim2=2).sum()
        (grad,) = torch.autograd.grad(picked, Xr, allow_unused=True)
    if grad is None:
        return torch.zeros((B, count, X[0].numel()), dtype=X.dtype, device=X.device)
    return grad.reshape(B, count, -1).detach()


def _interval(z, kinks):
    """The kinks just below and just above every unit's value (``-inf`` / ``inf`` when none)."""
    below = torch.where(kinks < z[..., None], kinks, torch.full_like(kinks, -math.inf)).amax(dim=2)
    above = torch.where(kinks > z[..., None], kinks, torch.full_like(kinks, math.inf)).amin(dim=2)
    return below, above


def _exact_flip_moves(state, X, index, blockers: int = 16):
    """Like :func:`_flip_moves` with every unit's gradient known (``state["G"]``): the direction crosses the
    chosen unit's nearest kink while keeping, to first order, every other unit in its current interval.

    From the unit's gradient, an active set grows: the first other unit that the move would push out
    of its interval is added, and the direction is projected orthogonally to the gradients of the set
    (Gram-Schmidt), until nothing blocks; a move still blocked after ``blockers`` additions is marked
    invalid. Exact for a first hidden layer (a valid move then flips exactly the chosen unit); a
    linearization around the current point deeper in the network.
    """
    B, k = index.shape
    shape = X.shape[1:]
    rows = torch.arange(B * k, device=X.device)
    chosen = index.reshape(-1)
    G = state["G"].repeat_interleave(k, dim=0)
    z = state["z"].repeat_interleave(k, dim=0)
    kinks = state["kinks"].repeat_interleave(k, dim=0)
    below, above = _interval(z, kinks)
    z_i = z[rows, chosen]
    target = state["nearest"].repeat_interleave(k, dim=0)[rows, chosen]
    direction = -torch.where(z_i >= target, 1.0, -1.0).to(z.dtype)[:, None] * G[rows, chosen]
    basis = []

    def timing(d):
        rate = (G @ d[..., None])[..., 0]
        with torch.no_grad():
            leave = torch.where(rate > 0, (above - z) / rate, (below - z) / rate)
        leave = torch.where(torch.isfinite(leave) & (leave > 0), leave, torch.full_like(leave, math.inf))
        t_unit = (target - z_i) / rate[rows, chosen]
        leave[rows, chosen] = math.inf
        return rate, leave, t_unit

    for _ in range(blockers + 1):
        rate, leave, t_unit = timing(direction)
        blocked = leave < (t_unit * (1 - 1e-9))[:, None]
        if not bool(blocked.any()) or len(basis) == blockers:
            break
        first = torch.where(blocked, leave, torch.full_like(leave, math.inf)).argmin(dim=1)
        w = G[rows, first].clone()
        for q in basis:
            w -= (w * q).sum(dim=1, keepdim=True) * q
        norm = w.norm(dim=1, keepdim=True)
        usable = blocked.any(dim=1, keepdim=True) & (norm > 1e-12 * G[rows, chosen].norm(dim=1, keepdim=True))
        q = torch.where(usable, w / norm.clamp_min(1e-300), torch.zeros_like(w))
        basis.append(q)
        direction = direction - (direction * q).sum(dim=1, keepdim=True) * q
    rate, leave, t_unit = timing(direction)
    clear = ~(leave < (t_unit * (1 - 1e-9))[:, None]).any(dim=1)
    own = _crossing_times(z_i[:, None], rate[rows, chosen][:, None], kinks[rows, chosen][:, None])[:, 0]
    own = torch.where(own > (t_unit * (1 + 1e-9))[:, None], own, torch.full_like(own, math.inf)).amin(dim=1)
    t_after = torch.minimum(leave.amin(dim=1), own)
    step = t_unit + 0.5 * (torch.minimum(t_after, 3 * t_unit) - t_unit)
    valid = clear & torch.isfinite(step) & (step > 0)
    step = torch.where(valid, step, torch.zeros_like(step))
    moved = X.repeat_interleave(k, dim=0) + (step[:, None] * direction).reshape(B * k, *shape)
    return moved.reshape(B, k, *shape), valid.reshape(B, k)


def _flip_moves(units, X, state, index):
    """For every point and each chosen unit: the point just across that unit's nearest kink, moving along
    the gradient of its pre-activation, halfway to the next unit crossed on that line."""
    B, k = index.shape
    shape = X.shape[1:]
    Xr = X.detach().repeat_interleave(k, dim=0).clone().requires_grad_(True)
    units_r = index.reshape(-1, 1)
    with torch.enable_grad():
        out, records = units.forward(Xr)
        z = units.flat([r[2] for r in records], B * k)
        (g,) = torch.autograd.grad(z.gather(1, units_r).sum(), Xr, retain_graph=True)
        z_i = z.detach().gather(1, units_r)[:, 0]
        nearest = state["nearest"].repeat_interleave(k, dim=0).gather(1, units_r)[:, 0]
        side = torch.where(z_i >= nearest, 1.0, -1.0).to(z_i.dtype)
        direction = -side.reshape(-1, *([1] * len(shape))) * g.detach()
        dz = units.directional(Xr, records, direction)
    squared = (g.detach() ** 2).reshape(B * k, -1).sum(dim=1)
    t_unit = (z_i - nearest).abs() / squared
    times = _crossing_times(z.detach(), dz, units.kink_table(records, B * k))
    times.scatter_(1, units_r[..., None].expand(-1, -1, times.shape[2]), math.inf)
    later = torch.where(times > t_unit[:, None, None] * (1 + 1e-9), times, torch.full_like(times, math.inf))
    t_next = later.reshape(B * k, -1).amin(dim=1)
    step = t_unit + 0.5 * (torch.minimum(t_next, 3 * t_unit) - t_unit)
    valid = (squared > 0) & torch.isfinite(step) & (step > 0)
    step = torch.where(valid, step, torch.zeros_like(step))
    moved = Xr.detach() + step.reshape(-1, *([1] * len(shape))) * direction
    return moved.reshape(B, k, *shape), valid.reshape(B, k)


def _line_moves(state, X, V, count, scale):
    """Points along ``+-v`` in the middle of the first ``count`` activation regions crossed by each ray
    (the crossings predicted from the directional derivatives); geometric steps without units."""
    B, shape = X.shape[0], X.shape[1:]
    V = V.reshape(B, *shape)
    moves, valid = [], []
    for sign in (1.0, -1.0):
        if state is None:
            steps = scale * torch.logspace(-4, 1, count, base=10.0, dtype=X.dtype, device=X.device).expand(B, count)
            ok = torch.ones((B, count), dtype=torch.bool, device=X.device)
        else:
            times = _crossing_times(state["z"], sign * state["dz"], state["kinks"]).reshape(B, -1)
            first = torch.topk(times, min(count + 1, times.shape[1]), dim=1, largest=False).values
            if first.shape[1] < count + 1:
                pad = torch.full((B, count + 1 - first.shape[1]), math.inf, dtype=X.dtype, device=X.device)
                first = torch.cat([first, pad], dim=1)
            lo, hi = first[:, :-1], first[:, 1:]
            steps = torch.where(torch.isfinite(hi), (lo + hi) / 2, 2 * lo)
            ok = torch.isfinite(steps)
            steps = torch.where(ok, steps, torch.zeros_like(steps))
        moves.append(X[:, None] + sign * steps.reshape(B, count, *([1] * len(shape))) * V[:, None])
        valid.append(ok)
    return torch.cat(moves, dim=1), torch.cat(valid, dim=1)


def region_walk(evaluator, units, X, rounds: int, flips: int, line_points: int, scale: float, record,
                fresh=None) -> tuple[int, int]:
    """Local search across neighbouring activation regions from every row of ``X``.

    Each round, at every point: cross the kink of the ``flips`` units whose crossing most increases
    ``||J||`` to first order (gain ``(slope across - slope now) (u . df/dh_i) (dz_i/dx . v)`` with
    ``(u, v)`` the top singular pair), and try the middles of the first regions along ``+-v``; every
    candidate is evaluated exactly and the best one is taken if it improves. A point where nothing
    improves is a local maximum; it is replaced by ``fresh(count)`` new starting points when given
    (iterated local search), else it stops. ``record(points, values)`` receives every evaluated point
    with a lower estimate ``||J^T u||`` of its Jacobian norm. Returns ``(rounds run, local maxima)``.

    Examples
    --------
    >>> from lipexact import TwoLayerReLU
    >>> from lipexact.bounds.device import as_module
    >>> from lipexact.bounds.jacobians import JacobianEvaluator
    >>> module = as_module(TwoLayerReLU([[1.0], [-1.0]], [[1.0, 2.0]]), device="cpu")  # slope 1, or 2 for x < 0
    >>> evaluator = JacobianEvaluator(module, (1,), torch.float64, torch.device("cpu"))
    >>> seen = []
    >>> start = torch.tensor([[1.0]], dtype=torch.float64)
    >>> region_walk(evaluator, ActivationUnits(module), start, 5, 2, 2, 1.0, lambda p, v: seen.append(float(v.max())))
    (2, 1)
    >>> max(seen)
    2.0
    """
    X = X.detach().clone()
    sigma, U, V = evaluator.top(X)
    record(X, sigma)
    active = torch.ones(X.shape[0], dtype=torch.bool, device=X.device)
    done, optima = 0, 0
    for done in range(1, rounds + 1):
        rows = torch.nonzero(active).flatten()
        if rows.numel() == 0:
            done -= 1
            break
        Xa, Ua, Va = X[rows], U[rows], V[rows]
        state = _probe(units, Xa, Ua, Va) if units else None
        candidates, valid = _line_moves(state, Xa, Va, line_points, scale)
        if state is not None and flips > 0:
            gain = state["gain"]
            best = torch.topk(gain, min(flips, gain.shape[1]), dim=1)
            if "G" in state:
                moved, ok = _exact_flip_moves(state, Xa, best.indices)
            else:
                moved, ok = _flip_moves(units, Xa, state, best.indices)
            candidates = torch.cat([moved, candidates], dim=1)
            valid = torch.cat([ok & torch.isfinite(best.values), valid], dim=1)
        R, C = valid.shape
        flat = candidates.reshape(R * C, *X.shape[1:])
        keep = valid.reshape(-1)
        values = torch.full((R * C,), -math.inf, dtype=X.dtype, device=X.device)
        if bool(keep.any()):  # ||J^T u|| <= ||J||: a candidate above the current norm surely improves
            found = evaluator.projected(flat[keep], Ua.repeat_interleave(C, dim=0)[keep])
            values[keep] = found
            record(flat[keep], found)
        best_value, best_index = values.reshape(R, C).max(dim=1)
        improved = best_value > sigma[rows] * (1 + 1e-12)
        if bool(improved.any()):
            X[rows[improved]] = candidates[improved.nonzero().flatten(), best_index[improved]]
        stuck = rows[~improved]
        optima += int(stuck.numel())
        if stuck.numel() and fresh is not None and done < rounds:
            X[stuck] = fresh(int(stuck.numel())).to(X.device, X.dtype)
        elif stuck.numel():
            active[stuck] = False
        moved_rows = rows if fresh is not None else rows[improved]
        if moved_rows.numel():
            sigma[moved_rows], U[moved_rows], V[moved_rows] = evaluator.top(X[moved_rows])
            record(X[moved_rows], sigma[moved_rows])
    return done, optima
