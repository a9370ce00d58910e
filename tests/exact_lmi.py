"""The LipSDP-neuron matrix in exact rational arithmetic, for tests that check the floating-point certifiers."""

from fractions import Fraction

import numpy as np


def exact_neg_lmi(weights, multipliers, rho):
    """-M(T, rho) in exact rationals from the exact float values."""
    W = [[[Fraction(float(x)) for x in row] for row in w] for w in weights]
    T = [[Fraction(float(x)) for x in t] for t in multipliers]
    sizes = [len(W[0][0])] + [len(t) for t in T]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    n = offsets[-1]
    A = [[Fraction(0)] * n for _ in range(n)]
    for a in range(sizes[0]):
        A[a][a] = Fraction(float(rho))
    for i in range(1, len(sizes)):
        for j in range(sizes[i]):
            r = offsets[i] + j
            A[r][r] += 2 * T[i - 1][j]
            for a in range(sizes[i - 1]):
                A[offsets[i - 1] + a][r] = A[r][offsets[i - 1] + a] = -W[i - 1][j][a] * T[i - 1][j]
    last = W[-1]
    for a in range(sizes[-1]):
        for b in range(sizes[-1]):
            A[offsets[-2] + a][offsets[-2] + b] -= sum(last[o][a] * last[o][b] for o in range(len(last)))
    return A
