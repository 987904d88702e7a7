"""Train a colorization generator, alone or in a conditional GAN.

    python train.py --gan=wgan --loss=l1 --data=data/tfrecords/celeba --model_dir=runs/wgan_l1

With no --data it runs the built-in demo: shards of the photos that ship
with scikit-image, built under data/sample on first use, and (unless set)
--max_steps=600 --width=0.25 --batch_size=8 --model_dir=runs/demo, about
two minutes on two CPU cores.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from colorize import config as config_lib, models, variants  # noqa: E402

_D = config_lib.TrainConfig()
DEMO = {"max_steps": 600, "width": 0.25, "batch_size": 8, "model_dir": "runs/demo",
        "log_every": 25, "image_every": 100, "checkpoint_every": 100}

flags.DEFINE_string("data", None, "Folder of shards built by colorize.data (train-*.tfrecord, "
                    "val-*.tfrecord), or several separated by commas. Unset: the built-in "
                    "sample (demo run).")
flags.DEFINE_list("data_weights", None, "Sampling weight per --data folder, comma-separated "
                  "(e.g. 0.45,0.25,0.2,0.1). Default: folders mix in proportion to their sizes.")
flags.DEFINE_string("model_dir", _D.model_dir, "Checkpoints, config.json, summaries, samples.")
flags.DEFINE_enum("gan", _D.gan, list(variants.VARIANTS), "GAN variant; none = generator alone.")
flags.DEFINE_enum("loss", _D.loss, list(config_lib.LOSSES), "Regression loss on ab.")
flags.DEFINE_enum("generator", _D.generator, list(models.GENERATORS), "Generator network.")
flags.DEFINE_enum("upsample", _D.upsample, list(models.UPSAMPLERS),
                  "Generator x2 upsampling: resize (bilinear + 3x3 conv, no checkerboard) or "
                  "transpose (the published 4x4 transposed conv).")
flags.DEFINE_float("width", _D.width, "Channel width multiplier (1 = the published nets).")
flags.DEFINE_integer("image_size", _D.image_size, "Training crop size in px (multiple of 8).")
flags.DEFINE_integer("batch_size", _D.batch_size, "Global batch size (split over replicas).")
flags.DEFINE_integer("max_steps", _D.max_steps, "Generator steps to train to.")
flags.DEFINE_float("gan_weight", None, "Weight of the adversarial term (default 1; 0 for none).")
flags.DEFINE_float("l1_weight", None, "Weight of L1 (default 100 when --loss has l1, else 0).")
flags.DEFINE_float("l2_weight", None, "Weight of L2 (default 100 when --loss has l2, else 0).")
flags.DEFINE_enum("optimizer", None, list(variants.OPTIMIZERS), "Default: the variant's.")
flags.DEFINE_float("lr_g", None, "Generator learning rate (default: the variant's).")
flags.DEFINE_float("lr_d", None, "Discriminator learning rate (default: the variant's).")
flags.DEFINE_float("beta_1", None, "Adam beta_1 (default 0.5).")
flags.DEFINE_float("beta_2", None, "Adam beta_2 (default 0.999; 0.9 for wgan-gp).")
flags.DEFINE_integer("n_critic", None, "D steps per G step (default 5 for wgan*, else 1).")
flags.DEFINE_float("clip", None, "WGAN weight clip c (default 0.005 for wgan).")
flags.DEFINE_float("margin", None, "EBGAN margin (default 40).")
flags.DEFINE_float("gp_weight", None, "Gradient penalty weight (default 10 for wgan-gp).")
flags.DEFINE_integer("critic_warmup_steps", _D.critic_warmup_steps,
                     "First G steps that use --critic_warmup_n D steps (the original's 100).")
flags.DEFINE_integer("critic_warmup_n", _D.critic_warmup_n, "D steps per G step in the warm-up.")
flags.DEFINE_bool("sync_bn", _D.sync_bn, "BatchNorm statistics over the global batch.")
flags.DEFINE_integer("seed", _D.seed, "Random seed (weights, shuffling, augmentation).")
flags.DEFINE_integer("checkpoint_every", _D.checkpoint_every, "Steps between checkpoints.")
flags.DEFINE_integer("summary_every", _D.summary_every, "Steps between scalar summaries.")
flags.DEFINE_integer("image_every", _D.image_every, "Steps between image grids.")
flags.DEFINE_integer("log_every", _D.log_every, "Steps between progress lines.")
FLAGS = flags.FLAGS


def build_config() -> config_lib.TrainConfig:
    values = {name: FLAGS[name].value for name in config_lib.TrainConfig.__dataclass_fields__
              if name in FLAGS and FLAGS[name].value is not None}
    if "data_weights" in values:
        try:
            values["data_weights"] = tuple(float(w) for w in values["data_weights"])
        except ValueError:
            raise config_lib.ConfigError(f"--data_weights must be numbers; got "
                                         f"{','.join(values['data_weights'])}") from None
    if FLAGS.data is None:
        from colorize.data import sample

        logging.info("no --data: demo run on the built-in sample (%s)", sample.DEFAULT_DIR)
        values["data"] = sample.ensure_sample()
        for name, value in DEMO.items():
            if not FLAGS[name].present:
                values[name] = value
    return config_lib.TrainConfig(**values)


def main(argv):
    del argv
    from colorize import trainer

    try:
        trainer.train(build_config())
    except (config_lib.ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except trainer.NonFiniteLoss as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)
