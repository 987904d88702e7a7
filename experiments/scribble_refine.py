"""Can a few Krylov iterations at full resolution, started from the
bounded-resolution solve, reach the full-resolution solution of Levin's
system? (The scribbles issue's agreement target: within 0.5 Lab units of
the 1 MP direct solve, at least 20x faster than it.)

    python experiments/scribble_refine.py

bench/bench_scribbles.py's 1 MP case (a BSDS photo made gray, 36 random
strokes): the direct solve at 1 MP (the reference; cached in /tmp), the
bounded solve (colorize.scribbles, 256 x 256), then GMRES, BiCGSTAB and
Jacobi sweeps on the 1 MP system from the bounded solve's colours. Prints
seconds and the mean CIE76 distance to the reference for each.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_scribbles import _full_res, _lab, base_photo, levin_case  # noqa: E402

REFERENCE = Path("/tmp/colorize_scribble_refine_reference.npy")


def iterate(method: str, a: sp.csr_matrix, rhs: np.ndarray, x0: np.ndarray, iters: int):
    if method == "gmres":
        return spla.gmres(a, rhs, x0=x0, restart=iters, maxiter=1, rtol=1e-12)[0]
    if method == "bicgstab":
        return spla.bicgstab(a, rhs, x0=x0, maxiter=iters, rtol=1e-12)[0]
    diagonal = a.diagonal()
    off = a - sp.diags(diagonal)
    x = x0
    for _ in range(iters):
        x = (rhs - off @ x) / diagonal
    return x


def main() -> int:
    from colorize import levin, quiet, scribbles
    quiet.setup_process()
    gray, _, marks, mask, values, y = levin_case(base_photo(None), 36)
    h, w = gray.shape[:2]
    if REFERENCE.exists():
        ab_ref = np.load(REFERENCE)
    else:
        start = time.perf_counter()
        ab_ref = levin.propagate(y, mask.reshape(h, w), values.reshape(h, w, 2))
        print(f"direct solve at 1 MP: {time.perf_counter() - start:.1f} s")
        np.save(REFERENCE, ab_ref)
    reference = _lab(_full_res(gray, marks, ab_ref))

    def distance(rgb):
        return float(np.sqrt(((_lab(rgb) - reference) ** 2).sum(-1)).mean())

    start = time.perf_counter()
    coarse = scribbles.colorize(gray, marks)
    print(f"bounded solve (256 x 256): {time.perf_counter() - start:.2f} s, "
          f"mean dE {distance(coarse):.2f}")
    start = time.perf_counter()
    a_ff, rhs = levin._reduced(levin.affinity_matrix(y, mask.reshape(h, w)), mask, values)
    print(f"building the 1 MP system: {time.perf_counter() - start:.2f} s")
    x0 = _lab(coarse)[..., 1:].reshape(-1, 2)[~mask]
    for method in ("gmres", "bicgstab", "jacobi"):
        for iters in (5, 20, 50):
            start = time.perf_counter()
            ab = values.copy()
            for c in range(2):
                ab[~mask, c] = iterate(method, a_ff, rhs[:, c], x0[:, c], iters)
            seconds = time.perf_counter() - start
            rgb = _full_res(gray, marks, ab.reshape(h, w, 2))
            print(f"{method} x {iters}: {seconds:.2f} s, mean dE {distance(rgb):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
