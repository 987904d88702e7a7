"""Training on several machines: MultiWorkerMirroredStrategy from
TF_CONFIG, which worker writes, and what a lost worker raises."""
from __future__ import annotations

import functools
import os
import tempfile

import tensorflow as tf

from colorize import config as config_lib, models


class WorkerLost(RuntimeError):
    """multi_worker: another worker crashed, was preempted or stopped
    answering; every worker stops (TensorFlow cannot continue a collective
    without it)."""


# What TensorFlow raises in the survivors when a worker is gone: its missed
# heartbeats (UNAVAILABLE) or a collective past --worker_timeout.
LOST_WORKER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                       tf.errors.AbortedError)


def make_strategy(kind: str, worker_timeout: int) -> tf.distribute.Strategy:
    """--strategy: MirroredStrategy over the local devices, or
    MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (as TensorFlow
    documents it: a cluster manager that sets TF_CONFIG runs train.py
    unchanged), whose collectives give up after worker_timeout seconds."""
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not os.environ.get("TF_CONFIG"):
        raise config_lib.ConfigError(
            "--strategy=multi_worker needs TF_CONFIG: the cluster's workers and this one's "
            "index, e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
            "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}'")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=worker_timeout)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def num_workers(strategy: tf.distribute.Strategy) -> int:
    resolver = strategy.cluster_resolver  # None for MirroredStrategy
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, sum(len(spec.get(job, [])) for job in ("chief", "worker")))


def any_worker(strategy: tf.distribute.Strategy, flag: bool) -> bool:
    """Whether flag is true on any worker (a collective: every worker must
    ask), so that the workers act alike: stop at the same step (a signal
    reaches each at its own moment), or choose the same precision."""
    if num_workers(strategy) == 1:
        return flag
    return bool(_sum_over_replicas(strategy)(tf.constant(float(flag))) > 0)


@functools.lru_cache(maxsize=None)
def _sum_over_replicas(strategy: tf.distribute.Strategy):
    @tf.function
    def total(value):
        per_replica = strategy.run(lambda: tf.identity(value))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
    return total


def agreed_precision(strategy: tf.distribute.Strategy, precision: str) -> str:
    """--precision=auto decided once for the cluster: mixed_bfloat16 only
    if every worker's CPU has bfloat16 instructions, so that replicas never
    compute in different precisions."""
    if precision != "auto":
        return precision
    return "float32" if any_worker(strategy, not models.cpu_has_bfloat16()) else "mixed_bfloat16"


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """The one worker that writes the run's checkpoints, config.json,
    summaries and samples (always true on one machine)."""
    return strategy.extended.should_checkpoint


def worker_dir(strategy: tf.distribute.Strategy) -> str:
    """Where a non-chief worker writes the checkpoints the strategy makes
    every worker write: a temporary folder, removed at the end."""
    resolver = strategy.cluster_resolver
    return os.path.join(tempfile.gettempdir(),
                        f"colorize-{resolver.task_type}-{resolver.task_id}-{os.getpid()}")


def cause(error: Exception) -> str:
    """The line of a lost-worker error that says what happened (TF's
    message is long: the heartbeat or abort line is the useful one)."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return next((line for line in lines if "heartbeat" in line or "aborted" in line),
                lines[0])[:300]
