"""Calling the project's methods by registry name, timing them, and recording what happened.

A method that is not there yet (``ImportError``, a missing registry entry) is recorded as
``"unavailable"`` with the reason; one that raises is recorded as ``"error"`` with the exception. No
number is ever filled in for a method that did not produce one.
"""

from __future__ import annotations

import copy
import inspect
import math
import signal
import statistics
import threading
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

__all__ = ["Measurement", "upper", "lower", "exact", "from_result", "median_time", "peak_memory", "registry"]

#: LipschitzResult status -> what the value is.
_KIND = {
    "optimal": "exact",
    "upper_bound": "upper",
    "lower_bound": "lower",
    "heuristic": "heuristic",
    "time_limit": "bracket",
    "node_limit": "bracket",
    "interrupted": "bracket",
    "error": "error",
}


@dataclass
class Measurement:
    """One call of one method on one model.

    ``outcome`` is ``"ok"`` (the method returned a finished result), ``"stopped"`` (an exact search hit
    its limit: ``lower``/``upper`` hold the proven bracket), ``"unavailable"`` (not implemented yet) or
    ``"error"``. ``kind`` says what ``value`` is: ``exact``, ``upper`` (proven), ``lower`` (proven),
    ``heuristic`` (no guarantee), ``bracket`` or ``error``.
    """

    family: str  # "upper" | "lower" | "exact"
    method: str
    outcome: str
    kind: str = ""
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    status: str = ""
    seconds: float | None = None
    device: str = "cpu"
    reason: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.outcome in ("ok", "stopped")

    @property
    def proven_upper(self) -> float | None:
        """A value proven to be >= the Lipschitz constant, or None."""
        if not self.available:
            return None
        if self.kind in ("exact", "upper"):
            return self.value if self.kind == "upper" else (self.upper if self.upper is not None else self.value)
        if self.kind == "bracket":
            return self.upper
        return None

    @property
    def proven_lower(self) -> float | None:
        """A value proven to be <= the Lipschitz constant, or None."""
        if not self.available:
            return None
        if self.kind in ("exact", "lower"):
            return self.value if self.kind == "lower" else (self.lower if self.lower is not None else self.value)
        if self.kind == "bracket":
            return self.lower
        return None

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("value", "lower", "upper", "seconds"):
            if data[key] is not None and not math.isfinite(data[key]):
                data[key] = str(data[key])
        return data


def _float(x: Any) -> float | None:
    return None if x is None else float(x)


def from_result(family: str, method: str, result: Any, seconds: float, device: str) -> Measurement:
    status = getattr(result.status, "value", str(result.status))
    kind = _KIND.get(status, "error")
    outcome = "ok" if kind in ("exact", "upper", "lower", "heuristic") else ("stopped" if kind == "bracket" else "error")
    return Measurement(family=family, method=method, outcome=outcome, kind=kind, value=_float(result.value),
                       lower=_float(result.lower), upper=_float(result.upper), status=status, seconds=seconds,
                       device=device, reason="" if outcome != "error" else (result.message or "status error"),
                       extra={"stats": _plain(dict(result.stats)), "message": result.message})


def _plain(value: Any) -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if np is not None and isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 64 else f"array{value.shape}"
    if np is not None and isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def registry(name: str) -> tuple[dict | None, str]:
    """The registry ``lipexact.<name>`` (e.g. ``"UPPER_METHODS"``), or None and the reason it is missing."""
    try:
        import lipexact

        return dict(getattr(lipexact, name)), ""
    except (ImportError, AttributeError) as error:
        return None, f"{type(error).__name__}: {error}"


def _unavailable(family: str, method: str, device: str, reason: str) -> Measurement:
    return Measurement(family=family, method=method, outcome="unavailable", kind="", device=device, reason=reason)


