"""colorize.quiet: the entry points' process set-up (and nothing done by
importing the package); XLA's start-up notices dropped, every other stderr
line kept."""
import logging
import os
import subprocess
import sys

from colorize import quiet
from tests.conftest import REPO_ROOT


def test_xla_startup_lines_are_dropped_and_everything_else_passes(capfd, monkeypatch):
    """The filter around the first XLA compile drops exactly XLA's start-up
    notices from file descriptor 2 (where C++ logs go): errors still show."""
    monkeypatch.setattr(quiet, "_xla_started", False)
    with quiet.without_xla_startup_lines():
        os.write(2, b"I0000 00:00:1.0 1 service.cc:145] XLA service 0x1 initialized for platform "
                    b"Host (this does not guarantee that XLA will be used). Devices:\n")
        os.write(2, b"I0000 00:00:1.0 1 service.cc:153]   StreamExecutor device (0): Host\n")
        os.write(2, b"E0000 something real went wrong\n")
        os.write(2, b"I0000 device_compiler.h:188] Compiled cluster using XLA!  This line...\n")
    assert capfd.readouterr().err == "E0000 something real went wrong\n"
    with quiet.without_xla_startup_lines():  # only the first call captures
        os.write(2, b"StreamExecutor device (0): Host\n")
    assert "StreamExecutor" in capfd.readouterr().err


def test_tensorflow_info_off_keeps_warnings_and_survives_a_save(tmp_path):
    """INFO off, WARNING on, for TensorFlow's logger and absl's, also after
    tf.saved_model.save (which sets absl's verbosity flag and back)."""
    import logging

    import tensorflow as tf
    from absl import logging as absl_logging

    tf_logger, absl_logger = logging.getLogger("tensorflow"), logging.getLogger("absl")
    saved = tf_logger.level, absl_logging.get_verbosity()
    try:
        absl_logging.set_verbosity(absl_logging.INFO)
        quiet.tensorflow_info_off()
        tf.saved_model.save(tf.Module(), str(tmp_path / "m"))
        for logger in (tf_logger, absl_logger):
            assert not logger.isEnabledFor(logging.INFO)
            assert logger.isEnabledFor(logging.WARNING)
    finally:
        tf_logger.setLevel(saved[0])
        absl_logging.set_verbosity(saved[1])


def test_importing_the_package_changes_nothing_outside_it():
    """Not TensorFlow's log level or loggers, and no tensorflow-io: the
    entry points set those up (quiet.setup_process, files.register_filesystems)."""
    code = ("import logging, os, sys; import colorize.metrics, colorize.trainer, colorize.evaluate; "
            "assert 'TF_CPP_MIN_LOG_LEVEL' not in os.environ, 'env'; "
            "assert 'tensorflow_io' not in sys.modules, 'tfio'; "
            "assert logging.getLogger('tensorflow').propagate, 'propagate'; "
            "assert not logging.getLogger('absl').filters, 'filters'")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**env, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_setup_drops_the_listed_log_noise_only():
    record = logging.LogRecord("absl", logging.INFO, "x", 1, "Sharding callback duration: 3",
                               None, None)
    assert not quiet.ABSL_NOISE.filter(record)
    record.msg = "Sharding the data over 2 workers"
    assert quiet.ABSL_NOISE.filter(record)
