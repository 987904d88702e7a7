"""The training loop, in three layers:

1. per-replica steps (`_d_replica_step`, `_joint_replica_step`): per-example
   losses reduced with compute_average_loss over the global batch, so that
   N replicas x B/N give the update 1 replica x B gives;
2. `train_step`, one @tf.function running `steps` generator updates (SimCLR's
   steps_per_loop), each: n_critic - 1 critic-only steps on fresh batches,
   then the joint step (one G forward pass: D's update, WGAN's clipping,
   G's update against the updated D);
3. the host loop `train()`: checkpoints, resume, summaries, progress, and
   the stop on a non-finite loss, between compiled calls.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import signal
import sys

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from colorize import (ab_bins, cluster, color, config as config_lib, files, losses, models,
                      quiet, signals, summaries, visualize, warm_start)
from colorize.data import checks, pipeline

GRID_EXAMPLES = 8


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped training after a checkpoint at `step`."""

    def __init__(self, signum: int, step: int, checkpoint: str):
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        super().__init__(f"{signal.Signals(signum).name} at step {step}: saved {checkpoint}; "
                         "run the same command again to resume")


def decay_factor(cfg: config_lib.TrainConfig, step) -> tf.Tensor:
    """The learning rates' share of their base at a generator step: 1, then
    with --lr_decay_steps linearly down over the last lr_decay_steps steps
    to max_steps (pix2pix's schedule; the last update still moves, at
    1 / lr_decay_steps)."""
    if not cfg.lr_decay_steps:
        return tf.constant(1.0)
    left = tf.cast(cfg.max_steps - step, tf.float32) / cfg.lr_decay_steps
    return tf.clip_by_value(left, 0.0, 1.0)


def make_optimizer(cfg: config_lib.TrainConfig, learning_rate: float) -> keras.optimizers.Optimizer:
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    return keras.optimizers.Adam(learning_rate, beta_1=cfg.beta_1, beta_2=cfg.beta_2)


