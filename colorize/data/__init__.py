"""Data: the TFRecord builder, the record format and the tf.data pipeline.

The names below are imported on first use, so that `python -m colorize.data`
can set up its process (colorize.quiet.setup_process) before TensorFlow
loads."""
import importlib

_EXPORTS = {"BuildConfig": "builder", "BuildError": "builder", "build": "builder",
            "make_dataset": "pipeline", "shard_files": "pipeline", "split_pattern": "pipeline",
            "ensure_sample": "sample"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
