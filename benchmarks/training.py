"""Short, seeded, CPU-friendly training loops (Adam, mini-batches, fixed epoch count, one thread)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from reductions.validation import require

__all__ = ["train_regression", "train_classifier"]


def _loop(model, inputs, targets, loss_fn, epochs: int, lr: float, batch_size: int, seed: int,
          device: str) -> dict[str, Any]:
    import torch

    require(epochs >= 0, "epochs", "an integer >= 0", repr(epochs))
    require(batch_size >= 1, "batch_size", "an integer >= 1", repr(batch_size))
    dtype = next(model.parameters()).dtype
    model.to(device)
    X = torch.as_tensor(inputs, dtype=dtype, device=device)
    Y = torch.as_tensor(targets, device=device)
    if Y.is_floating_point():
        Y = Y.to(dtype)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    threads = torch.get_num_threads()
    # Small models train far faster on one thread, above all on a shared machine (no oversubscription).
    torch.set_num_threads(1)
    try:
        model.train()
        for _ in range(epochs):
            order = torch.randperm(X.shape[0], generator=generator).to(device)
            for first in range(0, X.shape[0], batch_size):
                batch = order[first:first + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(model(X[batch]), Y[batch])
                loss.backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            outputs = model(X)
            final_loss = float(loss_fn(outputs, Y))
    finally:
        torch.set_num_threads(threads)
    return {"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "device": device,
            "final_loss": final_loss, "seconds": time.perf_counter() - start, "outputs": outputs}


def train_regression(model, X: np.ndarray, y: np.ndarray, epochs: int = 200, lr: float = 1e-2,
                     batch_size: int = 1000, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Fit ``model(X) ~ y`` by mean squared error; returns a summary (final training MSE, seconds...).

    Examples
    --------
    >>> import numpy as np
    >>> from benchmarks.models import mlp
    >>> X = np.linspace(-1, 1, 64)[:, None]; y = np.abs(X)
    >>> summary = train_regression(mlp([1, 8, 1]), X, y, epochs=50, lr=0.05, seed=0)
    >>> summary["final_loss"] < 0.05
    True
    """
    import torch

    summary = _loop(model, X, y, torch.nn.functional.mse_loss, epochs, lr, batch_size, seed, device)
    summary.pop("outputs")
    summary["metric"] = "train_mse"
    return summary


def train_classifier(model, X: np.ndarray, labels: np.ndarray, epochs: int = 10, lr: float = 1e-3,
                     batch_size: int = 64, seed: int = 0, device: str = "cpu") -> dict[str, Any]:
    """Fit a classifier by cross-entropy; the summary holds the training accuracy."""
    import torch

    summary = _loop(model, X, np.asarray(labels, dtype=np.int64), torch.nn.functional.cross_entropy, epochs, lr,
                    batch_size, seed, device)
    outputs = summary.pop("outputs")
    predicted = outputs.argmax(dim=1).cpu().numpy()
    summary["train_accuracy"] = float(np.mean(predicted == np.asarray(labels)))
    summary["metric"] = "train_cross_entropy"
    return summary
