"""The networks of the benchmarks, written with torch (no pretrained weights, no download).

- :func:`mlp` / :func:`paper_mlp`: fully connected ReLU networks, ``n_layers`` linear layers.
- :func:`mnist_cnn`: the MNIST CNNs of the paper's reference code (``models/mnist_4.py`` and
  ``models/mnist_5.py`` of github.com/avirmaux/lipEstimation: 32-64-128 channels, stride 2, 28x28 inputs),
  extended to 7 and 10 layers by more 64-channel convolutions as ``mnist_5`` adds one.
- :func:`paper_cnn`: small ReLU CNNs with ``n_layers - 1`` same-size convolutions and one linear read-out
  (the smoke configuration's).
- :func:`alexnet`: the AlexNet architecture of Krizhevsky, Sutskever & Hinton (2012) in its common
  single-tower form (5 convolutions, 3 overlapping max-poolings, 3 linear layers), random weights.
- :func:`two_layer`: ``Sequential(Linear, ReLU, Linear)``, the networks the exact solver accepts.

Every builder takes a ``seed`` and returns a float64 module in eval mode unless told otherwise.
"""

from __future__ import annotations

from typing import Sequence

from reductions.validation import require

__all__ = ["mlp", "paper_mlp", "mnist_cnn", "paper_cnn", "alexnet", "two_layer", "count_parameters", "describe"]


def _torch():
    import torch

    return torch


def _finish(module, seed: int | None, dtype):
    torch = _torch()
    module = module.to(dtype=dtype if dtype is not None else torch.float64)
    module.eval()
    return module


def _seeded(seed: int):
    torch = _torch()
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    return generator_state


def mlp(widths: Sequence[int], seed: int = 0, dtype=None):
    """``Linear(widths[0], widths[1]), ReLU, ..., Linear(widths[-2], widths[-1])`` (no final activation).

    Examples
    --------
    >>> net = mlp([2, 5, 1], seed=0)
    >>> [type(layer).__name__ for layer in net]
    ['Linear', 'ReLU', 'Linear']
    """
    torch = _torch()
    widths = [int(w) for w in widths]
    require(len(widths) >= 2 and all(w >= 1 for w in widths), "widths", "at least two positive widths",
            repr(widths))
    state = _seeded(seed)
    try:
        layers: list = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            if i:
                layers.append(torch.nn.ReLU())
            layers.append(torch.nn.Linear(fan_in, fan_out))
        return _finish(torch.nn.Sequential(*layers), seed, dtype)
    finally:
        torch.random.set_rng_state(state)


def paper_mlp(n_layers: int, width: int, n_inputs: int = 2, n_outputs: int = 1, seed: int = 0, dtype=None):
    """An MLP with ``n_layers`` linear layers, every hidden layer ``width`` wide (the paper's MLP family)."""
    require(n_layers >= 2, "n_layers", "an integer >= 2", repr(n_layers))
    return mlp([n_inputs] + [width] * (n_layers - 1) + [n_outputs], seed=seed, dtype=dtype)


