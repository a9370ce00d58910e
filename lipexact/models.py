"""Saved torch modules: load a TorchScript archive or a pickled ``torch.nn.Module`` and refuse non-finite
weights. Shared by the command-line tools (``lipexact.bound``, ``lipexact.solve``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from reductions.validation import InvalidInputError, require

__all__ = ["load_model", "check_finite", "existing_file"]


def existing_file(path: str, field: str) -> Path:
    file = Path(path)
    require(file.exists(), field, "an existing file", f"{path} (no such file)")
    require(file.is_file(), field, "a file", f"{path} (a directory)")
    return file


def load_model(path: str) -> Any:
    """A ``torch.nn.Module`` (TorchScript or pickled) or a TwoLayerReLU (JSON) from ``path``, on the CPU.

    A module with a NaN or infinite parameter or buffer is refused (:func:`check_finite`).
    """
    import torch

    file = existing_file(path, "model")
    if file.suffix == ".json":
        from lipexact.io import load

        return load(file, "two_layer_relu")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            scripted = torch.jit.load(str(file), map_location="cpu")
    except Exception:  # not a TorchScript archive: try a pickled module below
        pass
    else:
        check_finite(scripted)
        return scripted
    try:
        model = torch.load(str(file), map_location="cpu", weights_only=False)
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError("model", "a TorchScript file or a pickled torch.nn.Module",
                                f"{path} ({type(error).__name__}: {reason[:120]})") from None
    if not isinstance(model, torch.nn.Module):
        hint = " (a state_dict? save the module itself with torch.save(model))" if isinstance(model, dict) else ""
        raise InvalidInputError("model", "a torch.nn.Module", f"{type(model).__name__}{hint}")
    check_finite(model)
    return model


def check_finite(model: Any) -> None:
    """Refuse a module with a NaN or infinite parameter or floating buffer, naming the first one.

    Examples
    --------
    >>> import torch
    >>> layer = torch.nn.Sequential(torch.nn.Linear(2, 1))
    >>> with torch.no_grad():
    ...     layer[0].weight[0, 1] = float("nan")
    >>> check_finite(layer)
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: 0.weight: expected finite values, got NaN
    """
    import torch

    named = [*model.named_parameters(), *model.named_buffers()]
    for name, tensor in named:
        if not (torch.is_floating_point(tensor) or torch.is_complex(tensor)):
            continue
        values = tensor.detach()
        if bool(torch.isnan(values).any()):
            raise InvalidInputError(name, "finite values", "NaN")
        if bool(torch.isinf(values).any()):
            raise InvalidInputError(name, "finite values", "infinity")
