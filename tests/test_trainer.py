"""The training loop on tiny configs: every variant x loss steps, replicas
agree with one device, resume is exact, the generator learns, bad flags and
non-finite losses stop with a clear message."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorize import color, config as config_lib, imageio, losses, trainer, variants
from colorize.config import TrainConfig
from colorize.data import builder, sample

REPO = Path(__file__).resolve().parents[1]
SIZE = 32


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """The built-in sample (real photos from scikit-image), stored at 96 px."""
    return sample.ensure_sample(str(tmp_path_factory.mktemp("sample")))


def tiny(model_dir, data="unused", **overrides) -> TrainConfig:
    base = dict(data=str(data), model_dir=str(model_dir), image_size=SIZE, width=1 / 16,
                batch_size=2, max_steps=2, log_every=1, summary_every=1, image_every=1,
                checkpoint_every=1, shuffle_buffer=16, precision="float32")
    base.update(overrides)
    return TrainConfig(**base).resolved()


def one_device():
    return tf.distribute.MirroredStrategy(["/cpu:0"])


@pytest.fixture(scope="module")
def two_replicas():
    """One 2-replica strategy shared by the tests: two MirroredStrategy
    objects over the same devices in one process can hand out the same
    collective instance keys, and their all-reduces then meet each other
    ("Shape mismatch in the collective instance")."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def fixed_iterator(strategy, l, ab, batch_size):
    """Batches of the given examples in order, forever, split over replicas."""
    ds = tf.data.Dataset.from_tensor_slices((l, ab)).batch(batch_size).repeat()
    return iter(strategy.experimental_distribute_dataset(ds))


def random_examples(n, seed=0):
    rng = np.random.default_rng(seed)
    l = rng.uniform(-1, 1, [n, SIZE, SIZE, 1]).astype(np.float32)
    ab = (0.3 * rng.normal(size=[n, SIZE, SIZE, 2])).astype(np.float32)
    return l, ab


def weights(model):
    return [np.array(v) for v in model.trainable_weights]


