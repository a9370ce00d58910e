"""Bounds on the Lipschitz constant of deep networks (PyTorch, CPU or CUDA).

Registries map a method name to a ``"module:function"`` string (resolved on first use, so that this
package imports without torch and before every method's module exists) or to a callable. Every
registered function has the signature::

    fn(model, *, input_shape=None, device=None, dtype=torch.float64, seed=0, **options) -> LipschitzResult

and the lower-bound functions also take ``data=None``. :func:`upper_bound` and :func:`lower_bound`
validate the method, call it and time it (``timings["total"]``), inside :func:`lipexact.threads.thread_scope`:
the CPU thread count comes from ``threads=`` (an argument of both), else the environment variable
``LIPEXACT_THREADS``, else the size of the model's largest layer (one thread for the many small
operations of MLP-size models, the idle cores for large convolutions); it is restored afterwards and
recorded in ``result.stats["threads"]``.

Upper methods: ``autolip`` (Scaman & Virmaux 2018, on the torch.fx graph), ``frobenius`` (AutoLip with
Frobenius norms of the layers), ``power`` (affine models only: their spectral norm), ``seqlip`` and
``seqlip_greedy`` (SeqLip for MLPs; the greedy variant is a heuristic), ``seqlip_cnn`` (SeqLip on the top-k
singular vectors of each layer, for CNNs too large to unroll; a heuristic), ``eclipse`` and ``eclipse_fast``
(ECLipsE, Xu & Sivaranjani 2024: LipSDP-neuron multipliers chosen layer by layer, by one small SDP per
layer or in closed form, certified; ReLU MLPs of any depth), ``lipsdp`` (LipSDP-neuron, Fazlyab et al. 2019,
l2, ReLU MLPs of any depth: interior point, certified by Rump's Cholesky test) and ``lipsdp_first_order``
(the same SDP by first-order steps on the multipliers in torch, CPU or CUDA, certified the same way),
``pattern_sdp`` (two-layer networks only: Shor's SDP relaxation of the maximum over all activation patterns,
certified; l2, and l1 / l_inf for scalar outputs). Lower methods: ``data``,
``gradient``, ``annealing``, ``grid``.
"""

from __future__ import annotations

import os
import time
from importlib import import_module
from typing import Any, Callable

from reductions.validation import InvalidInputError, require

__all__ = ["UPPER_METHODS", "LOWER_METHODS", "VALIDATORS", "upper_bound", "lower_bound", "resolve_method",
           "validate_request"]

UPPER_METHODS: dict[str, str | Callable] = {
    "autolip": "lipexact.bounds.autolip:autolip",
    "frobenius": "lipexact.bounds.frobenius:frobenius",
    "power": "lipexact.bounds.affine_model:affine_lipschitz",
    "pattern_sdp": "lipexact.bounds.sdp.pattern:pattern_sdp",
    "seqlip": "lipexact.bounds.seqlip:seqlip",
    "seqlip_greedy": "lipexact.bounds.seqlip:seqlip_greedy",
    "seqlip_cnn": "lipexact.bounds.seqlip:seqlip_cnn",
    "eclipse": "lipexact.bounds.sdp.eclipse:eclipse",
    "eclipse_fast": "lipexact.bounds.sdp.eclipse:eclipse_fast",
    "lipsdp": "lipexact.bounds.sdp.lipsdp:lipsdp",
    "lipsdp_first_order": "lipexact.bounds.sdp.first_order:lipsdp_first_order",
}

LOWER_METHODS: dict[str, str | Callable] = {
    "data": "lipexact.bounds.lower:data_lower_bound",
    "gradient": "lipexact.bounds.lower:gradient_ascent",
    "annealing": "lipexact.bounds.lower:simulated_annealing",
    "grid": "lipexact.bounds.lower:grid_search",
}


