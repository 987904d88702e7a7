"""Every GAN variant really plays: after a short training on real photos the
adversarial term moves the generator (the adversarial-share meter) and the
discriminator tells true colours from G's better than chance.

Thresholds, from runs on the built-in sample at this size (32 px, width
1/8, batch 8; this test's seed 0 and experiments/wgan_ablation.py's seeds
0-2; RESULTS.md):
- adversarial share >= 0.05: here dcgan 1.2, lsgan 0.62, ebgan 21, wgan
  0.26, wgan-gp 0.51 (the ablation's wgan: 0.23-0.51); the old WGAN critic
  without BatchNorm 5e-8 to 8e-8, and the BatchNorm critic scoring G's
  fakes with batch statistics 0.007-0.03. 0.05 is several times below the
  working variants and above the broken ones: a GAN term that pushes G's
  colours less than 5% as hard as L1 does leaves G training as if alone.
- real-vs-fake accuracy >= 0.55 over the last 50 steps (400 paired
  comparisons; chance is 0.5, a binomial sd of 0.025): measured 0.92-1.0.
"""
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorize import trainer, variants
from colorize.config import TrainConfig
from colorize.data import pipeline, sample

STEPS, WINDOW, BATCH, SIZE = 200, 50, 8, 32
MIN_SHARE, MIN_ACCURACY = 0.05, 0.55


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return sample.ensure_sample(str(tmp_path_factory.mktemp("sample")))


def short_training(photos, model_dir, gan):
    """Medians of the adversarial share and means of the real-vs-fake
    accuracy over the last WINDOW of STEPS generator steps."""
    cfg = TrainConfig(data=photos, model_dir=str(model_dir), gan=gan, loss="l1",
                      image_size=SIZE, width=1 / 8, batch_size=BATCH).resolved()
    keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    t = trainer.Trainer(cfg, strategy)
    pattern = pipeline.split_pattern(photos, "train")
    it = iter(strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.make_dataset(pattern, BATCH, training=True, image_size=SIZE,
                                          input_context=ctx, seed=0)))
    history = [t.train_step(it, tf.constant(1)) for _ in range(STEPS)][-WINDOW:]
    share = float(np.median([float(m["adv_share"]) for m in history]))
    accuracy = float(np.mean([float(m["d_acc"]) for m in history]))
    return share, accuracy


@pytest.mark.parametrize("gan", [g for g, v in variants.VARIANTS.items() if v.discriminator])
def test_every_variant_moves_the_generator_and_separates(photos, tmp_path, gan):
    share, accuracy = short_training(photos, tmp_path, gan)
    assert share >= MIN_SHARE, f"{gan}: the adversarial term is inert (share {share:.3g})"
    assert accuracy >= MIN_ACCURACY, f"{gan}: D does not tell real from fake ({accuracy:.2f})"


def test_the_meter_catches_the_old_unnormalised_critic(photos, tmp_path, monkeypatch):
    """The same check fails on the critic this project used before: clipped
    to 0.005 without BatchNorm (the WGAN-GP critic), its gradient vanishes."""
    old = dataclasses.replace(variants.get("wgan"), discriminator="gp_critic")
    monkeypatch.setitem(variants.VARIANTS, "wgan", old)
    share, _ = short_training(photos, tmp_path, "wgan")
    assert share < MIN_SHARE / 100, share