def changed(before, after):
    return any(not np.array_equal(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize("loss", list(config_lib.LOSSES))
@pytest.mark.parametrize("gan", list(variants.VARIANTS))
def test_one_step_of_every_variant_and_loss(tmp_path, gan, loss):
    cfg = tiny(tmp_path, gan=gan, loss=loss, n_critic=2 if gan.startswith("wgan") else None)
    t = trainer.Trainer(cfg, one_device())
    g0 = weights(t.generator)
    d0 = weights(t.discriminator) if t.discriminator is not None else None
    metrics = t.train_step(fixed_iterator(t.strategy, *random_examples(8), 2), tf.constant(1))
    assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
    assert int(t.step.numpy()) == 1
    assert changed(g0, weights(t.generator))
    if d0 is not None:
        assert changed(d0, weights(t.discriminator))
        assert float(metrics["d_loss"]) != 0.0


def test_wgan_clips_discriminator_only(tmp_path):
    cfg = tiny(tmp_path, gan="wgan", n_critic=2)
    t = trainer.Trainer(cfg, one_device())
    t.train_step(fixed_iterator(t.strategy, *random_examples(6), 2), tf.constant(1))
    c = cfg.clip
    assert max(np.abs(w).max() for w in weights(t.discriminator)) <= c + 1e-9
    # Generator kernels start far above c; a clipped G would be squashed.
    assert max(np.abs(w).max() for w in weights(t.generator)) > 10 * c


def test_two_replicas_match_one_replica(tmp_path, two_replicas):
    """One MirroredStrategy step on 2 logical CPUs over a global batch of 4
    equals one replica on the same 4 examples (the WGAN critic's BatchNorm
    synchronized over the replicas; no dropout at 32 px)."""
    cfg = tiny(tmp_path, gan="wgan", batch_size=4, sync_bn=True, n_critic=2, width=1 / 8)
    keras.utils.set_random_seed(0)
    single = trainer.Trainer(cfg, one_device())
    initial = weights(single.generator)
    double = trainer.Trainer(cfg, two_replicas)
    assert double.strategy.num_replicas_in_sync == 2
    double.generator.set_weights(single.generator.get_weights())
    double.discriminator.set_weights(single.discriminator.get_weights())
    l, ab = random_examples(8, seed=5)  # 2 batches: a critic step, then the joint D-G step
    m1 = single.train_step(fixed_iterator(single.strategy, l, ab, 4), tf.constant(1))
    m2 = double.train_step(fixed_iterator(double.strategy, l, ab, 4), tf.constant(1))
    for a, b in zip(weights(single.generator), weights(double.generator)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for a, b in zip(weights(single.discriminator), weights(double.discriminator)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(float(m1["g_total"]), float(m2["g_total"]), rtol=1e-5)
    assert changed(initial, weights(single.generator))  # the step did train


def test_gradient_penalty_weights_differ_per_replica(tmp_path, two_replicas):
    """WGAN-GP's interpolation weights: each replica (each worker's too: the
    replica index counts over the cluster) draws its own, from step to
    step; a plain tf.random draw repeats on every worker."""
    t = trainer.Trainer(tiny(tmp_path, gan="wgan-gp"), two_replicas)

    @tf.function
    def draw():
        return two_replicas.run(lambda: t._interpolation_weights(64))

    first = [a.numpy() for a in two_replicas.experimental_local_results(draw())]
    second = [a.numpy() for a in two_replicas.experimental_local_results(draw())]
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[0], second[0])
    assert all(0 <= a.min() and a.max() < 1 and 0.35 < a.mean() < 0.65 for a in first + second)


def test_auto_precision_is_decided_once_for_the_cluster(monkeypatch):
    """mixed_bfloat16 only if no worker lacks bfloat16 instructions."""
    from colorize import cluster, models

    strategy = one_device()
    monkeypatch.setattr(models, "cpu_has_bfloat16", lambda: True)
    assert cluster.agreed_precision(strategy, "auto") == "mixed_bfloat16"
    assert cluster.agreed_precision(strategy, "float32") == "float32"
    monkeypatch.setattr(models, "cpu_has_bfloat16", lambda: False)
    assert cluster.agreed_precision(strategy, "auto") == "float32"
    # Another worker without them: its answer reaches this one through the
    # collective any_worker runs.
    monkeypatch.setattr(models, "cpu_has_bfloat16", lambda: True)
    monkeypatch.setattr(cluster, "any_worker", lambda strategy, flag: True)
    assert cluster.agreed_precision(strategy, "auto") == "float32"


def test_unet_dropout_under_two_replicas(tmp_path, two_replicas):
    """At 64 px the U-Net has a dropout layer (at 32 px it has none). Under
    2 replicas each replica draws its own mask (Keras alone gave both the
    same), masks change from step to step, about half the units drop, and
    a training step runs."""
    cfg = tiny(tmp_path, gan="dcgan", image_size=64, batch_size=4)
    strategy = two_replicas
    t = trainer.Trainer(cfg, strategy)
    dropouts = [l for l in t.generator.layers if isinstance(l, keras.layers.Dropout)]
    assert len(dropouts) == 1

    @tf.function
    def masks():
        return strategy.run(lambda: dropouts[0](tf.ones([2, 8, 8, 16]), training=True) == 0)

    first = [m.numpy() for m in strategy.experimental_local_results(masks())]
    second = [m.numpy() for m in strategy.experimental_local_results(masks())]
    assert not np.array_equal(first[0], first[1])  # replicas differ
    assert not np.array_equal(first[0], second[0])  # steps differ
    assert all(0.4 < m.mean() < 0.6 for m in first + second)
    rng = np.random.default_rng(3)
    l = rng.uniform(-1, 1, [8, 64, 64, 1]).astype(np.float32)
    ab = (0.3 * rng.normal(size=[8, 64, 64, 2])).astype(np.float32)
    g0 = weights(t.generator)
    metrics = t.train_step(fixed_iterator(strategy, l, ab, 4), tf.constant(2))
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert changed(g0, weights(t.generator))


def test_adversarial_share_meter_matches_a_direct_computation(tmp_path):
    """adv_share = ||d(gan_weight * adversarial)/d ab|| / ||d(reconstruction)/d ab||
    on G's output, computed here with plain tapes on the same weights. (The
    joint step updates D before G's terms are taken; a learning rate of
    1e-30 keeps D's weights as they were.)"""
    cfg = tiny(tmp_path, gan="lsgan", loss="l1+l2", batch_size=4, width=1 / 8, lr_d=1e-30)
    t = trainer.Trainer(cfg, one_device())
    l, ab = (tf.constant(x) for x in random_examples(4, seed=3))
    with tf.GradientTape(persistent=True) as tape:
        fake = t.generator(l, training=True)
        tape.watch(fake)
        rec = tf.reduce_mean(100 * losses.l1_loss(ab, fake) + 100 * losses.l2_loss(ab, fake))
        adv = tf.reduce_mean(losses.lsgan_generator_loss(t.discriminator([l, fake], training=True)))
    want = float(tf.norm(tape.gradient(adv, fake)) / tf.norm(tape.gradient(rec, fake)))
    g = t._run(t._joint_replica_step, (l, ab))
    got = float(tf.sqrt(g["adv_grad_sq"] / g["rec_grad_sq"]))
    assert want > 0.01
    np.testing.assert_allclose(got, want, rtol=1e-4)
    np.testing.assert_allclose(float(g["g_total"]), float(rec + adv), rtol=1e-5)


def test_real_vs_fake_accuracy_counts_paired_wins():
    """d_acc: the fraction of examples whose true colours D scores as more
    real than G's colours for the same L (EBGAN: lower energy is real)."""
    real = tf.constant([[1.0, 1.0], [0.0, 0.0], [2.0, 0.0], [5.0, 5.0]])
    fake = tf.constant([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5], [5.0, 5.0]])
    for gan, want in (("dcgan", [1, 0, 1, 0]), ("ebgan", [0, 1, 0, 0])):
        t = trainer.Trainer.__new__(trainer.Trainer)
        t.cfg = TrainConfig(gan=gan)
        np.testing.assert_array_equal(t._real_ranked_higher(real, fake).numpy(), want)


def optimizer_state(opt):
    return {v.path: np.array(v) for v in opt.variables}


@pytest.mark.parametrize("gan", ["dcgan", "wgan"])
def test_several_steps_per_call_equal_single_steps(tmp_path, gan):
    """steps_per_loop only moves the host's waits: 3 steps in one call give
    the weights 3 calls of one step give (n_critic 2 and a critic warm-up
    included, which the compiled loop reads from the step counter)."""
    cfg = tiny(tmp_path, gan=gan, n_critic=2 if gan == "wgan" else None,
               critic_warmup_steps=1, critic_warmup_n=3)
    l, ab = random_examples(16, seed=4)
    runs = []
    for calls in ([3], [1, 1, 1]):
        keras.utils.set_random_seed(0)
        t = trainer.Trainer(cfg, one_device())
        it = fixed_iterator(t.strategy, l, ab, 2)
        metrics = [t.train_step(it, tf.constant(n)) for n in calls]
        runs.append((t, metrics, next(it)))
    (a, [ma], next_a), (b, singles, next_b) = runs
    # A call returns its steps' means (what the summaries average), not its last step's.
    mb = {k: np.mean([float(m[k]) for m in singles]) for k in ma}
    assert float(singles[0]["g_total"]) != float(singles[-1]["g_total"])
    for k in ma:
        np.testing.assert_allclose(float(ma[k]), mb[k], rtol=1e-4, atol=1e-6, err_msg=k)
    assert int(a.step.numpy()) == int(b.step.numpy()) == 3
    for x, y in zip(a.generator.weights + a.discriminator.weights,
                    b.generator.weights + b.discriminator.weights):
        np.testing.assert_allclose(np.array(x), np.array(y), rtol=1e-5, atol=1e-6)
    # the same batches were consumed: (3 + 1 + 1) * 2 = 10 for wgan, 3 * 2 for dcgan
    np.testing.assert_array_equal(next_a[0].numpy(), next_b[0].numpy())


def test_calls_end_on_the_next_event():
    cfg = TrainConfig(steps_per_loop=50, log_every=10, summary_every=25, image_every=100,
                      checkpoint_every=40, max_steps=95)
    # from 0: log at 10; from 10: log at 20; from 20: summary at 25; from 90: max at 95
    assert [trainer.steps_to_next_event(s, cfg) for s in (0, 10, 20, 38, 90)] == [10, 10, 5, 2, 5]
    wide = dataclasses.replace(cfg, log_every=1000, summary_every=1000, image_every=1000,
                               checkpoint_every=1000, max_steps=5000)
    assert trainer.steps_to_next_event(0, wide) == 50  # --steps_per_loop caps a call


def test_training_in_long_calls_checkpoints_at_the_asked_steps(tmp_path, shards):
    cfg = tiny(tmp_path, data=shards, gan="lsgan", max_steps=7, steps_per_loop=4,
               checkpoint_every=3, log_every=100, summary_every=100, image_every=100)
    assert trainer.train(cfg, strategy=one_device())["step"] == 7
    kept = tf.train.get_checkpoint_state(cfg.model_dir).all_model_checkpoint_paths
    assert [int(p.rsplit("-", 1)[1]) for p in kept] == [3, 6, 7]


def test_bfloat16_training_keeps_float32_weights_and_learns(tmp_path):
    """mixed_bfloat16: G alone on 8 photos, L1 falls as in float32."""
    cfg = tiny(tmp_path, gan="lsgan", loss="l1", width=0.25, batch_size=8, lr_g=2e-3,
               precision="mixed_bfloat16")
    keras.utils.set_random_seed(0)
    t = trainer.Trainer(cfg, one_device())
    dtypes = {v.dtype for v in t.generator.weights + t.g_optimizer.variables}
    assert dtypes == {"float32", "int64"}  # int64: the optimizer's step count
    it = fixed_iterator(t.strategy, *real_photos(), 8)
    first = float(t.train_step(it, tf.constant(1))["g_l1"])
    t.train_step(it, tf.constant(99))
    last = float(t.train_step(it, tf.constant(1))["g_l1"])
    assert np.isfinite(last) and last < first / 3, (first, last)


def test_resume_restores_exactly_and_continues(tmp_path, shards):
    cfg = tiny(tmp_path / "run", data=shards, gan="dcgan", max_steps=2)
    keras.utils.set_random_seed(1)
    first = trainer.Trainer(cfg, one_device())
    it = fixed_iterator(first.strategy, *random_examples(8), 2)
    for _ in range(2):
        first.train_step(it, tf.constant(1))
    first.manager.save(checkpoint_number=2)

    keras.utils.set_random_seed(2)  # different initial weights
    second = trainer.Trainer(cfg, one_device())
    assert changed(weights(first.generator), weights(second.generator))
    assert second.restore() == 2
    for a, b in [(first.generator, second.generator), (first.discriminator, second.discriminator)]:
        for x, y in zip(a.weights, b.weights):  # BatchNorm moving statistics too
            np.testing.assert_array_equal(np.array(x), np.array(y))
    for a, b in [(first.g_optimizer, second.g_optimizer), (first.d_optimizer, second.d_optimizer)]:
        sa, sb = [np.array(v) for v in a.variables], [np.array(v) for v in b.variables]
        assert len(sa) == len(sb) and int(np.array(a.iterations)) == 2
        for x, y in zip(sa, sb):
            np.testing.assert_array_equal(x, y)

    config_lib.save(cfg)
    result = trainer.train(dataclasses.replace(cfg, max_steps=4), strategy=one_device())
    assert result["step"] == 4
    assert tf.train.latest_checkpoint(cfg.model_dir).endswith("ckpt-4")
    assert sorted(os.listdir(Path(cfg.model_dir) / "samples"))[-1] == "step_0000004.png"
    # At max_steps already: returns at once without training.
    assert trainer.train(dataclasses.replace(cfg, max_steps=4), strategy=one_device()) == {"step": 4}


def test_learning_rate_decays_linearly_in_the_last_steps_and_reaches_the_update(tmp_path):
    """--lr_decay_steps=4 with --max_steps=10: the base rate to step 6,
    then 3/4, 2/4, 1/4 of it, for both optimisers. An Adam update's first
    step moves each weight by about the rate (m/sqrt(v) is +-1), so the
    largest change of one step at step 9 is a quarter of the base rate."""
    cfg = tiny(tmp_path, gan="dcgan", max_steps=10, lr_decay_steps=4, lr_g=1e-3, lr_d=2e-3)
    for step, factor in [(0, 1.0), (6, 1.0), (7, 0.75), (8, 0.5), (9, 0.25), (10, 0.0)]:
        assert float(trainer.decay_factor(cfg, tf.constant(step, tf.int64))) == factor
    assert float(trainer.decay_factor(dataclasses.replace(cfg, lr_decay_steps=0), 9)) == 1.0
    t = trainer.Trainer(cfg, one_device())
    t.step.assign(9)
    before = [weights(t.generator), weights(t.discriminator)]
    t.train_step(fixed_iterator(t.strategy, *random_examples(2), 2), tf.constant(1))
    for model, base in [(t.generator, 1e-3), (t.discriminator, 2e-3)]:
        moved = max(np.abs(a - b).max() for a, b in zip(weights(model), before.pop(0)))
        assert moved == pytest.approx(base / 4, rel=0.05)


def test_a_resumed_run_trains_at_its_own_flags_rates(tmp_path):
    """The rate variables are checkpointed; a resumed run (with the decay
    added, or another base rate) overwrites them at its first step."""
    cfg = tiny(tmp_path / "run", gan="lsgan", max_steps=10, lr_g=1e-3)
    saved = trainer.Trainer(cfg, one_device())
    saved.step.assign(3)
    saved.manager.save(checkpoint_number=3)
    resumed = trainer.Trainer(dataclasses.replace(cfg, lr_decay_steps=8, lr_g=2e-3),
                              one_device())
    assert resumed.restore() == 3
    assert float(np.array(resumed.g_optimizer.learning_rate)) == pytest.approx(1e-3)
    resumed.train_step(fixed_iterator(resumed.strategy, *random_examples(2), 2), tf.constant(1))
    assert float(np.array(resumed.g_optimizer.learning_rate)) == pytest.approx(2e-3 * 7 / 8)


def trained_generator(cfg) -> list:
    t = trainer.Trainer(cfg, one_device())
    t.restore()
    return weights(t.generator)


def trained_in_stops(model_dir, shards, stops: list[int], **overrides) -> list:
    """G's weights after a tiny lsgan run trained to each of stops in turn
    (stopped and resumed in between)."""
    cfg = tiny(model_dir, data=shards, gan="lsgan", checkpoint_every=2, **overrides)
    for max_steps in stops:
        trainer.train(dataclasses.replace(cfg, max_steps=max_steps), strategy=one_device())
    return trained_generator(dataclasses.replace(cfg, max_steps=stops[-1]))


def test_a_resumed_run_continues_the_data_order(tmp_path, shards, monkeypatch):
    """4 steps straight = 2 steps, a stop, and 2 more: the resumed run sees
    the batches the straight run saw (same weights; the step has no random
    draws here: lsgan, no dropout at 32 px). Restarting the stream instead
    gives other weights, so the comparison can fail."""
    def run(name, stops):
        return trained_in_stops(tmp_path / name, shards, stops)

    straight, resumed = run("straight", [4]), run("resumed", [2, 4])
    for a, b in zip(straight, resumed):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    original = trainer.Trainer.restore
    monkeypatch.setattr(trainer.Trainer, "restore",
                        lambda self, previous=None: (original(self, previous),
                                                     self.examples.assign(0))[0])
    restarted = run("restarted", [2, 4])
    assert any(not np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(straight, restarted))


def test_sigterm_checkpoints_and_the_run_resumes(tmp_path, shards):
    """What a preemptible machine does: SIGTERM mid-run. train.py saves a
    checkpoint at the step it reached, exits with 128 + 15, and the same
    command resumes from there."""
    run = tmp_path / "preempted"
    args = [f"--data={shards}", f"--model_dir={run}", "--gan=lsgan", "--max_steps=100000",
            f"--image_size={SIZE}", "--width=0.0625", "--batch_size=2", "--log_every=1",
            "--checkpoint_every=1000", "--image_every=1", "--summary_every=1000"]
    proc = subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=REPO,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (run / "samples" / "step_0000003.png").exists():  # a few steps done
            assert proc.poll() is None and time.monotonic() < deadline, "train.py did not start"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, rest[-3000:]
    assert "interrupted: SIGTERM at step" in rest
    step = int(rest.split("SIGTERM at step ")[1].split(":")[0])
    assert step >= 3 and tf.train.latest_checkpoint(str(run)).endswith(f"ckpt-{step}")
    resumed = run_train(*[a for a in args if not a.startswith("--max_steps")],
                        f"--max_steps={step + 2}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from" in resumed.stderr and f"at step {step}" in resumed.stderr
    assert tf.train.latest_checkpoint(str(run)).endswith(f"ckpt-{step + 2}")


def test_checkpoints_of_older_versions_restore(tmp_path, caplog):
    """A checkpoint written before `examples` existed: its `batches` count
    (global batches, at the run's --batch_size of the time) becomes
    examples; one older still (neither) restores with the stream started
    again, and says so. The weights restore either way."""
    cfg = tiny(tmp_path / "run", gan="lsgan")
    t = trainer.Trainer(cfg, one_device())
    t.step.assign(3)
    parts = {k: v for k, v in t.parts.items() if k != "examples"}
    tf.train.CheckpointManager(tf.train.Checkpoint(**parts, batches=tf.Variable(5, dtype=tf.int64)),
                               cfg.model_dir, 1).save(checkpoint_number=3)
    resumed = trainer.Trainer(cfg, one_device())
    assert resumed.restore(dataclasses.replace(cfg, batch_size=4)) == 3
    assert int(resumed.examples.numpy()) == 5 * 4
    for x, y in zip(t.generator.weights, resumed.generator.weights):
        np.testing.assert_array_equal(np.array(x), np.array(y))

    older = tiny(tmp_path / "older", gan="lsgan")
    tf.train.CheckpointManager(tf.train.Checkpoint(**parts), older.model_dir, 1).save(
        checkpoint_number=3)
    resumed = trainer.Trainer(older, one_device())
    resumed.examples.assign(7)
    assert resumed.restore() == 3 and int(resumed.examples.numpy()) == 0
    assert "the data stream starts again" in caplog.text


def test_resume_counts_examples_and_keeps_every_start(tmp_path, shards, caplog):
    """A resume at another --batch_size continues after the examples seen
    (not batches x the new size); a resume that changes the stream itself
    (--seed here) is recorded and warned about; starts.json keeps every
    start, config.json the latest."""
    cfg = tiny(tmp_path, data=shards, gan="none", max_steps=2, checkpoint_every=100)
    trainer.train(cfg, strategy=one_device())
    trainer.train(dataclasses.replace(cfg, batch_size=4, max_steps=3), strategy=one_device())
    t = trainer.Trainer(cfg, one_device())
    t.restore()
    assert int(t.examples.numpy()) == 2 * 2 + 1 * 4
    assert "another training stream" not in caplog.text
    trainer.train(dataclasses.replace(cfg, seed=5, max_steps=4), strategy=one_device())
    assert "another training stream (--seed: 0 -> 5)" in caplog.text
    starts = json.loads((tmp_path / config_lib.STARTS_FILE).read_text())
    assert [(s["step"], s["examples"], s["config"]["batch_size"], s["config"]["seed"])
            for s in starts] == [(0, 0, 2, 0), (2, 4, 4, 0), (3, 8, 2, 5)]
    assert config_lib.load(cfg.model_dir).seed == 5


def test_resume_refuses_another_architecture(tmp_path, shards):
    cfg = tiny(tmp_path, data=shards, gan="none", loss="l1", max_steps=1)
    trainer.train(cfg, strategy=one_device())
    with pytest.raises(config_lib.ConfigError, match="another architecture.*--generator"):
        trainer.train(dataclasses.replace(cfg, generator="colcol"), strategy=one_device())
    with pytest.raises(config_lib.ConfigError, match="--loss: 'l1' -> 'classification'"):
        trainer.train(dataclasses.replace(cfg, loss="classification"), strategy=one_device())
    trainer.train(dataclasses.replace(cfg, loss="l2", max_steps=2), strategy=one_device())  # fine
    # A checkpoint that no longer fits what the same flags build (another
    # version's head, say): a clear error, not a shape traceback.
    other = tmp_path / "other"
    trainer.Trainer(tiny(other, width=1 / 8), one_device()).manager.save(checkpoint_number=1)
    with pytest.raises(config_lib.ConfigError, match="does not fit the model"):
        trainer.Trainer(tiny(other), one_device()).restore()


def test_classification_learns_the_colours_of_real_photos(tmp_path):
    """Zhang's loss alone on 8 real photos: the cross-entropy falls, and the
    decoded colours get closer to the truth than gray's."""
    l, ab = real_photos()
    cfg = tiny(tmp_path, gan="none", loss="classification", batch_size=8, lr_g=2e-3)
    t = trainer.Trainer(cfg, one_device())
    it = fixed_iterator(t.strategy, l, ab, 8)
    first = float(t.train_step(it, tf.constant(1))["g_cls"])
    t.train_step(it, tf.constant(149))
    last = float(t.train_step(it, tf.constant(1))["g_cls"])
    assert last < 0.6 * first, (first, last)
    error = np.abs(t.colorize(tf.constant(l)).numpy() - ab).mean()
    assert error < 0.8 * np.abs(ab).mean(), (error, np.abs(ab).mean())  # gray's error: |ab|


def real_photos(n=8):
    """8 fixed real photos (scikit-image's), Lab at SIZE px, network range."""
    src = sample._skimage_data_dir()
    labs = [builder.prepare_lab(imageio.read_image(src / name), SIZE)
            for name in sample.PHOTOS]
    labs.append(labs[0][:, ::-1])  # a mirrored astronaut makes 8
    lab = np.stack(labs[:n]).astype(np.float32)
    return np.asarray(color.normalize_l(lab[..., :1])), np.asarray(color.normalize_ab(lab[..., 1:]))


def test_generator_alone_learns_real_photos(tmp_path):
    """G alone with L1 on 8 fixed photos: the L1 loss falls at least 5x
    within 150 steps (it starts near the photos' mean |ab|)."""
    cfg = tiny(tmp_path, gan="none", loss="l1", width=0.25, batch_size=8, lr_g=2e-3)
    keras.utils.set_random_seed(0)
    t = trainer.Trainer(cfg, one_device())
    l, ab = real_photos()
    it = fixed_iterator(t.strategy, l, ab, 8)
    first = float(t.train_step(it, tf.constant(1))["g_l1"])
    for _ in range(150):
        last = float(t.train_step(it, tf.constant(1))["g_l1"])
    assert last < first / 5, (first, last)  # seen: 0.30 -> 0.023


def test_non_finite_loss_stops_and_keeps_last_checkpoint(tmp_path, shards, monkeypatch):
    cfg = tiny(tmp_path, data=shards, gan="none", loss="l1", max_steps=2)
    trainer.train(cfg, strategy=one_device())
    monkeypatch.setattr(losses, "l1_loss", lambda real, fake: losses.per_example_mean(fake) * np.nan)
    with pytest.raises(trainer.NonFiniteLoss, match="step 3.*ckpt-2"):
        trainer.train(dataclasses.replace(cfg, max_steps=5), strategy=one_device())
    assert tf.train.latest_checkpoint(cfg.model_dir).endswith("ckpt-2")


def test_config_errors_before_heavy_work(tmp_path, shards, two_replicas):
    with pytest.raises(config_lib.ConfigError, match="not a variant; choose from none, dcgan"):
        TrainConfig(gan="began").resolved()
    with pytest.raises(config_lib.ConfigError, match="multiple of 8"):
        TrainConfig(image_size=50).resolved()
    with pytest.raises(config_lib.ConfigError, match="no discriminator"):
        TrainConfig(gan="none", gan_weight=1.0).resolved()
    with pytest.raises(FileNotFoundError, match="no TFRecord shards match"):
        trainer.prepare(tiny(tmp_path, data=tmp_path / "nowhere"))
    with pytest.raises(config_lib.ConfigError, match="larger than the stored images"):
        trainer.prepare(tiny(tmp_path, data=shards, image_size=128))
    with pytest.raises(config_lib.ConfigError, match="one non-negative weight per --data folder"):
        TrainConfig(data="a,b", data_weights=(1.0,)).resolved()
    TrainConfig(data="a, b", data_weights=(1.0, 0.0)).resolved()
    with pytest.raises(config_lib.ConfigError, match="does not divide over 2 replicas"):
        trainer.train(tiny(tmp_path, data=shards, batch_size=3), strategy=two_replicas)


def test_config_json_migrates_old_versions_and_refuses_mismatches():
    """config.json carries its version; an unversioned one (from before
    versions were recorded) gets the values its run trained with, and a
    key this version does not know, or a missing field, is an error
    instead of a silent default."""
    cfg = TrainConfig(data_weights=(1.0,))
    assert TrainConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert json.loads(cfg.to_json())["version"] == config_lib.CONFIG_VERSION
    old = json.loads(TrainConfig().to_json())
    del old["version"]
    for added in ("upsample", "precision", "steps_per_loop", "lr_decay_steps", "data_weights"):
        del old[added]
    migrated = TrainConfig.from_dict(old)
    assert (migrated.upsample, migrated.precision, migrated.steps_per_loop,
            migrated.lr_decay_steps, migrated.data_weights) == ("transpose", "float32", 1, 0, ())
    with pytest.raises(config_lib.ConfigError, match=r"unknown \['mode'\]"):
        TrainConfig.from_dict({**json.loads(cfg.to_json()), "mode": "crop"})
    current = json.loads(cfg.to_json())
    del current["seed"]
    with pytest.raises(config_lib.ConfigError, match=r"missing \['seed'\]"):
        TrainConfig.from_dict(current)
    with pytest.raises(config_lib.ConfigError, match="newer"):
        TrainConfig.from_dict({**json.loads(cfg.to_json()), "version": 99})


# TrainConfig's fields at config.json's current version. A new setting
# changes this list and needs a new CONFIG_VERSION with a migration that
# gives older runs its value, or every run trained before it stops loading
# (eval --model_dir, resume, export): version 2 lacked init_generator.
FIELDS_AT_VERSION = (3, {
    "batch_size", "beta_1", "beta_2", "checkpoint_every", "classification_weight", "clip",
    "critic_warmup_n", "critic_warmup_steps", "data", "data_weights", "gan", "gan_weight",
    "generator", "gp_weight", "hint_max_patch", "hint_max_points", "hint_p", "hints",
    "hints_at_output", "image_every", "image_size", "init_generator", "keep_checkpoints",
    "l1_weight", "l2_weight", "log_every", "loss", "lr_d", "lr_decay_steps", "lr_g", "margin",
    "max_steps", "model_dir", "n_critic", "optimizer", "precision", "rebalance", "seed",
    "shuffle_buffer", "steps_per_loop", "strategy", "summary_every", "sync_bn", "temperature",
    "upsample", "width", "worker_timeout"})


def test_a_new_setting_comes_with_a_config_version_and_older_runs_still_load():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    version, recorded = FIELDS_AT_VERSION
    assert (config_lib.CONFIG_VERSION, fields) == (version, recorded), (
        "TrainConfig's fields changed: add a CONFIG_VERSION and its migration "
        f"(added {sorted(fields - recorded)}, removed {sorted(recorded - fields)})")
    # A version-2 run (before --init_generator) loads as one started from scratch.
    old = json.loads(TrainConfig().to_json())
    old["version"] = 2
    del old["init_generator"]
    assert TrainConfig.from_dict(old).init_generator is None


@pytest.mark.parametrize("flags, message", [
    (dict(critic_warmup_n=0), "--critic_warmup_n must be >= 1"),
    (dict(critic_warmup_steps=-1), "--critic_warmup_steps must be >= 0"),
    (dict(gan="wgan", gp_weight=10.0), "critic has BatchNorm"),
    (dict(gan="dcgan", gp_weight=1.0), "critic has BatchNorm"),
    (dict(gan="ebgan", margin=-1.0), "--margin must be >= 0"),
    (dict(gan="wgan-gp", gp_weight=-1.0), "--gp_weight must be >= 0"),
])
def test_flag_combinations_that_cannot_train_are_refused(flags, message):
    with pytest.raises(config_lib.ConfigError, match=message):
        TrainConfig(**flags).resolved()


def test_every_data_folder_must_hold_the_training_size(tmp_path, shards):
    """Not only the first --data folder: a later one stored smaller than
    --image_size would be enlarged silently."""
    small = tmp_path / "small"
    manifest = builder.build(builder.BuildConfig(
        input=str(sample._skimage_data_dir()), output=str(small), size=16, shards=1,
        val_fraction=0.0, progress=False, workers=1))
    assert manifest["counts"]["train"] > 0
    trainer.prepare(tiny(tmp_path / "run", data=shards))
    with pytest.raises(config_lib.ConfigError, match=f"larger than the stored images.*{small}"):
        trainer.prepare(tiny(tmp_path / "run", data=f"{shards},{small}"))


def test_unset_flags_take_the_variants_values_and_set_ones_win():
    """resolved() fills every None from the --gan variant's record and the
    --loss weights, for every variant, and keeps what a flag set."""
    for name, v in variants.VARIANTS.items():
        cfg = TrainConfig(gan=name, loss="l1+l2" if name != "none" else "l2").resolved()
        assert (cfg.optimizer, cfg.lr_g, cfg.lr_d, cfg.n_critic, cfg.clip, cfg.margin,
                cfg.gp_weight, cfg.gan_weight) == (
            v.optimizer, v.learning_rate, v.learning_rate, v.n_critic, v.clip, v.margin,
            v.gradient_penalty_weight, v.gan_weight)
    cfg = TrainConfig(gan="none", loss="l2", lr_g=3e-4).resolved()
    assert (cfg.l1_weight, cfg.l2_weight, cfg.lr_g) == (0.0, 100.0, 3e-4)


def run_train(*args):
    # without TF_CPP_MIN_LOG_LEVEL: the package's own default is under test
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def test_train_cli(tmp_path, shards):
    run = tmp_path / "cli"
    args = [f"--data={shards}", f"--model_dir={run}", "--gan=lsgan", "--loss=l1", "--max_steps=2",
            f"--image_size={SIZE}", "--width=0.0625", "--batch_size=2", "--log_every=1",
            "--precision=float32"]  # float32: where grappler's remapper used to fail
    proc = run_train(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "step 2/2" in proc.stderr and "done at step 2" in proc.stderr
    assert "adv share" in proc.stderr and "acc " in proc.stderr
    assert (run / "config.json").exists() and tf.train.latest_checkpoint(str(run))
    proc = run_train(*args[:1], f"--model_dir={tmp_path / 'x'}", "--image_size=512")
    assert proc.returncode == 2 and "error: --image_size" in proc.stderr
