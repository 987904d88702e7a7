"""python -m colorize.data --input=DIR --output=DIR --size=N: build shards.

Exit status: 0 every image file was stored (or dropped as near-gray),
1 finished but some files were skipped (listed with reasons here and in
manifest.json), 2 bad flags or folders (nothing written), 128 + signal
number when stopped by SIGINT/SIGTERM (nothing replaced)."""
from __future__ import annotations

import sys

from absl import app, flags

from colorize import folders, imageio, shutdown, signals
from colorize.data import builder

flags.DEFINE_string("input", None, "Folder of photos, walked recursively.")
flags.DEFINE_string("output", None, "Folder for the shards and manifest.json.")
flags.DEFINE_integer("size", 64, "Stored image size in px: each photo is stored whole, "
                     "squashed to size x size, as inference sees it.")
flags.DEFINE_integer("shards", 8, "Number of train shards (val gets shards * val_fraction, at least 1).")
flags.DEFINE_float("val_fraction", 0.05, "Fraction of files for val, split by a hash of the relative path.")
flags.DEFINE_bool("skip_gray", True, "Drop near-grayscale photos (they teach desaturation).")
flags.DEFINE_float("gray_threshold", 3.0, "Mean chroma (Lab units) below which a photo counts as gray.")
flags.DEFINE_integer("workers", 0, "Decoding processes; 0 means one per core.")
flags.DEFINE_float("max_megapixels", imageio.MAX_PIXELS / 1e6,
                   "Skip photos that would decode to more pixels than this (JPEGs are decoded "
                   "at 1/2 to 1/8 size first when --size allows): bounds each worker's memory.")
flags.DEFINE_bool("overwrite", False, "Replace shards already in --output.")
flags.mark_flags_as_required(["input", "output"])
FLAGS = flags.FLAGS


def main(argv):
    return shutdown.exit_now(_main(argv), FLAGS.output)


def _main(argv):
    del argv
    cfg = builder.BuildConfig(
        input=FLAGS.input, output=FLAGS.output, size=FLAGS.size,
        shards=FLAGS.shards, val_fraction=FLAGS.val_fraction, skip_gray=FLAGS.skip_gray,
        gray_threshold=FLAGS.gray_threshold, workers=FLAGS.workers,
        max_pixels=round(FLAGS.max_megapixels * 1e6), overwrite=FLAGS.overwrite)
    try:
        with signals.stop_on_signals():
            manifest = builder.build(cfg)
    except builder.BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return folders.EXIT_USAGE
    except signals.Stopped as e:
        print(f"stopped by {e}: nothing written, {FLAGS.output} is as it was", file=sys.stderr)
        return e.exit_status
    print(builder.summary(manifest, FLAGS.output))
    return folders.EXIT_SKIPPED if manifest["counts"]["skipped"] else folders.EXIT_OK


def run():
    app.run(main)


if __name__ == "__main__":
    run()
