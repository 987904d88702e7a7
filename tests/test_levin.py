"""Levin et al.'s affinities and solves, against values worked by hand and
against scipy's direct solve of the authors' whole system."""
import math

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from colorize import levin


def test_weights_of_a_3x3_window_worked_by_hand():
    # Centre 0.5; neighbours 0.4 (top-left), 0.6 (top-middle), the rest 0.5.
    y = np.full((3, 3), 0.5)
    y[0, 0], y[0, 1] = 0.4, 0.6
    # Window mean 4.5 / 9 = 0.5, variance (0.01 + 0.01) / 9, c = 0.6 x that;
    # the nearest neighbour is equal (0 difference): no clamp.
    c = 0.6 * 0.02 / 9
    assert levin.window_sigma(y)[1, 1] == pytest.approx(c, rel=1e-12)
    raw = np.ones(8)
    raw[levin.OFFSETS.index((-1, -1))] = math.exp(-0.01 / c)  # exp(-7.5)
    raw[levin.OFFSETS.index((-1, 0))] = math.exp(-0.01 / c)
    np.testing.assert_allclose(levin.neighbour_weights(y)[:, 1, 1], raw / raw.sum(), rtol=1e-12)


def test_corner_window_is_cut_at_the_border():
    y = np.array([[0.0, 0.3, 0.9], [0.3, 0.3, 0.9], [0.9, 0.9, 0.9]])
    # Corner (0, 0): window {0, 0.3, 0.3, 0.3}, mean 0.225, variance
    # (0.225^2 + 3 x 0.075^2) / 4; three neighbours, each 0.3 away.
    var = (0.225 ** 2 + 3 * 0.075 ** 2) / 4
    sigma = max(0.6 * var, 0.09 / math.log(100))
    assert levin.window_sigma(y)[0, 0] == pytest.approx(sigma, rel=1e-12)
    w = levin.neighbour_weights(y)[:, 0, 0]
    inside = [levin.OFFSETS.index(o) for o in ((0, 1), (1, 0), (1, 1))]
    np.testing.assert_allclose(w[inside], 1 / 3)
    assert w.sum() == pytest.approx(1.0) and np.count_nonzero(w) == 3


def test_most_similar_neighbour_keeps_raw_weight_0_01():
    # A dark centre among bright neighbours: 0.6 x the window's variance
    # (centre included) is 0.0593, which would leave each neighbour
    # exp(-1 / 0.0593) ~ 5e-8; the clamp, over neighbours only, raises c
    # so that the nearest (all are 1 away) keeps exp(-1 / c) = 0.01.
    y = np.ones((3, 3))
    y[1, 1] = 0.0
    sigma = levin.window_sigma(y)[1, 1]
    assert 0.6 * (72 / 729) < sigma
    assert sigma == pytest.approx(1 / math.log(100), rel=1e-12)
    assert math.exp(-1 / sigma) == pytest.approx(0.01, rel=1e-12)
    np.testing.assert_allclose(levin.neighbour_weights(y)[:, 1, 1], 1 / 8)


def test_flat_window_gets_the_floor():
    y = np.full((4, 5), 0.37)
    np.testing.assert_array_equal(levin.window_sigma(y), levin.MIN_SIGMA)
    np.testing.assert_allclose(levin.neighbour_weights(y).sum(axis=0), 1.0)


def test_weights_only_where_clamp_and_floor_do_not_apply():
    # Neighbours 0.001 away: the variance rule gives 0.6 x 8e-7 / ... < 2e-6,
    # the clamp 1e-6 / ln 100 ~ 2.2e-7: the floor wins.
    y = np.full((3, 3), 0.5)
    y[1, 1] = 0.501
    assert levin.window_sigma(y)[1, 1] == levin.MIN_SIGMA


def _scene(h=14, w=17, seed=0):
    rng = np.random.default_rng(seed)
    y = np.clip(np.linspace(0.2, 0.8, w)[None, :] + rng.normal(0, 0.05, (h, w)), 0, 1)
    marked = np.zeros((h, w), bool)
    marked[2, 3:6] = marked[h - 3, w - 5:w - 1] = marked[h - 1, 1] = True
    values = rng.uniform(-60, 60, (h, w, 2))
    return y, marked, values


def test_solution_matches_scipy_direct_solve_of_the_authors_whole_system():
    y, marked, values = _scene()
    # A \ b as getColorExact.m writes it: marked rows are the identity, b
    # holds the marked values and 0 elsewhere.
    a = levin.affinity_matrix(y, marked).tocsc()
    for c in range(2):
        b = np.where(marked, values[..., c], 0.0).reshape(-1)
        want = spla.spsolve(a, b).reshape(y.shape)
        got = levin.propagate(y, marked, values)[..., c]
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_marked_pixels_keep_their_values():
    y, marked, values = _scene(seed=3)
    for kw in ({}, {"shift": 0.05}, {"least_squares": True}):
        out = levin.propagate(y, marked, values, **kw)
        np.testing.assert_array_equal(out[marked], values[marked])


def test_least_squares_variant_minimises_eq_1():
    y, marked, values = _scene(h=8, w=9, seed=5)
    rows = levin.affinity_matrix(y).toarray()  # every pixel's residual
    m = marked.reshape(-1)
    x_m = values[..., 0].reshape(-1)[m]
    x_u, *_ = np.linalg.lstsq(rows[:, ~m], -rows[:, m] @ x_m, rcond=None)
    got = levin.propagate(y, marked, values, least_squares=True)[..., 0].reshape(-1)
    np.testing.assert_allclose(got[~m], x_u, atol=1e-6)


def _two_regions(h=20, w=30):
    y = np.full((h, w), 0.2)
    y[:, w // 2:] = 0.8
    marked = np.zeros((h, w), bool)
    values = np.zeros((h, w, 2))
    marked[3, 2], values[3, 2] = True, (40, 10)
    marked[h - 2, w - 3], values[h - 2, w - 3] = True, (-30, -20)
    return y, marked, values


def test_each_region_split_by_a_strong_edge_takes_its_scribble():
    y, marked, values = _two_regions()
    out = levin.propagate(y, marked, values)
    half = y.shape[1] // 2
    # Across the edge a weight is exp(-7.5) of one along it (c = 0.6 x the
    # variance of a window straddling it): each region's colour is its own
    # scribble's, up to a leak of about 1 unit (of 70 between them).
    for region, want in ((out[:, :half], (40, 10)), (out[:, half:], (-30, -20))):
        np.testing.assert_allclose(region, np.broadcast_to(want, region.shape), atol=2.0)
        np.testing.assert_allclose(region.mean(axis=(0, 1)), want, atol=1.0)


def test_shift_makes_a_correction_fade_with_distance():
    y = np.full((9, 60), 0.5)
    marked = np.zeros(y.shape, bool)
    values = np.zeros(y.shape + (1,))
    marked[4, 0], values[4, 0] = True, 10.0
    pure = levin.propagate(y, marked, values)[4, :, 0]
    faded = levin.propagate(y, marked, values, shift=0.05)[4, :, 0]
    np.testing.assert_allclose(pure, 10.0, atol=1e-6)  # Levin alone fills a flat image
    assert np.all(np.diff(faded) < 0) and faded[-1] < 0.01 * faded[1]
