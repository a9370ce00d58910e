"""The two data sets of the benchmarks, both available offline and seeded.

- A smooth random function of two variables: random Fourier features approximate a sample of a
  Gaussian process with a squared-exponential kernel (Rahimi & Recht 2007). The MLPs of the paper's
  first table are trained to regress it.
- scikit-learn's 8x8 handwritten digits (``sklearn.datasets.load_digits``, shipped inside the package,
  no download), optionally upsampled. The CNNs of the second table are trained on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reductions.validation import require

__all__ = ["SmoothFunction", "smooth_function", "synthetic_2d", "grid_2d", "digits"]

#: The input domain of the synthetic regression task (a square).
DOMAIN = (-1.0, 1.0)


@dataclass(frozen=True)
class SmoothFunction:
    """``f(x) = sqrt(2 / D) * sum_j a_j cos(w_j . x + b_j)``: random Fourier features of an RBF kernel.

    ``w_j ~ N(0, I / lengthscale^2)``, ``b_j ~ U[0, 2 pi)``, ``a_j ~ N(0, 1)``; for many features this is a
    sample of a Gaussian process with kernel ``exp(-|x - y|^2 / (2 lengthscale^2))``.
    """

    frequencies: np.ndarray  # (D, n)
    phases: np.ndarray  # (D,)
    amplitudes: np.ndarray  # (D,)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        scale = np.sqrt(2.0 / self.amplitudes.size)
        return scale * np.cos(x @ self.frequencies.T + self.phases) @ self.amplitudes

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Analytic gradient at each row of ``x``, shape ``(k, n)``."""
        x = np.asarray(x, dtype=np.float64)
        scale = np.sqrt(2.0 / self.amplitudes.size)
        sines = np.sin(x @ self.frequencies.T + self.phases)
        return -scale * (sines * self.amplitudes) @ self.frequencies


def smooth_function(n_inputs: int = 2, n_features: int = 200, lengthscale: float = 0.5,
                    seed: int = 0) -> SmoothFunction:
    """A fixed, seeded smooth random function (see :class:`SmoothFunction`).

    Examples
    --------
    >>> f = smooth_function(seed=0)
    >>> bool(np.allclose(f(np.zeros((1, 2))), smooth_function(seed=0)(np.zeros((1, 2)))))
    True
    """
    require(n_inputs >= 1 and n_features >= 1, "n_features", "positive sizes", f"{n_inputs}, {n_features}")
    require(lengthscale > 0, "lengthscale", "a number > 0", repr(lengthscale))
    rng = np.random.default_rng(seed)
    return SmoothFunction(
        frequencies=rng.normal(0.0, 1.0 / lengthscale, size=(n_features, n_inputs)),
        phases=rng.uniform(0.0, 2 * np.pi, size=n_features),
        amplitudes=rng.normal(0.0, 1.0, size=n_features),
    )


def synthetic_2d(n_samples: int = 1000, seed: int = 0, function_seed: int = 0,
                 lengthscale: float = 0.5) -> tuple[np.ndarray, np.ndarray, SmoothFunction]:
    """Uniform inputs on the square ``DOMAIN^2`` and the smooth function's values: ``(X, y, f)``.

    ``X`` has shape ``(n_samples, 2)``, ``y`` shape ``(n_samples, 1)``; both float64.
    """
    require(n_samples >= 1, "n_samples", "an integer >= 1", repr(n_samples))
    f = smooth_function(2, lengthscale=lengthscale, seed=function_seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(*DOMAIN, size=(n_samples, 2))
    return X, f(X)[:, None], f


def grid_2d(points_per_side: int) -> np.ndarray:
    """A regular grid of the square ``DOMAIN^2``, shape ``(points_per_side**2, 2)``."""
    axis = np.linspace(*DOMAIN, points_per_side)
    return np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)


def digits(upsample: int = 1, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as images ``(N, 1, 8 * upsample, 8 * upsample)`` in [0, 1], and labels.

    ``upsample > 1`` repeats every pixel (nearest neighbour); ``limit`` keeps the first images only.
    """
    from sklearn.datasets import load_digits

    require(isinstance(upsample, int) and upsample >= 1, "upsample", "an integer >= 1", repr(upsample))
    bunch = load_digits()
    images = bunch.images.astype(np.float64) / 16.0
    labels = bunch.target.astype(np.int64)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    if upsample > 1:
        images = images.repeat(upsample, axis=1).repeat(upsample, axis=2)
    return images[:, None, :, :], labels
