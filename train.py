"""Train a colorization generator, alone or in a conditional GAN.

    python train.py --gan=wgan --loss=l1 --data=data/tfrecords/celeba --model_dir=runs/wgan_l1

With no --data it runs the built-in demo: shards of the photos that ship
with scikit-image, built under data/sample on first use, and (unless set)
--max_steps=600 --width=0.25 --batch_size=8 --model_dir=runs/demo, about
two minutes on two CPU cores.
"""
from __future__ import annotations

import sys

from absl import app, flags, logging

from colorize import quiet

quiet.setup_process()  # before TensorFlow loads (below)

from colorize import config as config_lib, settings  # noqa: E402

DEMO = {"max_steps": 600, "width": 0.25, "batch_size": 8, "model_dir": "runs/demo",
        "log_every": 25, "image_every": 100, "checkpoint_every": 100}

# Every flag comes from a TrainConfig field (default, help, choices): one
# declaration for the config, the flags and docs/training.md's table.
settings.define_flags(config_lib.TrainConfig, module_name=sys.argv[0])
FLAGS = flags.FLAGS


def build_config() -> config_lib.TrainConfig:
    values = settings.values_from_flags(config_lib.TrainConfig)
    if not FLAGS["data"].present:
        from colorize.data import sample

        logging.info("no --data: demo run on the built-in sample (%s)", sample.DEFAULT_DIR)
        values["data"] = sample.ensure_sample()
        for name, value in DEMO.items():
            if not FLAGS[name].present:
                values[name] = value
    return config_lib.TrainConfig(**values)


def main(argv):
    from colorize import files, shutdown

    files.register_filesystems(FLAGS.data, FLAGS.model_dir)
    return shutdown.exit_now(_main(argv), FLAGS.data, FLAGS.model_dir)


def _main(argv):
    del argv
    from colorize import cluster, shutdown, trainer

    try:
        trainer.train(build_config())
    except (config_lib.ConfigError, settings.SettingError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except trainer.NonFiniteLoss as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except cluster.WorkerLost as e:
        print(f"error: {e}", file=sys.stderr)
        return shutdown.WORKER_LOST
    except trainer.Interrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)
        return 128 + e.signum  # the shell's code for death by that signal: not a success
    return 0


def run():
    """Console script colorize-train."""
    app.run(main)


if __name__ == "__main__":
    run()
