"""--init_generator: a new run starts from a trained generator, a guided
one from an automatic one with its hint inputs at zero weight."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorize import config as config_lib, export, inference, trainer, warm_start
from colorize.data import sample
from tests.test_trainer import one_device, tiny

SHIPPED = Path(inference.__file__).parent / "pretrained" / "general"


@pytest.fixture(scope="module")
def automatic_run(tmp_path_factory):
    """A tiny automatic run (2 steps) and its export."""
    root = tmp_path_factory.mktemp("automatic")
    shards = sample.ensure_sample(str(root / "sample"))
    cfg = tiny(root / "run", data=shards, gan="none")
    trainer.train(cfg, one_device())
    export.export(cfg.model_dir, str(root / "export"))
    return cfg, str(root / "export")


def l_and_hints(n=2, size=32, seed=0):
    rng = np.random.default_rng(seed)
    l = rng.uniform(-1, 1, [n, size, size, 1]).astype(np.float32)
    hints = np.zeros([n, size, size, 3], np.float32)
    hints[:, 8:14, 8:14, :2] = rng.uniform(-0.5, 0.5, [n, 1, 1, 2])
    hints[:, 8:14, 8:14, 2] = 1
    return tf.constant(l), tf.constant(hints)


@pytest.mark.parametrize("source", ["model_dir", "export"])
@pytest.mark.parametrize("at_output", [False, True])
def test_a_guided_run_starts_as_the_automatic_model(automatic_run, tmp_path, source,
                                                    at_output):
    """From a model_dir or an export, with hints entering the first layer
    (and the last): the guided generator's colours are the source's, with
    hints or without (their weights are zero), and the widened kernels are
    the layers that read the hints."""
    cfg, exported = automatic_run
    guided_cfg = dataclasses.replace(cfg, model_dir=str(tmp_path / "guided"), hints=True,
                                     hints_at_output=at_output)
    t = trainer.Trainer(guided_cfg, one_device())
    with_plain = trainer.Trainer(cfg, one_device())
    with_plain.restore()
    plain = with_plain._build_generator(hints=False)
    widened = warm_start.init_generator(
        t.generator, plain, cfg.model_dir if source == "model_dir" else exported)
    assert widened == 1 + at_output
    l, hints = l_and_hints()
    expected = with_plain.colorize(l).numpy()
    np.testing.assert_allclose(t.colorize(l, hints).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(t.colorize(l, tf.zeros_like(hints)).numpy(), expected, atol=1e-6)


def test_train_starts_from_the_shipped_model(tmp_path):
    """train.py --init_generator=colorize/pretrained/general (a re-export:
    its generator is kept one level deeper) with --hints at the shipped
    architecture: before any step, the guided net is the shipped net (its
    predict_ab without the flip averaging is checked through the mirrored
    pair); a resumed run keeps its own weights."""
    cfg = tiny(tmp_path / "run", hints=True, hints_at_output=True, image_size=128, width=0.35,
               init_generator=str(SHIPPED))
    t = trainer.Trainer(cfg, one_device())
    t.warm_start(cfg.init_generator)
    l, hints = l_and_hints(size=128)
    mine = t.colorize(l, hints).numpy()
    mirrored = t.colorize(l[:, :, ::-1], hints[:, :, ::-1]).numpy()[:, :, ::-1]
    loaded = tf.saved_model.load(str(SHIPPED))
    shipped = loaded.predict_ab(l).numpy()
    np.testing.assert_allclose((mine + mirrored) / 2, shipped, atol=1e-5)


def test_a_source_of_another_architecture_is_refused(automatic_run, tmp_path):
    cfg, exported = automatic_run
    wider = dataclasses.replace(cfg, model_dir=str(tmp_path / "wider"), width=cfg.width * 2)
    t = trainer.Trainer(wider, one_device())
    with pytest.raises(ValueError, match="architecture"):
        t.warm_start(exported)
    with pytest.raises(config_lib.ConfigError):  # train.py: exit 2 with the reason
        t.warm_start(exported)
    with pytest.raises(ValueError, match="does not exist"):
        t.warm_start(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither a SavedModel nor a checkpoint"):
        t.warm_start(str(tmp_path / "empty"))


def test_init_applies_to_a_new_run_only(automatic_run, tmp_path, monkeypatch):
    """train() warm-starts at step 0 (the first step starts from the
    source's weights: its update is small next to them), and not on
    resume, where the run's own checkpoint wins."""
    cfg, exported = automatic_run
    calls = []
    original = trainer.Trainer.warm_start
    monkeypatch.setattr(trainer.Trainer, "warm_start",
                        lambda self, source: (calls.append(source), original(self, source)))
    guided = dataclasses.replace(cfg, model_dir=str(tmp_path / "guided"), hints=True,
                                 init_generator=exported, max_steps=1)
    trainer.train(guided, one_device())
    assert calls == [exported]
    trainer.train(dataclasses.replace(guided, max_steps=2), one_device())
    assert calls == [exported]  # resumed: not initialised again
    after = trainer.Trainer(guided, one_device())
    assert after.restore() == 2
    source = trainer.Trainer(cfg, one_device())
    source.restore()
    l, hints = l_and_hints()
    none = tf.zeros_like(hints)
    moved = np.abs(after.colorize(l, none).numpy() - source.colorize(l).numpy()).mean()
    fresh = trainer.Trainer(dataclasses.replace(guided, model_dir=str(tmp_path / "fresh")),
                            one_device())
    unrelated = np.abs(fresh.colorize(l, none).numpy() - source.colorize(l).numpy()).mean()
    assert moved < 0.5 * unrelated, (moved, unrelated)
