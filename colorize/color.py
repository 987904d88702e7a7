"""The one home of colour: sRGB (D65) <-> CIE Lab, and the network's range.

Two routes compute the same conversion:
- in the TF graph (eval, the exported SavedModel, training's image grids)
  from core TF ops written out here, so a SavedModel that uses them loads
  without colorize or tensorflow-io. The definition is tensorflow-io's
  (tfio.experimental.color, which this route used before: its matrices,
  D65 white and CIE constants, listed below), so results did not move;
  tests compare the two. Written out because tfio's ops were 85 % of a
  12 MP photo's inference time: they compute both branches of every
  tf.where on all three channels, tf.pow is a scalar loop on CPU, and
  inference needs only parts of the conversion (L alone from RGB; uint8
  out), which these functions expose. tensorflow-io is still installed
  and imported by the package (pinned for its file systems), not for
  colour;
- on NumPy arrays (the TFRecord builder's worker processes, which must not
  run TF) through OpenCV's float conversion.
Both agree to about 0.03 Lab units (tested).

Network range (the original code's): L_in = L/50 - 1 in [-1, 1];
ab_out = ab/110, about [-1, 1] for the tanh head.
"""
from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

L_MAX = 100.0
L_SCALE = 50.0  # L_in = L / L_SCALE - 1
AB_SCALE = 110.0  # ab_out = ab / AB_SCALE

# Storage in TFRecords: L quantised to uint8 over [0, 100] and ab rounded to
# int8. Worst-case round-trip error: L 100/255/2 = 0.196, ab 0.5 (Lab units).
L_STORE_SCALE = 255.0 / L_MAX
AB_STORE_MIN, AB_STORE_MAX = -128, 127
L_STORE_MAX_ERROR = 0.5 / L_STORE_SCALE
AB_STORE_MAX_ERROR = 0.5


# --- TF graph route --------------------------------------------------------
# tensorflow-io's definition: the sRGB primaries' matrix (and its inverse as
# tfio rounds it), the D65 white of the 2-degree observer (Y_n = 1), and the
# CIE f(t) with its older rounded constants.
RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423),
              (0.212671, 0.715160, 0.072169),
              (0.019334, 0.119193, 0.950227))
XYZ_TO_RGB = ((3.24048134, -1.53715152, -0.49853633),
              (-0.96925495, 1.87599, 0.04155593),
              (0.05564664, -0.20404134, 1.05731107))
WHITE_X, WHITE_Z = 0.95047, 1.08883
SRGB_KNEE = 0.04045  # encoded sRGB at or below which the curve is linear
LINEAR_KNEE = 0.0031308  # the same knee in linear light
LAB_KNEE = 0.008856  # t at or below which f(t) is linear
LAB_F_KNEE = 0.2068966  # f(LAB_KNEE)
LAB_SLOPE = 7.787
LAB_OFFSET = 16.0 / 116.0

# The uint8 output's lookup table of the sRGB curve: entry i is the 8-bit
# level of linear light i / GAMMA_TABLE_STEPS. Reading it at the nearest
# entry moves the input by at most 1/2^17, which shifts the output by at
# most 0.025 of a level (where the curve is steepest, slope 12.92 * 255 near
# black): the level is the correctly rounded one, or one off right next to a
# rounding boundary. The table is 64 KiB, so it stays in cache.
GAMMA_TABLE_STEPS = 1 << 16


def _pow(x: tf.Tensor, p: float) -> tf.Tensor:
    """x ** p for x > 0 as exp(p log x): tf.pow runs a scalar loop on CPU,
    these two ops are vectorised."""
    return tf.exp(tf.math.log(x) * p)


def srgb_to_linear(v: tf.Tensor) -> tf.Tensor:
    """The sRGB curve undone: encoded float in [0, 1] -> linear light.
    (maximum() keeps log's argument in range on the branch tf.where drops.)"""
    curve = _pow((tf.maximum(v, SRGB_KNEE) + 0.055) / 1.055, 2.4)
    return tf.where(v > SRGB_KNEE, curve, v / 12.92)


