"""The tf.data input pipeline over (L, ab) shards."""
from __future__ import annotations

import tensorflow as tf

from colorize import hints as hints_lib
from colorize.data import records

AUTOTUNE = tf.data.AUTOTUNE


def data_folders(data: str) -> list[str]:
    """The parts of a --data value (or of a shard pattern): one, or several
    separated by commas, without spaces or a trailing slash."""
    return [d.strip().rstrip("/") for d in data.split(",") if d.strip()]


def shard_files(pattern: str) -> list[str]:
    """Shard paths for a glob pattern or a folder (then its train shards),
    or several of them separated by commas (folders trained on together).
    Any file system TF knows works (tensorflow-io registers more)."""
    files = []
    for part in data_folders(pattern):
        if tf.io.gfile.isdir(part):
            part = part + "/train-*" + records.SHARD_SUFFIX
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
    return ",".join(f"{d}/{split}-*{records.SHARD_SUFFIX}" for d in data_folders(data))


def _fit(l, ab, image_size: int | None):
    """The whole stored photo at image_size x image_size, L and ab resized
    together by area averaging (the filter of imageio.network_rgb, the
    route from a photo to the network's input, here on stored Lab; training
    checks that shards are stored at image_size or larger): training sees
    whole photos, as inference does, never a zoomed-in crop."""
    if image_size is None:
        return l, ab
    lab = tf.concat([l, ab], axis=-1)
    # Parsed examples have dynamic shapes: compare at run time, so photos
    # stored at the training size skip the resize.
    lab = tf.cond(tf.reduce_all(tf.shape(lab)[:2] == image_size), lambda: lab,
                  lambda: tf.image.resize(lab, [image_size, image_size], method="area"))
    lab = tf.ensure_shape(lab, [image_size, image_size, 3])
    return lab[..., :1], lab[..., 1:]


def _augment(index, l, ab, image_size: int | None, seed: int):
    """Horizontal flip of the index-th training example, identical for L and
    ab, then _fit. The coin is keyed by (seed, index), not drawn from a
    random stream, so a resumed run that skips to example `index` flips it
    as the uninterrupted run did."""
    coin = tf.stack([tf.constant(seed, tf.int64), index])
    lab = tf.image.stateless_random_flip_left_right(tf.concat([l, ab], axis=-1), coin)
    return _fit(lab[..., :1], lab[..., 1:], image_size)


def _records(files: list[str], *, training: bool, shuffle_buffer: int,
             seed: int | None) -> tf.data.Dataset:
    """Serialized examples of some shard files; in training, files and
    examples shuffled and repeated. The order is a function of the seed
    alone (deterministic interleave), so a resumed run can skip to where it
    stopped, and every input pipeline forms the same stream."""
    ds = tf.data.Dataset.from_tensor_slices(files)
    if training:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        ds = ds.repeat()
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                       num_parallel_calls=AUTOTUNE, deterministic=True)
    if training:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    return ds


def make_dataset(
    pattern: str,
    global_batch_size: int,
    *,
    training: bool,
    image_size: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
    shuffle_buffer: int = 2048,
    seed: int | None = None,
    weights: tuple[float, ...] | None = None,
    skip: int = 0,
    hints: hints_lib.Sampling | None = None,
) -> tf.data.Dataset:
    """(L_in [B,h,w,1], ab [B,h,w,2]) float32 batches in the network's range.

    training: files and examples shuffled, random flip, repeated forever,
    remainder dropped. Otherwise: one pass in a fixed order, last partial
    batch kept. Either way, with image_size, whole photos resized to it.
    With an input_context the batch is the per-replica one and examples are
    shared out over the input pipelines (one per worker).

    weights (training only): one per comma-separated part of pattern; each
    example is drawn from part i with probability weights[i] / sum(weights),
    whatever the parts' sizes. Without weights, parts mix in proportion to
    their sizes.

    skip (training only): examples of the global training stream (all
    pipelines together) to pass over first, so that a resumed run sees the batches the
    uninterrupted run would have seen next. The stream depends only on the
    seed; skipped examples are read but not decoded.

    hints (needs image_size): a simulated user's hints [B,h,w,3] (see
    colorize.hints) as a third element, drawn for each example from (seed,
    its index in the stream) after the flip: the same example of the same
    stream gets the same hints, in a resumed run too.
    """
    if hints is not None and image_size is None:
        raise ValueError("hints are drawn at the training size: pass image_size")
    batch_size = global_batch_size
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
    kwargs = dict(training=training, shuffle_buffer=shuffle_buffer, seed=seed)
    if weights and training:
        parts = data_folders(pattern)
        if len(parts) != len(weights) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"{len(weights)} weights {tuple(weights)} for {len(parts)} data "
                             "folders: give one non-negative weight per folder")
        # Each part keeps a share of the shuffle buffer in proportion to its weight.
        total = sum(weights)
        ds = tf.data.Dataset.sample_from_datasets(
            [_records(shard_files(p), **{**kwargs, "shuffle_buffer":
                                         max(64, int(shuffle_buffer * w / total))})
             for p, w in zip(parts, weights)],
            weights=[w / total for w in weights], seed=seed)
    else:
        ds = _records(shard_files(pattern), **kwargs)
    ds = ds.enumerate()
    if training:
        ds = ds.skip(skip)
    if input_context is not None and input_context.num_input_pipelines > 1:
        # Pipeline k keeps examples k, k + N, k + 2N ... of the one global
        # stream, before decoding. A step's N per-pipeline batches then hold
        # exactly the examples of one global batch of a single process
        # (tested): N workers x B/N compute the update that 1 x B does, and
        # a run may resume on another number of workers. Each pipeline
        # reads every shard (N times the reading of sharding by file).
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if training:
        def fitted(i, record):
            return _augment(i, *records.parse_example(record), image_size, seed or 0)
    else:
        def fitted(i, record):
            return _fit(*records.parse_example(record), image_size)
    if hints is None:
        prepare = fitted
    else:
        def prepare(i, record):
            l, ab = fitted(i, record)
            return l, ab, hints_lib.sample(ab, seed or 0, i, hints)
    # The map has no Python control flow on tensors (tf.cond is explicit):
    # AutoGraph's conversion of it would only slow every run's start.
    ds = ds.map(tf.autograph.experimental.do_not_convert(prepare), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=training)
    return ds.prefetch(AUTOTUNE)
