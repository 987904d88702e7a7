"""Export a trained generator as a SavedModel.

    python -m colorize.export --model_dir=runs/wgan_l1 --output=exported/wgan_l1
    python -m colorize.export --saved_model=old/ --output=new/   # re-export
    python -m colorize.export --model_dir=runs/x --average=14000,15000,16000 --output=exported/x

--average exports the mean of several checkpoints' generator weights
(weight averaging over the end of a run: a GAN's generator swings from one
checkpoint to the next, and the mean of a few of them evens that out).

--flip_average exports a predict_ab that averages the generator's ab for
the photo and for its mirror image (mirrored back): a test-time ensemble
of two, at twice the cost of the small network (the full-resolution
merge, most of a photo's time, runs once). A photo's colours do not
depend on which way it faces, and the network's two guesses differ where
it is unsure; their mean is the more accurate and a little less
colourful (RESULTS.md measures it on the shipped model).

Re-exporting writes a SavedModel's generator (its predict_ab) again with
this version's serving code.

--output, --model_dir and --saved_model may be remote (gs://, s3:// ...).

Signatures:
- serving_default: `image` uint8 [H, W, C] (C = 1 or 3, any H and W) ->
  `rgb` uint8 [H, W, 3], colorized at full resolution (colorize.fullres).
- predict_ab: `l` float32 [B, S, S, 1], normalised L (L/50 - 1) -> `ab`
  float32 [B, S, S, 2], ab/110, at the trained size S.
A guided model (trained with --hints; docs/guided.md) has two more, and
its serving_default and predict_ab are its answers with no hint:
- colorize_hints: `image` uint8 [H, W, C] and `hints` uint8 [H, W, 4], an
  RGBA hints image of the photo's size (transparent where there is no
  hint; another size is refused) -> `rgb` uint8 [H, W, 3].
- predict_ab_hints: `l` as predict_ab and `hints` float32 [B, S, S, 3]
  (colorize.hints' grid: ab/110 and a mask) -> `ab`.
Only core TF ops are in the graph: loading needs neither colorize nor
tensorflow-io. The full-resolution kernels are XLA-compiled functions
(jit_compile), compiled on the first call in each process.
"""
from __future__ import annotations

if __name__ == "__main__":  # python -m colorize.export: set up before TensorFlow loads
    from colorize import quiet

    quiet.setup_process()

import dataclasses  # noqa: E402
import os
import shutil
import sys
import tempfile
from typing import Optional

import numpy as np
import tensorflow as tf

from colorize import files, fullres, hints as hints_lib, inference, settings
from colorize.settings import REQUIRED, setting


class ColorizerModule(tf.Module):
    def __init__(self, generator, render_size: int, flip_average: bool = False):
        """flip_average: predict_ab averages generator's ab with that of
        the mirror image, unless generator (a re-exported SavedModel's)
        does so already."""
        super().__init__(name="colorizer")
        self.generator = generator
        self.render_size = tf.Variable(render_size, trainable=False, name="render_size")
        already = getattr(generator, "flip_averaged", False)
        self.flip_average = tf.Variable(flip_average or already, trainable=False,
                                        name="flip_average")
        self._flip_here = flip_average and not already
        self._size = render_size
        l_spec = tf.TensorSpec([None, render_size, render_size, 1], tf.float32, "l")
        self.predict_ab = tf.function(self._predict_ab, input_signature=[l_spec])
        self.colorize = tf.function(
            self._colorize, input_signature=[tf.TensorSpec([None, None, None], tf.uint8, "image")])
        self.guided = _is_guided(generator)
        if self.guided:
            self.predict_ab_hints = tf.function(self._predict_ab, input_signature=[
                l_spec, tf.TensorSpec([None, render_size, render_size, hints_lib.CHANNELS],
                                      tf.float32, "hints")])
            self.colorize_hints = tf.function(self._colorize_hints, input_signature=[
                tf.TensorSpec([None, None, None], tf.uint8, "image"),
                tf.TensorSpec([None, None, 4], tf.uint8, "hints")])

    def _generate(self, l, hints=None):
        """The generator's ab for L (and, for a guided one, hints: none
        given, every hint channel 0)."""
        if isinstance(self.generator, _Restored):
            return self.generator(l, hints)
        if self.guided:
            if hints is None:
                hints = hints_lib.none(self._size, tf.shape(l)[0])
            l = tf.concat([l, hints], -1)
        return self.generator(l, training=False)

    def _predict_ab(self, l, hints=None):
        if not self._flip_here:
            return self._generate(l, hints)
        # One call on the photos and their mirror images (their hints
        # mirrored with them): at inference BatchNorm uses its moving
        # statistics, so each example's output is what a call on it alone
        # gives.
        def both(x):
            return None if x is None else tf.concat([x, tf.reverse(x, [2])], 0)

        ab, mirrored = tf.split(self._generate(both(l), both(hints)), 2)
        return 0.5 * (ab + tf.reverse(mirrored, [2]))

    def _predict_ab_signature(self, l):
        return {"ab": self.predict_ab(l)}

    def _predict_ab_hints_signature(self, l, hints):
        return {"ab": self.predict_ab_hints(l, hints)}

    def _colorize(self, image):
        return {"rgb": fullres.colorize_image(image, self._predict_ab, self._size)}

    def _colorize_hints(self, image, hints):
        """A photo and its RGBA hints image (of the photo's size) -> rgb."""
        tf.debugging.assert_equal(
            tf.shape(hints)[:2], tf.shape(image)[:2],
            # (no apostrophe: TF's error text escapes it)
            message="the hints image must have the same height and width as the photo "
                    "(x: the hints, y: the photo); draw the hints on a layer of the photo")
        grid = hints_lib.rgba_grid(hints, self._size)[None]
        return {"rgb": fullres.colorize_image(image, lambda l: self._predict_ab(l, grid),
                                              self._size)}


