"""Training on several machines: MultiWorkerMirroredStrategy from
TF_CONFIG, which worker writes, and what a lost worker raises."""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
import threading
import time

import tensorflow as tf

from colorize import config as config_lib, models, shutdown


class WorkerLost(RuntimeError):
    """multi_worker: another worker crashed, was preempted or stopped
    answering; every worker stops (TensorFlow cannot continue a collective
    without it)."""


# What TensorFlow raises in the survivors when a worker is gone: its missed
# heartbeats (UNAVAILABLE) or an aborted collective.
LOST_WORKER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                       tf.errors.AbortedError)


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """--strategy: MirroredStrategy over the local devices, or
    MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (as TensorFlow
    documents it: a cluster manager that sets TF_CONFIG runs train.py
    unchanged).

    The strategy's collectives get no timeout (CommunicationOptions'
    timeout_seconds): TensorFlow arms each collective's timeout with a
    thread that sleeps for all of it, so a 600 s timeout kept about 26
    threads a step alive and a worker reached the machine's thread limit
    (pid_max 32768) within a minute of training. --worker_timeout is
    enforced on the host instead (Watchdog)."""
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not os.environ.get("TF_CONFIG"):
        raise config_lib.ConfigError(
            "--strategy=multi_worker needs TF_CONFIG: the cluster's workers and this one's "
            "index, e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
            "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}'")
    return tf.distribute.MultiWorkerMirroredStrategy()


def watchdog(strategy: tf.distribute.Strategy, timeout: float, model_dir: str):
    """A Watchdog over a multi-worker cluster's calls; on one machine, one
    that watches nothing (no other worker to wait for)."""
    if num_workers(strategy) == 1:
        return _Unwatched()
    return Watchdog(timeout, model_dir)


class _Unwatched:
    def watch(self, what: str, computes: bool = False):
        return contextlib.nullcontext()


def lost_worker_message(cause_text: str, model_dir: str) -> str:
    return (f"the cluster lost a worker ({cause_text}). The last checkpoint is "
            f"{tf.train.latest_checkpoint(model_dir) or 'none'}: start every worker again "
            "with the same command to resume from it")


class Watchdog:
    """--worker_timeout on the host: a call into the cluster (a compiled
    training call, the agreement between calls) that has waited more than
    timeout seconds for the other workers ends the process with the
    lost-worker message and exit status 3. A blocked collective cannot be
    interrupted from Python, hence the exit from a second thread; nothing
    is lost that a resume needs (checkpoints are written between calls,
    synchronously).

    A training call also computes, so it is allowed timeout seconds on top
    of twice the slowest training call so far; the first one, which also
    traces and compiles, on top of twice the timeout. One thread for the
    whole run, waiting on a condition: unlike TensorFlow's per-collective
    timeouts, it adds no thread per step. A crashed worker is found sooner,
    by its missed heartbeats."""

    def __init__(self, timeout: float, model_dir: str, expire=None):
        self._timeout, self._model_dir = timeout, model_dir
        self._expire = expire or self._exit
        self._slowest: float | None = None  # the slowest training call so far, seconds
        self._deadline: float | None = None
        self._what, self._allowed = "", 0.0
        self._cond = threading.Condition()
        threading.Thread(target=self._run, name="colorize-watchdog", daemon=True).start()

    @contextlib.contextmanager
    def watch(self, what: str, computes: bool = False):
        """Watch the block's wait for the cluster; computes: it is a training
        call, allowed its compute time as well."""
        compute = 0.0
        if computes:
            compute = 2 * (self._timeout if self._slowest is None else self._slowest)
        start = time.monotonic()
        with self._cond:
            self._what, self._allowed = what, self._timeout + compute
            self._deadline = start + self._allowed
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._deadline = None
            if computes:
                self._slowest = max(self._slowest or 0.0, time.monotonic() - start)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._deadline is None or time.monotonic() < self._deadline:
                    self._cond.wait(None if self._deadline is None
                                    else self._deadline - time.monotonic())
                self._deadline = None  # reported once (the default report exits)
                what, allowed = self._what, self._allowed
            self._expire(what, allowed)

    def _exit(self, what: str, allowed: float) -> None:
        print("error: " + lost_worker_message(
            f"{what} did not finish within {allowed:g} s (--worker_timeout={self._timeout:g} s "
            "of waiting): a worker is stuck or unreachable", self._model_dir), file=sys.stderr)
        logging.shutdown()
        sys.stderr.flush()
        os._exit(shutdown.WORKER_LOST)


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
