"""colorize.quiet: XLA's start-up notices dropped, every other stderr line kept."""
import os

from colorize import quiet


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