#: Registered target -> its validator: a function with the method's signature that raises
#: :class:`~reductions.validation.InvalidInputError` for every input the method would reject (options, model,
#: input shape, data), without running it, and returns None. A method without one (a callable registered
#: by a user, for instance) is only checked when it runs.
VALIDATORS: dict[str, str] = {
    "lipexact.bounds.autolip:autolip": "lipexact.bounds.autolip:validate_autolip",
    "lipexact.bounds.frobenius:frobenius": "lipexact.bounds.frobenius:validate_frobenius",
    "lipexact.bounds.affine_model:affine_lipschitz": "lipexact.bounds.affine_model:validate_power",
    "lipexact.bounds.sdp.pattern:pattern_sdp": "lipexact.bounds.sdp.pattern:validate_pattern_sdp",
    "lipexact.bounds.seqlip:seqlip": "lipexact.bounds.seqlip:validate_seqlip",
    "lipexact.bounds.seqlip:seqlip_greedy": "lipexact.bounds.seqlip:validate_seqlip_greedy",
    "lipexact.bounds.seqlip:seqlip_cnn": "lipexact.bounds.seqlip:validate_seqlip_cnn",
    "lipexact.bounds.sdp.eclipse:eclipse": "lipexact.bounds.sdp.eclipse:validate_eclipse",
    "lipexact.bounds.sdp.eclipse:eclipse_fast": "lipexact.bounds.sdp.eclipse:validate_eclipse_fast",
    "lipexact.bounds.sdp.lipsdp:lipsdp": "lipexact.bounds.sdp.lipsdp:validate_lipsdp",
    "lipexact.bounds.sdp.first_order:lipsdp_first_order":
        "lipexact.bounds.sdp.first_order:validate_lipsdp_first_order",
    "lipexact.bounds.lower:data_lower_bound": "lipexact.bounds.lower:validate_data_lower_bound",
    "lipexact.bounds.lower:gradient_ascent": "lipexact.bounds.lower:validate_gradient_ascent",
    "lipexact.bounds.lower:simulated_annealing": "lipexact.bounds.lower:validate_simulated_annealing",
    "lipexact.bounds.lower:grid_search": "lipexact.bounds.lower:validate_grid_search",
}


def _load(target: str) -> Callable:
    module_name, _, function_name = target.partition(":")
    return getattr(import_module(module_name), function_name)


def resolve_method(method: Any, registry: dict[str, str | Callable], kind: str = "method") -> Callable:
    """The function registered under ``method``; an unknown name raises naming the field ``"method"``.

    Examples
    --------
    >>> resolve_method("nope", UPPER_METHODS)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: method: expected one of autolip, frobenius, ..., got 'nope'
    """
    if not isinstance(method, str) or method not in registry:
        raise InvalidInputError("method", f"one of {', '.join(registry)}", repr(method))
    target = registry[method]
    if callable(target):
        return target
    module_name, _, function_name = target.partition(":")
    try:
        module = import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise InvalidInputError("method", f"an installed method ({module_name} is not available yet)",
                                repr(method)) from None
    return getattr(module, function_name)


def _batch(data: Any, kw: dict) -> int:
    """Inputs a lower-bound search processes together (data points, chains or restarts)."""
    counts = [int(kw[key]) for key in ("chains", "restarts", "batch_size") if isinstance(kw.get(key), int)]
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) >= 1:
        counts.append(int(shape[0]))
    return max(counts, default=1)


def _timed(fn: Callable, model: Any, threads: Any = None, batch: int = 1, **kwargs: Any):
    from lipexact.threads import ENV_VAR, model_work, parse_threads, thread_scope

    # the rule needs the work only when nothing overrides it; on a GPU the CPU only launches kernels: one thread
    work = None
    if threads is None and parse_threads(os.environ.get(ENV_VAR), ENV_VAR) is None:
        device = kwargs.get("device")
        on_cpu = device is None or str(device).startswith("cpu")
        work = model_work(model, kwargs.get("input_shape"), batch) if on_cpu else 0
    start = time.perf_counter()
    with thread_scope(threads, work) as count:
        result = fn(model, **kwargs)
    elapsed = time.perf_counter() - start
    result = result.replace(timings={**result.timings, "total": elapsed}, stats={**result.stats, "threads": count})
    from lipexact.bounds.device import eval_mode_note, training_batchnorms

    note = eval_mode_note(model)  # every method works on an eval-mode copy: say so when the model was training
    if note:
        result = result.replace(message=f"{result.message}; {note}" if result.message else note,
                                stats={**result.stats, "batchnorm_eval_mode": training_batchnorms(model)})
    return result


