"""Colorize a folder of photos with a trained model, and optionally score it.

    python eval.py --input=old_photos/ --output=colorized/     # the shipped model
    python eval.py --model_dir=runs/wgan_l1 --input=old_photos/ --output=colorized/
    python eval.py --model_dir=runs/wgan_l1 --input=val/ --output=out/ --metrics --grid
    python eval.py --model=gray --input=val/ --output=out_gray/ --metrics   # baseline
    python eval.py --input=old_photos/ --reference=colour_photos/ --output=out/  # see docs/reference.md
    python eval.py --input=photos/ --marks=marked/ --output=out/   # scribbles correct the model
    python eval.py --model=levin --input=photos/ --marks=marked/ --output=out/   # Levin et al.

Exit status: 0 every photo colorized (or already there), 1 finished but
some files were skipped (listed with reasons), 2 bad flags, folders or
model (nothing done), 128 + signal number when stopped by SIGINT/SIGTERM
(photos written so far are kept).
"""
from __future__ import annotations

import sys

from absl import app, flags

from colorize import imageio

flags.DEFINE_string("input", None, "Folder of photos (walked recursively) or one file.")
flags.DEFINE_string("output", None, "Folder for the results, same relative paths as --input.")
flags.DEFINE_string("model_dir", None, "Training run: config.json + checkpoints. With no "
                    "--model_dir, --saved_model or --model=gray: the model shipped in the package.")
flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
flags.DEFINE_string("saved_model", None, "An exported SavedModel instead of --model_dir.")
flags.DEFINE_enum("model", "generator", ["generator", "gray", "levin"],
                  "gray: the zero-chroma baseline (no model needed); levin: Levin et al.'s "
                  "colorization from --marks alone (no model).")
flags.DEFINE_string("marks", None, "Folder of scribbles: for each photo, a marked copy or a "
                    "hints PNG with alpha under the same relative path and stem "
                    "(docs/scribbles.md). They correct the model's colours (or, with "
                    "--model=levin, are the only colours).")
flags.DEFINE_integer("render_size", None, "Size the generator runs at (default: trained size).")
flags.DEFINE_bool("metrics", False, "Score against the inputs' colours: metrics.csv/.json.")
flags.DEFINE_bool("grid", False, "Write comparison sheets (gray | colorized | original).")
flags.DEFINE_bool("overwrite", False, "Replace outputs that already exist.")
flags.DEFINE_float("max_megapixels", imageio.MAX_PIXELS / 1e6, "Skip photos larger than this, with the reason "
                   "(bounds memory: about 0.6 GiB + 20 bytes a pixel).")
flags.DEFINE_integer("batch_size", 8, "Photos per generator call, at most: a batch also "
                     "ends once its photos are large (colorize.evaluate.BATCH_PIXELS), so "
                     "memory does not grow with it.")
flags.DEFINE_string("reference", None, "A colour photo, or a folder of them, of the same "
                    "subject: colours are learnt from it once and used for every photo.")
flags.DEFINE_string("reference_model", None, "A reference model saved by --save_reference_model "
                    "(instead of --reference).")
flags.DEFINE_string("save_reference_model", None, "Save what --reference learnt here (.npz), "
                    "for a later run's --reference_model.")
flags.DEFINE_bool("reference_prior", False, "With --reference: mix in the automatic model's "
                  "colour where the reference classifier is unsure (see docs/reference.md).")
flags.mark_flags_as_required(["input", "output"])
FLAGS = flags.FLAGS


def main(argv):
    from colorize import shutdown

    return shutdown.exit_now(_main(argv), FLAGS.model_dir, FLAGS.saved_model)


def _main(argv):
    del argv
    from colorize import evaluate, folders

    cfg = evaluate.EvalConfig(
        input=FLAGS.input, output=FLAGS.output, model_dir=FLAGS.model_dir, step=FLAGS.step,
        saved_model=FLAGS.saved_model, model=FLAGS.model, render_size=FLAGS.render_size,
        metrics=FLAGS.metrics, grid=FLAGS.grid, overwrite=FLAGS.overwrite,
        batch_size=FLAGS.batch_size, max_pixels=round(FLAGS.max_megapixels * 1e6),
        reference=FLAGS.reference, reference_model=FLAGS.reference_model,
        save_reference_model=FLAGS.save_reference_model, reference_prior=FLAGS.reference_prior,
        marks=FLAGS.marks)
    try:
        with folders.stop_on_signals():
            summary = evaluate.run(cfg)
    except (evaluate.EvalError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return folders.EXIT_USAGE
    except folders.Stopped as e:
        print(f"stopped by {e}: the photos written so far are kept (and scored, with "
              "--metrics); run the same command again to do the rest", file=sys.stderr)
        return e.exit_status
    print(evaluate.format_summary(summary))
    return evaluate.exit_status(summary)


def run():
    """Console script colorize-eval."""
    app.run(main)


if __name__ == "__main__":
    run()