def _is_guided(generator) -> bool:
    """Whether generator takes hints: a Keras generator with more input
    channels than L, or a re-exported guided SavedModel."""
    if isinstance(generator, _Restored):
        return generator.predict_ab_hints is not None
    return generator.input.shape[-1] > 1


class _Restored(tf.Module):
    """A loaded SavedModel's generator, called as ColorizerModule calls a
    Keras generator (its predict_ab is already the inference graph). Only
    the generator's variables and predict_ab are kept: not the old
    serving function."""

    def __init__(self, loaded):
        super().__init__(name="restored")
        self.weights = loaded.generator
        self.predict_ab = loaded.predict_ab
        self.predict_ab_hints = getattr(loaded, "predict_ab_hints", None)
        # Exports from before --flip_average have no such variable.
        self.flip_averaged = bool(getattr(loaded, "flip_average", False))

    def __call__(self, l, hints=None):
        if hints is None:
            return self.predict_ab(l)
        return self.predict_ab_hints(l, hints)


def _check_output(output: str, overwrite: bool) -> None:
    if tf.io.gfile.isdir(output) and tf.io.gfile.listdir(output) and not overwrite:
        raise FileExistsError(f"{output} exists and is not empty; pass --overwrite")


def _save(module: ColorizerModule, output: str) -> None:
    """Write the SavedModel to output (which may be the folder the module
    was loaded from); a local path or a URI (gs://, s3:// ...)."""
    signatures = {
        "serving_default": module.colorize,
        "predict_ab": tf.function(
            module._predict_ab_signature,
            input_signature=module.predict_ab.input_signature).get_concrete_function(),
    }
    if module.guided:
        signatures["colorize_hints"] = module.colorize_hints
        signatures["predict_ab_hints"] = tf.function(
            module._predict_ab_hints_signature,
            input_signature=module.predict_ab_hints.input_signature).get_concrete_function()
    if files.is_remote(output):
        with tempfile.TemporaryDirectory() as local:
            tf.saved_model.save(module, local, signatures=signatures)
            _upload(local, output)
        return
    # Locally: to a temporary folder, then put in place of output, so that
    # a failed export leaves the old one as it was.
    base = output.rstrip("/")
    tmp, old = base + ".tmp", base + ".old"
    shutil.rmtree(tmp, ignore_errors=True)
    tf.saved_model.save(module, tmp, signatures=signatures)
    # The old export is moved aside, not deleted, until the new one is in
    # place: at every moment one complete SavedModel exists.
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(output):
        os.replace(output, old)
    os.replace(tmp, output)
    shutil.rmtree(old, ignore_errors=True)


def _upload(local: str, output: str) -> None:
    """Copy a SavedModel folder over output, a URI. Object stores have no
    folder rename, so the files are copied in place: saved_model.pb last
    (a reader that finds it finds the variables it names), then the files
    of an older export that this one does not have are removed."""
    new = sorted(os.path.relpath(os.path.join(folder, name), local).replace(os.sep, "/")
                 for folder, _, names in os.walk(local) for name in names)
    new.sort(key=lambda rel: rel == "saved_model.pb")
    for rel in new:
        target = files.join(output, rel)
        tf.io.gfile.makedirs(target.rsplit("/", 1)[0])
        tf.io.gfile.copy(os.path.join(local, rel), target, overwrite=True)
    if tf.io.gfile.isdir(output):
        for folder, _, names in tf.io.gfile.walk(output):
            for name in names:
                path = files.join(folder, name)
                if path[len(output.rstrip("/")) + 1:] not in new:
                    tf.io.gfile.remove(path)


