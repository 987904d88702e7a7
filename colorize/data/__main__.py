"""python -m colorize.data --input=DIR --output=DIR --size=N: build shards.

Exit status: 0 every image file was stored (or dropped as near-gray),
1 finished but some files were skipped (listed with reasons here and in
manifest.json), 2 bad flags or folders (nothing written), 128 + signal
number when stopped by SIGINT/SIGTERM (nothing replaced)."""
from __future__ import annotations

import sys

from absl import app, flags

from colorize import quiet

quiet.setup_process()  # before TensorFlow loads (below)

from colorize import files, folders, settings, shutdown, signals  # noqa: E402
from colorize.data import builder  # noqa: E402

# Every flag comes from a BuildConfig field (default, help).
settings.define_flags(builder.BuildConfig, module_name=sys.argv[0])
FLAGS = flags.FLAGS


def main(argv):
    files.register_filesystems(FLAGS.output)
    return shutdown.exit_now(_main(argv), FLAGS.output)


def _main(argv):
    del argv
    cfg = settings.config_from_flags(builder.BuildConfig)
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
