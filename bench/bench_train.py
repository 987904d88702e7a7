"""Training throughput (generator images/s) of one full train step:
generator + PatchGAN (dcgan: 1 D step + 1 G step per step), at full width,
for both generators at 64 and 128 px, side by side in one run.

    python bench/bench_train.py [--sizes 64 128] [--batch 16] [--steps 8]

Batches come from memory, so this measures the models and the step, not
the input pipeline (bench/bench_pipeline.py: thousands of images/s).
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorize.config import TrainConfig  # noqa: E402
from colorize.trainer import Trainer  # noqa: E402


def measure(generator: str, size: int, batch: int, steps: int, width: float, gan: str) -> float:
    cfg = TrainConfig(gan=gan, loss="l1", generator=generator, image_size=size, width=width,
                      batch_size=batch, model_dir="/tmp/bench_train_unused").resolved()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    t = Trainer(cfg, strategy)
    rng = np.random.default_rng(0)
    l = rng.uniform(-1, 1, [batch, size, size, 1]).astype(np.float32)
    ab = (0.3 * rng.normal(size=[batch, size, size, 2])).astype(np.float32)
    ds = tf.data.Dataset.from_tensors((l, ab)).repeat()
    it = iter(strategy.experimental_distribute_dataset(ds))
    n_critic = tf.constant(cfg.n_critic)
    for _ in range(2):  # trace + warm up
        float(t.train_step(it, n_critic)["g_total"])
    start = time.perf_counter()
    for _ in range(steps):
        float(t.train_step(it, n_critic)["g_total"])
    return steps * batch / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--generators", nargs="+", default=["unet", "colcol"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--gan", default="dcgan")
    a = p.parse_args()
    print(f"{os.cpu_count()} cores, TF {tf.__version__}, gan={a.gan} (PatchGAN), width {a.width}, "
          f"batch {a.batch}, {a.steps} timed steps after 2 warm-up steps")
    print(f"{'generator':>9} | {'size':>4} | {'img/s':>7}")
    results = {}
    for g in a.generators:
        for s in a.sizes:
            results[g, s] = measure(g, s, a.batch, a.steps, a.width, a.gan)
            print(f"{g:>9} | {s:>4} | {results[g, s]:7.1f}", flush=True)
    if ("unet", a.sizes[0]) in results and ("colcol", a.sizes[0]) in results:
        print(f"unet / colcol at {a.sizes[0]} px: "
              f"{results['unet', a.sizes[0]] / results['colcol', a.sizes[0]]:.1f}x")


if __name__ == "__main__":
    main()
