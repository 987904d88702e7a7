"""The tf.data input pipeline over (L, ab) shards."""
from __future__ import annotations

import tensorflow as tf

from colorize.data import records

AUTOTUNE = tf.data.AUTOTUNE


def shard_files(pattern: str) -> list[str]:
    """Shard paths for a glob pattern or a folder (then its train shards),
    or several of them separated by commas (folders trained on together).
    Any file system TF knows works (tensorflow-io registers more)."""
    files = []
    for part in filter(None, (p.strip() for p in pattern.split(","))):
        if tf.io.gfile.isdir(part):
            part = part.rstrip("/") + "/train-*" + records.SHARD_SUFFIX
        matched = sorted(tf.io.gfile.glob(part))
        if not matched:
            raise FileNotFoundError(f"no TFRecord shards match {part!r}")
        files.extend(matched)
    if not files:
        raise FileNotFoundError(f"no TFRecord shards match {pattern!r}")
    return files


def split_pattern(data: str, split: str) -> str:
    """The shard pattern of one split for a data folder, or for several
    comma-separated folders."""
    return ",".join(f"{d.strip().rstrip('/')}/{split}-*{records.SHARD_SUFFIX}"
                    for d in data.split(",") if d.strip())


def _augment(l, ab, crop_size: int | None):
    """Random horizontal flip and random crop, identical for L and ab."""
    lab = tf.concat([l, ab], axis=-1)
    lab = tf.image.random_flip_left_right(lab)
    if crop_size is not None:
        lab = tf.image.random_crop(lab, [crop_size, crop_size, 3])
    return lab[..., :1], lab[..., 1:]


def _center_crop(l, ab, crop_size: int | None):
    if crop_size is None:
        return l, ab
    lab = tf.concat([l, ab], axis=-1)
    h, w = tf.shape(lab)[0], tf.shape(lab)[1]
    top, left = (h - crop_size) // 2, (w - crop_size) // 2
    lab = lab[top:top + crop_size, left:left + crop_size]
    lab = tf.ensure_shape(lab, [crop_size, crop_size, 3])
    return lab[..., :1], lab[..., 1:]


def make_dataset(
    pattern: str,
    global_batch_size: int,
    *,
    training: bool,
    crop_size: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    shuffle_buffer: int = 2048,
    seed: int | None = None,
) -> tf.data.Dataset:
    """(L_in [B,h,w,1], ab [B,h,w,2]) float32 batches in the network's range.

    training: files and examples shuffled, random flip and crop, repeated
    forever, remainder dropped. Otherwise: one pass in a fixed order, centre
    crop, last partial batch kept. With an input_context the batch is the
    per-replica one and files are sharded across input pipelines.
    """
    files = shard_files(pattern)
    batch_size = global_batch_size
    ds = tf.data.Dataset.from_tensor_slices(files)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        if input_context.num_input_pipelines > 1:
            if len(files) < input_context.num_input_pipelines:
                raise ValueError(f"{len(files)} shards cannot feed "
                                 f"{input_context.num_input_pipelines} input pipelines")
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        ds = ds.repeat()
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                       num_parallel_calls=AUTOTUNE, deterministic=not training)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.map(records.parse_example, num_parallel_calls=AUTOTUNE, deterministic=not training)
    if training:
        ds = ds.map(lambda l, ab: _augment(l, ab, crop_size), num_parallel_calls=AUTOTUNE)
    else:
        ds = ds.map(lambda l, ab: _center_crop(l, ab, crop_size), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training)
    return ds.prefetch(AUTOTUNE)
