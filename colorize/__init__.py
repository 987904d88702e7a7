"""colorize: GAN image colorization in TensorFlow 2."""
import logging as _logging
import os as _os

# TensorFlow's C++ INFO and WARNING lines (oneDNN and CPU-feature notices)
# are noise for a user; its ERROR lines still show. Set before TensorFlow is
# first imported (below); a value the user set wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _DropNoise(_logging.Filter):
    """Drops a logger's records that begin with one of the prefixes."""

    def __init__(self, *prefixes: str):
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record):
        return not str(record.msg).startswith(self.prefixes)


# TF 2.16's checkpoint writer logs "Sharding callback duration: N" at INFO
# through absl on every save: timing noise in the training log. Under a
# multi-worker strategy TensorFlow logs an INFO line for each all-reduce it
# traces, some thirty per training run.
_logging.getLogger("absl").addFilter(_DropNoise("Sharding callback duration"))
_logging.getLogger("tensorflow").addFilter(_DropNoise("Collective all_reduce tensors"))

# tensorflow-io registers its file systems with TF (training reads shards
# through tf.io.gfile); importing it here also fails loudly if the pinned
# TF/tensorflow-io pair is mismatched.
import tensorflow_io  # noqa: E402,F401

from colorize import color  # noqa: E402,F401

# TensorFlow's Python logger has a stderr handler of its own and also passes
# its records up to the root logger, where absl (our entry points) prints
# them again: every TF line appeared twice. Its own handler prints them once.
_logging.getLogger("tensorflow").propagate = False

__version__ = "0.1.0"
