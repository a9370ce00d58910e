"""Independent re-evaluations that several test files check results against (no project code involved)."""

import numpy as np
import torch


def pattern_brute_force(M1, M2):
    """max over ALL hidden patterns of ||M2 diag(s) M1||^2 (one output; no realizability check)."""
    M1, M2 = np.asarray(M1), np.asarray(M2)
    l = M1.shape[0]
    patterns = (np.arange(2**l)[:, None] >> np.arange(l)) & 1
    gradients = (patterns * M2[0]) @ M1
    return (gradients * gradients).sum(axis=1).max()


def autograd_gradient(M1, M2, x):
    """Gradient of M2 relu(M1 x) at x with torch autograd on Sequential(Linear, ReLU, Linear)."""
    l, n = np.shape(M1)
    model = torch.nn.Sequential(torch.nn.Linear(n, l, bias=False, dtype=torch.float64), torch.nn.ReLU(),
                                torch.nn.Linear(l, 1, bias=False, dtype=torch.float64))
    with torch.no_grad():
        model[0].weight.copy_(torch.as_tensor(np.array(M1, dtype=np.float64)))
        model[2].weight.copy_(torch.as_tensor(np.array(M2, dtype=np.float64)))
    point = torch.as_tensor(np.array(x, dtype=np.float64)).requires_grad_(True)
    model(point).sum().backward()
    return point.grad.numpy()


def autograd_norm_squared(M1, M2, x):
    """||grad f(x)||^2 for f = M2 relu(M1 x), the gradient taken by torch autograd."""
    return float(np.sum(autograd_gradient(M1, M2, x) ** 2))
