"""What the WGAN critic's normalisation choices do to the adversarial share:
the critic as shipped, the same scoring G's fakes with batch statistics,
and this project's earlier critic (clipped, no BatchNorm).

    python experiments/wgan_ablation.py [--steps 120] [--seeds 0 1 2]

Short runs on the built-in sample (scikit-image's photos, 32 px, width
1/8, batch 8, wgan with l1): the same setting as tests/test_gan_learning.py.
Prints, per critic and seed, the median adversarial share and the mean
real-vs-fake accuracy over the last quarter of the steps.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorize import trainer, variants  # noqa: E402
from colorize.config import TrainConfig  # noqa: E402
from colorize.data import pipeline, sample  # noqa: E402

SHIPPED = variants.get("wgan")
CRITICS = {
    "BatchNorm critic, G scored with moving statistics (shipped)": SHIPPED,
    "BatchNorm critic, G scored with batch statistics": dataclasses.replace(
        SHIPPED, batch_stats_in_g_step=True),
    "no BatchNorm (the earlier critic)": dataclasses.replace(
        SHIPPED, discriminator="gp_critic", batch_stats_in_g_step=True),
}


def meters(photos: str, steps: int, seed: int, model_dir: str) -> tuple[float, float]:
    cfg = TrainConfig(data=photos, model_dir=model_dir, gan="wgan", loss="l1", image_size=32,
                      width=1 / 8, batch_size=8).resolved()
    keras.utils.set_random_seed(seed)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    t = trainer.Trainer(cfg, strategy)
    pattern = pipeline.split_pattern(photos, "train")
    it = iter(strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.make_dataset(pattern, 8, training=True, image_size=32,
                                          input_context=ctx, seed=seed)))
    history = [t.train_step(it, tf.constant(1)) for _ in range(steps)]
    last = history[-max(1, steps // 4):]
    return (float(np.median([float(m["adv_share"]) for m in last])),
            float(np.mean([float(m["d_acc"]) for m in last])))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photos = sample.ensure_sample(os.path.join(tmp, "sample"))
        print(f"wgan + l1, {a.steps} steps, 32 px, width 1/8, batch 8; median adv share and "
              "mean D accuracy over the last quarter")
        for name, variant in CRITICS.items():
            variants.VARIANTS["wgan"] = variant
            for seed in a.seeds:
                share, acc = meters(photos, a.steps, seed, os.path.join(tmp, f"run{seed}"))
                print(f"{name:62s} seed {seed}: adv share {share:.3g}  D acc {acc:.2f}",
                      flush=True)
        variants.VARIANTS["wgan"] = SHIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main())
