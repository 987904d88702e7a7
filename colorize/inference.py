"""Models that eval.py can run (a training run's checkpoint, an exported
SavedModel, the shipped model, the gray baseline), and colorize_batch,
which runs one on photos of any size (the full-resolution work is
colorize.fullres's)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from colorize import (ab_bins, color, config as config_lib, files, fullres, hints as hints_lib,
                      imageio, models, quiet)

PredictFn = fullres.PredictFn
# A guided generator: normalised L [B,S,S,1] and hints [B,S,S,3] (see
# colorize.hints) -> ab [B,S,S,2].
GuidedFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def network_input(photo: np.ndarray, size: int) -> np.ndarray:
    """Photo [H, W, 3] -> the network's normalised L [size, size, 1]: the
    L of imageio.network_rgb, the route the shard builder stores."""
    lab = color.rgb_to_lab_np(imageio.network_rgb(photo, size))
    return np.asarray(color.normalize_l(lab[..., :1]), np.float32)


@dataclass
class Model:
    """A generator that eval.py can run: a predict function and its size.
    A guided model (trained with --hints) also has predict_hints; its
    predict is predict_hints with no hint."""
    predict: PredictFn
    render_size: int
    name: str
    # Whatever owns predict's variables (a loaded SavedModel): kept alive here.
    owner: object = None
    predict_hints: Optional[GuidedFn] = None

    @property
    def guided(self) -> bool:
        return self.predict_hints is not None


def without_hints(predict_hints: GuidedFn, size: int) -> PredictFn:
    """A guided generator's automatic predict: every hint channel 0."""
    def predict(l):
        return predict_hints(l, tf.zeros(tf.concat([tf.shape(l)[:3], [hints_lib.CHANNELS]], 0)))
    return predict


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
    path = files.join(model_dir, f"ckpt-{step}")
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
                                       classes=0 if bins is None else len(bins), hints=cfg.hints,
                                       hints_at_output=cfg.hints_at_output)
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
    l_spec = tf.TensorSpec([None, size, size, 1], tf.float32)
    if cfg.hints:
        @tf.function(input_signature=[l_spec, tf.TensorSpec([None, size, size,
                                                             hints_lib.CHANNELS], tf.float32)])
        def predict_hints(l, hints):
            return generator(tf.concat([l, hints], -1), training=False)

        return Model(without_hints(predict_hints, size), size, os.path.basename(path),
                     predict_hints=predict_hints)

    @tf.function(input_signature=[l_spec])
    def predict(l):
        return generator(l, training=False)

    return Model(predict, size, os.path.basename(path))


# The model shipped inside the package (an exported SavedModel), used when
# eval.py is given no model: see RESULTS.md for how it was trained.
SHIPPED_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained", "general")


# Where a guided model (trained with --hints) goes beside it: when one is
# there, the user's marks are fed to it when no model is named, and photos
# without marks keep the general model's colours. None ships yet: the one
# trained so far scored below the general model corrected by the same
# marks (RESULTS.md, "Guided generators").
SHIPPED_GUIDED = os.path.join(os.path.dirname(SHIPPED_MODEL), "guided")


def shipped_model(with_guided: bool = True) -> Model:
    """The shipped general model; with_guided (and when the install has
    the guided one), its hints go to the shipped guided model: photos with
    marks get the guided network, photos without the general one."""
    if not os.path.exists(os.path.join(SHIPPED_MODEL, "saved_model.pb")):
        raise FileNotFoundError(f"this install has no shipped model at {SHIPPED_MODEL}; "
                                "pass --model_dir=RUN or --saved_model=DIR")
    model = saved_model(SHIPPED_MODEL)
    model.name = "shipped model (colorize/pretrained/general)"
    if with_guided and os.path.exists(os.path.join(SHIPPED_GUIDED, "saved_model.pb")):
        guided = saved_model(SHIPPED_GUIDED)
        if guided.render_size != model.render_size or not guided.guided:
            raise ValueError(f"{SHIPPED_GUIDED} is not a guided model at the general model's "
                             f"size {model.render_size}")
        model.predict_hints = guided.predict_hints
        model.owner = (model.owner, guided.owner)
        model.name += " with hints to colorize/pretrained/guided"
    return model


