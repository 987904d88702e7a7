"""Full-resolution colorization around a generator at its trained size.

The network sees the photo's L resized to its render size; the predicted ab
is upsampled bilinearly to the photo's size and merged with the photo's own
full-resolution L, so every detail of the input survives. Non-square
photos are squashed to the square render size and back: chroma is smooth,
so the squash costs little, and the whole photo is seen (no crop).

These functions are plain TF ops: eval.py and the exported SavedModel's
serving signature run the same code.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import tensorflow as tf

from colorize import color, config as config_lib, models

PredictFn = Callable[[tf.Tensor], tf.Tensor]  # normalised L [B,S,S,1] -> ab [B,S,S,2]


def to_rgb3(image: tf.Tensor) -> tf.Tensor:
    """[H, W, C] float with C in {1, 3, 4} -> [H, W, 3] (gray tiled, alpha dropped)."""
    channels = tf.shape(image)[-1]
    return tf.cond(channels == 1, lambda: tf.tile(image[..., :1], [1, 1, 3]),
                   lambda: image[..., :3])


def network_input(lab: tf.Tensor, render_size: int) -> tf.Tensor:
    """Full-resolution Lab [H, W, 3] -> normalised L [S, S, 1] for the net."""
    l_small = tf.image.resize(lab[..., :1], [render_size, render_size], method="bilinear",
                              antialias=True)
    return color.normalize_l(l_small)


def merge(lab: tf.Tensor, ab_small: tf.Tensor) -> tf.Tensor:
    """Photo Lab [H, W, 3] + network ab [S, S, 2] -> sRGB float [H, W, 3]."""
    size = tf.shape(lab)[:2]
    ab = tf.image.resize(ab_small, size, method="bilinear")
    return color.lab_to_rgb(tf.concat([lab[..., :1], color.denormalize_ab(ab)], axis=-1))


def to_uint8(rgb: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.round(tf.clip_by_value(rgb, 0.0, 1.0) * 255.0), tf.uint8)


def colorize_rgb(rgb: tf.Tensor, predict: PredictFn, render_size: int) -> tf.Tensor:
    """One sRGB float photo [H, W, C] -> colorized uint8 RGB [H, W, 3]."""
    lab = color.rgb_to_lab(to_rgb3(rgb))
    ab_small = predict(network_input(lab, render_size)[None])[0]
    return to_uint8(merge(lab, ab_small))


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
def _prepare(rgb, render_size):
    lab = color.rgb_to_lab(to_rgb3(rgb))
    return lab, network_input(lab, render_size)


@tf.function(reduce_retracing=True)
def _finish(lab, ab_small):
    return to_uint8(merge(lab, ab_small))


def colorize_batch(images: list, model: Model) -> list:
    """sRGB float photos of any sizes -> colorized uint8 RGB arrays, with one
    generator call for the whole list. Same ops as colorize_rgb."""
    prepared = [_prepare(tf.convert_to_tensor(img, tf.float32), model.render_size)
                for img in images]
    ab = model.predict(tf.stack([l for _, l in prepared]))
    return [_finish(lab, ab[i]).numpy() for i, (lab, _) in enumerate(prepared)]