def _accepted(function: Callable, options: dict) -> dict:
    """The options ``function`` accepts (all of them when it takes ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return options
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options
    return {k: v for k, v in options.items() if k in parameters}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _call(family: str, entry: str, registry_name: str, method: str, device: str,
          build: Callable[[Callable], Any]) -> Measurement:
    methods, reason = registry(registry_name)
    if methods is None:
        return _unavailable(family, method, device, reason)
    if method not in methods:
        return _unavailable(family, method, device, f"KeyError: {method!r} not in lipexact.{registry_name} "
                                                    f"(has {sorted(methods)})")
    try:
        import lipexact

        function = getattr(lipexact, entry)
    except (ImportError, AttributeError) as error:
        return _unavailable(family, method, device, f"{type(error).__name__}: {error}")
    try:
        _sync(device)
        start = time.perf_counter()
        result = build(function)
        _sync(device)
        seconds = time.perf_counter() - start
    except (ImportError, NotImplementedError) as error:
        return _unavailable(family, method, device, f"{type(error).__name__}: {error}")
    except KeyError as error:
        return _unavailable(family, method, device, f"KeyError: {error}")
    except Exception as error:  # recorded, never hidden: the report shows the exception
        if _not_installed(error):
            return _unavailable(family, method, device, f"{type(error).__name__}: {error}")
        return Measurement(family=family, method=method, outcome="error", kind="error", device=device,
                           reason=f"{type(error).__name__}: {error}")
    return from_result(family, method, result, seconds, device)


def _not_installed(error: Exception) -> bool:
    """The registries' way of saying a method's module has not landed yet (field ``method``)."""
    return getattr(error, "field", None) == "method" and "not available" in str(error)


def _on_device(model, device: str):
    return copy.deepcopy(model).to(device)


def _tensor(data, model, device: str):
    if data is None:
        return None
    import torch

    dtype = next(model.parameters()).dtype
    return torch.as_tensor(data, dtype=dtype, device=device)


def upper(model, method: str, input_shape: tuple, device: str = "cpu", **options: Any) -> Measurement:
    """``lipexact.upper_bound(model, method=..., input_shape=...)`` on ``device``, timed."""
    moved = _on_device(model, device)

    def build(function):
        kwargs = _accepted(function, {"method": method, "input_shape": tuple(input_shape), "device": device,
                                      **options})
        return function(moved, **kwargs)

    return _call("upper", "upper_bound", "UPPER_METHODS", method, device, build)


def lower(model, method: str, input_shape: tuple, data=None, device: str = "cpu", seed: int = 0,
          **options: Any) -> Measurement:
    """``lipexact.lower_bound(model, method=..., data=..., input_shape=...)`` on ``device``, timed."""
    moved = _on_device(model, device)
    tensor = _tensor(data, moved, device)

    def build(function):
        kwargs = _accepted(function, {"method": method, "input_shape": tuple(input_shape), "data": tensor,
                                      "seed": seed, "device": device, **options})
        return function(moved, **kwargs)

    return _call("lower", "lower_bound", "LOWER_METHODS", method, device, build)


def exact(net, method: str = "auto", time_limit: float | None = None, seed: int = 0,
          **options: Any) -> Measurement:
    """``lipexact.lipschitz(net, method=..., norm=2, time_limit=...)`` on the CPU, timed."""
    registry_name = "EXACT_METHODS"
    methods, reason = registry(registry_name)
    if methods is None:
        return _unavailable("exact", method, "cpu", reason)
    if method != "auto" and method not in methods:
        return _unavailable("exact", method, "cpu", f"KeyError: {method!r} not in lipexact.{registry_name}")
    try:
        import lipexact

        start = time.perf_counter()
        result = lipexact.lipschitz(net, method=method, norm=2, time_limit=time_limit, seed=seed, **options)
        seconds = time.perf_counter() - start
    except (ImportError, NotImplementedError) as error:
        return _unavailable("exact", method, "cpu", f"{type(error).__name__}: {error}")
    except Exception as error:
        outcome = "unavailable" if _not_installed(error) else "error"
        if getattr(error, "field", None) == "net":  # a documented size limit of the method (brute: h <= 22)
            outcome = "skipped"
        return Measurement(family="exact", method=method, outcome=outcome, kind=outcome, device="cpu",
                           reason=f"{type(error).__name__}: {error}")
    measured = from_result("exact", method, result, seconds, "cpu")
    if method == "auto":
        measured.extra["auto"] = result.stats.get("auto")
    return measured


def median_time(run: Callable[[], Measurement], repeats: int) -> tuple[Measurement, list[float]]:
    """Run ``repeats`` times; the last measurement with ``seconds`` replaced by the median of the runs."""
    times: list[float] = []
    measured = None
    for _ in range(max(1, repeats)):
        measured = run()
        if not measured.available:
            return measured, times
        times.append(measured.seconds)
    measured.seconds = statistics.median(times)
    measured.extra["runs_seconds"] = times
    return measured, times


def peak_memory(run: Callable[[], Measurement], interval: float = 0.005) -> tuple[Measurement, dict]:
    """Run once under tracemalloc and an RSS sampler; peak Python-visible allocations and peak RSS growth.

    tracemalloc sees Python and numpy allocations, not memory inside compiled solvers (HiGHS) or in
    solver subprocesses (CBC); the process RSS, sampled every ``interval`` seconds by a thread, sees
    in-process native memory too (its growth over the RSS before the run is reported; short spikes
    between samples can be missed, and memory the process already held is not counted).
    """
    import threading

    import psutil

    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak_rss = [rss_before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak_rss[0] = max(peak_rss[0], process.memory_info().rss)
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tracemalloc.start()
    try:
        measured = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        stop.set()
        sampler.join()
    rss_after = process.memory_info().rss
    return measured, {"tracemalloc_peak_bytes": int(peak), "rss_before_bytes": int(rss_before),
                      "rss_peak_growth_bytes": int(max(peak_rss[0], rss_after) - rss_before),
                      "rss_after_bytes": int(rss_after)}


class Hang(BaseException):
    """Raised by :func:`call_with_watchdog` in a call that runs past its watchdog (a BaseException, so that
    the code under test cannot swallow it)."""


def call_with_watchdog(function: Callable[[], Any], seconds: float | None) -> Any:
    """``function()``, interrupted by :class:`Hang` after ``seconds`` (POSIX main thread; elsewhere, or with
    ``seconds`` None or 0, it runs unwatched)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return function()

    def alarm(signum, frame):  # noqa: ARG001
        raise Hang()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
