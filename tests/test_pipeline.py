"""colorize.data.pipeline.make_dataset over a small built shard set."""
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorize.data import builder, make_dataset, records, shard_files, split_pattern
from tests.conftest import write_rgb

SIZE, CROP, BATCH = 32, 24, 4
N_IMAGES, N_SHARDS = 10, 4


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Shards of random-texture colour images (each unique, so an example
    can be traced back to its source), and
    the stored examples, per shard, in network range."""
    src = tmp_path_factory.mktemp("textures")
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        shape = (SIZE, SIZE + 8 * (i % 2), 3)  # half of them non-square: squashed by the builder
        write_rgb(src / f"tex{i:02d}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    out = tmp_path_factory.mktemp("shards")
    manifest = builder.build(builder.BuildConfig(
        input=str(src), output=str(out), size=SIZE, shards=N_SHARDS, val_fraction=0.0,
        workers=1, progress=False))
    assert manifest["counts"]["train"] == N_IMAGES
    per_shard = []
    for path in sorted(out.glob("train-*.tfrecord")):
        per_shard.append([tuple(t.numpy() for t in records.parse_example(s))
                          for s in tf.data.TFRecordDataset(str(path))])
    assert len(per_shard) == N_SHARDS
    return out, per_shard


def stored_examples(data):
    return [ex for shard in data[1] for ex in shard]


def take(ds, n_batches):
    return [(l.numpy(), ab.numpy()) for l, ab in ds.take(n_batches)]


def resized(stored_l, stored_ab, flipped):
    """A stored example, flipped or not, as a whole at CROP x CROP."""
    lab = np.concatenate([stored_l, stored_ab], axis=-1)
    lab = lab[:, ::-1] if flipped else lab
    out = tf.image.resize(lab, [CROP, CROP], method="area").numpy()
    return out[..., :1], out[..., 1:]


def find_sources(l, stored):
    """All (stored index, flipped) whose whole resized L equals l."""
    return [(i, flipped) for i, (sl, sab) in enumerate(stored) for flipped in (False, True)
            if np.allclose(resized(sl, sab, flipped)[0], l, atol=1e-5)]


def test_training_shapes_and_ranges(data):
    out, _ = data
    ds = make_dataset(str(out / "train-*.tfrecord"), BATCH, training=True, image_size=CROP, seed=1)
    l_spec, ab_spec = ds.element_spec
    # drop_remainder: the batch dimension is static
    assert l_spec.shape.as_list() == [BATCH, CROP, CROP, 1]
    assert ab_spec.shape.as_list() == [BATCH, CROP, CROP, 2]
    assert l_spec.dtype == ab_spec.dtype == tf.float32
    batches = take(ds, 6)  # 24 examples > 10 stored: it repeats
    assert len(batches) == 6
    for l, ab in batches:
        assert l.shape == (BATCH, CROP, CROP, 1) and ab.shape == (BATCH, CROP, CROP, 2)
        assert l.dtype == np.float32 and ab.dtype == np.float32
        assert l.min() >= -1.0 and l.max() <= 1.0
        assert np.abs(ab).max() <= 128.0 / 110.0
    # the data is not degenerate: textures span much of the range (the
    # area-averaging 32 -> 24 px resize averages neighbouring pixels of the
    # uniform noise, so the extremes shrink: seen -0.45..-0.6 and 0.45..0.6)
    all_l = np.concatenate([l for l, _ in batches])
    assert all_l.min() < -0.3 and all_l.max() > 0.3


def test_augmentation_keeps_l_and_ab_aligned(data):
    """Each training example must be one whole stored example, flipped or
    not, resized to the training size (never a crop: inference sees whole
    photos), and its ab the very same transform of that example's ab."""
    out, _ = data
    stored = stored_examples(data)
    ds = make_dataset(str(out), BATCH, training=True, image_size=CROP, seed=3)
    seen_flips, seen_sources = set(), set()
    for l_batch, ab_batch in take(ds, 8):
        for l, ab in zip(l_batch, ab_batch):
            hits = find_sources(l, stored)
            assert len(hits) == 1, f"L matches {len(hits)} stored examples"
            i, flipped = hits[0]
            np.testing.assert_allclose(ab, resized(*stored[i], flipped)[1], atol=1e-5)
            seen_flips.add(flipped)
            seen_sources.add(i)
    # the augmentation really ran (32 examples: all unflipped has odds 2^-32)
    assert seen_flips == {False, True}
    assert len(seen_sources) > 5


