"""The typed training configuration (built by train.py from its flags).

Fields left None take the GAN variant's default (colorize/variants.py);
`resolved()` fills them in, and the resolved config is what config.json in
the model dir records.
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Optional

import tensorflow as tf
from absl import logging

from colorize import files, hints as hints_lib, models, variants
from colorize.data.pipeline import data_folders
from colorize.settings import setting

# --loss -> (l1_weight, l2_weight, classification_weight) defaults: the
# paper's L1 weight 100; Zhang et al.'s cross-entropy alone, weight 1.
LOSSES = {"l1": (100.0, 0.0, 0.0), "l2": (0.0, 100.0, 0.0), "l1+l2": (100.0, 100.0, 0.0),
          "classification": (0.0, 0.0, 1.0)}
CONFIG_FILE = "config.json"
# The start history of a run: one record per start of train.py on its
# model_dir (config.json holds the latest start's settings).
STARTS_FILE = "starts.json"
# Settings that decide the order of the training stream: a resume that
# changes one continues on another stream (recorded, with a warning).
DATA_ORDER_FIELDS = ("data", "data_weights", "seed", "shuffle_buffer", "hint_p", "hint_max_patch",
                     "hint_max_points")
STRATEGIES = ("mirrored", "multi_worker")
# Fields that decide the shapes of the checkpointed variables: a resumed run
# must keep them.
ARCHITECTURE_FIELDS = ("generator", "width", "image_size", "gan", "sync_bn", "upsample", "hints",
                       "hints_at_output")


class ConfigError(ValueError):
    """An invalid flag value or combination, found before any heavy work."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every training setting: train.py's flags and docs/training.md's
    table are generated from these fields. None: the GAN variant's
    default, filled in by resolved()."""
    data: str = setting(
        "data/sample", "Folder of shards built by colorize.data, or several separated by "
        "commas. Not given to train.py: the built-in sample (the demo run).")
    data_weights: tuple[float, ...] = setting(
        (), "Sampling weight per --data folder, comma-separated (e.g. 0.45,0.25,0.25,0.05). "
        "Unset: folders mix in proportion to their sizes.")
    model_dir: str = setting("runs/default", "Checkpoints, config.json, TensorBoard summaries "
                             "and samples/ (runs/demo for the demo).")
    gan: str = setting("wgan", "GAN variant; none = the generator alone.",
                       tuple(variants.VARIANTS))
    loss: str = setting("l1", "Loss on ab: regression (l1, l2) or Zhang et al.'s "
                        "rebalanced cross-entropy over ab bins (classification).", tuple(LOSSES))
    generator: str = setting("unet", "Generator: the pix2pix U-Net or Zhang et al.'s net.",
                             models.GENERATORS)
    upsample: str = setting(
        "resize", "Generator x2 upsampling: resize (bilinear + 3x3 conv, no checkerboard) or "
        "transpose (the published 4x4 transposed conv).", models.UPSAMPLERS)
    width: float = setting(1.0, "Channel width multiplier of G and D (1 = the published nets).")
    image_size: int = setting(64, "Training size in px: whole stored photos are resized to it, "
                              "as inference does (multiple of 8, at most the stored size).")
    batch_size: int = setting(16, "Global batch size, split over replicas.")
    max_steps: int = setting(20000, "Generator steps to train to.")
    gan_weight: Optional[float] = setting(
        None, "Weight of the adversarial term (default 1; 0 for none).")
    l1_weight: Optional[float] = setting(
        None, "Weight of L1 (default 100 when --loss has l1, else 0).")
    l2_weight: Optional[float] = setting(
        None, "Weight of L2 (default 100 when --loss has l2, else 0).")
    classification_weight: Optional[float] = setting(
        None, "Weight of the cross-entropy (default 1 for --loss=classification, else 0).")
    temperature: float = setting(
        0.38, "--loss=classification: annealed-mean temperature that decodes the class "
        "distribution to ab, in summaries, eval and the export (1: the mean; near 0: the mode).")
    rebalance: float = setting(
        0.5, "--loss=classification: lambda of the class rebalancing (0: weights 1/prior; "
        "1: no rebalancing).")
    optimizer: Optional[str] = setting(None, "Optimiser (default: the variant's).",
                                       variants.OPTIMIZERS)
    lr_g: Optional[float] = setting(None, "Generator learning rate (default: the variant's).")
    lr_d: Optional[float] = setting(None, "Discriminator learning rate (default: the variant's).")
    lr_decay_steps: int = setting(
        0, "Decay both learning rates linearly to 0 over the last N steps before --max_steps "
        "(as pix2pix does in its second half); 0: constant.")
    beta_1: Optional[float] = setting(None, "Adam beta_1 (default 0.5).")
    beta_2: Optional[float] = setting(None, "Adam beta_2 (default 0.999; 0.9 for wgan-gp).")
    n_critic: Optional[int] = setting(None, "D steps per G step (default 5 for wgan and "
                                      "wgan-gp, else 1).")
    clip: Optional[float] = setting(None, "WGAN weight clip c (default 0.005 for wgan).")
    margin: Optional[float] = setting(None, "EBGAN margin (default 40 for ebgan).")
    gp_weight: Optional[float] = setting(None, "Gradient penalty weight (default 10 for "
                                         "wgan-gp).")
    critic_warmup_steps: int = setting(0, "First G steps that use --critic_warmup_n D steps "
                                       "(the original's 100 critic steps at the start).")
    critic_warmup_n: int = setting(100, "D steps per G step in the warm-up.")
    sync_bn: bool = setting(False, "BatchNorm statistics over the global batch.")
    hints: bool = setting(
        False, "A guided generator (Zhang et al. 2017): it sees L plus a user's colour hints "
        "(their ab and a mask channel), drawn in training by a simulated user "
        "(--hint_p, --hint_max_patch); eval.py --marks and the export's colorize_hints "
        "signature feed it a user's marks. Discriminators and losses are unchanged.")
    hint_p: float = setting(
        hints_lib.POINT_P, "--hints: the number of hint points per training example is "
        "geometric from 0 with this p (Zhang et al.'s 1/8: a mean of 7 points, 1/8 of the "
        "examples with none); lower: denser hints.")
    hint_max_patch: int = setting(
        hints_lib.MAX_PATCH, "--hints: hint patches are squares of 1 to this many px (uniform), "
        "at --image_size, each holding its patch's mean true ab (Zhang et al.: 9).")
    hints_at_output: bool = setting(
        False, "--hints with --generator=unet: L and the hints enter the last layer too, at "
        "full resolution (bilinear x2 + 3x3 conv); otherwise they reach the net through its "
        "first stride-2 conv, at half resolution.")
    hint_max_points: int = setting(
        hints_lib.MAX_POINTS, "--hints: hint points per training example, at most (cuts the "
        "geometric tail).")
    strategy: str = setting(
        "mirrored", "mirrored: MirroredStrategy over this machine's devices. multi_worker: "
        "MultiWorkerMirroredStrategy over the cluster that TF_CONFIG describes (start the same "
        "command on every worker).", STRATEGIES)
    worker_timeout: int = setting(
        600, "multi_worker: seconds a worker may wait for the others before the run stops with "
        "exit status 3: in the agreement between training calls, or in a call beyond twice the "
        "slowest call so far (a crashed worker is found sooner, by its missed heartbeats).")
    precision: str = setting(
        "auto", "Compute precision: mixed_bfloat16 (bfloat16 convolutions; float32 variables, "
        "losses and optimizer state) or float32. auto: mixed_bfloat16 where the CPU has "
        "bfloat16 instructions (AVX512_BF16 or AMX), else float32.", ("auto", *models.PRECISIONS))
    steps_per_loop: int = setting(
        50, "Generator steps per compiled call: the host waits for the device only between "
        "calls (calls end early at logs, summaries, images and checkpoints).")
    seed: int = setting(0, "Random seed (weights, shuffling, augmentation).")
    init_generator: Optional[str] = setting(
        None, "A new run's generator starts from this trained one's weights: an exported "
        "SavedModel (e.g. colorize/pretrained/general), a model_dir or a checkpoint, of the "
        "same --generator, --width, --image_size and --upsample. A --hints run's hint inputs "
        "start at zero weight, so it starts as the source's automatic colours. Ignored on "
        "resume.")
    checkpoint_every: int = setting(500, "Steps between checkpoints.")
    summary_every: int = setting(50, "Steps between TensorBoard scalar summaries.")
    image_every: int = setting(250, "Steps between image grids (TensorBoard and samples/).")
    log_every: int = setting(10, "Steps between progress lines.")
    keep_checkpoints: int = setting(3, "Checkpoints kept (the latest ones).")
    shuffle_buffer: int = setting(2048, "Examples in the training shuffle buffer.")

    @property
    def variant(self) -> variants.Variant:
        return variants.get(self.gan)

    @property
    def hint_sampling(self) -> hints_lib.Sampling | None:
        """The simulated user of a --hints run; None without --hints."""
        if not self.hints:
            return None
        return hints_lib.Sampling(self.hint_p, self.hint_max_patch, self.hint_max_points)

    @property
    def classifies(self) -> bool:
        """Whether the generator has Zhang's class head (logits over ab bins)."""
        return self.loss == "classification"

    def resolved(self) -> "TrainConfig":
        """A copy with every None replaced by the variant's default."""
        self.validate_names()
        v = self.variant
        l1, l2, cls = LOSSES[self.loss]
        defaults = {
            "gan_weight": v.gan_weight, "l1_weight": l1, "l2_weight": l2,
            "classification_weight": cls,
            "optimizer": v.optimizer, "lr_g": v.learning_rate, "lr_d": v.learning_rate,
            "beta_1": v.beta_1, "beta_2": v.beta_2, "n_critic": v.n_critic,
            "clip": v.clip, "margin": v.margin, "gp_weight": v.gradient_penalty_weight,
        }
        filled = {k: d for k, d in defaults.items() if getattr(self, k) is None}
        if self.precision == "auto":
            filled["precision"] = models.fastest_precision()
        cfg = dataclasses.replace(self, **filled)
        cfg.validate()
        return cfg

    def validate_names(self) -> None:
        if self.gan not in variants.VARIANTS:
            raise ConfigError(f"--gan={self.gan!r} is not a variant; choose from "
                              f"{', '.join(variants.VARIANTS)}")
        if self.loss not in LOSSES:
            raise ConfigError(f"--loss={self.loss!r}; choose from {', '.join(LOSSES)}")
        if self.generator not in models.GENERATORS:
            raise ConfigError(f"--generator={self.generator!r}; choose from "
                              f"{', '.join(models.GENERATORS)}")
        if self.upsample not in models.UPSAMPLERS:
            raise ConfigError(f"--upsample={self.upsample!r}; choose from "
                              f"{', '.join(models.UPSAMPLERS)}")

    def validate(self) -> None:
        self.validate_names()
        checks = [
            (self.image_size >= 32 and self.image_size % 8 == 0,
             f"--image_size must be a multiple of 8, at least 32; got {self.image_size}"),
            (self.width > 0, f"--width must be > 0; got {self.width}"),
            (not self.data_weights or (
                len(self.data_weights) == len(data_folders(self.data))
                and min(self.data_weights) >= 0 and sum(self.data_weights) > 0),
             f"--data_weights needs one non-negative weight per --data folder; got "
             f"{list(self.data_weights)} for {self.data!r}"),
            (self.batch_size >= 1, f"--batch_size must be >= 1; got {self.batch_size}"),
            (self.steps_per_loop >= 1,
             f"--steps_per_loop must be >= 1; got {self.steps_per_loop}"),
            (self.precision in ("auto", *models.PRECISIONS),
             f"--precision must be one of auto, {', '.join(models.PRECISIONS)}; "
             f"got {self.precision!r}"),
            (self.max_steps >= 0, f"--max_steps must be >= 0; got {self.max_steps}"),
            (self.strategy in STRATEGIES,
             f"--strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}"),
            (self.worker_timeout >= 1, f"--worker_timeout must be >= 1; got {self.worker_timeout}"),
            (self.optimizer in variants.OPTIMIZERS,
             f"--optimizer must be one of {variants.OPTIMIZERS}; got {self.optimizer!r}"),
            (self.n_critic is None or self.n_critic >= 1, f"--n_critic must be >= 1; got {self.n_critic}"),
            (self.clip is None or self.clip > 0, f"--clip must be > 0; got {self.clip}"),
            (self.margin is None or self.margin >= 0, f"--margin must be >= 0; got {self.margin}"),
            (self.gp_weight is None or self.gp_weight >= 0,
             f"--gp_weight must be >= 0; got {self.gp_weight}"),
            (self.critic_warmup_steps >= 0,
             f"--critic_warmup_steps must be >= 0; got {self.critic_warmup_steps}"),
            (self.critic_warmup_n >= 1,
             f"--critic_warmup_n must be >= 1 (D steps per G step); got {self.critic_warmup_n}"),
            (all((w or 0) >= 0 for w in (self.gan_weight, self.l1_weight, self.l2_weight,
                                          self.classification_weight)),
             "loss weights must be >= 0"),
            (self.temperature > 0, f"--temperature must be > 0; got {self.temperature}"),
            (0 <= self.rebalance <= 1, f"--rebalance must be in [0, 1]; got {self.rebalance}"),
            (self.loss == "classification" or not self.classification_weight,
             "--classification_weight needs --loss=classification (the net's class head)"),
            (all((lr is None or lr > 0) for lr in (self.lr_g, self.lr_d)),
             "learning rates must be > 0"),
            (0 < self.hint_p <= 1, f"--hint_p must be in (0, 1]; got {self.hint_p}"),
            (self.hint_max_patch >= 1 and self.hint_max_points >= 1,
             "--hint_max_patch and --hint_max_points must be >= 1"),
            (not self.hints_at_output or (self.hints and self.generator == "unet"
                                          and not self.classifies),
             "--hints_at_output needs --hints, --generator=unet and a regression --loss"),
            (self.lr_decay_steps >= 0,
             f"--lr_decay_steps must be >= 0; got {self.lr_decay_steps}"),
            (min(self.checkpoint_every, self.summary_every, self.image_every, self.log_every) >= 1,
             "--checkpoint_every, --summary_every, --image_every, --log_every must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        if (self.gp_weight or 0) > 0 and self.variant.discriminator in models.BATCHNORM_CRITICS:
            raise ConfigError(
                f"--gp_weight={self.gp_weight} with --gan={self.gan}, whose critic has BatchNorm: "
                "batch statistics couple the examples, so the per-example gradient penalty is "
                "not what it penalises; use --gan=wgan-gp (its critic has no normalisation)")
        if self.variant.discriminator is None and (self.gan_weight or 0) > 0:
            raise ConfigError("--gan=none has no discriminator; --gan_weight must be 0")
        if self.gan_weight == 0 and not any((self.l1_weight, self.l2_weight,
                                             self.classification_weight)):
            raise ConfigError("every loss weight is 0: nothing to train")

    # --- persistence ---------------------------------------------------------

    def to_dict(self) -> dict:
        return {"version": CONFIG_VERSION, **dataclasses.asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The config a config.json records, brought to this version by the
        migrations below, one version at a time. Whatever then does not
        match the fields exactly (a key this version does not know, or a
        field the document lacks) is an error, not a silent default."""
        d = dict(d)
        version = d.pop("version", 0)
        if version > CONFIG_VERSION:
            raise ConfigError(f"config.json has version {version}, newer than this version of "
                              f"colorize reads ({CONFIG_VERSION}): upgrade colorize")
        for v in range(version, CONFIG_VERSION):
            d = MIGRATIONS[v](d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = sorted(set(d) - known), sorted(known - set(d))
        if unknown or missing:
            raise ConfigError(f"config.json (version {version}) does not match this version's "
                              f"settings: unknown {unknown}, missing {missing}")
        d["data_weights"] = tuple(d["data_weights"])
        return cls(**d)


def _from_unversioned(d: dict) -> dict:
    """Version 0 (config.json without a version) -> 1: the settings added
    before versions were recorded, with the values that reproduce what
    such a run did: transposed-conv upsampling, no folder weights, no
    class head, no learning-rate decay, one machine, float32 and one step
    per compiled call."""
    added = {"upsample": "transpose", "data_weights": [], "classification_weight": 0.0,
             "temperature": 0.38, "rebalance": 0.5, "lr_decay_steps": 0,
             "strategy": "mirrored", "worker_timeout": 600, "precision": "float32",
             "steps_per_loop": 1}
    return {**added, **d}


def _before_hints(d: dict) -> dict:
    """Version 1 -> 2: guided generators (--hints) came in; older runs are
    automatic ones (the sampling fields at their defaults, unused)."""
    added = {"hints": False, "hint_p": hints_lib.POINT_P, "hint_max_patch": hints_lib.MAX_PATCH,
             "hint_max_points": hints_lib.MAX_POINTS, "hints_at_output": False}
    return {**added, **d}


def _before_init_generator(d: dict) -> dict:
    """Version 2 -> 3: --init_generator came in; older runs started from
    random weights."""
    return {"init_generator": None, **d}


# config.json's version, and the migration from each older version to the
# next. A change to the fields adds a version and its migration here
# (tests/test_trainer.py keeps the field list of the current version, so a
# field added without one fails there, not in a user's older run).
CONFIG_VERSION = 3
MIGRATIONS = {0: _from_unversioned, 1: _before_hints, 2: _before_init_generator}


# Through tf.io.gfile: a model_dir may be any URI TensorFlow's file systems
# know (gs://, and s3:// or hdfs:// through tensorflow-io).

def config_path(model_dir: str) -> str:
    return files.join(model_dir, CONFIG_FILE)


def load(model_dir: str) -> TrainConfig:
    path = config_path(model_dir)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"no {CONFIG_FILE} in {model_dir}: is it a training run's model_dir?")
    with tf.io.gfile.GFile(path) as f:
        return TrainConfig.from_dict(json.load(f))


def save(cfg: TrainConfig) -> None:
    tf.io.gfile.makedirs(cfg.model_dir)
    files.write_atomic(config_path(cfg.model_dir), cfg.to_json())


def record_start(cfg: TrainConfig, step: int, examples: int) -> None:
    """Append this start to the run's history (starts.json: every start's
    step, examples seen and settings), then write config.json, the latest
    settings. A resume that changes what the data stream is made of is
    recorded and warned about: its batches are not the ones the
    uninterrupted run would have seen."""
    path = files.join(cfg.model_dir, STARTS_FILE)
    starts = []
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            starts = json.load(f)
    previous = (TrainConfig.from_dict(starts[-1]["config"]) if starts
                else load(cfg.model_dir) if step else None)
    if previous is not None and step:
        changed = [f"--{k}: {getattr(previous, k)!r} -> {getattr(cfg, k)!r}"
                   for k in DATA_ORDER_FIELDS if getattr(previous, k) != getattr(cfg, k)]
        if changed:
            logging.warning("resuming at step %d with another training stream (%s): it "
                            "continues after %d examples of the new stream, not where the "
                            "run's own stream stopped (recorded in %s)", step,
                            "; ".join(changed), examples, path)
    starts.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "step": step,
                   "examples": examples, "config": cfg.to_dict()})
    tf.io.gfile.makedirs(cfg.model_dir)
    files.write_atomic(path, json.dumps(starts, indent=1) + "\n")
    save(cfg)


def check_resume(previous: TrainConfig, current: TrainConfig) -> None:
    """Refuse to resume with flags that change the checkpointed shapes."""
    changed = [f"--{k}: {getattr(previous, k)!r} -> {getattr(current, k)!r}"
               for k in ARCHITECTURE_FIELDS if getattr(previous, k) != getattr(current, k)]
    if previous.classifies != current.classifies:  # the head's shape
        changed.append(f"--loss: {previous.loss!r} -> {current.loss!r}")
    if changed:
        raise ConfigError(
            f"{current.model_dir} holds a run with another architecture ({'; '.join(changed)}); "
            "use a new --model_dir, or the run's own flags to resume it")


if __name__ == "__main__":  # python -m colorize.config: docs/training.md's flag table
    from colorize.settings import markdown_table

    print(markdown_table(TrainConfig), end="")
