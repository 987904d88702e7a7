"""Start a new run's generator from a trained one (TrainConfig.init_generator).

The source is an exported SavedModel (colorize.export; the shipped model
included), a training model_dir (its latest checkpoint) or a checkpoint
path. Its generator must have the architecture the run's flags build,
except that the run's may take more input channels in a layer: a guided
generator (--hints) reads L plus the hint channels in its first layer
(and, with --hints_at_output, in its last). Those extra channels start
with zero weights, so the new generator computes exactly the source's
colours until training teaches it to use the hints: a guided model
starts from the automatic one instead of from scratch. A source that
does not fit is a flag error (ConfigError: train.py exits 2 with the
reason).
"""
from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from colorize.config import ConfigError


def checkpoint_path(source: str) -> str:
    """The checkpoint prefix that holds source's variables."""
    if tf.io.gfile.exists(os.path.join(source, "saved_model.pb")):
        return os.path.join(source, "variables", "variables")
    if tf.io.gfile.isdir(source):
        latest = tf.train.latest_checkpoint(source)
        if not latest:
            raise ConfigError(f"--init_generator={source} holds neither a SavedModel nor a "
                             "checkpoint")
        return latest
    if tf.io.gfile.exists(source + ".index"):
        return source
    raise ConfigError(f"--init_generator={source} does not exist")


def _read_into(generator: keras.Model, path: str) -> None:
    """Restore generator from path: a training checkpoint and an export
    keep it under "generator", a re-export (export.reexport) under
    "generator/weights"."""
    nested = any(name.startswith("generator/weights/") for name, _ in tf.train.list_variables(path))
    holder = tf.train.Checkpoint(weights=generator) if nested else generator
    try:
        status = tf.train.Checkpoint(generator=holder).read(path)
        # The source's other objects (optimisers, an export's settings)
        # are not wanted here.
        status.assert_existing_objects_matched().expect_partial()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ConfigError(f"{path} does not hold a generator of the architecture these flags "
                         "build (--generator, --width, --image_size, --upsample): "
                         f"{str(e).strip().splitlines()[0][:200]}") from e


def widen_into(target: keras.Model, source: keras.Model) -> int:
    """Copy source's weights into target, variable by variable; where
    target's kernel has more input channels (axis -2), the extra ones are
    zero. Returns how many kernels were widened."""
    if len(target.weights) != len(source.weights):
        raise ConfigError(f"the source generator has {len(source.weights)} variables, this run's "
                         f"{len(target.weights)}: not the same architecture")
    widened = 0
    for t, s in zip(target.weights, source.weights):
        value = np.asarray(s.numpy())
        if tuple(t.shape) != value.shape:
            grows_inputs = (len(t.shape) == value.ndim >= 2 and t.shape[-2] > value.shape[-2]
                            and tuple(t.shape[:-2]) + (t.shape[-1],)
                            == value.shape[:-2] + (value.shape[-1],))
            if not grows_inputs:
                raise ConfigError(f"{t.path}: shape {tuple(t.shape)} in this run, {value.shape} "
                                 "in the source: not the same architecture")
            pad = [(0, 0)] * value.ndim
            pad[-2] = (0, t.shape[-2] - value.shape[-2])
            value = np.pad(value, pad)
            widened += 1
        t.assign(value.astype(t.dtype))
    return widened


def init_generator(generator: keras.Model, plain: keras.Model, source: str) -> int:
    """Set generator to source's weights (see the module doc), read
    through plain: a fresh generator of the same flags without hint
    inputs. Returns how many kernels were widened."""
    _read_into(plain, checkpoint_path(source))
    return widen_into(generator, plain)
