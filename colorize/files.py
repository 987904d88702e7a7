"""Paths and writes through tf.io.gfile: a model_dir, the shards and an
export may be any URI TensorFlow's file systems know (gs:// natively;
s3://, hdfs:// through tensorflow-io), so paths are joined with "/" (not
os.path, which knows no URIs) and files are written as below."""
from __future__ import annotations

import tensorflow as tf


def join(base: str, *names: str) -> str:
    """base/name/...: a local path or a URI (a trailing slash on base is
    allowed)."""
    return "/".join([str(base).rstrip("/"), *names])


def is_remote(path: str) -> bool:
    return "://" in str(path)


def write_atomic(path: str, data: str | bytes) -> None:
    """Write under a temporary name, then rename over path: a reader never
    sees half a file. Atomic on a local disk; object stores copy on rename,
    so there a reader may briefly see no file, never a partial one."""
    path = str(path)
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    tf.io.gfile.rename(tmp, path, overwrite=True)
