"""Quieting the start-up notices of TensorFlow's C++ runtime where they
start, without hiding its errors."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import tempfile

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
