"""Jacobians of a batch of inputs of a PyTorch module, and their spectral norms (for the lower bounds).

One forward pass over the batch and one backward pass per output give every point's Jacobian; norms
and top singular vectors come from the eigendecomposition of the smaller Gram matrix. The searches of
:mod:`lipexact.bounds.lower` use them to rank candidate points; a witness is always re-checked
independently (:func:`lipexact.bounds.lower.jacobian_norm_at`).
"""

from __future__ import annotations

import math

import torch

from reductions.validation import InvalidInputError, require

__all__ = ["JacobianEvaluator", "flat_function", "spectral_norms", "top_singular", "JACOBIAN_ENTRIES"]

#: Entries of the batch of Jacobians held at once.
JACOBIAN_ENTRIES = 1 << 22


def flat_function(module, shape):
    """``x -> module(x[None]).flatten()`` for one input of shape ``shape``.

    Examples
    --------
    >>> f = flat_function(torch.nn.Conv1d(1, 2, 2).double(), (1, 3))
    >>> f(torch.zeros(1, 3, dtype=torch.float64)).shape
    torch.Size([4])
    """
    def f(x):
        return module(x.reshape(1, *shape)).reshape(-1)

    return f


def top_singular(J):
    """``(sigma, u, v)`` per Jacobian of a batch ``(B, m, n)``: top singular value and unit vectors.

    From the eigendecomposition of the smaller Gram matrix (``m x m`` or ``n x n``): the largest singular
    value is accurate to rounding, which is all the searches need (the witness is re-checked by SVD).

    Examples
    --------
    >>> sigma, u, v = top_singular(torch.tensor([[[3.0, 0.0], [0.0, 4.0]]], dtype=torch.float64))
    >>> sigma.tolist(), u.abs().tolist(), v.abs().tolist()
    ([4.0], [[0.0, 1.0]], [[0.0, 1.0]])
    """
    B, m, n = J.shape
    if m == 1:
        sigma = torch.linalg.vector_norm(J[:, 0, :], dim=-1)
        v = J[:, 0, :] / sigma.clamp_min(torch.finfo(J.dtype).tiny)[:, None]
        return sigma, torch.ones((B, 1), dtype=J.dtype, device=J.device), v
    if m <= n:
        eigenvalues, vectors = torch.linalg.eigh(J @ J.mT)
        sigma = eigenvalues[:, -1].clamp_min(0.0).sqrt()
        u = vectors[:, :, -1]
        v = (J.mT @ u[:, :, None])[:, :, 0] / sigma.clamp_min(torch.finfo(J.dtype).tiny)[:, None]
        return sigma, u, v
    eigenvalues, vectors = torch.linalg.eigh(J.mT @ J)
    sigma = eigenvalues[:, -1].clamp_min(0.0).sqrt()
    v = vectors[:, :, -1]
    u = (J @ v[:, :, None])[:, :, 0] / sigma.clamp_min(torch.finfo(J.dtype).tiny)[:, None]
    return sigma, u, v


def spectral_norms(J):
    """Spectral norms of a batch of Jacobians ``(B, m, n)`` (Gram eigenvalues; rows' norms for ``m = 1``).

    Examples
    --------
    >>> spectral_norms(torch.tensor([[[3.0, 0.0], [0.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]])).tolist()
    [4.0, 2.0]
    """
    if J.shape[-2] == 1:
        return torch.linalg.vector_norm(J[:, 0, :], dim=-1)
    gram = J @ J.mT if J.shape[-2] <= J.shape[-1] else J.mT @ J
    return torch.linalg.eigvalsh(gram)[:, -1].clamp_min(0.0).sqrt()


