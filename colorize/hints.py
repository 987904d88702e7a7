"""Colour hints for a guided generator (Zhang et al. 2017, "Real-Time
User-Guided Image Colorization with Learned Deep Priors", arXiv 1705.02999):
the generator sees the photo's L and, beside it, a hints image of the
same size: the hinted ab (ab / 110) and a mask channel (1 where hinted),
zero elsewhere.

Two sources of hints, one layout:
- training: simulated users (`sample`), drawn in the tf.data pipeline for
  each example, keyed by (run seed, example index), so that a resumed run
  draws the same hints for the same examples;
- inference: a user's marks (flat pixel indices and their Lab ab at the
  photo's full resolution) averaged into the network's grid (`grid`), in
  TF ops, so that eval.py and the exported SavedModel use the same code.
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from colorize import color

CHANNELS = 3  # hint a, hint b, mask
# Zhang et al. 2017, section 3.2 (the simulated user in training): the
# number of points is geometric with p = 1/8; each point's position is a
# 2-D Gaussian around the centre with standard deviation a quarter of the
# side; a point reveals a square patch of 1x1 to 9x9 px (size uniform),
# holding the patch's mean true ab. Counting the points from 0 (the
# authors' loop reveals another point with probability 1 - p), 1/8 of the
# examples get none: the net keeps colorizing alone.
POINT_P = 1 / 8
MAX_PATCH = 9
# Points drawn per example, at most: past it the geometric tail is cut
# ((7/8)^128 = 4e-8 of the examples at p = 1/8); bounds the work per example.
MAX_POINTS = 128
ALPHA_HINT = 128  # a hints image's uint8 pixel is a hint where alpha >= this (half)


@dataclasses.dataclass(frozen=True)
class Sampling:
    """The simulated user's parameters (TrainConfig's hint_* fields)."""
    point_p: float = POINT_P
    max_patch: int = MAX_PATCH
    max_points: int = MAX_POINTS

    def validate(self) -> None:
        if not 0 < self.point_p <= 1:
            raise ValueError(f"the hint count's p must be in (0, 1]; got {self.point_p}")
        if self.max_patch < 1:
            raise ValueError(f"the largest hint patch must be >= 1 px; got {self.max_patch}")
        if self.max_points < 1:
            raise ValueError(f"the hint points' cap must be >= 1; got {self.max_points}")

    @property
    def mean_points(self) -> float:
        """The mean number of points per example (before the cap)."""
        return (1 - self.point_p) / self.point_p


def _seeds(seed, index, n: int) -> list[tf.Tensor]:
    """n independent stateless seeds for one example, from (seed, index)."""
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(index, tf.int64)])
    return list(tf.unstack(tf.random.experimental.stateless_split(key, n)))


def draw(size: int, seed, index, sampling: Sampling = Sampling()) -> dict:
    """The simulated user's draw for example `index` of an image of side
    size: {"count": points revealed, "top", "left", "patch": [max_points]
    int32 (entries past count are drawn but unused)}."""
    count_seed, position_seed, patch_seed = _seeds(seed, index, 3)
    m = sampling.max_points
    # Geometric from 0: P(count >= k) = (1 - p)^k.
    u = tf.random.stateless_uniform([], count_seed, minval=1e-12, maxval=1.0)
    if sampling.point_p >= 1:
        count = tf.constant(0, tf.int32)
    else:
        count = tf.cast(tf.floor(tf.math.log(u) / tf.math.log(1.0 - sampling.point_p)), tf.int32)
    count = tf.minimum(count, m)
    patch = tf.random.stateless_uniform([m], patch_seed, minval=1,
                                        maxval=min(sampling.max_patch, size) + 1, dtype=tf.int32)
    # The patch's corner: Gaussian with mean (size - P + 1) / 2 and standard
    # deviation (size - P + 1) / 4, clipped inside, as Zhang et al.'s code
    # places it (and experiments' simulated marks at evaluation).
    free = tf.cast(size - patch + 1, tf.float32)
    normal = tf.random.stateless_normal([2, m], position_seed)
    corner = tf.cast(tf.floor(free / 2 + normal * free / 4), tf.int32)
    corner = tf.clip_by_value(corner, 0, size - patch)
    return {"count": count, "top": corner[0], "left": corner[1], "patch": patch}


def paint(ab: tf.Tensor, points: dict) -> tf.Tensor:
    """Hints [S, S, 3] (ab in the network's range, mask) for one image's ab
    [S, S, 2] (network range) and a draw: each of the first count points
    a square of its patch's mean true ab; later points cover earlier ones
    where they overlap (as painting them in order would)."""
    size = tf.shape(ab)[0]
    # The used points only: the work below is per point and pixel.
    count = points["count"]
    top, left, patch = (points[k][:count] for k in ("top", "left", "patch"))
    m = tf.shape(patch)[0]
    # Patch means from a summed-area table with a zero first row and column.
    table = tf.pad(tf.cumsum(tf.cumsum(ab, axis=0), axis=1), [[1, 0], [1, 0], [0, 0]])
    bottom, right = top + patch, left + patch

    def at(rows, cols):
        return tf.gather_nd(table, tf.stack([rows, cols], axis=-1))

    sums = at(bottom, right) - at(top, right) - at(bottom, left) + at(top, left)
    means = sums / tf.cast(patch * patch, tf.float32)[:, None]
    coords = tf.range(size)
    in_rows = (coords[None] >= top[:, None]) & (coords[None] < bottom[:, None])  # [m, S]
    in_cols = (coords[None] >= left[:, None]) & (coords[None] < right[:, None])
    covers = in_rows[:, :, None] & in_cols[:, None, :]  # [m, S, S]
    # The last point covering each pixel, as 1-based numbers (0: none; with
    # no point at all the max of nothing is negative), and its mean (row 0:
    # zeros).
    number = tf.maximum(
        tf.reduce_max(tf.where(covers, tf.range(1, m + 1)[:, None, None], 0), axis=0), 0)
    hinted = number > 0
    hint_ab = tf.gather(tf.concat([tf.zeros([1, 2]), means], 0), number)
    return tf.concat([hint_ab, tf.cast(hinted, tf.float32)[..., None]], axis=-1)


def sample(ab: tf.Tensor, seed, index, sampling: Sampling = Sampling()) -> tf.Tensor:
    """A simulated user's hints [S, S, 3] for the index-th example's ab
    [S, S, 2] (network range; S static), keyed by (seed, index)."""
    return paint(ab, draw(int(ab.shape[0]), seed, index, sampling))


def grid(index: tf.Tensor, ab: tf.Tensor, height, width, size: int) -> tf.Tensor:
    """A user's marks on an height x width photo -> hints [size, size, 3]
    in the network's grid: index [n] flat pixel indices (row * width +
    column), ab [n, 2] their Lab ab (not normalised). Each cell holds the
    mean ab of the marked pixels whose centres fall in it (the area mean
    of the marks over the cell, for the pixels that hold one) and mask 1;
    cells with none hold 0."""
    index = tf.cast(tf.reshape(index, [-1]), tf.int64)
    width64, height64 = tf.cast(width, tf.int64), tf.cast(height, tf.int64)
    rows, cols = index // width64, index % width64
    # The cell of a pixel: floor((row + 1/2) * size / height), in integers.
    cell_r = ((2 * rows + 1) * size) // (2 * height64)
    cell_c = ((2 * cols + 1) * size) // (2 * width64)
    cell = tf.cast(cell_r * size + cell_c, tf.int32)
    cells = size * size
    total = tf.math.unsorted_segment_sum(tf.cast(ab, tf.float32), cell, cells)
    count = tf.math.unsorted_segment_sum(tf.ones_like(cell, tf.float32), cell, cells)
    mean = tf.math.divide_no_nan(total, count[:, None])
    hints = tf.concat([color.normalize_ab(mean), tf.cast(count > 0, tf.float32)[:, None]], -1)
    return tf.reshape(hints, [size, size, CHANNELS])


def from_rgba(rgba: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A hints image uint8 [H, W, 4] (transparent where there is no hint)
    -> (flat indices [n] of the pixels with alpha >= 1/2, their Lab ab
    [n, 2]), for grid(). Only the hinted pixels are converted to Lab."""
    flat = tf.reshape(rgba, [-1, 4])
    index = tf.reshape(tf.where(flat[:, 3] >= ALPHA_HINT), [-1])
    rgb = tf.gather(flat[:, :3], index)
    return index, color.rgb_to_lab(rgb)[:, 1:]


def rgba_grid(rgba: tf.Tensor, size: int) -> tf.Tensor:
    """A hints image uint8 [H, W, 4] -> hints [size, size, 3]."""
    index, ab = from_rgba(rgba)
    return grid(index, ab, tf.shape(rgba)[0], tf.shape(rgba)[1], size)


def none(size: int, batch=1) -> tf.Tensor:
    """No hints: [batch, size, size, 3] zeros (the automatic case)."""
    return tf.zeros([batch, size, size, CHANNELS], tf.float32)