class Trainer:
    """Models, optimisers, checkpoint and the compiled step for one config."""

    def __init__(self, cfg: config_lib.TrainConfig, strategy: tf.distribute.Strategy,
                 class_prior: np.ndarray | None = None):
        """class_prior (--loss=classification): the training data's
        distribution over the ab bins (see class_prior()); None: uniform."""
        self.cfg = cfg
        self.strategy = strategy
        self.global_batch = cfg.batch_size
        self.bins = ab_bins.gamut_bins() if cfg.classifies else None
        if cfg.classifies:
            prior = (np.full(len(self.bins), 1.0 / len(self.bins)) if class_prior is None
                     else class_prior)
            self.class_weights = tf.constant(ab_bins.rebalance_weights(prior, cfg.rebalance))
        with strategy.scope(), models.precision(cfg.precision):
            self.generator = self._build_generator(cfg.hints)
            self.g_optimizer = make_optimizer(cfg, cfg.lr_g)
            self.g_optimizer.build(self.generator.trainable_variables)
            self.discriminator = None
            self.d_optimizer = None
            if cfg.variant.discriminator is not None:
                self.discriminator = models.build_discriminator(
                    cfg.variant.discriminator, cfg.image_size, cfg.width, cfg.sync_bn)
                self.d_optimizer = make_optimizer(cfg, cfg.lr_d)
                self.d_optimizer.build(self.discriminator.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            # Examples drawn from the global training stream so far: where a
            # resumed run picks the data order up, whatever its --batch_size.
            self.examples = tf.Variable(0, dtype=tf.int64, trainable=False, name="examples")
            # WGAN-GP's interpolation weights, drawn per replica (see
            # models.replica_seed).
            self.gp_seeds = keras.random.SeedGenerator(cfg.seed, name="gp_seeds")
        self.parts = {"generator": self.generator, "g_optimizer": self.g_optimizer,
                      "step": self.step, "examples": self.examples}
        if self.discriminator is not None:
            self.parts.update(discriminator=self.discriminator, d_optimizer=self.d_optimizer)
        self.checkpoint = tf.train.Checkpoint(**self.parts)
        # Every worker saves (saving may run collectives); only the chief
        # into model_dir.
        self.chief = cluster.is_chief(strategy)
        self.write_dir = cfg.model_dir if self.chief else cluster.worker_dir(strategy)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir,
                                                  max_to_keep=cfg.keep_checkpoints)
        if self.discriminator is not None:
            params = {p: getattr(cfg, p) for p in cfg.variant.discriminator_loss_params}
            self._discriminator_loss = functools.partial(cfg.variant.discriminator_loss, **params)
        # The loops are written as tf.while_loop, so AutoGraph has nothing to
        # convert: converting every function the step calls (Keras layers
        # included) would only slow the first step (bench/bench_startup.py).
        self.train_step = tf.function(self._train_step, autograph=False)

    # --- layer 1: per replica -------------------------------------------------

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)

    def _real_ranked_higher(self, real_out, fake_out) -> tf.Tensor:
        """Per example: 1 where D tells the true colours from G's for the
        same L (chance: 0.5), else 0."""
        real, fake = losses.per_example_mean(real_out), losses.per_example_mean(fake_out)
        better = real > fake if self.cfg.variant.higher_is_real else real < fake
        return tf.cast(better, tf.float32)

    def _discriminator_update(self, l, ab, fake) -> dict:
        """One D update on true colours ab and G's colours fake (no gradient
        to G), then WGAN's weight clipping; returns D's metrics."""
        cfg = self.cfg
        with tf.GradientTape() as tape:
            real_out = self.discriminator([l, ab], training=True)
            fake_out = self.discriminator([l, fake], training=True)
            per_example = self._discriminator_loss(real_out, fake_out)
            penalty = tf.zeros_like(per_example)
            if cfg.gp_weight > 0:
                alpha = self._interpolation_weights(tf.shape(l)[0])
                penalty = losses.gradient_penalty(self.discriminator, l, ab, fake, alpha)
            loss = self._average(per_example + cfg.gp_weight * penalty)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        if cfg.clip is not None:
            # Mirrored variables are assigned in cross-replica context.
            tf.distribute.get_replica_context().merge_call(lambda _: self._clip_discriminator())
        return {"d_loss": loss,
                "d_real": self._average(losses.per_example_mean(real_out)),
                "d_fake": self._average(losses.per_example_mean(fake_out)),
                "d_acc": self._average(self._real_ranked_higher(real_out, fake_out)),
                "gradient_penalty": self._average(penalty)}

    def _interpolation_weights(self, n) -> tf.Tensor:
        """WGAN-GP's [n] uniform weights between true and generated colours,
        different on every replica, every worker's included (a plain
        tf.random draw is the same on every worker: same graph, same seed)."""
        return tf.random.stateless_uniform([n], models.replica_seed(self.gp_seeds))

    def _decode(self, out: tf.Tensor) -> tf.Tensor:
        """G's output -> ab in the network's range: the annealed mean of the
        class logits (--loss=classification), else the output itself."""
        if not self.cfg.classifies:
            return out
        return models.decode_logits(out, self.bins, self.cfg.temperature, self.cfg.image_size)

    def _g_input(self, l, hints=None):
        """G's input: L, and with --hints the simulated user's hints beside
        it (D sees L and ab alone, as without hints)."""
        return l if hints is None else tf.concat([l, hints], axis=-1)

    def _d_replica_step(self, l, ab, hints=None):
        """A critic-only step (the first n_critic - 1 of a WGAN step)."""
        fake = self._decode(self.generator(self._g_input(l, hints), training=True))
        return self._discriminator_update(l, ab, tf.stop_gradient(fake))

    def _joint_replica_step(self, l, ab, hints=None):
        """D's update then G's, on one batch and one forward pass of G (as
        pix2pix does): D learns from these fakes, then G learns from the
        updated D's score of the same fakes. With no discriminator, G's
        update alone.

        The reconstruction and adversarial terms are differentiated
        separately with respect to G's output (ab, or the class logits that
        the annealed mean decodes to ab for D), for the adversarial-share
        meter; their sum is then pulled back through G once, so the meter
        costs no second backward pass through G."""
        cfg = self.cfg
        with tf.GradientTape() as g_tape:
            out = self.generator(self._g_input(l, hints), training=True)
        metrics = {k: tf.constant(0.0) for k in summaries.D_METRICS}
        if self.discriminator is not None:
            metrics = self._discriminator_update(l, ab, tf.stop_gradient(self._decode(out)))
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(out)
            fake = self._decode(out)
            l1 = losses.l1_loss(ab, fake)
            l2 = losses.l2_loss(ab, fake)
            cls = (losses.classification_loss(ab, out, self.bins, self.class_weights)
                   if cfg.classifies else tf.zeros_like(l1))
            adv = tf.zeros_like(l1)
            if self.discriminator is not None:
                d_out = self.discriminator([l, fake], training=cfg.variant.batch_stats_in_g_step)
                adv = cfg.variant.generator_loss(d_out)
            reconstruction = self._average(cfg.l1_weight * l1 + cfg.l2_weight * l2
                                           + cfg.classification_weight * cls)
            adversarial = self._average(cfg.gan_weight * adv)
        grad_rec = tape.gradient(reconstruction, out, unconnected_gradients="zero")
        grad_adv = tape.gradient(adversarial, out, unconnected_gradients="zero")
        del tape
        variables = self.generator.trainable_variables
        grads = g_tape.gradient(out, variables, output_gradients=grad_rec + grad_adv)
        self.g_optimizer.apply_gradients(zip(grads, variables))
        return {**metrics, "g_total": reconstruction + adversarial, "g_l1": self._average(l1),
                "g_l2": self._average(l2), "g_cls": self._average(cls),
                "g_adv": self._average(adv),
                "adv_grad_sq": tf.reduce_sum(tf.square(grad_adv)),
                "rec_grad_sq": tf.reduce_sum(tf.square(grad_rec))}

    # --- layer 2: one compiled call of several steps ----------------------------

    def _run(self, replica_fn, batch) -> dict:
        per_replica = self.strategy.run(replica_fn, args=batch)
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()}

    def _clip_discriminator(self):
        c = self.cfg.clip
        for v in self.discriminator.trainable_variables:
            v.assign(tf.clip_by_value(v, -c, c))

    def _n_critic(self) -> tf.Tensor:
        """D updates in this step: --critic_warmup_n during the warm-up."""
        cfg = self.cfg
        return tf.where(self.step < cfg.critic_warmup_steps, cfg.critic_warmup_n, cfg.n_critic)

    def _set_learning_rates(self):
        """This step's rates, assigned to the optimisers' own rate variables
        (a Keras schedule would drop that checkpointed variable, and runs
        saved with it would no longer restore); a resumed run so also
        trains at its flags' rates, not at the ones its checkpoint saved."""
        factor = decay_factor(self.cfg, self.step)
        for optimizer, base in ((self.g_optimizer, self.cfg.lr_g),
                                (self.d_optimizer, self.cfg.lr_d)):
            if optimizer is not None:
                optimizer.learning_rate.assign(base * factor)

    def _one_step(self, iterator) -> dict:
        """One generator update: n_critic - 1 critic-only steps, each on a
        fresh batch, then the joint D-then-G step on another."""
        self._set_learning_rates()
        draws = 1
        # The critic-only loop is traced only when a config can run it:
        # tracing it for nothing made the first step of a dcgan run 1 s slower.
        if self.discriminator is not None and (self.cfg.n_critic > 1
                                               or self.cfg.critic_warmup_steps > 0):
            draws = self._n_critic()

            def critic_step(i):
                with tf.control_dependencies(self._run(self._d_replica_step, next(iterator))
                                             .values()):
                    return i + 1

            tf.while_loop(lambda i: i < draws - 1, critic_step, [tf.constant(0)])
        metrics = self._run(self._joint_replica_step, next(iterator))
        self.examples.assign_add(tf.cast(draws * self.global_batch, tf.int64))
        adv_sq, rec_sq = metrics.pop("adv_grad_sq"), metrics.pop("rec_grad_sq")
        metrics["adv_share"] = tf.math.divide_no_nan(tf.sqrt(adv_sq), tf.sqrt(rec_sq))
        self.step.assign_add(1)
        return metrics

    def _train_step(self, iterator, steps):
        """`steps` generator updates in one call (SimCLR's steps_per_loop):
        the host neither waits for nor reads anything between them. Returns
        the metrics' means over the call's updates."""
        zeros = {k: tf.constant(0.0) for k in summaries.D_METRICS + summaries.G_METRICS}

        def body(i, total):
            metrics = self._one_step(iterator)
            return i + 1, {k: total[k] + metrics[k] for k in total}

        _, total = tf.while_loop(lambda i, _: i < steps, body, [tf.constant(0), zeros])
        return {k: v / tf.cast(steps, tf.float32) for k, v in total.items()}

    def restore(self, previous: config_lib.TrainConfig | None = None) -> int:
        """Restore model_dir's latest checkpoint, if any (every worker reads
        the chief's); returns the step. previous: the settings the run last
        started with (config.json), for checkpoints of older versions."""
        latest = tf.train.latest_checkpoint(self.cfg.model_dir)
        if not latest:
            return 0
        saved = {name.split("/")[0] for name, _ in tf.train.list_variables(latest)}
        # Variables a later version added are restored where the checkpoint
        # has them, and derived below where it does not.
        parts = {k: v for k, v in self.parts.items() if k in saved or k not in ADDED_LATER}
        try:
            tf.train.Checkpoint(**parts).restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError) as e:
            raise config_lib.ConfigError(
                f"{latest} does not fit the model these flags build (written by another "
                f"version or architecture?): {str(e).strip().splitlines()[0][:300]}; use a "
                "new --model_dir") from e
        for name in ADDED_LATER:
            if name not in saved:
                ADDED_LATER[name](self, latest, saved, previous)
        return int(self.step.numpy())

    def _build_generator(self, hints: bool) -> keras.Model:
        cfg = self.cfg
        return models.build_generator(
            cfg.generator, cfg.image_size, cfg.width, cfg.sync_bn, cfg.upsample,
            classes=len(self.bins) if cfg.classifies else 0, hints=hints,
            hints_at_output=hints and cfg.hints_at_output)

    def warm_start(self, source: str) -> None:
        """A new run's generator starts as source's (--init_generator; see
        colorize.warm_start); hint inputs start at zero weight."""
        with models.precision(self.cfg.precision):
            plain = self._build_generator(hints=False)
        widened = warm_start.init_generator(self.generator, plain, source)
        logging.info("generator initialised from %s (%d kernels widened for the hints)", source,
                     widened)

    def colorize(self, l: tf.Tensor, hints: tf.Tensor | None = None) -> tf.Tensor:
        return self._decode(self.generator(self._g_input(l, hints), training=False))


