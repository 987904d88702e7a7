"""Full-resolution colorization around a generator at its render size, in
TensorFlow ops (eval.py and the exported SavedModel run the same code).

The network sees the whole photo squashed to its render size (see
imageio.network_rgb); the predicted ab is upsampled bilinearly to the
photo's size and merged with the photo's own full-resolution L, so every
detail of the input survives. Chroma is smooth, so the squash costs little.

The merge is the one step at full resolution: a pass over the photo in
strips of whole rows through XLA-compiled kernels (L, ab upsampled at each
pixel, Lab -> uint8 sRGB). Under XLA a kernel is one loop with no
temporaries (bench/bench_infer.py measures it against the same TF ops run
op by op); strips padded to a few fixed sizes make each kernel compile a
few times per process at most, whatever the photos' sizes; and no
full-size float image exists: a photo costs its 8-bit pixels and its
8-bit output.
"""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from colorize import color, imageio

PredictFn = Callable[[tf.Tensor], tf.Tensor]  # normalised L [B,S,S,1] -> ab [B,S,S,2]

# Pixels per strip of rows, at most. Strips are padded to a fixed size so
# that XLA compiles each kernel for a few shapes only: the smallest of
# STRIP_SIZES that holds the whole photo, else STRIP_PIXELS (so a small
# photo is not padded to a big strip); the merge's speed is flat over a
# wide range of strip sizes (bench/bench_infer.py).
STRIP_PIXELS = 1 << 20
STRIP_SIZES = (1 << 12, 1 << 14, 1 << 16, 1 << 18, STRIP_PIXELS)


def to_rgb3(pixels: tf.Tensor) -> tf.Tensor:
    """[..., C] with C in {1, 3, 4} -> [..., 3] (gray repeated, alpha dropped)."""
    return tf.cond(tf.shape(pixels)[-1] == 1,
                   lambda: tf.concat([pixels[..., :1]] * 3, axis=-1),
                   lambda: pixels[..., :3])


def _map_row_strips(fn, image: tf.Tensor, strip_pixels: int, out_dtype,
                    out_shape: list) -> tf.Tensor:
    """fn(rgb, first, rows) over strips of whole rows of image [H, W, C]:
    rgb [P, 3] holds `rows` rows from flat pixel index `first` on, zero-
    padded to P pixels (see STRIP_SIZES; P >= W), so that the kernels fn
    calls see few shapes whatever the photos' sizes. fn's results
    [?, *out_shape] are concatenated along their first axis."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    pixels = tf.reshape(image, [-1, tf.shape(image)[-1]])
    sizes = tf.constant(STRIP_SIZES)
    holds_all = tf.reduce_min(tf.where(sizes >= height * width, sizes, STRIP_PIXELS))
    capacity = tf.maximum(tf.minimum(holds_all, strip_pixels), width)
    strip_rows = capacity // width
    count = (height + strip_rows - 1) // strip_rows

    def step(i, parts):
        rows = tf.minimum(strip_rows, height - i * strip_rows)
        first = i * strip_rows * width
        rgb = to_rgb3(pixels[first:first + rows * width])
        rgb = tf.pad(rgb, [[0, capacity - rows * width], [0, 0]])
        return i + 1, parts.write(i, fn(rgb, first, rows))

    parts = tf.TensorArray(out_dtype, size=count, infer_shape=False,
                           element_shape=tf.TensorShape([None, *out_shape]))
    _, parts = tf.while_loop(lambda i, _: i < count, step, [0, parts])
    return parts.concat()


@tf.function(jit_compile=True, autograph=False)
def _lightness_kernel(rgb):
    return color.lightness(rgb)


def _bilinear_taps(out_index: tf.Tensor, out_size: tf.Tensor, in_size: tf.Tensor):
    """tf.image.resize's bilinear sampling (half-pixel centres) along one
    axis: the two source indices and the weight of the second."""
    scale = tf.cast(in_size, tf.float32) / tf.cast(out_size, tf.float32)
    source = (tf.cast(out_index, tf.float32) + 0.5) * scale - 0.5
    floor = tf.floor(source)
    low = tf.maximum(tf.cast(floor, tf.int32), 0)
    high = tf.minimum(tf.cast(tf.math.ceil(source), tf.int32), in_size - 1)
    return low, high, source - floor


def upsample_ab_at(ab_small: tf.Tensor, index: tf.Tensor, height, width) -> tuple:
    """ab [S, S, 2] upsampled bilinearly to [height, width], at the pixels
    with flat indices `index` [P] only -> a [P], b [P]: tf.image.resize's
    values (tested), per strip, so that no full-size ab exists (96 MB at
    12 MP) and the work fuses into the merge kernel."""
    size = tf.shape(ab_small)[0]
    # Row and column through float64: integer division by a runtime width
    # is not vectorised; exact, since
    # (index + 0.5) / width is at least 0.5 / width from an integer.
    rows = tf.cast(tf.floor((tf.cast(index, tf.float64) + 0.5) / tf.cast(width, tf.float64)),
                   tf.int32)
    cols = index - rows * width
    rows = tf.minimum(rows, height - 1)  # the padding past the photo's end
    top, bottom, row_weight = _bilinear_taps(rows, height, size)
    left, right, col_weight = _bilinear_taps(cols, width, size)
    planes = []
    for channel in range(2):
        plane = tf.reshape(ab_small[..., channel], [-1])

        def across(row):  # the same order of operations as tf.image.resize
            l, r = tf.gather(plane, row * size + left), tf.gather(plane, row * size + right)
            return l + (r - l) * col_weight

        upper, lower = across(top), across(bottom)
        planes.append(upper + (lower - upper) * row_weight)
    return tuple(planes)


@tf.function(jit_compile=True, autograph=False)
def _merge_kernel(l, first, ab_small, height, width, table):
    a, b = upsample_ab_at(ab_small, first + tf.range(tf.shape(l)[0]), height, width)
    return color.lab_to_uint8(l, color.denormalize_ab(a), color.denormalize_ab(b), table)


def merge(image: tf.Tensor, ab_small: tf.Tensor, strip_pixels: int = STRIP_PIXELS) -> tf.Tensor:
    """Photo [H, W, C] + network ab [S, S, 2] -> colorized uint8 [H, W, 3]:
    the photo's own L (recomputed per strip: cheaper than keeping a float
    copy) with the upsampled ab."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    table = color.linear_to_uint8_table()

    def colorized(rgb, first, rows):
        # L comes from its own kernel call: inside the merge kernel XLA
        # recomputed its cube root for each output channel.
        l = _lightness_kernel(rgb)
        return _merge_kernel(l, first, ab_small, height, width, table)[:rows * width]

    rgb = _map_row_strips(colorized, image, strip_pixels, tf.uint8, [3])
    return tf.reshape(rgb, [height, width, 3])


