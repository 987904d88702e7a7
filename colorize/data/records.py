"""The TFRecord format of one (L, ab) example.

Features: `l` (uint8 raw bytes, H*W: L * 255/100 rounded), `ab` (int8 raw
bytes, H*W*2, interleaved a,b: Lab units rounded), `height`, `width`, and
`name` (the source file's path relative to the input folder, as the file
system's bytes: any name, UTF-8 or not, is stored as it is).
Round-trip error: at most 0.196 in L and 0.5 in a and b (Lab units).
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from colorize import color

SHARD_SUFFIX = ".tfrecord"

_FEATURES = {
    "l": tf.io.FixedLenFeature([], tf.string),
    "ab": tf.io.FixedLenFeature([], tf.string),
    "height": tf.io.FixedLenFeature([], tf.int64),
    "width": tf.io.FixedLenFeature([], tf.int64),
    "name": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def encode_example(l_u8: np.ndarray, ab_i8: np.ndarray, name: str) -> bytes:
    """Stored L [H, W] uint8 and ab [H, W, 2] int8 -> serialized Example."""
    height, width = l_u8.shape
    if ab_i8.shape != (height, width, 2):
        raise ValueError(f"ab shape {ab_i8.shape} does not match L shape {l_u8.shape}")
    example = tf.train.Example(features=tf.train.Features(feature={
        "l": _bytes(l_u8.astype(np.uint8).tobytes()),
        "ab": _bytes(ab_i8.astype(np.int8).tobytes()),
        "height": _int(height),
        "width": _int(width),
        "name": _bytes(os.fsencode(name)),
    }))
    # deterministic=True orders the feature map, so the same input gives
    # the same shard bytes on every run.
    return example.SerializeToString(deterministic=True)


def parse_stored(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """Serialized Example -> {'l': uint8 [H,W,1], 'ab': int8 [H,W,2], 'name'}."""
    f = tf.io.parse_single_example(serialized, _FEATURES)
    h, w = tf.cast(f["height"], tf.int32), tf.cast(f["width"], tf.int32)
    l = tf.reshape(tf.io.decode_raw(f["l"], tf.uint8), [h, w, 1])
    ab = tf.reshape(tf.io.decode_raw(f["ab"], tf.int8), [h, w, 2])
    return {"l": l, "ab": ab, "name": f["name"]}


def parse_example(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Serialized Example -> network-range float32 (L_in [H,W,1], ab [H,W,2])."""
    f = parse_stored(serialized)
    return color.decode_stored(f["l"], f["ab"])