def averaged_generator(model_dir: str, steps: list[int]):
    """The run's generator with every weight (BatchNorm's moving statistics
    too) the mean of its values at the checkpoints of steps; like
    inference.load_generator, returns (generator, config, where from)."""
    if len(set(steps)) < 2:
        raise ValueError(f"--average needs two or more different steps; got {steps}")
    generator, cfg, first = inference.load_generator(model_dir, steps[0])
    total = [np.array(v, np.float64) for v in generator.weights]
    paths = [first]
    for step in steps[1:]:
        other, _, path = inference.load_generator(model_dir, step)
        paths.append(path)
        for t, v in zip(total, other.weights):
            t += np.array(v)
    for v, t in zip(generator.weights, total):
        v.assign(t / len(steps))  # cast to the variable's dtype
    return generator, cfg, "the mean of " + ", ".join(paths)


def export(model_dir: str, output: str, step: int | None = None, overwrite: bool = False,
           average: list[int] | None = None, flip_average: bool = False) -> str:
    """Write the SavedModel of one checkpoint (step; default the latest) or
    of the mean of several (average: their steps), its ab averaged with the
    mirror image's with flip_average; returns where it came from."""
    _check_output(output, overwrite)
    if average:
        generator, cfg, path = averaged_generator(model_dir, average)
    else:
        generator, cfg, path = inference.load_generator(model_dir, step)
    _save(ColorizerModule(generator, cfg.image_size, flip_average), output)
    return path


def reexport(saved_model: str, output: str, overwrite: bool = False,
             flip_average: bool = False) -> None:
    """Write a SavedModel exported here (by any version) again with this
    version's signatures around the same generator (a flip-averaged one
    stays so; flip_average makes one so)."""
    _check_output(output, overwrite)
    model = inference.saved_model(saved_model)
    _save(ColorizerModule(_Restored(model.owner), model.render_size, flip_average), output)


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """colorize.export's settings: each field is a flag of the same name
    (colorize.settings)."""
    output: str = setting(REQUIRED, "SavedModel folder to write (a local path or a URI: gs://, "
                          "s3:// ...).")
    model_dir: Optional[str] = setting(None, "Training run (config.json + checkpoints).")
    saved_model: Optional[str] = setting(
        None, "Or a SavedModel exported here: re-exported with this version's serving code "
        "(--output may be the same folder).")
    step: Optional[int] = setting(None, "Checkpoint step (default: the latest).")
    average: tuple[int, ...] = setting((), "Or checkpoint steps (comma-separated) whose "
                                       "generator weights are averaged into the export.")
    flip_average: bool = setting(
        False, "Average the ab predicted for each photo and for its mirror image (a test-time "
        "ensemble: more accurate, a little less colourful, twice the network's cost).")
    overwrite: bool = setting(False, "Replace an existing --output.")

    def validate(self) -> None:
        if bool(self.model_dir) == bool(self.saved_model):
            raise ValueError("pass --model_dir or --saved_model (one of them)")
        if self.saved_model and (self.step is not None or self.average):
            raise ValueError("--step and --average need --model_dir")
        if self.step is not None and self.average:
            raise ValueError("pass --step or --average (one of them)")


def run_config(cfg: ExportConfig) -> str:
    """The export cfg asks for; returns where it came from."""
    cfg.validate()
    if cfg.saved_model:
        reexport(cfg.saved_model, cfg.output, cfg.overwrite, cfg.flip_average)
        return cfg.saved_model
    return export(cfg.model_dir, cfg.output, cfg.step, cfg.overwrite, list(cfg.average),
                  cfg.flip_average)


def main(argv):
    from absl import flags

    from colorize import shutdown

    f = flags.FLAGS
    files.register_filesystems(f.model_dir, f.saved_model, f.output)
    return shutdown.exit_now(_main(argv), f.model_dir, f.saved_model, f.output)


def _main(argv):
    del argv
    from colorize import quiet

    quiet.tensorflow_info_off()  # this command prints what it did
    try:
        cfg = settings.config_from_flags(ExportConfig)
        path = run_config(cfg)
    except (OSError, ValueError) as e:  # missing or existing folders, bad flags
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"exported {path} -> {cfg.output}")
    print(f"inspect: saved_model_cli show --all --dir {cfg.output}")
    return 0


def run():
    """python -m colorize.export, and the console script colorize-export."""
    from absl import app

    settings.define_flags(ExportConfig, module_name=sys.argv[0])
    app.run(main)


if __name__ == "__main__":
    run()