class JacobianEvaluator:
    """Batched Jacobians of one module: one forward pass per batch of points and ``m`` backward passes
    (one per output), each giving that row of every point's Jacobian (the points of a batch do not
    interact in an eval-mode module). No ``torch.func`` (its first use imports ``torch._dynamo``:
    seconds).

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()).double()
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, -4.0]])), net[0].bias.zero_()
    >>> evaluator = JacobianEvaluator(net, (2,), torch.float64, torch.device("cpu"))
    >>> X = torch.tensor([[1.0, -1.0], [1.0, 1.0]], dtype=torch.float64)
    >>> evaluator.norms(X).tolist(), evaluator.jacobians(X)[1].tolist()
    ([4.0, 3.0], [[3.0, 0.0], [0.0, 0.0]])
    """

    def __init__(self, module, shape, dtype, device):
        self.module, self.shape, self.dtype, self.device = module, shape, dtype, device
        self.f = flat_function(module, shape)
        try:
            with torch.no_grad():
                out = module(torch.zeros((1, *shape), dtype=dtype, device=device))
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise InvalidInputError("input_shape", "a shape the model accepts (one input, no batch dimension)",
                                    f"{tuple(shape)}: {message[:160]}") from None
        require(isinstance(out, torch.Tensor) and out.shape[0] == 1, "model",
                "a module mapping a batch (b, *input_shape) to a tensor (b, ...)", f"output {type(out).__name__}")
        self.n_out = int(out[0].numel())
        self.n_in = math.prod(shape)
        self.chunk = max(1, JACOBIAN_ENTRIES // max(1, self.n_out * self.n_in))
        self.evaluations = 0

    def jacobians(self, X):
        """``(B, m, n)`` Jacobians at a batch ``X`` of shape ``(B, *shape)``."""
        X = X.detach().to(self.device, self.dtype).reshape(-1, *self.shape)
        parts = [self._jacobian_block(X[start:start + self.chunk]) for start in range(0, X.shape[0], self.chunk)]
        self.evaluations += int(X.shape[0])
        return torch.cat(parts) if parts else X.new_zeros((0, self.n_out, self.n_in))

    def _jacobian_block(self, X):
        B = X.shape[0]
        X = X.clone().requires_grad_(True)
        with torch.enable_grad():
            Y = self.module(X).reshape(B, -1)
            rows = []
            for k in range(self.n_out):
                if not Y.requires_grad:  # a constant model
                    rows.append(torch.zeros((B, self.n_in), dtype=X.dtype, device=X.device))
                    continue
                (grad,) = torch.autograd.grad(Y[:, k].sum(), X, retain_graph=k + 1 < self.n_out, allow_unused=True)
                rows.append(torch.zeros_like(X).reshape(B, -1) if grad is None else grad.reshape(B, -1))
        return torch.stack(rows, dim=1).detach()

    def norms(self, X):
        return spectral_norms(self.jacobians(X))

    def top(self, X):
        """``(sigma, u, v)``: the Jacobian norm at every point and its top singular vectors."""
        return top_singular(self.jacobians(X))

    def projected(self, X, U):
        """``||J(x)^T u||`` at every point for one unit output direction per point (one backward pass):
        a lower estimate of ``||J(x)||_2``, equal to it when ``u`` is the top left singular vector."""
        X = X.detach().to(self.device, self.dtype)
        parts = []
        chunk = max(1, JACOBIAN_ENTRIES // max(1, self.n_in))
        for start in range(0, X.shape[0], chunk):
            block = X[start:start + chunk].clone().requires_grad_(True)
            with torch.enable_grad():
                Y = self.module(block).reshape(block.shape[0], -1)
                grad = None
                if Y.requires_grad:
                    (grad,) = torch.autograd.grad((Y * U[start:start + chunk]).sum(), block, allow_unused=True)
            parts.append(torch.zeros(block.shape[0], dtype=X.dtype, device=X.device) if grad is None
                         else torch.linalg.vector_norm(grad.reshape(block.shape[0], -1), dim=1))
        self.evaluations += int(X.shape[0])
        return torch.cat(parts) if parts else X.new_zeros((0,))

    def ascent_gradient(self, X, U):
        """``d ||J(x)^T u|| / dx`` at every point for fixed output directions ``U`` (double backpropagation).

        With ``u`` the top left singular vector, this is the gradient of ``||J(x)||_2`` where the top
        singular value is simple. Zero almost everywhere for piecewise-linear networks.
        """
        X = X.detach().to(self.device, self.dtype).clone().requires_grad_(True)
        with torch.enable_grad():
            Y = self.module(X).reshape(X.shape[0], -1)
            if not Y.requires_grad:
                return torch.zeros_like(X)
            (g,) = torch.autograd.grad((Y * U).sum(), X, create_graph=True, allow_unused=True)
            if g is None or not g.requires_grad:
                return torch.zeros_like(X)
            value = torch.linalg.vector_norm(g.reshape(X.shape[0], -1), dim=1).sum()
            (grad,) = torch.autograd.grad(value, X, allow_unused=True)
        return torch.zeros_like(X) if grad is None else grad.detach()