def linear_to_srgb(v: tf.Tensor) -> tf.Tensor:
    """Linear light -> encoded sRGB (not clipped)."""
    curve = 1.055 * _pow(tf.maximum(v, LINEAR_KNEE), 1.0 / 2.4) - 0.055
    return tf.where(v > LINEAR_KNEE, curve, 12.92 * v)


def _lab_f(t: tf.Tensor) -> tf.Tensor:
    return tf.where(t > LAB_KNEE, _pow(tf.maximum(t, LAB_KNEE), 1.0 / 3.0),
                    LAB_SLOPE * t + LAB_OFFSET)


def _lab_f_inverse(f: tf.Tensor) -> tf.Tensor:
    return tf.where(f > LAB_F_KNEE, f * f * f, (f - LAB_OFFSET) / LAB_SLOPE)


def _row(coefficients, c0, c1, c2) -> tf.Tensor:
    """One row of a 3x3 matrix applied to three channel planes, as
    multiply-adds (fused into one loop under XLA; tfio's tensordot is a
    reshape, a k = 3 matmul and a transpose)."""
    return coefficients[0] * c0 + coefficients[1] * c1 + coefficients[2] * c2


def _channels(image: tf.Tensor) -> list[tf.Tensor]:
    return [image[..., i] for i in range(3)]


def _round_to_uint8(v: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.round(tf.clip_by_value(v, 0.0, 1.0) * 255.0), tf.uint8)


def uint8_to_linear_table() -> tf.Tensor:
    """Linear light of the 256 sRGB levels, float32 (computed in float64)."""
    return tf.cast(srgb_to_linear(tf.range(256, dtype=tf.float64) / 255.0), tf.float32)


def _linear_channels(rgb: tf.Tensor) -> list[tf.Tensor]:
    """sRGB [..., 3], uint8, uint16 or float in [0, 1] -> linear R, G, B
    planes. uint8 reads a 256-entry table (cheaper than the curve)."""
    if rgb.dtype == tf.uint8:
        return _channels(tf.gather(uint8_to_linear_table(), tf.cast(rgb, tf.int32)))
    if rgb.dtype == tf.uint16:
        rgb = tf.cast(rgb, tf.float32) / 65535.0
    return _channels(srgb_to_linear(tf.cast(rgb, tf.float32)))


