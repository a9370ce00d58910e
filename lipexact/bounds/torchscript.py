"""TorchScript models: rebuilt as ordinary modules where possible, otherwise refused with what to do.

torch.fx reads a model's Python code; a TorchScript module has none left. A scripted ``nn.Sequential``
of standard ``torch.nn`` layers is rebuilt layer by layer from its constants and state
(:func:`unscript`, checked on a random input); anything else (a traced module, a scripted custom class)
raises :class:`~lipexact.bounds.errors.NotApplicableError` with one sentence saying what to do instead.
Methods that only run the model (the lower bounds) do not need this and accept any TorchScript module.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import torch
from torch import nn

from lipexact.bounds.errors import NotApplicableError
from lipexact.bounds.shapes import infer_input_shape

__all__ = ["unscript", "NOT_READABLE"]

#: What to do with a TorchScript module that cannot be rebuilt (the ``expected`` part of the error).
NOT_READABLE = ("a model whose layers can be read: a traced or custom scripted TorchScript module keeps no Python "
                "code for torch.fx, so save the model itself with torch.save(model), or save its state_dict and "
                "load it with --arch module:Class (the lower bounds accept TorchScript as it is)")


def _rebuild(scripted: torch.jit.ScriptModule, dtype: torch.dtype, device: Any) -> nn.Module | None:
    """An ordinary module equal to a scripted standard ``torch.nn`` layer (constants and state), or None."""
    name = getattr(scripted, "original_name", "")
    if name == "Sequential":
        children = [_rebuild(child, dtype, device) for _, child in scripted.named_children()]
        return None if any(c is None for c in children) else nn.Sequential(*children)
    cls = getattr(nn, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)) or cls.__module__.split(".")[:2] != ["torch", "nn"]:
        return None
    kwargs = {}
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.name in ("device", "dtype") or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name == "bias" and isinstance(parameter.default, bool):
            kwargs["bias"] = getattr(scripted, "bias", None) is not None
        elif hasattr(scripted, parameter.name):
            kwargs[parameter.name] = getattr(scripted, parameter.name)
        elif parameter.default is inspect.Parameter.empty:
            return None
    try:
        module = cls(**kwargs).to(dtype=dtype, device=device)
        module.load_state_dict(scripted.state_dict())
    except (TypeError, ValueError, RuntimeError):
        return None
    return module


def unscript(model: nn.Module, input_shape: Sequence[int] | None = None) -> nn.Module:
    """``model`` itself, or for a TorchScript module an equivalent ordinary module (checked on an input).

    ``input_shape`` (one input, no batch dimension) is read from the rebuilt module when None.

    Raises :class:`~lipexact.bounds.errors.NotApplicableError` (field ``"model"``) when a TorchScript module
    cannot be rebuilt (traced modules and scripted custom modules lose what torch.fx needs).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    >>> type(unscript(torch.jit.script(net))).__name__
    'Sequential'
    >>> unscript(torch.jit.trace(net, torch.zeros(1, 2, dtype=torch.float64)))
    Traceback (most recent call last):
    ...
    lipexact.bounds.errors.NotApplicableError: model: expected a model whose layers can be read: ..., got a TorchScript Sequential
    """
    if not isinstance(model, torch.jit.ScriptModule):
        return model
    parameter = next(iter(model.parameters()), None)
    dtype = parameter.dtype if parameter is not None else torch.float64
    device = parameter.device if parameter is not None else None
    rebuilt = _rebuild(model, dtype, device)
    if rebuilt is None:
        raise NotApplicableError("model", NOT_READABLE, f"a TorchScript {getattr(model, 'original_name', '')}")
    rebuilt = rebuilt.eval()
    if input_shape is None:
        input_shape = infer_input_shape(rebuilt)
    probe = torch.randn((2, *input_shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probe = probe.to(dtype=dtype, device=device)
    with torch.no_grad():
        same = torch.allclose(rebuilt(probe), model(probe), rtol=1e-6, atol=1e-9)
    if not same:
        raise NotApplicableError("model", NOT_READABLE, "a TorchScript module whose rebuilt layers compute something else")
    return rebuilt