def mnist_cnn(n_layers: int, seed: int = 0, dtype=None):
    """The reference code's MNIST CNN with ``n_layers`` convolutions (input ``(N, 1, 28, 28)``, 10 outputs).

    ``n_layers = 4`` is ``mnist_4``: Conv(1->32, 5x5, stride 2), Conv(32->64, 3x3, stride 2),
    Conv(64->128, 3x3, stride 2), Conv(128->10, 2x2), ReLU between them (28 -> 12 -> 5 -> 2 -> 1 pixels).
    ``n_layers = 5`` is ``mnist_5``, which inserts Conv(64->64, 3x3, stride 1, padding 1) after the second
    convolution. More layers insert more of that convolution at the same place (our choice: the paper's 7-
    and 10-layer CNNs are not in its code).

    Examples
    --------
    >>> describe(mnist_cnn(5))
    'Conv(1->32,5x5,s2) ReLU Conv(32->64,3x3,s2) ReLU Conv(64->64,3x3,s1) ReLU Conv(64->128,3x3,s2) ReLU \
Conv(128->10,2x2,s1) Flatten'
    """
    torch = _torch()
    nn = torch.nn
    require(isinstance(n_layers, int) and n_layers >= 4, "n_layers", "an integer >= 4", repr(n_layers))
    state = _seeded(seed)
    try:
        layers: list = [nn.Conv2d(1, 32, 5, stride=2), nn.ReLU(), nn.Conv2d(32, 64, 3, stride=2), nn.ReLU()]
        for _ in range(n_layers - 4):
            layers += [nn.Conv2d(64, 64, 3, stride=1, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(64, 128, 3, stride=2), nn.ReLU(), nn.Conv2d(128, 10, 2), nn.Flatten()]
        return _finish(nn.Sequential(*layers), seed, dtype)
    finally:
        torch.random.set_rng_state(state)


def paper_cnn(n_layers: int, channels: int, image_size: int = 8, in_channels: int = 1, n_classes: int = 10,
              seed: int = 0, dtype=None):
    """``n_layers - 1`` convolutions (3x3, padding 1, ReLU) and a linear read-out over ``n_classes``."""
    torch = _torch()
    require(n_layers >= 2, "n_layers", "an integer >= 2", repr(n_layers))
    state = _seeded(seed)
    try:
        layers: list = []
        previous = in_channels
        for _ in range(n_layers - 1):
            layers += [torch.nn.Conv2d(previous, channels, kernel_size=3, padding=1), torch.nn.ReLU()]
            previous = channels
        layers += [torch.nn.Flatten(), torch.nn.Linear(channels * image_size * image_size, n_classes)]
        return _finish(torch.nn.Sequential(*layers), seed, dtype)
    finally:
        torch.random.set_rng_state(state)


def alexnet(n_classes: int = 1000, seed: int = 0, dtype=None, width_scale: float = 1.0):
    """The AlexNet architecture with random weights; expects ``(N, 3, 224, 224)`` images.

    The adaptive average pooling before the classifier makes other input sizes (>= 63) valid too.
    ``width_scale < 1`` shrinks every channel and hidden width (for quick runs); 1.0 is the original.
    Dropout layers are kept (the identity in eval mode).
    """
    torch = _torch()
    nn = torch.nn
    require(0 < width_scale <= 1, "width_scale", "a number in (0, 1]", repr(width_scale))

    def w(channels: int) -> int:
        return max(1, round(channels * width_scale))

    state = _seeded(seed)
    try:
        features = [
            nn.Conv2d(3, w(64), kernel_size=11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w(64), w(192), kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(w(192), w(384), kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(w(384), w(256), kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(w(256), w(256), kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        ]
        classifier = [
            nn.AdaptiveAvgPool2d((6, 6)), nn.Flatten(),
            nn.Dropout(0.5), nn.Linear(w(256) * 36, w(4096)), nn.ReLU(),
            nn.Dropout(0.5), nn.Linear(w(4096), w(4096)), nn.ReLU(),
            nn.Linear(w(4096), n_classes),
        ]
        return _finish(nn.Sequential(*features, *classifier), seed, dtype)
    finally:
        torch.random.set_rng_state(state)


def two_layer(n_inputs: int, width: int, n_outputs: int = 1, seed: int = 0, dtype=None):
    """``Sequential(Linear(n_inputs, width), ReLU, Linear(width, n_outputs))`` with PyTorch's default init."""
    return mlp([n_inputs, width, n_outputs], seed=seed, dtype=dtype)


def count_parameters(module) -> int:
    return int(sum(p.numel() for p in module.parameters()))


def describe(module) -> str:
    """A one-line architecture summary, e.g. ``"Linear(2->10) ReLU Linear(10->1)"``."""
    torch = _torch()
    parts = []
    for layer in module.modules():
        if isinstance(layer, torch.nn.Linear):
            parts.append(f"Linear({layer.in_features}->{layer.out_features})")
        elif isinstance(layer, torch.nn.Conv2d):
            k = "x".join(str(s) for s in layer.kernel_size)
            parts.append(f"Conv({layer.in_channels}->{layer.out_channels},{k},s{layer.stride[0]})")
        elif isinstance(layer, torch.nn.MaxPool2d):
            parts.append(f"MaxPool({layer.kernel_size},s{layer.stride})")
        elif isinstance(layer, (torch.nn.ReLU, torch.nn.Flatten, torch.nn.Dropout, torch.nn.AdaptiveAvgPool2d)):
            parts.append(type(layer).__name__)
    return " ".join(parts)
