"""What training checks of its --data folders before it builds a model."""
from __future__ import annotations

import tensorflow as tf

from colorize.config import ConfigError
from colorize.data import pipeline, records


def split_patterns(data: str) -> tuple[str, str]:
    """(train pattern, grid pattern): the grid uses val shards, or the train
    shards in eval order when the data has no val split."""
    train = pipeline.split_pattern(data, "train")
    val = pipeline.split_pattern(data, "val")
    pipeline.shard_files(train)  # raises with the pattern when there are none
    try:
        pipeline.shard_files(val)
    except FileNotFoundError:
        val = train
    return train, val


def stored_size(pattern: str) -> tuple[int, int]:
    """(height, width) of the first example of the first shard of pattern."""
    first = pipeline.shard_files(pattern)[0]
    for serialized in tf.data.TFRecordDataset(first).take(1):
        f = records.parse_stored(serialized)
        return int(f["l"].shape[0]), int(f["l"].shape[1])
    raise ConfigError(f"shard {first} holds no examples")


def check(data: str, image_size: int) -> tuple[str, str]:
    """The (train, grid) shard patterns of data, once every folder is known
    to hold photos stored at image_size or larger (a smaller folder would
    be enlarged to it without a word)."""
    patterns = split_patterns(data)
    for folder in pipeline.data_folders(data):
        h, w = stored_size(pipeline.split_pattern(folder, "train"))
        if min(h, w) < image_size:
            raise ConfigError(
                f"--image_size={image_size} is larger than the stored images ({h}x{w} in "
                f"{folder}); rebuild its shards with --size >= {image_size}")
    return patterns
