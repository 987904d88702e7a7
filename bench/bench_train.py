"""Training throughput: the project's default training step against a
tutorial-style reference step on the same nets, side by side in one run.

    python bench/bench_train.py                 # U-Net + PatchGAN 64/128 px, widths 1 and 0.25,
                                                # colcol, and the n_critic = 5 variants
    python bench/bench_train.py --quick         # U-Net + PatchGAN, 64 px, width 0.25 only
    python bench/bench_train.py --quick --ablate --steps 50 --rounds 5
                                                # + the project's step in float32 and in
                                                #   calls of 50 steps, same rounds
    python bench/bench_train.py --quick --profile=/tmp/prof
                                                # + where each step's time goes, by op type

The reference is a train step as TensorFlow's pix2pix tutorial writes it:
one tf.function per step, both gradient tapes around one forward pass,
Keras's stock layers (BatchNormalization included), float32, no
distribution strategy, the host calling it once per step. For n_critic > 1
it runs n_critic - 1 discriminator-only steps first, each with its own
batch and generator pass; it uses the variant's own losses (WGAN-GP's
gradient penalty, WGAN's clipping), so both sides do the same work.

The project's step is Trainer.train_step with the defaults train.py uses
(precision auto, calls of --log_every steps, MirroredStrategy on the CPU).
Figures are generator images/s (generator updates x batch / s); batches
come from memory, so the models and the step are measured, not the input
pipeline (bench/bench_pipeline.py).

GFLOP/s: model FLOPs per generator update, 3 x (forward FLOPs of G + 2 x
forward FLOPs of D) (a backward pass costs about two forward passes; D
sees the real and the fake colours), counted by TensorFlow's profiler on
the forward graphs, over the measured time; the same count for both
steps. The peak is a 2048 x 2048 matmul measured in the same run, in
float32 and bfloat16.

--profile=DIR traces --steps updates of each step with TensorFlow's
profiler (DIR/<case>/<side>: TensorBoard's profile plugin opens it) and
prints the op types that took the most time per update, and the share of
convolutions (forward and both backward kernels) in all op time.
"""
import argparse
import collections
import contextlib
import dataclasses
import os
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorize import losses, models  # noqa: E402
from colorize.models import layers as model_layers  # noqa: E402
from colorize.config import TrainConfig  # noqa: E402
from colorize.trainer import Trainer, make_optimizer  # noqa: E402

FULL = [  # (generator, gan, size, width)
    ("unet", "dcgan", 64, 1.0), ("unet", "dcgan", 128, 1.0),
    ("unet", "dcgan", 64, 0.25), ("unet", "dcgan", 128, 0.25),
    ("colcol", "dcgan", 64, 1.0), ("unet", "wgan", 64, 0.25), ("unet", "wgan-gp", 64, 0.25),
]
QUICK = [("unet", "dcgan", 64, 0.25)]


def batches(batch: int, size: int):
    rng = np.random.default_rng(0)
    l = rng.uniform(-1, 1, [batch, size, size, 1]).astype(np.float32)
    ab = (0.3 * rng.normal(size=[batch, size, size, 2])).astype(np.float32)
    return tf.data.Dataset.from_tensors((l, ab)).repeat()


@contextlib.contextmanager
def stock_batchnorm():
    """Build with Keras's own BatchNormalization, as the tutorial does."""
    fused = model_layers.BatchNorm  # what the networks' _bn builds
    model_layers.BatchNorm = keras.layers.BatchNormalization
    try:
        yield
    finally:
        model_layers.BatchNorm = fused


