"""Where torch computations run, and how a model is prepared for them.

Every bound in :mod:`lipexact.bounds` calls :func:`pick_device` and :func:`as_module` first, so that a
:class:`~lipexact.network.TwoLayerReLU` and any ``torch.nn.Module`` are handled the same way: an
eval-mode copy in the requested floating dtype on the requested device. The caller's module is never
modified in place.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from reductions.validation import InvalidInputError, require

__all__ = ["pick_device", "as_module", "as_dtype", "training_batchnorms", "eval_mode_note"]

_DTYPES = {"float64": torch.float64, "double": torch.float64, "float32": torch.float32, "float": torch.float32}


def pick_device(device: Any = None) -> torch.device:
    """The device to compute on: CUDA when available and ``device`` is None, else CPU.

    Parameters
    ----------
    device : None, str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``. Asking for CUDA where none is
        available raises :class:`~reductions.validation.InvalidInputError` (field ``"device"``).

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    >>> pick_device("abacus")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: device: expected "cpu", "cuda" or "cuda:<index>", got 'abacus'
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        chosen = device
    else:
        require(isinstance(device, str), "device", '"cpu", "cuda" or "cuda:<index>"', repr(device))
        try:
            chosen = torch.device(device)
        except (RuntimeError, ValueError):
            raise InvalidInputError("device", '"cpu", "cuda" or "cuda:<index>"', repr(device)) from None
    require(chosen.type in ("cpu", "cuda"), "device", '"cpu", "cuda" or "cuda:<index>"', repr(str(chosen)))
    if chosen.type == "cuda":
        require(torch.cuda.is_available(), "device", "an available CUDA device", f"{chosen} (CUDA is not available)")
        index = 0 if chosen.index is None else chosen.index
        require(index < torch.cuda.device_count(), "device", f"a CUDA index below {torch.cuda.device_count()}",
                str(chosen))
    return chosen


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index or 0) == (b.index or 0)


def as_dtype(dtype: Any) -> torch.dtype:
    """A floating torch dtype from a dtype or its name (``"float64"``, ``"float32"``); None means float64.

    Examples
    --------
    >>> as_dtype("float32")
    torch.float32
    """
    if dtype is None:
        return torch.float64
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    require(isinstance(dtype, torch.dtype) and dtype.is_floating_point, "dtype",
            "a floating torch dtype (torch.float64 or torch.float32)", repr(dtype))
    return dtype


def as_module(model: Any, dtype: Any = None, device: Any = None) -> torch.nn.Module:
    """An eval-mode ``torch.nn.Module`` computing ``model``, in ``dtype`` on ``device``.

    Parameters
    ----------
    model : TwoLayerReLU or torch.nn.Module
        A :class:`~lipexact.network.TwoLayerReLU` becomes ``Sequential(Linear, ReLU, Linear)``; a module
        is copied (never changed in place) when its mode, dtype or device must change.
    dtype : torch.dtype or str, optional
        Floating dtype of parameters and buffers (float64 when None).
    device : None, str or torch.device
        See :func:`pick_device`.

    Examples
    --------
    >>> from lipexact.network import TwoLayerReLU
    >>> module = as_module(TwoLayerReLU([[1, 2]], [[3]]), device="cpu")
    >>> module
    Sequential(
      (0): Linear(in_features=2, out_features=1, bias=True)
      (1): ReLU()
      (2): Linear(in_features=1, out_features=1, bias=True)
    )
    >>> module.training, module[0].weight.dtype
    (False, torch.float64)
    """
    from lipexact.network import TwoLayerReLU

    device = pick_device(device)
    dtype = as_dtype(dtype)
    if isinstance(model, TwoLayerReLU):
        return model.to_torch(dtype=dtype, device=device).eval()
    require(isinstance(model, torch.nn.Module), "model", "a TwoLayerReLU or a torch.nn.Module",
            type(model).__name__)
    tensors = [t for t in list(model.parameters()) + list(model.buffers())]
    ready = not any(m.training for m in model.modules()) and all(
        _same_device(t.device, device) and (not t.is_floating_point() or t.dtype == dtype) for t in tensors
    )
    if ready:
        return model
    module = copy.deepcopy(model)
    return module.to(device=device, dtype=dtype).eval()


def training_batchnorms(model: Any) -> list[str]:
    """Names of the BatchNorm layers of ``model`` in training mode (bounds use them in eval mode).

    In training mode a BatchNorm normalizes by the statistics of each batch, which couples the inputs of a
    batch and is not a function of one input; every bound is computed on an eval-mode copy
    (:func:`as_module`), i.e. with the running statistics, and says so (:func:`eval_mode_note`).

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    >>> training_batchnorms(net), training_batchnorms(net.eval())
    (['1'], [])
    """
    if not isinstance(model, torch.nn.Module):
        return []
    return [name for name, module in model.named_modules()
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and module.training]


def eval_mode_note(model: Any) -> str:
    """The sentence a result carries when ``model`` has BatchNorm layers in training mode ("" otherwise).

    Examples
    --------
    >>> eval_mode_note(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3)))
    'BatchNorm layer(s) 1 in training mode: bounded in eval mode (with their running statistics)'
    """
    names = training_batchnorms(model)
    if not names:
        return ""
    return f"BatchNorm layer(s) {', '.join(names)} in training mode: bounded in eval mode (with their running statistics)"

