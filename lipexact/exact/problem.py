"""The one input-validation function of the exact solvers, their clock, and the certified result builder."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, Callable, Mapping


from lipexact.domain import Box, as_box
from lipexact.exact.certificate import CertificateError, verify_witness
from lipexact.network import TwoLayerReLU
from lipexact.norms import parse_norm
from lipexact.result import LipschitzResult, Status
from reductions.validation import InvalidInputError, as_real, require

__all__ = ["Problem", "Clock", "validate_problem", "certified_result", "judged_result", "RELATIVE_TOLERANCE"]

#: Two values closer than this (relative) are the same value: the agreement asked of every exact method.
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Problem:
    """A validated exact Lipschitz problem: network, norm, optional box domain and the solve options."""

    net: TwoLayerReLU
    norm: str = "2"
    domain: Box | None = None
    time_limit: float | None = None
    seed: int = 0
    progress: bool = False

    @property
    def scope(self) -> str:
        return "global" if self.domain is None else "local (box)"


@dataclass
class Clock:
    """Time since the solve started, and whether the time limit is spent.

    Parameters
    ----------
    time_limit : float, optional
        Seconds; None never expires.
    start : float, optional
        Reading of ``now`` when the solve started (the reading at construction by default).
    now : callable, optional (keyword only)
        The time source, a function returning seconds on a monotonic scale (``time.perf_counter`` by
        default). Each :meth:`elapsed` calls it once, and so does each :meth:`expired` or :meth:`remaining`
        under a time limit, so a test can inject a fake source and stop a search after a fixed number of
        readings, whatever the load of the machine.

    Examples
    --------
    A fake source that advances one second per reading: a 3-second limit is spent at the third check.

    >>> from itertools import count
    >>> ticks = count()
    >>> clock = Clock(3.0, now=lambda: float(next(ticks)))
    >>> [clock.expired() for _ in range(4)]
    [False, False, True, True]
    """

    time_limit: float | None = None
    start: float | None = None
    now: Callable[[], float] = field(default=time.perf_counter, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        if not callable(self.now):
            raise InvalidInputError("now", "a function returning seconds", type(self.now).__name__)
        if self.start is None:
            self.start = float(self.now())

    def elapsed(self) -> float:
        return self.now() - self.start

    def expired(self) -> bool:
        return self.time_limit is not None and self.elapsed() >= self.time_limit

    def remaining(self) -> float | None:
        return None if self.time_limit is None else max(0.0, self.time_limit - self.elapsed())


def _as_network(net: Any) -> TwoLayerReLU:
    if isinstance(net, TwoLayerReLU):
        return net
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a required dependency
        torch = None
    if torch is not None and isinstance(net, torch.nn.Module):
        return TwoLayerReLU.from_torch(net)
    raise InvalidInputError("net", "a TwoLayerReLU or torch.nn.Sequential(Linear, ReLU, Linear)", type(net).__name__)


def validate_problem(net: Any, norm: Any = 2, domain: Any = None, time_limit: Any = None, seed: Any = 0,
                     progress: bool = False) -> Problem:
    """Check every argument of :func:`lipexact.lipschitz` once; raise :class:`InvalidInputError` naming the field.

    Examples
    --------
    >>> validate_problem(TwoLayerReLU([[1.0]], [[2.0]]), norm="inf", time_limit=5).norm
    'inf'
    >>> validate_problem(TwoLayerReLU([[1.0]], [[2.0]]), time_limit=-1)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: time_limit: expected a number > 0 or None, got -1
    """
    network = _as_network(net)
    if time_limit is not None:
        limit = as_real(time_limit, "time_limit")
        require(limit > 0, "time_limit", "a number > 0 or None", repr(time_limit))
        time_limit = float(limit)
    require(isinstance(seed, Integral) and not isinstance(seed, bool) and seed >= 0, "seed",
            "a non-negative integer", repr(seed))
    return Problem(net=network, norm=parse_norm(norm), domain=as_box(domain, network.n_inputs),
                   time_limit=time_limit, seed=int(seed), progress=bool(progress))


def certified_result(problem: Problem, method: str, clock: Clock, *, status: Status, witness: Any,
                     upper: float | None, upper_proof: str, message: str = "",
                     stats: Mapping[str, Any] | None = None) -> LipschitzResult:
    """Build the result after re-checking the witness independently (see :mod:`lipexact.exact.certificate`).

    The rules are those of :func:`judged_result`.
    """
    return judged_result(lambda x: verify_witness(problem.net, x, problem.norm, problem.domain), problem.norm,
                         method, clock, status=status, witness=witness, upper=upper, message=message, stats=stats,
                         certificate={"upper_proof": upper_proof, "scope": problem.scope})


def judged_result(verify: Callable[[Any], Any], norm: str, method: str, clock: Clock, *, status: Status,
                  witness: Any, upper: float | None, certificate: Mapping[str, Any], message: str = "",
                  stats: Mapping[str, Any] | None = None) -> LipschitzResult:
    """The result a solver may claim, once ``verify(witness)`` has re-checked its witness.

    ``verify`` returns an object with ``value``, ``pattern``, ``margin`` and ``evaluation`` or raises
    :class:`~lipexact.exact.certificate.CertificateError`. The lower bound is the re-evaluated gradient norm
    at ``witness``, never the solver's own number. An ``OPTIMAL`` claim becomes an ``ERROR`` when its upper
    bound disagrees with the re-evaluated witness by more than :data:`RELATIVE_TOLERANCE` (relative), or
    when the witness or a finite upper bound is missing; a witness above the upper bound, or a NaN upper
    bound, is an ``ERROR`` whatever the status.
    """
    lower = None
    pattern = None
    certificate = dict(certificate)
    common = dict(norm=norm, timings={"total": clock.elapsed()}, stats=dict(stats or {}))
    if witness is not None:
        try:
            checked = verify(witness)
        except CertificateError as error:
            return LipschitzResult(Status.ERROR, None, method, upper=upper, certificate=certificate,
                                   message=f"the solver's witness failed re-evaluation: {error}", **common)
        lower, pattern = checked.value, checked.pattern
        certificate.update(verified_value=checked.value, witness_margin=checked.margin,
                           witness_evaluation=checked.evaluation)

    def error(text: str, upper_bound: float | None) -> LipschitzResult:
        return LipschitzResult(Status.ERROR, lower, method, lower=lower, upper=upper_bound, witness=witness,
                               pattern=pattern, certificate=certificate, message=text, **common)

    if upper is not None and math.isnan(upper):
        return error("the solver's upper bound is NaN", None)
    if upper is not None and lower is not None:
        tolerance = RELATIVE_TOLERANCE * max(abs(lower), abs(upper)) if math.isfinite(upper) else 0.0
        if lower > upper + tolerance:
            return error(f"re-evaluated witness {lower!r} exceeds the proven upper bound {upper!r}", None)
        if status is Status.OPTIMAL and upper - lower > tolerance:
            status = Status.ERROR
            message = f"optimality claimed but the witness re-evaluates to {lower!r} < upper bound {upper!r}"
        upper = max(upper, lower)
    if status is Status.OPTIMAL and lower is None:
        status, message = Status.ERROR, "optimality claimed without a witness"
    if status is Status.OPTIMAL and upper is None:
        status, message = Status.ERROR, "optimality claimed without an upper bound"
    if status is Status.OPTIMAL and not math.isfinite(upper):
        status, message = Status.ERROR, f"optimality claimed with a non-finite upper bound {upper!r}"
    return LipschitzResult(status, lower, method, lower=lower, upper=upper, message=message, witness=witness,
                           pattern=pattern, certificate=certificate, **common)
