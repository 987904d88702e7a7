"""Full-resolution colorization around a generator at its trained size.

The network sees the photo's L resized to its render size; the predicted ab
is upsampled bilinearly to the photo's size and merged with the photo's own
full-resolution L, so every detail of the input survives. Non-square
photos are squashed to the square render size and back: chroma is smooth,
so the squash costs little, and the whole photo is seen (no crop).

Only two steps work at full resolution, each a pass over the photo's
pixels in fixed-size chunks through XLA-compiled kernels: the photo's L
(for the network's input), and the merge (L again, ab upsampled at each
pixel, Lab -> uint8 sRGB). Under XLA a kernel is one loop with no
temporaries, measured 2.6x faster than the same TF ops run op by op (a
12 MP photo in memory: 0.31 s against 0.81 s); the fixed chunk size makes
each kernel compile once per process (on the first photo), whatever the
photos' sizes; and no full-size float copy of the photo or its ab exists,
only its L (4 bytes a pixel) during the first pass.

These functions are plain TF ops: eval.py and the exported SavedModel's
serving signature run the same code.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import tensorflow as tf

from colorize import color, config as config_lib, models

PredictFn = Callable[[tf.Tensor], tf.Tensor]  # normalised L [B,S,S,1] -> ab [B,S,S,2]

# Pixels per kernel call. 2^18 to 2^22 measured the same speed at 12 MP;
# small keeps each chunk's temporaries (and the padding of the last) small.
CHUNK_PIXELS = 1 << 18


def to_rgb3(pixels: tf.Tensor) -> tf.Tensor:
    """[..., C] with C in {1, 3, 4} -> [..., 3] (gray repeated, alpha dropped)."""
    return tf.cond(tf.shape(pixels)[-1] == 1,
                   lambda: tf.concat([pixels[..., :1]] * 3, axis=-1),
                   lambda: pixels[..., :3])


def _map_chunks(kernel, image: tf.Tensor, out_shape: list, out_dtype,
                chunk_pixels: int) -> tf.Tensor:
    """kernel(rgb [P, 3], first pixel's flat index) -> [P, *out_shape], run
    over the pixels of image [H, W, C] P = chunk_pixels at a time (the last
    chunk zero-padded to P: the kernel sees one shape); -> [H*W, *out_shape]."""
    pixels = tf.reshape(image, [-1, tf.shape(image)[-1]])
    total = tf.shape(pixels)[0]
    count = (total + chunk_pixels - 1) // chunk_pixels

    def step(i, parts):
        first = i * chunk_pixels
        chunk = to_rgb3(pixels[first:first + chunk_pixels])
        n = tf.shape(chunk)[0]
        chunk = tf.pad(chunk, [[0, chunk_pixels - n], [0, 0]])
        return i + 1, parts.write(i, kernel(chunk, first)[:n])

    parts = tf.TensorArray(out_dtype, size=count, infer_shape=False,
                           element_shape=tf.TensorShape([None, *out_shape]))
    _, parts = tf.while_loop(lambda i, _: i < count, step, [0, parts])
    return parts.concat()


@tf.function(jit_compile=True)
def _lightness_kernel(rgb):
    return color.lightness(rgb)


def photo_lightness(image: tf.Tensor, chunk_pixels: int = CHUNK_PIXELS) -> tf.Tensor:
    """Photo [H, W, C] (uint8, or float in [0, 1]) -> L [H, W, 1] float32."""
    l = _map_chunks(lambda rgb, first: _lightness_kernel(rgb), image, [], tf.float32,
                    chunk_pixels)
    return tf.reshape(l, tf.concat([tf.shape(image)[:2], [1]], axis=0))


def network_input(l: tf.Tensor, render_size: int) -> tf.Tensor:
    """Full-resolution L [H, W, 1] (or Lab: channel 0 is read) ->
    normalised L [S, S, 1] for the net."""
    l_small = tf.image.resize(l[..., :1], [render_size, render_size], method="bilinear",
                              antialias=True)
    return color.normalize_l(l_small)


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
    values (tested), per chunk, so that no full-size ab exists (96 MB at
    12 MP) and the work fuses into the merge kernel."""
    size = tf.shape(ab_small)[0]
    # Row and column in float64: integer division by a runtime width is
    # not vectorised (measured 2.9x slower); exact, since (index + 0.5) /
    # width is at least 0.5 / width away from an integer.
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


@tf.function(jit_compile=True)
def _merge_kernel(l, first, ab_small, height, width, table):
    a, b = upsample_ab_at(ab_small, first + tf.range(tf.shape(l)[0]), height, width)
    return color.lab_to_uint8(l, color.denormalize_ab(a), color.denormalize_ab(b), table)


def merge(image: tf.Tensor, ab_small: tf.Tensor, chunk_pixels: int = CHUNK_PIXELS) -> tf.Tensor:
    """Photo [H, W, C] + network ab [S, S, 2] -> colorized uint8 [H, W, 3]:
    the photo's own L (recomputed per chunk: cheaper than keeping a float
    copy of the photo) with the upsampled ab."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    table = color.linear_to_uint8_table()
    # L comes from its own kernel call: inside the merge kernel XLA would
    # recompute its cube root for each output channel (measured 2x slower).
    rgb = _map_chunks(
        lambda chunk, first: _merge_kernel(_lightness_kernel(chunk), first, ab_small, height,
                                           width, table),
        image, [3], tf.uint8, chunk_pixels)
    return tf.reshape(rgb, [height, width, 3])


def colorize_image(image: tf.Tensor, predict: PredictFn, render_size: int) -> tf.Tensor:
    """One photo [H, W, C] (uint8, or float in [0, 1]) -> colorized uint8 RGB [H, W, 3]."""
    ab_small = predict(network_input(photo_lightness(image), render_size)[None])[0]
    return merge(image, ab_small)


@dataclass
class Model:
    """A generator that eval.py can run: a predict function and its size."""
    predict: PredictFn
    render_size: int
    name: str
    # Whatever owns predict's variables (a loaded SavedModel): kept alive here.
    owner: object = None


def gray_model(render_size: int = 64) -> Model:
    """The zero-chroma baseline: ab = 0 everywhere."""
    def predict(l):
        return tf.zeros(tf.concat([tf.shape(l)[:3], [2]], axis=0), tf.float32)
    return Model(predict, render_size, "gray")


def checkpoint_path(model_dir: str, step: int | None = None) -> str:
    if step is None:
        path = tf.train.latest_checkpoint(model_dir)
        if path is None:
            raise FileNotFoundError(f"no checkpoint in {model_dir}")
        return path
    path = os.path.join(model_dir, f"ckpt-{step}")
    if not tf.io.gfile.exists(path + ".index"):
        raise FileNotFoundError(f"no checkpoint for step {step} in {model_dir} "
                                f"(latest: {tf.train.latest_checkpoint(model_dir)})")
    return path


def load_generator(model_dir: str, step: int | None = None, image_size: int | None = None):
    """Rebuild the trained generator from config.json (at its trained size,
    or image_size: the Keras model's input size is fixed) and restore its
    weights."""
    cfg = config_lib.load(model_dir)
    generator = models.build_generator(cfg.generator, image_size or cfg.image_size, cfg.width,
                                       cfg.sync_bn, cfg.upsample)
    path = checkpoint_path(model_dir, step)
    tf.train.Checkpoint(generator=generator).restore(path).expect_partial()
    return generator, cfg, path


def checkpoint_model(model_dir: str, step: int | None = None,
                     render_size: int | None = None) -> Model:
    cfg = config_lib.load(model_dir)
    size = render_size or cfg.image_size
    if cfg.generator == "unet" and models.unet_depth(size) != models.unet_depth(cfg.image_size):
        raise ValueError(f"--render_size={size} changes the U-Net's depth; use {cfg.image_size}")
    generator, cfg, path = load_generator(model_dir, step, size)

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 1], tf.float32)])
    def predict(l):
        return generator(l, training=False)

    return Model(predict, size, os.path.basename(path))


# The model shipped inside the package (an exported SavedModel), used when
# eval.py is given no model: see RESULTS.md for how it was trained.
SHIPPED_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained", "general")


def shipped_model() -> Model:
    if not os.path.exists(os.path.join(SHIPPED_MODEL, "saved_model.pb")):
        raise FileNotFoundError(f"this install has no shipped model at {SHIPPED_MODEL}; "
                                "pass --model_dir=RUN or --saved_model=DIR")
    model = saved_model(SHIPPED_MODEL)
    model.name = "shipped model (colorize/pretrained/general)"
    return model


def saved_model(path: str) -> Model:
    loaded = tf.saved_model.load(path)
    size = int(loaded.render_size.numpy())
    return Model(loaded.predict_ab, size, f"saved_model:{path}", owner=loaded)


@tf.function(reduce_retracing=True)
def _network_input(image, render_size):
    return network_input(photo_lightness(image), render_size)


_merge = tf.function(merge, reduce_retracing=True)


def as_image_tensor(image) -> tf.Tensor:
    """uint8 stays uint8 (the table route, a quarter of float32's memory);
    anything else becomes float32 in [0, 1]."""
    image = np.asarray(image)
    return tf.convert_to_tensor(image, tf.uint8 if image.dtype == np.uint8 else tf.float32)


def colorize_batch(images: list, model: Model) -> list:
    """Photos of any sizes (uint8, or float in [0, 1]) -> colorized uint8 RGB
    arrays, with one generator call for the whole list. Full-resolution
    work goes photo by photo (the same ops as colorize_image); only the
    render-size inputs are batched."""
    inputs = tf.stack([_network_input(as_image_tensor(img), model.render_size) for img in images])
    ab = model.predict(inputs)
    return [_merge(as_image_tensor(img), ab[i]).numpy() for i, img in enumerate(images)]
