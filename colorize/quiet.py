"""Quieting the start-up notices of TensorFlow's C++ runtime where they
start, without hiding its errors."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile

class _DropNoise(logging.Filter):
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
ABSL_NOISE = _DropNoise("Sharding callback duration")
TENSORFLOW_NOISE = _DropNoise("Collective all_reduce tensors")


def setup_process() -> None:
    """What every entry point (train.py, eval.py, python -m colorize.data,
    python -m colorize.export) sets for its process, before TensorFlow is
    first imported:
    - TensorFlow's C++ INFO and WARNING lines (oneDNN and CPU-feature
      notices) off: noise for a user; its ERROR lines still show. A value
      the user set wins.
    - the log noise above dropped;
    - TensorFlow's Python logger has a stderr handler of its own and also
      passes its records up to the root logger, where absl prints them
      again: every TF line appeared twice. Its own handler prints them once."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("absl").addFilter(ABSL_NOISE)
    tf_logger = logging.getLogger("tensorflow")
    tf_logger.addFilter(TENSORFLOW_NOISE)
    tf_logger.propagate = False


# XLA's C++ runtime logs these INFO lines through absl on a process's
# first XLA compile, whatever TF_CPP_MIN_LOG_LEVEL says (that variable
# governs TF's own logging, not absl's): start-up noise for a user.
_XLA_STARTUP_LINES = re.compile(
    r"XLA service .* initialized|StreamExecutor device \(\d+\)|Compiled cluster using XLA|"
    r"All log messages before absl::InitializeLog")
_xla_started = False


@contextlib.contextmanager
def without_xla_startup_lines():
    """Capture the process's stderr (file descriptor 2, where C++ logs go)
    while XLA starts, then pass on every line but XLA's start-up notices:
    real errors still show. Only the first call in a process captures."""
    global _xla_started
    if _xla_started:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
            _xla_started = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not _XLA_STARTUP_LINES.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def tensorflow_info_off() -> None:
    """TensorFlow's Python INFO records off for the rest of the process
    (warnings and errors still show), for commands that print their own
    results: saving a SavedModel logs a line per renamed input name and
    per file written, hundreds of characters each, through TensorFlow's
    logger and absl's. absl's is set through its verbosity flag: saving
    sets that flag and back, which would undo a level set on the logger."""
    from absl import logging as absl_logging

    tf_logger = logging.getLogger("tensorflow")
    tf_logger.setLevel(max(tf_logger.getEffectiveLevel(), logging.WARNING))
    absl_logging.set_verbosity(min(absl_logging.get_verbosity(), absl_logging.WARNING))