def lightness(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB [..., 3], uint8, uint16 or float in [0, 1] -> L [...] (0..100).
    L depends on Y alone: one row of the matrix and one cube root, where
    rgb_to_lab needs three of each."""
    y = _row(RGB_TO_XYZ[1], *_linear_channels(rgb))
    return 116.0 * _lab_f(y) - 16.0


def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB [..., 3], float in [0, 1], uint8 or uint16 -> Lab float32 (L in
    [0, 100])."""
    linear = _linear_channels(rgb)
    x, y, z = (_row(m, *linear) for m in RGB_TO_XYZ)
    fx, fy, fz = _lab_f(x / WHITE_X), _lab_f(y), _lab_f(z / WHITE_Z)
    return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


def _lab_to_linear(l: tf.Tensor, a: tf.Tensor, b: tf.Tensor) -> list[tf.Tensor]:
    """L, a, b planes -> linear R, G, B planes (not clipped)."""
    fy = (l + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = tf.maximum(fy - b / 200.0, 0.0)  # as tfio: no negative f(Z)
    xyz = (WHITE_X * _lab_f_inverse(fx), _lab_f_inverse(fy), WHITE_Z * _lab_f_inverse(fz))
    return [_row(m, *xyz) for m in XYZ_TO_RGB]


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
    """Lab [..., 3] -> sRGB float clipped to [0, 1]."""
    linear = _lab_to_linear(*_channels(tf.cast(lab, tf.float32)))
    return tf.stack([tf.clip_by_value(linear_to_srgb(c), 0.0, 1.0) for c in linear], axis=-1)


def linear_to_uint8_table() -> tf.Tensor:
    """uint8 sRGB of linear light i / GAMMA_TABLE_STEPS, i = 0..STEPS
    (computed in float64)."""
    v = tf.range(GAMMA_TABLE_STEPS + 1, dtype=tf.float64) / GAMMA_TABLE_STEPS
    return _round_to_uint8(linear_to_srgb(v))


def linear_to_uint8(linear: tf.Tensor, table: tf.Tensor | None = None) -> tf.Tensor:
    """Linear light (clipped to [0, 1]) -> uint8 sRGB, the curve read from
    linear_to_uint8_table() at the nearest entry (pass the table in to
    build it once for many calls): the correctly rounded level, or one off
    next to a rounding boundary (see GAMMA_TABLE_STEPS)."""
    table = linear_to_uint8_table() if table is None else table
    index = tf.cast(tf.clip_by_value(linear, 0.0, 1.0) * GAMMA_TABLE_STEPS + 0.5, tf.int32)
    return tf.gather(table, index)


def lab_to_uint8(l: tf.Tensor, a: tf.Tensor, b: tf.Tensor,
                 table: tf.Tensor | None = None) -> tf.Tensor:
    """L, a, b planes [...] -> uint8 sRGB [..., 3]: the levels of rounding
    lab_to_rgb's, or one off (see linear_to_uint8)."""
    table = linear_to_uint8_table() if table is None else table
    return tf.stack([linear_to_uint8(c, table) for c in _lab_to_linear(l, a, b)], axis=-1)


def normalize_l(l: tf.Tensor) -> tf.Tensor:
    return l / L_SCALE - 1.0


def denormalize_l(l_in: tf.Tensor) -> tf.Tensor:
    return (l_in + 1.0) * L_SCALE


def normalize_ab(ab: tf.Tensor) -> tf.Tensor:
    return ab / AB_SCALE


def denormalize_ab(ab_out: tf.Tensor) -> tf.Tensor:
    """Network ab -> Lab ab, clipped to [-1, 1] first so that no pixel is
    pushed far out of the sRGB gamut (it would come back as a blotch)."""
    return tf.clip_by_value(ab_out, -1.0, 1.0) * AB_SCALE


def lab_from_network(l_in: tf.Tensor, ab_out: tf.Tensor) -> tf.Tensor:
    """Network L [..., 1] and ab [..., 2] -> Lab [..., 3]."""
    return tf.concat([denormalize_l(l_in), denormalize_ab(ab_out)], axis=-1)


def network_to_rgb(l_in: tf.Tensor, ab_out: tf.Tensor) -> tf.Tensor:
    """Network L and ab -> sRGB float in [0, 1]."""
    return lab_to_rgb(lab_from_network(l_in, ab_out))


def decode_stored(l_u8: tf.Tensor, ab_i8: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Stored uint8 L and int8 ab -> network-range float32 (L_in, ab_out)."""
    l = tf.cast(l_u8, tf.float32) / L_STORE_SCALE
    ab = tf.cast(ab_i8, tf.float32)
    return normalize_l(l), normalize_ab(ab)


# --- NumPy route (no TF ops: used in worker processes) ---------------------

def rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    """sRGB float32 in [0, 1], [H, W, 3] -> Lab float32 via OpenCV.

    OpenCV's float sRGB path (COLOR_RGB2Lab) reads a coarse 3-D lookup
    table, off by up to ~0.4 Lab units; so the sRGB curve is undone here
    exactly and OpenCV converts linear RGB (COLOR_LRGB2Lab, exact maths)."""
    rgb = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return cv2.cvtColor(np.ascontiguousarray(linear, dtype=np.float32), cv2.COLOR_LRGB2Lab)


def lab_to_rgb_np(lab: np.ndarray) -> np.ndarray:
    """Lab float32 [H, W, 3] -> sRGB float32 clipped to [0, 1] via OpenCV."""
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0)


def mean_chroma_np(lab: np.ndarray) -> float:
    """Mean per-pixel chroma sqrt(a^2 + b^2): the near-grayscale test."""
    return float(np.mean(np.hypot(lab[..., 1], lab[..., 2])))


def quantize_lab_np(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lab float -> (L uint8 [H, W], ab int8 [H, W, 2]) for storage."""
    l_u8 = np.clip(np.rint(lab[..., 0] * L_STORE_SCALE), 0, 255).astype(np.uint8)
    ab_i8 = np.clip(np.rint(lab[..., 1:]), AB_STORE_MIN, AB_STORE_MAX).astype(np.int8)
    return l_u8, ab_i8
