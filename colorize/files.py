"""Paths and writes through tf.io.gfile: a model_dir, the shards and an
export may be any URI TensorFlow's file systems know (gs:// natively;
s3://, hdfs:// through tensorflow-io), so paths are joined with "/" (not
os.path, which knows no URIs) and files are written as below."""
from __future__ import annotations

import os
from pathlib import Path


def join(base: str, *names: str) -> str:
    """base/name/...: a local path or a URI (a trailing slash on base is
    allowed)."""
    return "/".join([str(base).rstrip("/"), *names])


def is_remote(path: str) -> bool:
    return "://" in str(path)


# URI schemes TensorFlow reads and writes itself; tensorflow-io registers
# the others (s3://, hdfs://, http(s):// ...).
NATIVE_SCHEMES = ("gs://", "file://", "ram://")


def register_filesystems(*paths) -> None:
    """Import tensorflow-io when one of paths needs its file systems: the
    one place it is imported, so that commands on local files never load
    it (it also fails loudly here if the pinned TF/tensorflow-io pair is
    mismatched)."""
    if any(is_remote(p) and not str(p).startswith(NATIVE_SCHEMES) for p in paths if p):
        import tensorflow_io  # noqa: F401


def write_atomic(path: str, data: str | bytes) -> None:
    """Write under a temporary name, then rename over path: a reader never
    sees half a file. Atomic on a local disk; object stores copy on rename,
    so there a reader may briefly see no file, never a partial one."""
    path = str(path)
    tmp = path + ".tmp"
    if not is_remote(path):  # no TensorFlow needed (the builder's workers)
        Path(tmp).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        os.replace(tmp, path)
        return
    import tensorflow as tf

    with tf.io.gfile.GFile(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    tf.io.gfile.rename(tmp, path, overwrite=True)
