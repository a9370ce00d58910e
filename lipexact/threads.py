"""How many CPU threads lipexact's computations use: one rule, one context manager, one override.

Most of lipexact's work is many small operations (SeqLip's pair enumerations and local searches, the
power method on small layers, the lower-bound searches, the exact solvers' numpy/scipy and torch calls).
Every such operation ends at a barrier where all of torch's OpenMP threads (or BLAS's) wait for the
slowest one; with one core taken by another process, the thread scheduled there runs late at every
barrier. Measured on a 2-core machine with one busy core, greedy SeqLip on a 10-200-200-200-10 MLP took
0.6 s with one torch thread and 16-22 s with two (torch's default). Large operations (big convolutions,
AlexNet-size AutoLip) do profit from threads on idle cores.

The rule (:func:`choose_threads`), in order:

1. the ``threads=`` argument of the call, when given (a positive integer; ``None`` or ``"auto"``: go on);
2. the environment variable ``LIPEXACT_THREADS`` (a positive integer, or ``auto``);
3. one thread when the largest single operation of the workload is below :data:`CROSSOVER_WORK`
   multiply-adds (see :func:`model_work`), else the idle cores (:func:`idle_cpus`: the CPUs this process
   may use minus the tasks of other processes ready to run, at least 1).

:func:`thread_scope` applies the chosen count for the duration of a ``with`` block to torch's intra-op
threads (``torch.set_num_threads``) and to every BLAS and OpenMP library loaded in the process
(``threadpoolctl``), and restores all of them on exit, also after an exception: a call never leaves a
process-wide setting behind. Nested scopes without an explicit count keep the enclosing scope's count.
:func:`lipexact.upper_bound`, :func:`lipexact.lower_bound` and the exact searches (branch and bound,
cell enumeration) run inside one; ``python -m lipexact.bound --threads`` sets the same override.

The settings are per process, so two Python threads that run lipexact calls at the same time share them
(the later scope wins until it exits).

Examples
--------
>>> import torch
>>> before = torch.get_num_threads()
>>> with thread_scope(threads=1) as count:
...     (count, torch.get_num_threads())
(1, 1)
>>> torch.get_num_threads() == before
True
>>> choose_threads(work=10_000)          # a small workload: one thread (unless LIPEXACT_THREADS says otherwise)
1
>>> choose_threads(work=10_000, threads=2)
2
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import Any, Iterator

from reductions.validation import InvalidInputError

__all__ = [
    "ENV_VAR", "CROSSOVER_WORK", "parse_threads", "available_cpus", "busy_cpus", "idle_cpus", "choose_threads",
    "thread_limit", "thread_scope", "current_threads", "model_work", "thread_info", "small_blas",
]

#: Environment variable that overrides the rule for every call that has no ``threads=`` argument.
ENV_VAR = "LIPEXACT_THREADS"

#: Multiply-adds of the largest single operation (one layer applied to one batch) from which threads on
#: idle cores may pay (see :func:`model_work`). Below it, one thread: the 10-200-200-200-10 MLP's layers
#: are 4e4, the MNIST-size CNN of ``benchmarks/threads.py`` 3.6e6, the reduced AlexNet of ``--quick``
#: 2.8e6; the full AlexNet's largest convolution (2.2e8) is above. ``python -m benchmarks.threads`` measures
#: one convolution and its transpose at growing sizes (its crossover table); on the shared 2-core machine
#: where this was written no core was ever idle and two threads lost at every size up to 1.2e8 (x2.6 to
#: x280), so the value is a conservative choice, not a measured idle crossover.
CROSSOVER_WORK = 8_000_000

_state = threading.local()
_controller: Any = None
_controller_modules = -1


def parse_threads(value: Any, field: str = "threads") -> int | None:
    """A thread count: a positive integer, or None for "choose by the rule" (``None``, ``"auto"``, ``""``).

    Parameters
    ----------
    value : int, str or None
        The requested count (an ``int``, or a string such as an environment variable's value).
    field : str
        The name reported in the error (``"threads"``, ``"LIPEXACT_THREADS"``, ``"--threads"``).

    Raises
    ------
    InvalidInputError
        For anything else (zero, negative, a float, a bool, a word), naming ``field``.

    Examples
    --------
    >>> parse_threads(3), parse_threads(" 2 "), parse_threads("auto"), parse_threads(None)
    (3, 2, None, None)
    >>> parse_threads("0", "LIPEXACT_THREADS")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: LIPEXACT_THREADS: expected a positive integer or 'auto', got '0'
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "auto"):
            return None
        if text.isdigit() and int(text) > 0:
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return int(value)
    elif type(value).__name__ in ("int64", "int32") and int(value) > 0:  # numpy integers
        return int(value)
    raise InvalidInputError(field, "a positive integer or 'auto'", repr(value))


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where there is none).

    >>> available_cpus() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _own_running_threads() -> int:
    """Threads of this process in state R (running or ready), from ``/proc/self/task``."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] == b"R":
            count += 1
    return max(1, count)


def busy_cpus(samples: int = 3, interval: float = 0.002) -> float:
    """How many CPUs other processes keep busy right now.

    On Linux: the tasks ready to run system-wide (``/proc/loadavg``'s fourth field) minus this process's own
    running threads, the largest of ``samples`` readings ``interval`` seconds apart (a process between two
    time slices is not missed). Elsewhere: the 1-minute load average (``os.getloadavg``), which also counts
    this process's own recent work. Never negative.

    >>> busy_cpus() >= 0
    True
    """
    readings = []
    for i in range(max(1, samples)):
        try:
            with open("/proc/loadavg") as handle:
                running = int(handle.read().split()[3].split("/")[0])
            readings.append(max(0, running - _own_running_threads()))
        except (OSError, ValueError, IndexError):
            try:
                return max(0.0, os.getloadavg()[0])
            except (OSError, AttributeError):  # pragma: no cover
                return 0.0
        if i + 1 < samples:
            time.sleep(interval)
    return float(max(readings))


def idle_cpus() -> int:
    """The CPUs left to this process: :func:`available_cpus` minus :func:`busy_cpus`, at least 1.

    >>> 1 <= idle_cpus() <= available_cpus()
    True
    """
    available = available_cpus()
    return max(1, min(available, available - int(busy_cpus() + 0.5)))


def choose_threads(work: float | None = None, threads: Any = None) -> int:
    """The thread count for a workload: ``threads``, else ``LIPEXACT_THREADS``, else the size rule.

    Parameters
    ----------
    work : float, optional
        Multiply-adds of the workload's largest single operation (:func:`model_work`); None or below
        :data:`CROSSOVER_WORK` means many small operations: one thread. Above it: :func:`idle_cpus`.
    threads : int or str, optional
        An explicit count (wins over everything); None or ``"auto"`` lets the environment and the rule decide.

    Raises
    ------
    InvalidInputError
        A bad ``threads`` (field ``"threads"``) or a bad ``LIPEXACT_THREADS`` (field ``"LIPEXACT_THREADS"``).

    Examples
    --------
    >>> choose_threads(work=1e4, threads=3)
    3
    >>> 1 <= choose_threads(work=1e12, threads="auto") <= available_cpus()
    True
    """
    explicit = parse_threads(threads, "threads")
    if explicit is not None:
        return explicit
    from_env = parse_threads(os.environ.get(ENV_VAR), ENV_VAR)
    if from_env is not None:
        return from_env
    if work is None or work < CROSSOVER_WORK:
        return 1
    return idle_cpus()


def _threadpools():
    """A cached ``threadpoolctl.ThreadpoolController`` (rebuilt when new modules were imported since), or None."""
    global _controller, _controller_modules
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a dependency, but the torch part works without it
        return None
    if _controller is None or _controller_modules != len(sys.modules):
        _controller = ThreadpoolController()
        _controller_modules = len(sys.modules)
    return _controller


def _load_blas() -> None:
    """Load scipy's own BLAS (a second OpenBLAS, loaded by the first import of ``scipy.linalg``) now, so that a limit
    set before a block's first ``scipy.linalg`` call covers it too. Without this, the global deep searches, whose
    LipSDP node bounds import ``scipy.linalg`` inside the block, ran that BLAS on two threads (measured: 36.7 s of
    CPU in 20 s of wall time, one thread asked; 20.0 s with the limit)."""
    try:
        import scipy.linalg  # noqa: F401
    except ImportError:  # pragma: no cover - a required dependency
        pass


@contextlib.contextmanager
def thread_limit(count: int) -> Iterator[int]:
    """Exactly ``count`` threads for torch (intra-op), BLAS and OpenMP inside the block; restored on exit.

    Parameters
    ----------
    count : int
        A positive integer.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with thread_limit(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    count = parse_threads(count, "threads")
    if count is None:
        raise InvalidInputError("threads", "a positive integer", "None")
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:  # pragma: no cover - numpy-only use
            torch = None
    before = torch.get_num_threads() if torch is not None else None
    _load_blas()
    controller = _threadpools()
    with contextlib.ExitStack() as stack:
        if controller is not None:
            stack.enter_context(controller.limit(limits=count))
        if torch is not None and before != count:
            torch.set_num_threads(count)
        try:
            yield count
        finally:
            stack.close()  # BLAS / OpenMP first: torch's count is then restored last, exactly as it was
            if torch is not None and torch.get_num_threads() != before:
                torch.set_num_threads(before)


def current_threads() -> int | None:
    """The count of the innermost :func:`thread_scope` active in this Python thread, or None.

    >>> current_threads() is None
    True
    """
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def thread_scope(threads: Any = None, work: float | None = None) -> Iterator[int]:
    """Run the block with the thread count of :func:`choose_threads`, restoring every setting afterwards.

    Inside an enclosing scope, a scope without an explicit ``threads`` keeps the enclosing count (the
    outer call knew the whole workload). Yields the count in force.

    Parameters
    ----------
    threads : int or str, optional
        Explicit count; None or ``"auto"``: ``LIPEXACT_THREADS`` or the size rule.
    work : float, optional
        Multiply-adds of the largest single operation (:func:`model_work`).

    Examples
    --------
    >>> import torch
    >>> with thread_scope(threads=2) as outer:
    ...     with thread_scope(work=1e4) as inner:
    ...         (outer, inner, torch.get_num_threads())
    (2, 2, 2)
    """
    explicit = parse_threads(threads, "threads")
    enclosing = current_threads()
    count = enclosing if (explicit is None and enclosing is not None) else choose_threads(work, explicit)
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(count)
    try:
        if count == enclosing:
            yield count
        else:
            with thread_limit(count):
                yield count
    finally:
        stack.pop()


def small_blas(threads: Any = None):
    """The scope of the exact searches' many small dense operations (numpy/scipy BLAS and torch).

    The same rule as every other call (:func:`thread_scope` with a small workload: one thread unless
    ``threads`` or ``LIPEXACT_THREADS`` says otherwise). A 60 x 885 SVD took 1.3 s with several BLAS
    threads on a busy machine instead of 6 ms with one.

    Examples
    --------
    >>> import numpy as np
    >>> with small_blas():
    ...     float(np.linalg.norm(np.eye(3)))
    1.7320508075688772
    """
    return thread_scope(threads=threads, work=0)


def _pair(value: Any, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * n


def _conv_out(shape: tuple[int, ...], kernel: Any, stride: Any, padding: Any, dilation: Any = 1) -> tuple[int, ...]:
    n = len(shape)
    if isinstance(padding, str):
        return shape if padding == "same" else _conv_out(shape, kernel, stride, 0, dilation)
    k, s, p, d = _pair(kernel, n), _pair(stride if stride is not None else kernel, n), _pair(padding, n), \
        _pair(dilation, n)
    return tuple(max(1, (size + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1) for i, size in enumerate(shape))


def _walk(module: Any, shape: tuple[int, ...], works: list[float]) -> tuple[int, ...] | None:
    """The output shape of ``module`` on one input of ``shape`` (None: unknown), appending layer work."""
    import torch

    nn = torch.nn
    if isinstance(module, nn.Sequential):
        for layer in module:
            shape = _walk(layer, shape, works)
            if shape is None:
                return None
        return shape
    if isinstance(module, nn.Linear):
        rows = 1
        for size in shape[:-1]:
            rows *= size
        works.append(float(module.weight.numel()) * rows)
        return (*shape[:-1], module.out_features)
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        spatial = _conv_out(shape[1:], module.kernel_size, module.stride, module.padding, module.dilation)
        positions = 1
        for size in spatial:
            positions *= size
        works.append(float(module.weight.numel()) * positions)
        return (module.out_channels, *spatial)
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return (shape[0], *_conv_out(shape[1:], module.kernel_size, module.stride, module.padding,
                                     getattr(module, "dilation", 1)))
    if isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)):
        out = _pair(module.output_size, len(shape) - 1)
        return (shape[0], *(o if o is not None else shape[1 + i] for i, o in enumerate(out)))
    if isinstance(module, nn.Flatten):
        size = 1
        for dim in shape:
            size *= dim
        return (size,)
    if not any(True for _ in module.parameters()) or isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return shape  # activations, dropout, identity, normalizations: elementwise
    return None


def model_work(model: Any, input_shape: Any = None, batch: int = 1) -> float:
    """Multiply-adds of the largest single layer of ``model`` applied to ``batch`` inputs (an estimate).

    An ``nn.Sequential`` of standard layers (linear, convolutions, pooling, flatten, activations) is walked
    shape by shape, so that convolutions count their output positions. Any other module counts each weight
    tensor's size times the input's positions (``prod(input_shape[1:])``, which overestimates strided and
    pooled layers); a ``TwoLayerReLU`` counts ``W1`` and ``W2``. Nothing is computed: this costs microseconds.

    Parameters
    ----------
    model : torch.nn.Module, TwoLayerReLU or any object with weights
    input_shape : tuple of int, optional
        One input without the batch dimension.
    batch : int
        Inputs processed together (data points, chains, restarts).

    Examples
    --------
    >>> import torch
    >>> mlp = torch.nn.Sequential(torch.nn.Linear(10, 200), torch.nn.ReLU(), torch.nn.Linear(200, 200))
    >>> model_work(mlp, (10,))
    40000.0
    >>> conv = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1))
    >>> model_work(conv, (1, 28, 28))        # 72 weights x 784 positions
    56448.0
    """
    batch = max(1, int(batch))
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    if torch is None or not isinstance(model, torch.nn.Module):
        arrays = [getattr(model, name, None) for name in ("W1", "W2")]
        sizes = [float(getattr(a, "size", 0) or 0) for a in arrays if a is not None]
        return max(sizes, default=0.0) * batch
    shape = None
    if input_shape is not None:
        try:
            shape = tuple(int(s) for s in input_shape)
        except (TypeError, ValueError):
            shape = None
    if shape:
        works: list[float] = []
        try:
            if _walk(model, shape, works) is not None and works:
                return max(works) * batch
        except Exception:  # an unusual layer: the estimate below
            pass
    positions = 1
    for size in (shape or (1,))[1:]:
        positions *= size
    largest = 0.0
    for parameter in model.parameters():
        factor = positions if parameter.dim() > 2 else 1  # convolution kernels slide over the positions
        largest = max(largest, float(parameter.numel()) * factor)
    return largest * batch


def thread_info(count: int | None = None) -> dict:
    """What a report states about threads: the count used, the rule's inputs and torch's/BLAS's settings.

    >>> sorted(thread_info(1))
    ['available_cpus', 'blas_openmp', 'busy_cpus', 'env', 'loadavg', 'threads', 'torch_threads']
    """
    import torch

    controller = _threadpools()
    pools = [] if controller is None else [f"{p['internal_api']}={p['num_threads']}" for p in controller.info()]
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):  # pragma: no cover
        load = None
    return {"threads": count, "torch_threads": torch.get_num_threads(), "blas_openmp": pools,
            "available_cpus": available_cpus(), "busy_cpus": busy_cpus(), "loadavg": load,
            "env": os.environ.get(ENV_VAR)}