def resize_tf(image: tf.Tensor, height, width) -> tf.Tensor:
    """imageio.resize in TF, float32 out: area averaging along the axes that
    shrink, then bilinear along those that grow (TF's area and bilinear
    resizes equal OpenCV's INTER_AREA and INTER_LINEAR up to float rounding
    when applied this way)."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    mid_h, mid_w = tf.minimum(h, height), tf.minimum(w, width)
    out = tf.cond(mid_h * mid_w < h * w,
                  lambda: tf.image.resize(image, [mid_h, mid_w], method="area"),
                  lambda: tf.cast(image, tf.float32))
    return tf.cond(height * width > mid_h * mid_w,
                   lambda: tf.image.resize(out, [height, width], method="bilinear"),
                   lambda: out)


def network_input_tf(image: tf.Tensor, size: int) -> tf.Tensor:
    """imageio.network_rgb's TensorFlow twin, for the exported SavedModel:
    photo [H, W, C] (uint8, uint16 or float in [0, 1]) -> normalised L
    [size, size, 1] (tested against the NumPy route)."""
    rgb = to_rgb3(image)
    h, w = tf.shape(rgb)[0], tf.shape(rgb)[1]
    edge = imageio.SHRINK_MARGIN * size
    if image.dtype in (tf.uint8, tf.uint16):
        limit = float(image.dtype.max)
        rgb = tf.cond(tf.maximum(h, w) > edge,
                      lambda: tf.round(resize_tf(rgb, tf.minimum(h, edge), tf.minimum(w, edge))),
                      lambda: tf.cast(rgb, tf.float32)) / limit
    else:
        rgb = tf.clip_by_value(tf.cast(rgb, tf.float32), 0.0, 1.0)
    small = tf.ensure_shape(resize_tf(rgb, size, size), [size, size, 3])
    return color.normalize_l(color.lightness(small)[..., None])


def colorize_image(image: tf.Tensor, predict: PredictFn, render_size: int) -> tf.Tensor:
    """One photo [H, W, C] (uint8, uint16 or float in [0, 1]) -> colorized
    uint8 RGB [H, W, 3]: the serving signature of the exported SavedModel."""
    ab_small = predict(network_input_tf(image, render_size)[None])[0]
    return merge(image, ab_small)
