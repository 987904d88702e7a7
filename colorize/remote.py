"""Paths on remote storage. Training data, model_dir and the builder's
output may be any URI that TensorFlow's file systems know: gs:// natively,
s3://, hdfs:// and http(s):// through tensorflow-io (imported by the
package). The code reads and writes them through tf.io.gfile."""
from __future__ import annotations

import logging
import os
import sys


def uses_s3(*paths) -> bool:
    return any(str(p).startswith("s3://") for p in paths if p)


def exit_status(status: int, *paths) -> int:
    """status for an entry point to exit with. After S3 was used, the
    process exits here, at once: tensorflow-io 0.37's S3 file system aborts
    in its C++ destructors at interpreter exit ("pure virtual method
    called", exit status 134: tensorflow/io#2039, fixed after 0.37), which
    would turn every finished run into a crash. Python's buffers are
    flushed first; nothing else is left to run."""
    if not uses_s3(*paths):
        return status
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
