"""Zhang et al.'s colour classes: ab quantised on a grid of 10 Lab units,
soft-encoded targets, class rebalancing and the annealed-mean decoding
(Colorful Image Colorization, ECCV 2016, section 2).

The bins are the grid cells that some 8-bit sRGB colour falls in: every
one of the 2^24 colours is converted to Lab and its ab rounded to the grid.
That gives 261 bins, against Zhang's 313: theirs are the grid cells of
ImageNet's in-gamut ab values, ours are exactly the sRGB gamut's. Derived
from the gamut, not from training data, so that every colour a photo can
hold has a bin, whatever the training set.
"""
from __future__ import annotations

import functools
import json

import numpy as np
import tensorflow as tf

from colorize import color, files

GRID = 10.0          # ab bin spacing, Lab units
NEIGHBOURS = 5       # soft encoding: the 5 nearest bins ...
SIGMA = 5.0          # ... weighted by a Gaussian of sigma 5 (Lab units)
REBALANCE = 0.5      # lambda: prior mixed with a uniform distribution
TEMPERATURE = 0.38   # annealed mean


@functools.lru_cache(maxsize=1)
def gamut_bins() -> np.ndarray:
    """Bin centres [Q, 2] (a, b in Lab units), sorted by a then b: the grid
    cells hit by some 8-bit sRGB colour (about 1.5 s, once per process)."""
    hit = set()
    for red in range(256):
        hit.update(_cells_of_red_plane(tf.constant(red)).numpy().tolist())
    offset = 32
    cells = sorted((code // 64 - offset, code % 64 - offset) for code in hit)
    return np.asarray(cells, np.float32) * GRID


@tf.function
def _cells_of_red_plane(red):
    """Codes of the cells hit by the 65,536 colours with this red level."""
    levels = tf.range(256, dtype=tf.int32)
    green, blue = tf.meshgrid(levels, levels, indexing="ij")
    rgb = tf.cast(tf.stack([tf.fill(tf.shape(green), red), green, blue], axis=-1), tf.uint8)
    cell = tf.cast(tf.round(color.rgb_to_lab(rgb)[..., 1:] / GRID), tf.int32) + 32
    return tf.unique(tf.reshape(cell[..., 0] * 64 + cell[..., 1], [-1]))[0]


def squared_distances(ab: tf.Tensor, bins) -> tf.Tensor:
    """ab [..., 2] (Lab units) -> squared distance to every bin [..., Q]."""
    # |x|^2 - 2 x.b + |b|^2: one matmul instead of broadcasting the
    # differences [..., Q, 2] (float32 error ~1e-3 on distances ~1e4).
    bins = tf.constant(bins, tf.float32)
    ab = tf.cast(ab, tf.float32)
    return (tf.reduce_sum(tf.square(ab), axis=-1, keepdims=True)
            - 2.0 * tf.tensordot(ab, tf.transpose(bins), axes=1)
            + tf.reduce_sum(tf.square(bins), axis=-1))


# Soft encoding looks for a colour's nearest bins among the 7 x 7 grid
# cells around its own: for every colour within 15 Lab units of a bin (a
# photo's colours are within 7.1 of one) that window holds its 5 nearest
# bins (checked against all bins in the tests), and it is 5x cheaper than
# measuring all 261 for every pixel.
WINDOW = 3  # cells on each side


@functools.lru_cache(maxsize=4)
def _grid_lookup(bins_key: bytes, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(origin [2], table [A, B]) for a bin set: table[i, j] is the index of
    the bin at cell origin + (i, j), or -1; padded by WINDOW cells."""
    bins = np.frombuffer(bins_key, np.float32).reshape(count, 2)
    cells = np.round(bins / GRID).astype(np.int64)
    origin = cells.min(0) - WINDOW
    table = -np.ones(tuple(cells.max(0) - origin + WINDOW + 1), np.int32)
    table[tuple((cells - origin).T)] = np.arange(count)
    return origin, table


def soft_encode_sparse(ab: tf.Tensor, bins, neighbours: int = NEIGHBOURS,
                       sigma: float = SIGMA) -> tuple[tf.Tensor, tf.Tensor]:
    """Zhang's soft-encoded target, as (bin indices [..., k], weights
    [..., k]): weights exp(-d^2 / (2 sigma^2)) on the k nearest bins,
    summing to 1, nearest first. ab [..., 2] in Lab units. Colours farther
    than 15 from every bin (no photo has them) get some nearby bins.
    Compiled with XLA, so that the gathers and the top-k over 49
    candidates fuse."""
    bins = np.asarray(bins, np.float32)
    return _encoder(bins.tobytes(), len(bins), neighbours, sigma)(tf.cast(ab, tf.float32))


@functools.lru_cache(maxsize=4)
def _encoder(bins_key: bytes, count: int, neighbours: int, sigma: float):
    bins = np.frombuffer(bins_key, np.float32).reshape(count, 2)

    @tf.function(jit_compile=True)
    def encode(ab):
        return _soft_encode(ab, bins, neighbours, sigma)

    return encode


def _soft_encode(ab, bins, neighbours, sigma):
    origin, table = _grid_lookup(bins.tobytes(), len(bins))
    cell = tf.cast(tf.round(ab / GRID), tf.int64) - origin
    cell = tf.clip_by_value(cell, WINDOW, np.array(table.shape) - 1 - WINDOW)
    offsets = np.stack(np.meshgrid(np.arange(-WINDOW, WINDOW + 1),
                                   np.arange(-WINDOW, WINDOW + 1), indexing="ij"), -1)
    window = cell[..., None, :] + offsets.reshape(-1, 2)  # [..., 49, 2]
    candidates = tf.gather_nd(tf.constant(table), window)  # bin indices, -1 for none
    valid = candidates >= 0
    centres = tf.gather(tf.constant(bins), tf.maximum(candidates, 0))
    d2 = tf.reduce_sum(tf.square(centres - ab[..., None, :]), axis=-1)
    d2 = tf.where(valid, d2, 1e9)
    # Ties (a colour midway between bins) go to the lower bin index.
    order = d2 + 1e-5 * tf.cast(tf.maximum(candidates, 0), tf.float32)
    _, pick = tf.math.top_k(-order, k=neighbours)
    index = tf.gather(tf.maximum(candidates, 0), pick, batch_dims=len(ab.shape) - 1)
    near_d2 = tf.gather(d2, pick, batch_dims=len(ab.shape) - 1)
    # Relative to the nearest (the normalisation cancels the factor): no 0 / 0.
    weights = tf.exp(-(near_d2 - near_d2[..., :1]) / (2.0 * sigma ** 2))
    return index, weights / tf.reduce_sum(weights, axis=-1, keepdims=True)


def nearest_bin(ab: tf.Tensor, bins) -> tf.Tensor:
    """ab [..., 2] (Lab units) -> index of the nearest bin [...]."""
    return tf.argmin(squared_distances(ab, bins), axis=-1, output_type=tf.int32)


def annealed_mean(logits: tf.Tensor, bins, temperature: float = TEMPERATURE) -> tf.Tensor:
    """Logits [..., Q] -> ab [..., 2] (Lab units): the mean of the bins under
    the distribution re-normalised at temperature T, f_T(z) ~ exp(log z / T)
    = softmax(logits / T). T = 1: the mean; T -> 0: the mode."""
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32) / temperature, axis=-1)
    return tf.tensordot(probabilities, tf.constant(bins, tf.float32), axes=1)


def estimate_prior(ab_batches, bins, sigma: float = SIGMA) -> np.ndarray:
    """The empirical distribution of the bins over the ab pixels of
    ab_batches (iterable of [..., 2] arrays in Lab units; each pixel counts
    for its nearest bin), smoothed with a Gaussian of sigma over the bin
    centres as Zhang does. [Q], summing to 1."""
    counts = np.zeros(len(bins), np.float64)
    for ab in ab_batches:
        index = nearest_bin(tf.convert_to_tensor(ab, tf.float32), bins).numpy().ravel()
        counts += np.bincount(index, minlength=len(bins))
    if counts.sum() == 0:
        raise ValueError("no ab pixels to estimate the colour prior from")
    d2 = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
    smoothed = np.exp(-d2 / (2.0 * sigma ** 2)) @ (counts / counts.sum())
    return smoothed / smoothed.sum()


def rebalance_weights(prior: np.ndarray, rebalance: float = REBALANCE) -> np.ndarray:
    """w ~ ((1 - lambda) p + lambda / Q)^-1, scaled so that E_p[w] = 1:
    rare colours weigh more, the loss's scale is kept."""
    prior = np.asarray(prior, np.float64)
    w = 1.0 / ((1.0 - rebalance) * prior + rebalance / len(prior))
    return (w / (prior * w).sum()).astype(np.float32)


# --- stored with a run -------------------------------------------------------------

PRIOR_FILE = "ab_prior.json"


def save_prior(model_dir: str, bins: np.ndarray, prior: np.ndarray, examples: int) -> None:
    """The bins and the prior a classification run trains with, in its
    model_dir (eval and export read the bins back from it)."""
    doc = {"grid": GRID, "sigma": SIGMA, "examples": examples,
           "bins": np.asarray(bins).tolist(), "prior": np.asarray(prior).tolist()}
    tf.io.gfile.makedirs(model_dir)
    files.write_atomic(files.join(model_dir, PRIOR_FILE), json.dumps(doc))


def load_prior(model_dir: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(bins [Q, 2], prior [Q]) stored with a run, or None."""
    path = files.join(model_dir, PRIOR_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        doc = json.load(f)
    return np.asarray(doc["bins"], np.float32), np.asarray(doc["prior"], np.float64)


def run_prior(model_dir: str, ab_batches, examples: int, save: bool = True) -> np.ndarray:
    """The prior of a classification run over gamut_bins(): the one stored
    in model_dir when the run resumes, else estimated from ab_batches (ab
    in Lab units, `examples` examples in all) and stored there (save: the
    chief of a cluster alone writes)."""
    bins = gamut_bins()
    stored = load_prior(model_dir)
    if stored is not None:
        if not np.array_equal(stored[0], bins):
            raise ValueError(f"{files.join(model_dir, PRIOR_FILE)} holds other ab bins than "
                             "this version's")
        return stored[1]
    prior = estimate_prior(ab_batches, bins)
    if save:
        save_prior(model_dir, bins, prior, examples)
    return prior
