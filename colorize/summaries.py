"""What training shows while it runs: the progress line, TensorBoard
scalars (means over the steps since the last summary) and image grids."""
from __future__ import annotations

import sys

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from colorize import files, imageio

D_METRICS = ("d_loss", "d_real", "d_fake", "d_acc", "gradient_penalty")
# adv_share: the adversarial-share meter, ||d adversarial / d out|| over
# ||d reconstruction / d out||, both taken on G's output over the global
# batch (its ab, or its class logits with --loss=classification): how hard
# the GAN pushes G next to the reconstruction term (0: an inert GAN).
G_METRICS = ("g_total", "g_l1", "g_l2", "g_cls", "g_adv", "adv_share")
# TensorBoard groups: the meters apart from the losses.
METER_GROUP = {"adv_share": "gan", "d_acc": "gan"}


class StepMean:
    """The mean of per-call metric means, weighted by the steps of each
    call: what a summary every N steps shows is the mean over those N
    steps, not the value of the last one."""

    def __init__(self):
        self.total, self.steps = {}, 0

    def add(self, means: dict, steps: int) -> None:
        for k, v in means.items():
            self.total[k] = self.total.get(k, 0.0) + v * steps
        self.steps += steps

    def take(self) -> dict:
        """The mean so far; starts again."""
        mean = {k: v / self.steps for k, v in self.total.items()}
        self.total, self.steps = {}, 0
        return mean


def progress_bar(max_steps: int, step: int) -> tqdm:
    """The progress line: steps done, tqdm's elapsed and remaining time (its
    rate is the average since the bar started: smoothing 0), and a postfix
    with generator images/s, the losses and the GAN meters. On a terminal it
    redraws twice a second; in a log file it writes a line every 30 s."""
    return tqdm(total=max_steps, initial=step, file=sys.stderr, dynamic_ncols=True,
                smoothing=0, mininterval=0.5 if sys.stderr.isatty() else 30,
                bar_format="step {n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining}{postfix}")


def progress_text(metrics: dict, progress: tqdm, batch_size: int, classifies: bool,
                  has_discriminator: bool) -> str:
    """Generator images/s (generator updates x global batch per second) and
    the metrics, for the progress bar's postfix."""
    d = progress.format_dict  # rate is None with smoothing 0: tqdm's own average then
    rate = d["rate"] or ((d["n"] - d["initial"]) / d["elapsed"] if d["elapsed"] else None)
    parts = [f"{rate * batch_size:.1f} img/s" if rate else "? img/s",
             f"G {metrics['g_total']:.4g} (adv {metrics['g_adv']:.4g} l1 {metrics['g_l1']:.4g} "
             f"l2 {metrics['g_l2']:.4g}"
             + (f" cls {metrics['g_cls']:.4g})" if classifies else ")")]
    if has_discriminator:
        parts.append(f"adv share {metrics['adv_share']:.3g}")
        parts.append(f"D {metrics['d_loss']:.4g} (real {metrics['d_real']:.4g} "
                     f"fake {metrics['d_fake']:.4g} acc {metrics['d_acc']:.2f})")
    return "  ".join(parts)


def _value(variable) -> float:
    return float(keras.ops.convert_to_numpy(variable))


def write_scalars(writer, metrics: dict, step: int, learning_rates: dict) -> None:
    """metrics (without the discriminator's when there is none) and the
    optimisers' current rates ({"generator": variable, ...})."""
    with writer.as_default(step=step):
        for k, v in metrics.items():
            tf.summary.scalar(f"{METER_GROUP.get(k, 'loss')}/{k}", v)
        for name, rate in learning_rates.items():
            tf.summary.scalar(f"lr/{name}", _value(rate))


def write_grid(writer, sheet: np.ndarray, step: int, samples_dir: str) -> None:
    """A (gray | colorized | real) sheet to TensorBoard and samples/."""
    with writer.as_default(step=step):
        tf.summary.image("gray_colorized_real", sheet[None], step=step)
    tf.io.gfile.makedirs(samples_dir)
    files.write_atomic(files.join(samples_dir, f"step_{step:07d}.png"),
                       imageio.encode_image(sheet, ".png"))

