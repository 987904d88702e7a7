"""How the entry points end: at once, without TensorFlow's C++ teardown.

Training data, model_dir and the builder's output may be any URI that
TensorFlow's file systems know (gs:// natively; s3://, hdfs:// and
http(s):// through tensorflow-io, imported by the package); the code reads
and writes them through tf.io.gfile. That is one reason for the exit below."""
from __future__ import annotations

import logging
import os
import sys


def uses_s3(*paths) -> bool:
    return any(str(p).startswith("s3://") for p in paths if p)


# train.py's exit status when the cluster lost a worker.
WORKER_LOST = 3


def exit_now(status: int, *paths) -> int:
    """Exit the process with status, skipping the interpreter's and
    TensorFlow's teardown, once the entry point's work is written (files
    are closed, summaries flushed and checkpoints saved synchronously):
    - the teardown of TF's C++ runtime is a noticeable part of a short
      command (bench/bench_startup.py measures it);
    - after S3 was used, tensorflow-io 0.37's file system aborts in its C++
      destructors ("pure virtual method called", exit status 134:
      tensorflow/io#2039, fixed after 0.37), which would turn every
      finished run into a crash.
    Under a multi-worker cluster (TF_CONFIG set) without S3 the process
    exits normally: the coordination service shuts down at exit with the
    other workers. Returns status only in that case. Not after a lost
    worker (WORKER_LOST): there is no cluster left to shut down with, and
    a teardown beside a coordination service in its error state can only
    add a crash (SIGABRT) after the clear message and status 3."""
    if os.environ.get("TF_CONFIG") and not uses_s3(*paths) and status != WORKER_LOST:
        return status
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
