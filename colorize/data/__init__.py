"""Data: the TFRecord builder, the record format and the tf.data pipeline."""
from colorize.data.builder import BuildConfig, BuildError, build
from colorize.data.pipeline import make_dataset, shard_files, split_pattern
from colorize.data.sample import ensure_sample

__all__ = ["BuildConfig", "BuildError", "build", "make_dataset", "shard_files",
           "split_pattern", "ensure_sample"]