def _examples_of_older_checkpoint(trainer: Trainer, path: str, saved: set,
                                  previous: config_lib.TrainConfig | None) -> None:
    """Checkpoints from before `examples` counted global batches drawn
    (`batches`), in the run's --batch_size of the time; older ones counted
    nothing: their run starts the data stream again."""
    if "batches" in saved and previous is not None:
        batches = int(tf.train.load_variable(path, "batches/.ATTRIBUTES/VARIABLE_VALUE"))
        trainer.examples.assign(batches * previous.batch_size)
    else:
        trainer.examples.assign(0)
        logging.warning("%s does not record how much of the training data it has seen (an "
                        "older version wrote it): the data stream starts again", path)


# Checkpointed variables added after the first version, and how a
# checkpoint without one sets it: name -> fn(trainer, path, names saved,
# previous config).
ADDED_LATER = {"examples": _examples_of_older_checkpoint}

# --- layer 3: the host loop -------------------------------------------------------

# Examples of the training stream the classification prior is estimated
# from: 2,048 photos at 64 px are 8 M ab pixels.
PRIOR_EXAMPLES = 2048


def class_prior(cfg: config_lib.TrainConfig, train_pattern: str,
                chief: bool = True) -> np.ndarray | None:
    """--loss=classification: the distribution of the training data over
    the ab bins (ab_bins.run_prior), from the first PRIOR_EXAMPLES examples
    of the training stream (the same on every worker: a function of --data,
    --data_weights and --seed)."""
    if not cfg.classifies:
        return None
    ds = pipeline.make_dataset(train_pattern, 16, training=True, image_size=cfg.image_size,
                               shuffle_buffer=cfg.shuffle_buffer, seed=cfg.seed,
                               weights=cfg.data_weights or None)
    batches = (color.denormalize_ab(ab) for _, ab in ds.take(PRIOR_EXAMPLES // 16))
    try:
        prior = ab_bins.run_prior(cfg.model_dir, batches, PRIOR_EXAMPLES, save=chief)
    except ValueError as e:
        raise config_lib.ConfigError(str(e)) from e
    logging.info("class prior over %d ab bins: the most common bin holds %.1f%%",
                 len(prior), 100 * prior.max())
    return prior


def prepare(cfg: config_lib.TrainConfig) -> tuple[config_lib.TrainConfig, str, str]:
    """Resolve and check the config and the data, and refuse a resume that
    changes the architecture; no model is built here. Returns the resolved
    config and the (train, grid) shard patterns."""
    cfg = cfg.resolved()
    train_pattern, grid_pattern = checks.check(cfg.data, cfg.image_size)
    if tf.io.gfile.exists(config_lib.config_path(cfg.model_dir)):
        config_lib.check_resume(config_lib.load(cfg.model_dir), cfg)
    return cfg, train_pattern, grid_pattern


def train(cfg: config_lib.TrainConfig, strategy: tf.distribute.Strategy | None = None) -> dict:
    """Train to cfg.max_steps (resuming from model_dir); returns the last metrics."""
    # The strategy first: MultiWorkerMirroredStrategy must be set up before
    # TensorFlow runs anything (prepare reads the shards).
    strategy = strategy or cluster.make_strategy(cfg.strategy)
    cfg = dataclasses.replace(cfg, precision=cluster.agreed_precision(strategy, cfg.precision))
    cfg, train_pattern, grid_pattern = prepare(cfg)
    replicas = strategy.num_replicas_in_sync
    if cfg.batch_size % replicas:
        raise config_lib.ConfigError(
            f"--batch_size={cfg.batch_size} does not divide over {replicas} replicas")
    keras.utils.set_random_seed(cfg.seed)
    trainer = Trainer(cfg, strategy, class_prior(cfg, train_pattern, cluster.is_chief(strategy)))
    try:
        return _train(cfg, trainer, train_pattern, grid_pattern)
    except cluster.LOST_WORKER_ERRORS as e:
        if cluster.num_workers(strategy) == 1:
            raise
        raise cluster.WorkerLost(cluster.lost_worker_message(cluster.cause(e), cfg.model_dir)) from e
    finally:
        if not trainer.chief and tf.io.gfile.exists(trainer.write_dir):
            tf.io.gfile.rmtree(trainer.write_dir)


def _train(cfg, trainer: Trainer, train_pattern: str, grid_pattern: str) -> dict:
    strategy, replicas = trainer.strategy, trainer.strategy.num_replicas_in_sync
    previous = (config_lib.load(cfg.model_dir)
                if tf.io.gfile.exists(config_lib.config_path(cfg.model_dir)) else None)
    step = trainer.restore(previous)
    if step == 0 and cfg.init_generator:
        trainer.warm_start(cfg.init_generator)
    consumed = int(trainer.examples.numpy())
    if trainer.chief:
        config_lib.record_start(cfg, step, consumed)
    if step >= cfg.max_steps:
        logging.info("%s is at step %d >= --max_steps=%d: nothing to do", cfg.model_dir, step,
                     cfg.max_steps)
        return {"step": step}
    if step:
        logging.info("resumed from %s at step %d; the data order continues after %d examples",
                     trainer.manager.latest_checkpoint, step, consumed)
    logging.info("training %s/%s %s on %d replica(s) (%d worker(s)), global batch %d, %d steps "
                 "-> %s", cfg.gan, cfg.loss, cfg.generator, replicas,
                 cluster.num_workers(strategy), cfg.batch_size, cfg.max_steps, cfg.model_dir)

    # A resumed run continues the data order: the global stream skips the
    # examples already served.
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx: pipeline.make_dataset(train_pattern, cfg.batch_size, training=True,
                                          image_size=cfg.image_size, input_context=ctx,
                                          shuffle_buffer=cfg.shuffle_buffer, seed=cfg.seed,
                                          weights=cfg.data_weights or None, skip=consumed,
                                          hints=cfg.hint_sampling))
    iterator = iter(dataset)
    # (L, ab) or, with --hints, (L, ab, hints): the sheets show G with its hints.
    grid = next(iter(pipeline.make_dataset(grid_pattern, GRID_EXAMPLES, training=False,
                                           image_size=cfg.image_size, seed=cfg.seed,
                                           hints=cfg.hint_sampling)))
    grid_l, grid_ab = grid[:2]
    # Summaries and samples: the chief's alone.
    writer = (tf.summary.create_file_writer(files.join(cfg.model_dir, "train")) if trainer.chief
              else tf.summary.create_noop_writer())
    samples_dir = files.join(cfg.model_dir, "samples")
    learning_rates = {"generator": trainer.g_optimizer.learning_rate}
    if trainer.d_optimizer is not None:
        learning_rates["discriminator"] = trainer.d_optimizer.learning_rate
    hidden = (() if trainer.discriminator is not None
              else (*summaries.D_METRICS, "adv_share"))

    metrics, progress, since_summary = {}, None, summaries.StepMean()
    # --worker_timeout: every call that waits for the other workers.
    watchdog = cluster.watchdog(strategy, cfg.worker_timeout, cfg.model_dir)
    # Everything up to the last save happens under the signal handlers: a
    # signal at any point is a request to checkpoint and stop.
    with signals.StopRequest() as stop:
        def stopping() -> bool:  # asked by every worker between calls
            with watchdog.watch("the workers' agreement between training calls"):
                return cluster.any_worker(strategy, stop.signum is not None)

        while step < cfg.max_steps and not stopping():
            steps = steps_to_next_event(step, cfg)
            # The classification loss runs XLA kernels: their start-up notices go.
            startup = (quiet.without_xla_startup_lines() if cfg.classifies and progress is None
                       else contextlib.nullcontext())
            with startup, watchdog.watch(f"the training call at step {step}", computes=True):
                metrics = trainer.train_step(iterator, tf.constant(steps))
                # The host's one wait per call; means over the call's steps.
                metrics = {k: float(v) for k, v in metrics.items() if k not in hidden}
            step += steps
            if not all(math.isfinite(v) for v in metrics.values()):
                bad = ", ".join(f"{k}={v}" for k, v in metrics.items() if not math.isfinite(v))
                raise NonFiniteLoss(
                    f"non-finite loss by step {step} ({bad}); stopped without saving. The last "
                    f"good checkpoint is "
                    f"{trainer.manager.latest_checkpoint or 'none (no checkpoint yet)'}. "
                    "Try a lower learning rate.")
            since_summary.add(metrics, steps)
            if progress is None:  # the first call includes tracing: the rate starts after it
                progress = summaries.progress_bar(cfg.max_steps, step)
            progress.update(step - progress.n)
            last = step == cfg.max_steps
            if step % cfg.log_every == 0 or last:
                progress.set_postfix_str(
                    summaries.progress_text(metrics, progress, cfg.batch_size, cfg.classifies,
                                            trainer.discriminator is not None),
                    refresh=sys.stderr.isatty())
            if step % cfg.summary_every == 0 or last:
                summaries.write_scalars(writer, since_summary.take(), step, learning_rates)
            if (step % cfg.image_every == 0 or last) and trainer.chief:
                sheet = visualize.network_grid(grid_l, trainer.colorize(grid_l, *grid[2:]), grid_ab)
                summaries.write_grid(writer, sheet, step, samples_dir)
            if step % cfg.checkpoint_every == 0 or last:
                trainer.manager.save(checkpoint_number=step)
        if step < cfg.max_steps and step % cfg.checkpoint_every:
            trainer.manager.save(checkpoint_number=step)  # stopped by a signal: save this step
        writer.flush()
    if progress is not None:
        progress.close()
    if step < cfg.max_steps:  # stopped by a signal, here or on another worker
        raise Interrupted(stop.signum or signal.SIGTERM, step,
                          tf.train.latest_checkpoint(cfg.model_dir))
    logging.info("done at step %d. checkpoints: %s  samples: %s  TensorBoard: "
                 "tensorboard --logdir %s", step, cfg.model_dir, samples_dir, cfg.model_dir)
    return {"step": step, **metrics}


def steps_to_next_event(step: int, cfg: config_lib.TrainConfig) -> int:
    """Steps for the next compiled call: --steps_per_loop, cut short so that
    the call ends on the next log, summary, image, checkpoint or the last
    step (the host acts only between calls)."""
    events = [step + e - step % e for e in (cfg.log_every, cfg.summary_every, cfg.image_every,
                                            cfg.checkpoint_every)]
    return min(cfg.steps_per_loop, cfg.max_steps - step, *(e - step for e in events))