def saved_model(path: str) -> Model:
    try:
        loaded = tf.saved_model.load(path)
        size = int(loaded.render_size.numpy())
        predict = loaded.predict_ab
    except (OSError, AttributeError, tf.errors.OpError) as e:
        raise ValueError(f"{path} is not a SavedModel exported by colorize.export "
                         f"({type(e).__name__}: {str(e).strip().splitlines()[0][:200]})") from e
    # A guided export (--hints) has predict_ab_hints too.
    return Model(predict, size, f"saved_model:{path}", owner=loaded,
                 predict_hints=getattr(loaded, "predict_ab_hints", None))


# fullres.merge compiled once for every caller (eval, scribbles, the quality
# scripts): a photo and a small ab map -> uint8 RGB at the photo's size.
merge = tf.function(fullres.merge, reduce_retracing=True, autograph=False)


def to_rgb3_np(image: np.ndarray) -> np.ndarray:
    """[H, W, C] with C in {1, 3, 4} -> [H, W, 3] (gray repeated, alpha
    dropped), as fullres.to_rgb3 does."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image[..., :1], 3, -1) if image.shape[-1] == 1 else image[..., :3]


def as_image_tensor(image) -> tf.Tensor:
    """uint8 and uint16 stay as they are (a quarter and a half of float32's
    memory); anything else becomes float32 in [0, 1]."""
    image = np.asarray(image)
    if image.dtype in (np.uint8, np.uint16):
        return tf.convert_to_tensor(image)
    return tf.convert_to_tensor(image, tf.float32)


def hint_inputs(images: list, marks: list, size: int) -> tf.Tensor:
    """Each photo's marks (anything with `index` [n], flat pixel indices
    at the photo's full resolution, and `ab` [n, 2], their Lab ab, such as
    colorize.marks.Marks; or None: no hint) -> hints [B, size, size, 3] in
    the network's grid (colorize.hints.grid, the exported
    colorize_hints' own route)."""
    if len(marks) != len(images):
        raise ValueError(f"{len(marks)} marks for {len(images)} photos")
    grids = []
    for image, m in zip(images, marks):
        h, w = np.shape(image)[:2]
        if m is None:
            grids.append(hints_lib.none(size)[0])
            continue
        height, width = getattr(m, "height", h), getattr(m, "width", w)
        if (height, width) != (h, w):
            raise ValueError(f"the marks are {width}x{height} px, the photo {w}x{h}: marks must "
                             "be of the photo's size")
        grids.append(hints_lib.grid(np.asarray(m.index, np.int64), np.asarray(m.ab, np.float32),
                                    h, w, size))
    return tf.stack(grids)


def colorize_batch(images: list, model: Model, marks: list | None = None) -> list:
    """Photos of any sizes (uint8, uint16 or float in [0, 1]) -> colorized uint8 RGB
    arrays (read-only: views of TF's results, no copy), with one generator
    call for the whole list. The merge at full resolution goes photo by
    photo (fullres.merge, as in the exported model's colorize_image); only
    the render-size inputs are batched. marks (a guided model only): one
    per photo, see hint_inputs."""
    ab = network_ab(images, model, marks)
    photos = [as_image_tensor(img) for img in images]  # each copied once
    with quiet.without_xla_startup_lines():
        return [np.asarray(merge(photo, ab[i])) for i, photo in enumerate(photos)]


def network_ab(images: list, model: Model, marks: list | None = None) -> tf.Tensor:
    """The network's ab [B, S, S, 2] (ab / 110) for photos of any sizes, one
    generator call; with marks (a guided model only; see hint_inputs),
    the network sees them as hints."""
    if marks is not None and any(m is not None for m in marks) and not model.guided:
        raise ValueError(f"{model.name} takes no hints (not trained with --hints)")
    inputs = tf.constant(np.stack([network_input(to_rgb3_np(img), model.render_size)
                                   for img in images]))
    with quiet.without_xla_startup_lines():
        if marks is None or not model.guided:
            return model.predict(inputs)
        return model.predict_hints(inputs, hint_inputs(images, marks, model.render_size))