def tutorial_step(cfg: TrainConfig):
    """The reference: returns step(l, ab) -> g_loss, one generator update."""
    with stock_batchnorm():
        g = models.build_generator(cfg.generator, cfg.image_size, cfg.width, upsample=cfg.upsample)
        d = models.build_discriminator(cfg.variant.discriminator, cfg.image_size, cfg.width)
    g_opt, d_opt = make_optimizer(cfg, cfg.lr_g), make_optimizer(cfg, cfg.lr_d)
    v = cfg.variant
    d_loss_fn = (lambda r, f: v.discriminator_loss(r, f, margin=cfg.margin)) if cfg.margin \
        else v.discriminator_loss

    def d_loss(l, ab, fake, real_out, fake_out):
        loss = tf.reduce_mean(d_loss_fn(real_out, fake_out))
        if cfg.gp_weight:
            alpha = tf.random.uniform([tf.shape(l)[0]])
            loss += cfg.gp_weight * tf.reduce_mean(losses.gradient_penalty(d, l, ab, fake, alpha))
        return loss

    def clip():
        if cfg.clip:
            for w in d.trainable_variables:
                w.assign(tf.clip_by_value(w, -cfg.clip, cfg.clip))

    @tf.function
    def d_only_step(l, ab):
        fake = g(l, training=True)
        with tf.GradientTape() as tape:
            loss = d_loss(l, ab, fake, d([l, ab], training=True), d([l, fake], training=True))
        d_opt.apply_gradients(zip(tape.gradient(loss, d.trainable_variables), d.trainable_variables))
        clip()

    @tf.function
    def step(l, ab):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = g(l, training=True)
            real_out = d([l, ab], training=True)
            fake_out = d([l, fake], training=True)
            g_loss = tf.reduce_mean(cfg.gan_weight * v.generator_loss(fake_out)
                                    + cfg.l1_weight * losses.l1_loss(ab, fake))
            dl = d_loss(l, ab, fake, real_out, fake_out)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g.trainable_variables),
                                  g.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(dl, d.trainable_variables), d.trainable_variables))
        clip()
        return g_loss

    def update(l, ab):
        for _ in range(cfg.n_critic - 1):
            d_only_step(l, ab)
        return step(l, ab)

    return update


def reference_runner(cfg: TrainConfig):
    """run(n): n reference generator updates, ending with the host's read."""
    update = tutorial_step(cfg)
    l, ab = next(iter(batches(cfg.batch_size, cfg.image_size)))

    def run(n):
        for _ in range(n):
            loss = update(l, ab)
        float(loss)

    return run


def project_runner(cfg: TrainConfig):
    """run(n): n generator updates of Trainer.train_step, in calls of
    min(--steps_per_loop, --log_every) steps, each ending with the host's
    read of the metrics, as train.py's loop does."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    t = Trainer(cfg, strategy)
    it = iter(strategy.experimental_distribute_dataset(batches(cfg.batch_size, cfg.image_size)))
    per_call = min(cfg.steps_per_loop, cfg.log_every)

    def run(n):
        while n > 0:
            float(t.train_step(it, tf.constant(min(per_call, n)))["g_total"])
            n -= per_call

    return run


def images_per_second(runners: dict, cfg: TrainConfig, steps: int, rounds: int) -> dict:
    """Median generator images/s of each runner, timed in alternating
    rounds so that a load change on a shared machine hits both sides."""
    for run in runners.values():  # trace + warm up
        run(2)
    rates = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run(steps)
            rates[name].append(steps * cfg.batch_size / (time.perf_counter() - start))
    return {name: float(np.median(r)) for name, r in rates.items()}


# A TensorFlow op's event in a trace is named "op_name:OpType"; the
# executor's and tf.data's own events ("ExecutorState::Process", ...) are
# not ops and would count the ops inside them twice.
OP_EVENT = re.compile(r"^[\w./-]+:(\w+)$")


def op_times(run, steps: int, logdir: str) -> collections.Counter:
    """ms per generator update by op type, from a profiler trace of
    run(steps) written to logdir."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # TF's trace format

    run(1)
    tf.profiler.experimental.start(logdir)
    run(steps)
    tf.profiler.experimental.stop()
    times = collections.Counter()
    newest = max(tf.io.gfile.glob(os.path.join(logdir, "plugins", "profile", "*")))  # this trace
    for path in tf.io.gfile.glob(os.path.join(newest, "*.xplane.pb")):
        space = xplane_pb2.XSpace.FromString(tf.io.gfile.GFile(path, "rb").read())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            for line in plane.lines:
                for event in line.events:
                    match = OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                    if match:
                        times[match.group(1)] += event.duration_ps / 1e9 / steps
    return times


