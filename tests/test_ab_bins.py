"""colorize.ab_bins and the classification loss: values worked out by hand."""
import math

import numpy as np
import pytest
import tensorflow as tf

from colorize import ab_bins, color, losses


@pytest.fixture(scope="module")
def bins():
    return ab_bins.gamut_bins()


def test_the_bins_are_the_srgb_gamut_on_a_grid_of_10(bins):
    assert bins.shape == (261, 2)  # Zhang et al. have 313 (ImageNet's in-gamut cells)
    assert np.all(np.mod(bins, 10) == 0)
    assert [0, 0] in bins.tolist()
    # An independent route (NumPy + OpenCV colour conversion) on random
    # colours and the gamut's corners: every cell they fall in is a bin.
    rng = np.random.default_rng(0)
    corners = np.array([[r, g, b] for r in (0, 255) for g in (0, 255) for b in (0, 255)])
    rgb = np.concatenate([rng.integers(0, 256, (200_000, 3)), corners]).astype(np.float32) / 255
    lab = color.rgb_to_lab_np(rgb[None])[0]
    cells = {tuple(c) for c in (np.round(lab[:, 1:] / 10) * 10).astype(int).tolist()}
    assert cells <= {tuple(b) for b in bins.astype(int).tolist()}
    assert len(cells) > 200  # random colours reach most of them


def soft(ab, bins):
    """soft_encode_sparse as a dense distribution over all bins [Q]."""
    index, weights = ab_bins.soft_encode_sparse(tf.constant(ab, tf.float32), bins)
    dense = np.zeros(len(bins))
    np.add.at(dense, index.numpy(), weights.numpy())
    return dense


def test_soft_encoding_on_a_bin_centre(bins):
    """At (0, 0): itself at d = 0 and its 4 neighbours at d = 10, weights
    exp(-d^2 / 50): 1 and e^-2 = 0.1353, normalised: 0.6488 and 0.0878."""
    z = soft([0.0, 0.0], bins)
    index = {tuple(b): i for i, b in enumerate(bins.astype(int).tolist())}
    e2 = math.exp(-2)
    assert z[index[(0, 0)]] == pytest.approx(1 / (1 + 4 * e2), abs=1e-6)
    for n in ((10, 0), (-10, 0), (0, 10), (0, -10)):
        assert z[index[n]] == pytest.approx(e2 / (1 + 4 * e2), abs=1e-6)
    assert np.count_nonzero(z) == 5 and z.sum() == pytest.approx(1.0, abs=1e-6)


def test_soft_encoding_between_bins(bins):
    """At (3, 2): the 5 nearest are (0,0) d^2 = 13, (10,0) 53, (0,10) 73,
    (10,10) 113, (0,-10) 153; weights exp(-d^2 / 50) normalised."""
    z = soft([3.0, 2.0], bins)
    index = {tuple(b): i for i, b in enumerate(bins.astype(int).tolist())}
    d2 = {(0, 0): 13, (10, 0): 53, (0, 10): 73, (10, 10): 113, (0, -10): 153}
    w = {k: math.exp(-v / 50) for k, v in d2.items()}
    total = sum(w.values())  # 0.7711 + 0.3465 + 0.2322 + 0.1044 + 0.0469
    for k, v in w.items():
        assert z[index[k]] == pytest.approx(v / total, abs=1e-6), k
    assert np.count_nonzero(z) == 5
    # A colour far outside every bin still gets a distribution (no 0 / 0).
    far = soft([150.0, 150.0], bins)
    assert np.isfinite(far).all() and far.sum() == pytest.approx(1.0, abs=1e-6)


def test_rebalancing_weights_by_hand():
    """prior (0.5, 0.3, 0.2), lambda 0.5: 1 / (0.5 p + 1/6) = 2.4, 3.1579,
    3.75; E_p = 2.89737; so w = 0.828338, 1.089918, 1.294278."""
    w = ab_bins.rebalance_weights(np.array([0.5, 0.3, 0.2]), 0.5)
    np.testing.assert_allclose(w, [0.828338, 1.089918, 1.294278], atol=2e-6)
    prior = np.random.default_rng(1).dirichlet(np.ones(261))
    for lam in (0.0, 0.5, 1.0):
        w = ab_bins.rebalance_weights(prior, lam)
        assert float(prior @ w) == pytest.approx(1.0, abs=1e-5)  # expectation 1 under the prior
    np.testing.assert_allclose(ab_bins.rebalance_weights(prior, 1.0), 1.0, atol=1e-5)  # none
    np.testing.assert_allclose(ab_bins.rebalance_weights(prior, 0.0), 1 / (261 * prior), rtol=1e-4)


def test_annealed_mean_between_the_mode_and_the_mean():
    bins = np.array([[0, 0], [10, 0], [0, 20]], np.float32)
    logits = tf.constant([[2.0, 1.0, 0.0]])
    p = np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum()  # 0.6652, 0.2447, 0.0900
    mean = ab_bins.annealed_mean(logits, bins, 1.0).numpy()[0]
    np.testing.assert_allclose(mean, [10 * p[1], 20 * p[2]], atol=1e-5)  # T = 1: the mean
    mode = ab_bins.annealed_mean(logits, bins, 0.01).numpy()[0]
    np.testing.assert_allclose(mode, [0, 0], atol=1e-5)  # T -> 0: the mode, bin 0
    t38 = ab_bins.annealed_mean(logits, bins, 0.38).numpy()[0]
    assert 0 < t38[0] < mean[0] and 0 < t38[1] < mean[1]  # in between


def test_prior_from_pixels_and_its_smoothing(bins):
    index = {tuple(b): i for i, b in enumerate(bins.astype(int).tolist())}
    ab = np.zeros([4, 8, 8, 2], np.float32)
    ab[:2] = [20.0, -30.0]  # half the pixels near bin (20, -30), half at (0, 0)
    ab[2:, ..., 0] = 1.0
    prior = ab_bins.estimate_prior([ab], bins)
    assert prior.sum() == pytest.approx(1.0) and prior.shape == (261,)
    assert prior[index[(20, -30)]] == pytest.approx(prior[index[(0, 0)]], rel=0.05)
    # Gaussian sigma 5 over centres 10 apart: a neighbour gets e^-2 of the peak.
    assert prior[index[(30, -30)]] / prior[index[(20, -30)]] == pytest.approx(math.exp(-2), rel=1e-3)


def test_classification_loss_is_the_weighted_cross_entropy(bins):
    """Logits equal to log Z give the entropy of Z; the weight is that of Z's
    most likely bin."""
    real = tf.constant(np.zeros([1, 1, 1, 2], np.float32))  # ab = (0, 0)
    z = soft([0.0, 0.0], bins)
    logits = tf.constant(np.log(np.maximum(z, 1e-30))[None, None, None], tf.float32)
    weights = np.ones(len(bins), np.float32)
    weights[list(bins.tolist()).index([0.0, 0.0])] = 2.0
    got = losses.classification_loss(real, logits, bins, tf.constant(weights)).numpy()[0]
    e2 = math.exp(-2)
    p0, p1 = 1 / (1 + 4 * e2), e2 / (1 + 4 * e2)
    entropy = -(p0 * math.log(p0) + 4 * p1 * math.log(p1))  # 1.0455
    assert got == pytest.approx(2.0 * entropy, rel=1e-4)