def test_eval_deterministic_partial_batch_whole_photos(data):
    out, _ = data
    stored = stored_examples(data)
    ds = make_dataset(str(out / "train-*.tfrecord"), BATCH, training=False, image_size=CROP)
    assert ds.element_spec[0].shape.as_list() == [None, CROP, CROP, 1]
    first, second = take(ds, -1), take(ds, -1)
    # one pass, last partial batch kept: 10 = 4 + 4 + 2
    assert [l.shape[0] for l, _ in first] == [4, 4, 2]
    assert len(first) == len(second)
    for (l1, ab1), (l2, ab2) in zip(first, second):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(ab1, ab2)
    # whole, unflipped, every stored example exactly once
    sources = []
    for l_batch, ab_batch in first:
        for l, ab in zip(l_batch, ab_batch):
            hits = find_sources(l, stored)
            assert len(hits) == 1 and not hits[0][1]
            np.testing.assert_allclose(ab, resized(*stored[hits[0][0]], False)[1], atol=1e-5)
            sources.append(hits[0][0])
    assert sorted(sources) == list(range(N_IMAGES))


def test_eval_without_crop_gives_full_size(data):
    out, _ = data
    (l, ab), = take(make_dataset(str(out), 16, training=False), -1)
    assert l.shape == (N_IMAGES, SIZE, SIZE, 1) and ab.shape == (N_IMAGES, SIZE, SIZE, 2)


def test_pipelines_share_out_one_global_stream(data):
    """With N input pipelines (one per worker), pipeline k's batch j holds
    examples k, k+N, ... of the single-process batch j: together exactly
    the examples of one global batch, in training (shuffled, flipped by
    index, after a resume's skip too) and in eval order."""
    out, _ = data

    def contexts(n):
        return [tf.distribute.InputContext(num_input_pipelines=n, input_pipeline_id=k,
                                           num_replicas_in_sync=n) for k in range(n)]

    for training, skip in ((True, 0), (True, 6), (False, 0)):
        kw = dict(training=training, image_size=CROP, seed=3, **({"skip": skip} if training else {}))
        single = take(make_dataset(str(out), 8, **kw), 3 if training else -1)
        parts = [take(make_dataset(str(out), 8, input_context=ctx, **kw), 3 if training else -1)
                 for ctx in contexts(2)]
        assert parts[0][0][0].shape[0] == 4  # the per-replica batch: 8 global / 2
        for j, (l, ab) in enumerate(single):
            got_l = np.concatenate([parts[0][j][0], parts[1][j][0]])
            expect = np.concatenate([l[0::2], l[1::2]])
            np.testing.assert_array_equal(got_l, expect)


def test_more_pipelines_than_shards_is_fine(data):
    """Sharding by example, not by file: 5 workers can share 4 shards."""
    out, _ = data
    ctx = tf.distribute.InputContext(num_input_pipelines=5, input_pipeline_id=4, num_replicas_in_sync=5)
    (l, _), = take(make_dataset(str(out), 10, training=True, image_size=CROP, input_context=ctx), 1)
    assert l.shape[0] == 2


def test_pattern_matching_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TFRecord shards"):
        make_dataset(str(tmp_path / "train-*.tfrecord"), 4, training=True)
    with pytest.raises(FileNotFoundError):
        make_dataset(str(tmp_path), 4, training=False)  # a folder without shards


def test_folder_reads_its_train_shards(data, tmp_path):
    out, _ = data
    folder = tmp_path / "copy"
    shutil.copytree(out, folder)
    # a val shard next to them must not be read
    shutil.copy(folder / "train-00000.tfrecord", folder / "val-00000.tfrecord")
    train_files = sorted(str(p) for p in folder.glob("train-*.tfrecord"))
    assert len(train_files) == N_SHARDS
    assert shard_files(str(folder)) == train_files
    assert shard_files(str(folder) + "/") == train_files
    assert shard_files(split_pattern(str(folder), "val")) == [str(folder / "val-00000.tfrecord")]
    n = sum(l.shape[0] for l, _ in take(make_dataset(str(folder), 4, training=False), -1))
    assert n == N_IMAGES


def test_several_folders_separated_by_commas(tmp_path):
    """--data=a,b trains on both folders' shards; a folder without shards is named."""
    from colorize.data import pipeline

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(2):
            (tmp_path / name / f"train-0000{i}.tfrecord").write_bytes(b"")
    both = pipeline.split_pattern(f"{tmp_path / 'a'},{tmp_path / 'b'}", "train")
    files = pipeline.shard_files(both)
    assert [Path(f).parent.name for f in files] == ["a", "a", "b", "b"]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        pipeline.shard_files(f"{tmp_path / 'a'},{tmp_path / 'nowhere'}")


