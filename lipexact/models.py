"""Saved models: load a TorchScript archive, a pickled ``torch.nn.Module``, a ``state_dict`` for a given
architecture (``module:Class``) or an ONNX file (optional extra), and refuse non-finite weights. Shared by
the command-line tools (``lipexact.bound``, ``lipexact.solve``)."""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path
from typing import Any

from reductions.validation import InvalidInputError, require

__all__ = ["load_model", "load_state_dict_model", "build_architecture", "check_finite", "existing_file"]


def existing_file(path: str, field: str) -> Path:
    file = Path(path)
    require(file.exists(), field, "an existing file", f"{path} (no such file)")
    require(file.is_file(), field, "a file", f"{path} (a directory)")
    return file


def load_model(path: str, arch: str | None = None, pythonpath: str | None = None) -> Any:
    """A ``torch.nn.Module`` (TorchScript, pickled, a state_dict for ``arch``, ONNX) or a TwoLayerReLU (JSON)
    from ``path``, on the CPU.

    With ``arch`` (``"module:Class"``), ``path`` holds a ``state_dict`` (:func:`load_state_dict_model`).
    A ``.onnx`` file needs the ``onnx`` extra (:func:`lipexact.onnx_model.load_onnx`). A module with a NaN
    or infinite parameter or buffer is refused (:func:`check_finite`).
    """
    import torch

    file = existing_file(path, "model")
    if arch is not None:
        return load_state_dict_model(file, arch, pythonpath)
    if file.suffix == ".json":
        from lipexact.io import load

        return load(file, "two_layer_relu")
    if file.suffix == ".onnx":
        from lipexact.onnx_model import load_onnx

        model = load_onnx(file)
        check_finite(model)
        return model
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
        hint = (" (a state_dict? give its architecture with --arch module:Class)" if isinstance(model, dict)
                else "")
        raise InvalidInputError("model", "a torch.nn.Module", f"{type(model).__name__}{hint}")
    check_finite(model)
    return model


def build_architecture(arch: str, pythonpath: str | None = None) -> Any:
    """The model built by ``arch`` = ``"module:name"``: ``name`` (a class or a function) called without arguments.

    ``module`` is imported from ``pythonpath`` when given (put first on the import path for the import only),
    otherwise from the current import path. Errors name the field ``--arch`` (or ``--pythonpath``).

    Examples
    --------
    >>> build_architecture("torch.nn:Identity")
    Identity()
    >>> build_architecture("torch.nn")
    Traceback (most recent call last):
    ...
    reductions.validation.InvalidInputError: --arch: expected module:Class, e.g. mynets:MLP, got 'torch.nn'
    """
    import re

    import torch

    require(isinstance(arch, str) and re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", arch) is not None, "--arch",
            "module:Class, e.g. mynets:MLP", repr(arch))
    module_name, _, name = arch.partition(":")
    if pythonpath is not None:
        folder = Path(pythonpath)
        require(folder.is_dir(), "--pythonpath", "an existing folder", repr(pythonpath))
        sys.path.insert(0, str(folder.resolve()))
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError("--arch", "an importable module (its folder given with --pythonpath)",
                                f"{module_name} ({type(error).__name__}: {reason[:120]})") from None
    finally:
        if pythonpath is not None:
            sys.path.remove(str(Path(pythonpath).resolve()))
    factory = getattr(module, name, None)
    require(callable(factory), "--arch", f"a class or function {name} in {module_name}", repr(arch))
    try:
        model = factory()
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError("--arch", "a class or function that builds the model without arguments",
                                f"{arch} ({type(error).__name__}: {reason[:120]})") from None
    require(isinstance(model, torch.nn.Module), "--arch", "a class or function that returns a torch.nn.Module",
            f"{arch} returning {type(model).__name__}")
    return model


def load_state_dict_model(file: Any, arch: str, pythonpath: str | None = None) -> Any:
    """The model of ``arch`` (:func:`build_architecture`) with the ``state_dict`` saved in ``file``.

    The file is read with ``torch.load(weights_only=True)`` (tensors only: no pickled code runs); a
    checkpoint ``{"state_dict": ...}`` is accepted too. The model takes the weights' floating dtype when they
    share one; every key must match (``strict=True``), and the weights must be finite.
    """
    import torch

    model = build_architecture(arch, pythonpath)
    try:
        state = torch.load(str(file), map_location="cpu", weights_only=True)
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InvalidInputError("model", "a state_dict file (torch.save(model.state_dict())) for --arch",
                                f"{file} ({type(error).__name__}: {reason[:120]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    require(isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()), "model",
            "a state_dict (a mapping of names to tensors) for --arch", type(state).__name__)
    dtypes = {v.dtype for v in state.values() if v.is_floating_point()}
    if len(dtypes) == 1:  # keep the saved precision (loading float64 weights into float32 ones would round them)
        model = model.to(dtype=dtypes.pop())
    try:
        model.load_state_dict(state, strict=True)
    except Exception as error:
        reason = " ".join(str(error).split())
        raise InvalidInputError("model", f"a state_dict matching the architecture {arch}", reason[:200]) from None
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
