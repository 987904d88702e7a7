"""The one home of colour: sRGB (D65) <-> CIE Lab, and the network's range.

Two routes compute the same conversion:
- in the TF graph (tf.data, eval, the exported SavedModel) through
  tensorflow-io's colour ops, which are plain TF ops, so a SavedModel that
  uses them loads without tensorflow-io;
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
import tensorflow_io as tfio

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

def rgb_to_lab(rgb: tf.Tensor) -> tf.Tensor:
    """sRGB float in [0, 1], [..., H, W, 3] -> Lab (L in [0, 100])."""
    return tfio.experimental.color.rgb_to_lab(tf.cast(rgb, tf.float32))


def lab_to_rgb(lab: tf.Tensor) -> tf.Tensor:
    """Lab -> sRGB float clipped to [0, 1]."""
    rgb = tfio.experimental.color.lab_to_rgb(tf.cast(lab, tf.float32))
    return tf.clip_by_value(rgb, 0.0, 1.0)


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


def dequantize_lab_np(l_u8: np.ndarray, ab_i8: np.ndarray) -> np.ndarray:
    """Inverse of quantize_lab_np: Lab float32 [H, W, 3]."""
    l = l_u8.astype(np.float32) / L_STORE_SCALE
    return np.concatenate([l[..., None], ab_i8.astype(np.float32)], axis=-1)
