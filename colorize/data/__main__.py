"""python -m colorize.data --input=DIR --output=DIR --size=N: build shards."""
from __future__ import annotations

import sys

from absl import app, flags

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
flags.DEFINE_bool("overwrite", False, "Replace shards already in --output.")
flags.mark_flags_as_required(["input", "output"])
FLAGS = flags.FLAGS


def main(argv):
    del argv
    cfg = builder.BuildConfig(
        input=FLAGS.input, output=FLAGS.output, size=FLAGS.size,
        shards=FLAGS.shards, val_fraction=FLAGS.val_fraction, skip_gray=FLAGS.skip_gray,
        gray_threshold=FLAGS.gray_threshold, workers=FLAGS.workers, overwrite=FLAGS.overwrite)
    try:
        manifest = builder.build(cfg)
    except builder.BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(builder.summary(manifest, FLAGS.output))
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()
