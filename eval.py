"""Colorize a folder of photos with a trained model, and optionally score it.

    python eval.py --input=old_photos/ --output=colorized/     # the shipped model
    python eval.py --model_dir=runs/wgan_l1 --input=old_photos/ --output=colorized/
    python eval.py --model_dir=runs/wgan_l1 --input=val/ --output=out/ --metrics --grid
    python eval.py --model=gray --input=val/ --output=out_gray/ --metrics   # baseline
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

from colorize import quiet

quiet.setup_process()  # before TensorFlow loads (below)

from colorize import evaluate, settings  # noqa: E402

# Every flag comes from an EvalConfig field (default, help, choices).
settings.define_flags(evaluate.EvalConfig, module_name=sys.argv[0])
FLAGS = flags.FLAGS


def main(argv):
    from colorize import files, shutdown

    files.register_filesystems(FLAGS.model_dir, FLAGS.saved_model)
    return shutdown.exit_now(_main(argv), FLAGS.model_dir, FLAGS.saved_model)


def _main(argv):
    del argv
    from colorize import folders, signals

    cfg = settings.config_from_flags(evaluate.EvalConfig)
    try:
        with signals.stop_on_signals():
            summary = evaluate.run(cfg)
    except (evaluate.EvalError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return folders.EXIT_USAGE
    except signals.Stopped as e:
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