def upper_bound(model: Any, method: str = "autolip", input_shape: Any = None, threads: Any = None, **kw: Any):
    """An upper bound (or, for heuristic methods, an estimate) of ``model``'s Lipschitz constant.

    Parameters
    ----------
    model : torch.nn.Module or TwoLayerReLU
    method : str
        A key of :data:`UPPER_METHODS`.
    input_shape : tuple of int, optional
        Shape of one input without the batch dimension (inferred for MLPs and TwoLayerReLU).
    threads : int or str, optional
        CPU threads for torch, BLAS and OpenMP during the call (restored afterwards). None or ``"auto"``:
        ``LIPEXACT_THREADS``, else the rule of :mod:`lipexact.threads` (one thread for models whose largest
        layer is small, the idle cores for large convolutions).
    **kw
        ``device``, ``dtype``, ``seed`` and the method's own options.

    Returns
    -------
    LipschitzResult
        ``Status.UPPER_BOUND`` when proven, ``Status.HEURISTIC`` otherwise; ``timings["total"]`` set.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> result = upper_bound(TwoLayerReLU([[3, 0], [0, 4]], [[0, 1]]), "autolip", device="cpu")
    >>> result.status.value, round(result.value, 6)
    ('upper_bound', 4.0)
    """
    fn = resolve_method(method, UPPER_METHODS)
    return _timed(fn, model, threads=_threads(threads), input_shape=input_shape, **kw)


def lower_bound(model: Any, method: str = "data", data: Any = None, input_shape: Any = None, threads: Any = None,
                **kw: Any):
    """A certified lower bound of ``model``'s Lipschitz constant (a witness input attains it).

    Parameters
    ----------
    model : torch.nn.Module or TwoLayerReLU
    method : str
        A key of :data:`LOWER_METHODS`.
    data : tensor or array, optional
        Inputs to start from (required by ``"data"``).
    input_shape : tuple of int, optional
        Shape of one input without the batch dimension.
    threads : int or str, optional
        CPU threads for torch, BLAS and OpenMP during the call (restored afterwards). None or ``"auto"``:
        ``LIPEXACT_THREADS``, else the rule of :mod:`lipexact.threads` (one thread for models whose largest
        layer is small, the idle cores for large convolutions).
    **kw
        ``device``, ``dtype``, ``seed`` and the method's own options.
    """
    fn = resolve_method(method, LOWER_METHODS)
    return _timed(fn, model, threads=_threads(threads), batch=_batch(data, kw), data=data, input_shape=input_shape,
                  **kw)


def _threads(threads: Any) -> Any:
    """``threads`` checked before any work (an InvalidInputError naming ``threads``)."""
    from lipexact.threads import parse_threads

    return parse_threads(threads, "threads")


def validate_request(method: Any, model: Any, *, kind: str = "upper", data: Any = None, input_shape: Any = None,
                     **kw: Any) -> None:
    """Raise :class:`~reductions.validation.InvalidInputError` for any input that ``method`` would reject,
    without running it (so that a batch of methods can be checked before any of them runs).

    Parameters
    ----------
    method : str
        A key of :data:`UPPER_METHODS` (``kind="upper"``) or of :data:`LOWER_METHODS` (``kind="lower"``).
    model, data, input_shape, **kw
        As for :func:`upper_bound` / :func:`lower_bound`.

    Examples
    --------
    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    >>> validate_request("seqlip", model, device="cpu")
    >>> validate_request("grid", model, kind="lower", device="cpu", max_dim=2)
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.NotApplicableError: input_shape: expected at most 2 input ..., got (3,) (3 dimensions)
    """
    require(kind in ("upper", "lower"), "kind", '"upper" or "lower"', repr(kind))
    _threads(kw.pop("threads", None))
    registry = UPPER_METHODS if kind == "upper" else LOWER_METHODS
    resolve_method(method, registry)
    target = registry[method]
    validator = VALIDATORS.get(target) if isinstance(target, str) else None
    if validator is None:
        return
    if kind == "upper":
        _load(validator)(model, input_shape=input_shape, **kw)
    else:
        _load(validator)(model, data=data, input_shape=input_shape, **kw)
