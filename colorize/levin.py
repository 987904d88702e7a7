"""Levin, Lischinski & Weiss 2004, "Colorization using optimization": the
affinity system of the authors' own MATLAB code (getColorExact.m), and the
sparse solves that spread scribbled chroma over a photo.

Each unmarked pixel r must equal the weighted mean of its 3x3 neighbours,

    U(r) - sum_s w_rs U(s) = 0,    w_rs ~ exp(-(Y_s - Y_r)^2 / c_r),

with the weights normalised to sum 1 over the neighbours. c_r is 0.6 x the
variance of the window's intensities (centre included), raised so that the
most similar neighbour keeps a raw weight of at least 0.01, and at least
2e-6. A marked pixel's row is the identity (U(r) = its scribbled value).
That system is not symmetric: it is the code's, not the least-squares
normal equations of the paper's eq. 1 (both are here; RESULTS.md compares
them). Intensities are in [0, 1] (the code's Y from rgb2ntsc; here L / 100
or Y), which is the scale the constants 0.01 and 2e-6 were chosen for.

Solved by scipy's sparse LU at a bounded resolution (see
colorize.scribbles for why a bounded one, and _solve for why LU).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

VARIANCE_FACTOR = 0.6  # c_r = 0.6 x the window's variance
MIN_NEIGHBOUR_WEIGHT = 0.01  # the most similar neighbour's raw weight, at least
MIN_SIGMA = 2e-6  # c_r's floor (flat windows)
# The 8 neighbours of a 3x3 window, as (row, column) offsets.
OFFSETS = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))


def _neighbours(y: np.ndarray):
    """For each of OFFSETS: (the neighbour's intensity at every pixel,
    whether the neighbour is inside the image)."""
    h, w = y.shape
    padded = np.pad(y, 1, mode="edge")
    inside = np.pad(np.ones((h, w), bool), 1, constant_values=False)
    for dy, dx in OFFSETS:
        yield (padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w],
               inside[1 + dy:1 + dy + h, 1 + dx:1 + dx + w])


def window_sigma(y: np.ndarray) -> np.ndarray:
    """c_r of every pixel of intensities y [H, W] (in [0, 1]): 0.6 x the
    population variance of the 3x3 window (centre included, cut at the
    border), raised to -min_s (Y_s - Y_r)^2 / ln 0.01 over the neighbours
    only (the centre would make that minimum 0 and the rule void), then
    floored at MIN_SIGMA."""
    y = np.asarray(y, np.float64)
    total, count, nearest = y.copy(), np.ones_like(y), np.full_like(y, np.inf)
    for value, inside in _neighbours(y):
        total += np.where(inside, value, 0.0)
        count += inside
        nearest = np.minimum(nearest, np.where(inside, (value - y) ** 2, np.inf))
    mean = total / count
    spread = (y - mean) ** 2
    for value, inside in _neighbours(y):
        spread += np.where(inside, (value - mean) ** 2, 0.0)
    sigma = VARIANCE_FACTOR * spread / count
    sigma = np.maximum(sigma, -nearest / math.log(MIN_NEIGHBOUR_WEIGHT))
    return np.maximum(sigma, MIN_SIGMA)


def neighbour_weights(y: np.ndarray) -> np.ndarray:
    """w_rs [8, H, W] for OFFSETS: exp(-(Y_s - Y_r)^2 / c_r), 0 outside the
    image, normalised to sum 1 over each pixel's neighbours."""
    y = np.asarray(y, np.float64)
    sigma = window_sigma(y)
    weights = np.stack([np.where(inside, np.exp(-(value - y) ** 2 / sigma), 0.0)
                        for value, inside in _neighbours(y)])
    return weights / weights.sum(axis=0)


def affinity_matrix(y: np.ndarray, marked: np.ndarray | None = None,
                    shift: float = 0.0) -> sp.csr_matrix:
    """The code's system matrix for intensities y [H, W]: row r is
    (1 + shift) U(r) - sum_s w_rs U(s) for an unmarked pixel, U(r) for a
    marked one (marked [H, W] bool; None: no row is marked). shift > 0
    pulls unmarked pixels towards 0 (see propagate)."""
    h, w = y.shape
    n = h * w
    weights = neighbour_weights(y)
    free = np.ones(n, bool) if marked is None else ~np.asarray(marked, bool).reshape(-1)
    index = np.arange(n).reshape(h, w)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.where(free, 1.0 + shift, 1.0)]
    for k, (dy, dx) in enumerate(OFFSETS):
        source = index[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)].reshape(-1)
        keep = free[source]
        source = source[keep]
        rows.append(source)
        cols.append(source + dy * w + dx)
        vals.append(-weights[k].reshape(-1)[source])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n))


def _reduced(matrix: sp.csr_matrix, marked: np.ndarray, values: np.ndarray):
    """The unmarked unknowns' system: marked pixels' known values moved to
    the right-hand side (the same solution, fewer unknowns)."""
    free = ~marked
    a_ff = matrix[free][:, free].tocsr()
    rhs = -(matrix[free][:, marked] @ values[marked])
    return a_ff, rhs


def _solve(a: sp.csr_matrix, rhs: np.ndarray) -> np.ndarray:
    """a x = rhs for every column of rhs [n, k], one LU factorisation
    (SuperLU) for all columns. At the bounded resolution eval solves at
    (colorize.scribbles.WORK_PIXELS) it measured faster than pyamg's
    multigrid as a GMRES preconditioner (256x256, 30 scribbles: 0.33 s
    against 0.7 s for smoothed aggregation, 1.9 s for AIR, which were
    also the fastest at a megapixel: see bench/bench_scribbles.py)."""
    if a.shape[0] == 0:
        return np.zeros_like(rhs)
    return spla.splu(a.tocsc()).solve(np.ascontiguousarray(rhs))


def propagate(y: np.ndarray, marked: np.ndarray, values: np.ndarray, shift: float = 0.0,
              least_squares: bool = False) -> np.ndarray:
    """Spread values [H, W, C] known at marked [H, W] pixels over the image
    of intensities y [H, W] in [0, 1]; returns [H, W, C] (marked pixels
    keep their values exactly).

    shift = 0 is Levin's method (the authors' non-symmetric system). shift
    > 0 adds shift x U(r) to each unmarked row: a weak pull towards 0, so
    that a propagated correction fades with distance instead of filling the
    image. least_squares: minimise the paper's eq. 1 sum_r (U(r) - sum_s
    w_rs U(s))^2 over all pixels instead (its normal equations)."""
    h, w = y.shape
    marked = np.asarray(marked, bool).reshape(-1)
    values = np.asarray(values, np.float64).reshape(h * w, -1)
    out = np.where(marked[:, None], values, 0.0)
    if not marked.any():
        return out.reshape(h, w, -1)
    if least_squares:
        rows = affinity_matrix(y, None, shift)  # every pixel's residual counts
        free = ~marked
        a_f = rows[:, free].tocsc()
        a_ff = (a_f.T @ a_f).tocsr()
        rhs = -(a_f.T @ (rows[:, marked] @ values[marked]))
    else:
        a_ff, rhs = _reduced(affinity_matrix(y, marked, shift), marked, values)
    out[~marked] = _solve(a_ff, rhs)
    return out.reshape(h, w, -1)
