"""Full-resolution colorization around a generator at its trained size.

The network sees the photo's L resized to its render size; the predicted ab
is upsampled bilinearly to the photo's size and merged with the photo's own
full-resolution L, so every detail of the input survives. Non-square
photos are squashed to the square render size and back: chroma is smooth,
so the squash costs little, and the whole photo is seen (no crop).

Only two steps work at full resolution, each a pass over the photo in
strips of whole rows through XLA-compiled kernels: the photo's L, resized
strip by strip towards the network's input, and the merge (L again, ab
upsampled at each pixel, Lab -> uint8 sRGB). Under XLA a kernel is one
loop with no temporaries, measured 2.6x faster than the same TF ops run op
by op (a 12 MP photo in memory: 0.31 s against 0.81 s); strips padded to a
few fixed sizes make each kernel compile a few times per process at most
(on the first photos), whatever the photos' sizes; and no full-size float
image exists (no L, ab or float RGB of the photo): a photo costs its 8-bit
pixels and its 8-bit output.

These functions are plain TF ops: eval.py and the exported SavedModel's
serving signature run the same code.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import tensorflow as tf

from colorize import ab_bins, color, config as config_lib, models, quiet

PredictFn = Callable[[tf.Tensor], tf.Tensor]  # normalised L [B,S,S,1] -> ab [B,S,S,2]

# Pixels per strip of rows, at most. Strips are padded to a fixed size so
# that XLA compiles each kernel for a few shapes only: the smallest of
# STRIP_SIZES that holds the whole photo, else STRIP_PIXELS (so a small
# photo is not padded to a big strip). At 12 MP, 2^18 to 2^22 measured the
# same speed for the merge, and the first pass's per-strip resize wants
# strips of a few hundred rows (2^16: 1.4x slower than 2^20).
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


def network_input(l: tf.Tensor, render_size: int) -> tf.Tensor:
    """Full-resolution L [H, W, 1] (or Lab: channel 0 is read) ->
    normalised L [S, S, 1] for the net."""
    l_small = tf.image.resize(l[..., :1], [render_size, render_size], method="bilinear",
                              antialias=True)
    return color.normalize_l(l_small)


def photo_network_input(image: tf.Tensor, render_size: int,
                        strip_pixels: int = STRIP_PIXELS) -> tf.Tensor:
    """Photo [H, W, C] (uint8, uint16 or float in [0, 1]) -> the network's input
    [S, S, 1]: network_input of the photo's L, resized a strip of rows at a
    time across (to [rows, S]), then the [H, S] stack down, so that no
    full-resolution L exists (192 MB at 48 MP). The resize is separable:
    equal to resizing the whole L up to float rounding (tested)."""
    width = tf.shape(image)[1]

    def narrowed_l(rgb, first, rows):
        # Transposed, so that the resize reduces along the first axis:
        # tf.image.resize measured 7x faster that way round.
        l_t = tf.reshape(_lightness_kernel(rgb)[:rows * width], [rows, width, 1])
        l_t = tf.transpose(l_t, [1, 0, 2])
        l_t = tf.image.resize(l_t, [render_size, rows], method="bilinear", antialias=True)
        return tf.transpose(l_t, [1, 0, 2])

    return network_input(
        _map_row_strips(narrowed_l, image, strip_pixels, tf.float32, [render_size, 1]),
        render_size)


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
    # is not vectorised (this step measured 2.9x slower); exact, since
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
        # recomputed its cube root for each output channel (measured 1.8x
        # slower).
        l = _lightness_kernel(rgb)
        return _merge_kernel(l, first, ab_small, height, width, table)[:rows * width]

    rgb = _map_row_strips(colorized, image, strip_pixels, tf.uint8, [3])
    return tf.reshape(rgb, [height, width, 3])


def colorize_image(image: tf.Tensor, predict: PredictFn, render_size: int) -> tf.Tensor:
    """One photo [H, W, C] (uint8, uint16 or float in [0, 1]) -> colorized
    uint8 RGB [H, W, 3]."""
    ab_small = predict(photo_network_input(image, render_size)[None])[0]
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
    weights. A classification generator comes with its annealed mean (at
    the run's --temperature): either way the model maps L to ab."""
    cfg = config_lib.load(model_dir)
    bins = None
    if cfg.classifies:  # the bins the run trained with, stored beside it
        stored = ab_bins.load_prior(model_dir)
        if stored is None:
            raise ValueError(f"{model_dir} is a --loss=classification run without its "
                             f"{ab_bins.PRIOR_FILE} (the ab bins its class head predicts)")
        bins = stored[0]
    generator = models.build_generator(cfg.generator, image_size or cfg.image_size, cfg.width,
                                       cfg.sync_bn, cfg.upsample,
                                       classes=0 if bins is None else len(bins))
    path = checkpoint_path(model_dir, step)
    restore_strictly(generator, path, cfg.generator)
    if bins is not None:  # decoded to ab as in training: eval and export see ab
        generator = models.decoded(generator, bins, cfg.temperature)
    return generator, cfg, path


def restore_strictly(generator, path: str, name: str = "generator") -> None:
    """Restore every generator variable from the checkpoint at path, or
    raise ValueError: a checkpoint without them (or written for another
    architecture) must not give a silently random generator. The
    checkpoint's other objects (discriminator, optimisers) are not needed
    here."""
    try:
        status = tf.train.Checkpoint(generator=generator).restore(path)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        detail = str(e).strip().splitlines()[0][:300]
        raise ValueError(f"{path} does not hold the weights of this {name} generator "
                         f"(from config.json): {detail}") from e
    status.expect_partial()


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
    try:
        loaded = tf.saved_model.load(path)
        size = int(loaded.render_size.numpy())
        predict = loaded.predict_ab
    except (OSError, AttributeError, tf.errors.OpError) as e:
        raise ValueError(f"{path} is not a SavedModel exported by colorize.export "
                         f"({type(e).__name__}: {str(e).strip().splitlines()[0][:200]})") from e
    return Model(predict, size, f"saved_model:{path}", owner=loaded)


_photo_network_input = tf.function(photo_network_input, reduce_retracing=True, autograph=False)
_merge = tf.function(merge, reduce_retracing=True, autograph=False)


def as_image_tensor(image) -> tf.Tensor:
    """uint8 and uint16 stay as they are (a quarter and a half of float32's
    memory); anything else becomes float32 in [0, 1]."""
    image = np.asarray(image)
    if image.dtype in (np.uint8, np.uint16):
        return tf.convert_to_tensor(image)
    return tf.convert_to_tensor(image, tf.float32)


def colorize_batch(images: list, model: Model) -> list:
    """Photos of any sizes (uint8, uint16 or float in [0, 1]) -> colorized uint8 RGB
    arrays (read-only: views of TF's results, no copy), with one generator
    call for the whole list. Full-resolution work goes photo by photo (the
    same ops as colorize_image); only the render-size inputs are batched."""
    photos = [as_image_tensor(img) for img in images]  # each copied once
    with quiet.without_xla_startup_lines():
        inputs = tf.stack([_photo_network_input(photo, model.render_size) for photo in photos])
        ab = model.predict(inputs)
        return [np.asarray(_merge(photo, ab[i])) for i, photo in enumerate(photos)]