@pytest.mark.parametrize("stored,size", [(64, 64), (96, 64)])
def test_training_sees_a_photo_as_inference_does(tmp_path, stored, size):
    """A non-square real photo (scikit-image's cat, 451 x 300) reaches the
    network as the same L image in training (builder + pipeline) and at
    inference (colorize.inference.network_input): whole and squashed, by
    the same function. Stored at the training size, they differ by the
    storage's rounding alone; stored larger, the pipeline's resize of the
    stored Lab adds a little; a centre crop would be far off."""
    import skimage.data

    from colorize import color, imageio, inference

    src = tmp_path / "src"
    src.mkdir()
    rgb = skimage.data.chelsea()
    write_rgb(src / "cat.png", rgb)
    out = tmp_path / "shards"
    builder.build(builder.BuildConfig(input=str(src), output=str(out), size=stored, shards=1,
                                      val_fraction=0.0, workers=1, progress=False))
    (l_train, _), = take(make_dataset(str(out), 1, training=False, image_size=size), -1)
    l_infer = inference.network_input(rgb, size)
    diff = np.abs(l_train[0] - l_infer)
    if stored == size:  # L is stored to within 0.196 L units: 0.0039 normalised
        assert diff.max() <= color.L_STORE_MAX_ERROR / color.L_SCALE + 1e-6, diff.max()
    else:  # seen: mean 0.0042, 99th percentile 0.017
        assert diff.mean() < 0.015 and np.percentile(diff, 99) < 0.08, (diff.mean(), np.percentile(diff, 99))
    cropped = color.rgb_to_lab_np(imageio.resize(imageio.center_crop_square(rgb / 255.0), size, size))
    crop_diff = np.abs(np.asarray(color.normalize_l(cropped[..., :1])) - l_infer)
    assert crop_diff.mean() > 0.1  # seen: 0.21


def test_weights_set_the_mix_of_folders(tmp_path):
    """Two folders of 3 and 30 photos with weights 3:1: about 3/4 of the
    examples come from the small one, whatever the sizes (their red and
    blue colours tell the folders apart)."""
    from tests.conftest import COLORS, colour_image

    folders = []
    for name, n in (("red", 3), ("blue", 30)):
        src = tmp_path / f"src_{name}"
        for i in range(n):
            write_rgb(src / f"{i}.png", colour_image(16, 16, COLORS[name], seed=i))
        out = tmp_path / name
        builder.build(builder.BuildConfig(input=str(src), output=str(out), size=16, shards=2,
                                          val_fraction=0.0, workers=1, progress=False))
        folders.append(str(out))
    pattern = split_pattern(",".join(folders), "train")
    ds = make_dataset(pattern, 50, training=True, seed=0, weights=(3.0, 1.0))
    ab = np.concatenate([b for _, b in take(ds, 8)])  # 400 examples
    red = (ab[..., 1].mean(axis=(1, 2)) > 0).mean()  # b: red > 0 (yellowish), blue < 0
    assert 0.68 < red < 0.82, red  # binomial sd at 400 draws: 0.022
    with pytest.raises(ValueError, match="one non-negative weight per folder"):
        make_dataset(pattern, 4, training=True, weights=(1.0,))


def test_the_training_stream_depends_on_the_seed_alone_and_skips_exactly(data):
    """A resumed run rebuilds the stream with skip=k examples: it must give
    the batches the uninterrupted stream gives after its first k examples,
    flips included (over an epoch boundary: 10 stored examples)."""
    out, _ = data
    pattern = str(out / "train-*.tfrecord")
    straight = take(make_dataset(pattern, BATCH, training=True, image_size=CROP, seed=7), 8)
    again = take(make_dataset(pattern, BATCH, training=True, image_size=CROP, seed=7), 8)
    for (l1, ab1), (l2, ab2) in zip(straight, again):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(ab1, ab2)
    resumed = take(make_dataset(pattern, BATCH, training=True, image_size=CROP, seed=7,
                                skip=3 * BATCH), 5)
    for (l1, ab1), (l2, ab2) in zip(straight[3:], resumed):
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(ab1, ab2)
    other = take(make_dataset(pattern, BATCH, training=True, image_size=CROP, seed=8), 8)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(straight, other))