def print_profile(profiles: dict, top: int = 8) -> None:
    """The top op types of each side, and the convolutions' share."""
    for side, times in profiles.items():
        total = sum(times.values())
        conv = sum(t for op, t in times.items() if "Conv2D" in op)
        print(f"{'':>22} | {side} op time {total:.1f} ms per update, convolutions "
              f"{100 * conv / total:.0f} %: " + ", ".join(
                  f"{re.sub('^_MklNative', '', op)} {t:.1f}" for op, t in times.most_common(top)))


def forward_flops(model, inputs) -> float:
    fn = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False))
    graph = fn.get_concrete_function(
        *[tf.TensorSpec([1, *x.shape[1:]], tf.float32) for x in inputs]).graph
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=opts).total_float_ops


def model_flops(cfg: TrainConfig) -> float:
    """3 x (G + 2 D) forward FLOPs per example (see the module docstring)."""
    s = cfg.image_size
    g = models.build_generator(cfg.generator, s, cfg.width, upsample=cfg.upsample)
    d = models.build_discriminator(cfg.variant.discriminator, s, cfg.width)
    l, ab = tf.zeros([1, s, s, 1]), tf.zeros([1, s, s, 2])
    return 3 * (forward_flops(g, [l]) + 2 * forward_flops(d, [l, ab]))


def matmul_peak(dtype, n: int = 2048, repeats: int = 10) -> float:
    a = tf.cast(tf.random.normal([n, n]), dtype)

    @tf.function
    def run():
        x = a
        for _ in range(repeats):
            x = tf.matmul(x, a) * tf.cast(1e-3, dtype)
        return tf.reduce_sum(tf.cast(x, tf.float32))

    float(run())
    start = time.perf_counter()
    float(run())
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10, help="generator updates per timed round")
    p.add_argument("--rounds", type=int, default=3, help="alternating timed rounds per side")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--ablate", action="store_true",
                   help="also time the project's step in float32 and in calls of 50 steps, "
                        "in the same alternating rounds")
    p.add_argument("--profile", metavar="DIR", default=None,
                   help="trace --steps updates of each step there and print the op types "
                        "that took the most time")
    a = p.parse_args()
    cases = QUICK if a.quick else FULL
    print(f"{os.cpu_count()} cores, TF {tf.__version__}, Keras {keras.__version__}, batch {a.batch}, "
          f"median of {a.rounds} alternating rounds of {a.steps} generator updates per side")
    peak32, peak16 = matmul_peak(tf.float32), matmul_peak(tf.bfloat16)
    print(f"matmul peak: float32 {peak32:.0f} GFLOP/s, bfloat16 {peak16:.0f} GFLOP/s")
    print(f"{'nets':>22} | {'precision':>14} | {'tutorial img/s':>14} | {'project img/s':>13} | "
          f"{'ratio':>5} | {'GFLOP/s tut / proj':>18}")
    for generator, gan, size, width in cases:
        cfg = TrainConfig(gan=gan, loss="l1", generator=generator, image_size=size, width=width,
                          batch_size=a.batch, model_dir="/tmp/bench_train_unused").resolved()
        flops = model_flops(cfg)
        runners = {"ref": reference_runner(cfg), "ours": project_runner(cfg)}
        if a.ablate:
            runners["float32"] = project_runner(dataclasses.replace(cfg, precision="float32"))
            runners["calls of 50"] = project_runner(dataclasses.replace(cfg, log_every=50))
        rates = images_per_second(runners, cfg, a.steps, a.rounds)
        ref, ours = rates["ref"], rates["ours"]
        name = f"{generator}+{gan} {size}px w{width:g}"
        print(f"{name:>22} | {cfg.precision:>14} | {ref:14.1f} | {ours:13.1f} | {ours / ref:5.2f} | "
              f"{ref * flops / 1e9:8.0f} / {ours * flops / 1e9:7.0f}", flush=True)
        for other in ("float32", "calls of 50"):
            if other in rates:
                print(f"{'':>22} | project {other}: {rates[other]:.1f} img/s, "
                      f"{rates[other] / ref:.2f}x the tutorial", flush=True)
        if a.profile:
            case = os.path.join(a.profile, f"{generator}_{gan}_{size}_w{width:g}")
            print_profile({side: op_times(runners[key], a.steps, os.path.join(case, key))
                           for side, key in (("tutorial", "ref"), ("project", "ours"))})


if __name__ == "__main__":
    main()
