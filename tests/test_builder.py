"""colorize.data.builder: folder -> shards + manifest, and its CLI."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from colorize import color, imageio
from colorize.data import builder, records
from tests.conftest import COLORS, REPO_ROOT, colour_image, write_rgb, stored_lab

SIZE = 16
GOOD = {  # relative path -> (height, width)
    "red.jpg": (32, 40),
    "a/green.png": (24, 24),
    "a/b/blue.bmp": (40, 28),
    "a/b/yellow.webp": (30, 30),
    "c/magenta.tif": (24, 36),
    "c/d/e/red2.jpeg": (36, 24),
    "c/blue2.png": (28, 40),
    "green2.png": (40, 40),
}
GRAY = "c/near_gray.png"
BAD = {
    "bad/empty.jpg": "empty",
    "bad/truncated.jpg": "truncated",
    "bad/noise.jpg": "noise",
    "bad/notes.png": "text",
}


def make_photo_folder(root: Path) -> Path:
    colours = list(COLORS.values())
    for i, (rel, (h, w)) in enumerate(GOOD.items()):
        write_rgb(root / rel, colour_image(h, w, colours[i % len(colours)], seed=i))
    # near-gray: a gray ramp with a faint tint (mean chroma ~1, below 3)
    ramp = np.linspace(40, 220, 32, dtype=np.float32)[None, :, None]
    gray = np.repeat(np.repeat(ramp, 32, axis=0), 3, axis=2) + np.array([1.5, 0, -1.0], np.float32)
    write_rgb(root / GRAY, np.clip(gray, 0, 255).astype(np.uint8))
    # bad files, one of each kind
    (root / "bad").mkdir()
    (root / "bad/empty.jpg").write_bytes(b"")
    good_jpeg = (root / "red.jpg").read_bytes()
    (root / "bad/truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (root / "bad/noise.jpg").write_bytes(np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes())
    (root / "bad/notes.png").write_text("not an image\n" * 30)
    # side files that are not images at all: ignored, not counted
    (root / "README.txt").write_text("photos")
    (root / "a/meta.json").write_text("{}")
    return root


N_FOUND = len(GOOD) + 1 + len(BAD)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return make_photo_folder(tmp_path_factory.mktemp("photos"))


def config(photos, out, **kw):
    options = dict(input=str(photos), output=str(out), size=SIZE, shards=2, val_fraction=0.3,
                   workers=2, progress=False)
    options.update(kw)
    return builder.BuildConfig(**options)


@pytest.fixture(scope="module")
def built(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    manifest = builder.build(config(photos, out))
    return out, manifest


def read_shard(path):
    return [{k: v.numpy() for k, v in records.parse_stored(s).items()}
            for s in tf.data.TFRecordDataset(str(path))]


def all_examples(out):
    examples = {}
    for split in builder.SPLITS:
        for path in sorted(Path(out).glob(f"{split}-*.tfrecord")):
            for ex in read_shard(path):
                name = ex["name"].decode()
                assert name not in examples, f"{name} stored twice"
                examples[name] = (split, ex)
    return examples


def leftovers(out):
    return sorted(p.name for p in Path(out).iterdir() if p.name.startswith(".tmp") or p.name.endswith(".tmp"))


# --- a normal build -----------------------------------------------------------

def test_manifest_counts_add_up(built):
    out, manifest = built
    c = manifest["counts"]
    assert c["found"] == N_FOUND
    assert c["train"] + c["val"] + c["gray"] + c["skipped"] == c["found"]
    assert c["train"] + c["val"] == len(GOOD)
    assert c["gray"] == 1 and c["skipped"] == len(BAD)
    # the file on disk is the same manifest (less the timing)
    on_disk = json.loads((out / builder.MANIFEST).read_text())
    assert on_disk == {k: v for k, v in manifest.items() if k != "seconds"}
    assert on_disk["size"] == SIZE
    assert on_disk["storage"]["max_error_ab"] == color.AB_STORE_MAX_ERROR
    assert on_disk["storage"]["max_error_l"] == pytest.approx(color.L_STORE_MAX_ERROR, abs=1e-4)


def test_bad_files_skipped_with_reason(built):
    _, manifest = built
    skipped = {item["path"]: item["reason"] for item in manifest["skipped"]}
    assert set(skipped) == set(BAD)
    assert all(isinstance(r, str) and r for r in skipped.values())
    assert "empty" in skipped["bad/empty.jpg"]


def test_near_gray_dropped(built):
    _, manifest = built
    assert [g["path"] for g in manifest["gray"]] == [GRAY]
    assert 0 <= manifest["gray"][0]["mean_chroma"] < 3.0


def test_shards_hold_every_good_image_in_its_split(built):
    out, manifest = built
    examples = all_examples(out)
    assert set(examples) == set(GOOD)
    for name, (split, ex) in examples.items():
        assert split == builder.split_of(name, 0.3)
        assert ex["l"].shape == (SIZE, SIZE, 1) and ex["l"].dtype == np.uint8
        assert ex["ab"].shape == (SIZE, SIZE, 2) and ex["ab"].dtype == np.int8
    # per-shard counts in the manifest match the files
    for split in builder.SPLITS:
        for shard in manifest["shards"][split]:
            assert len(read_shard(out / shard["file"])) == shard["examples"] > 0
    names = sorted(p.name for p in out.iterdir())
    listed = sorted(s["file"] for split in builder.SPLITS for s in manifest["shards"][split])
    assert names == sorted(listed + [builder.MANIFEST])  # nothing else, no temp files


def test_stored_colour_matches_the_image(built, photos):
    """Storage round trip through a shard: within the stated storage error
    of the Lab of the whole image, squashed to the stored size."""
    out, _ = built
    for name, (_, ex) in all_examples(out).items():
        expected = builder.prepare_lab(imageio.read_image(photos / name), SIZE)
        stored = stored_lab(ex["l"][..., 0], ex["ab"])
        err = np.abs(stored - expected)
        assert err[..., 0].max() <= color.L_STORE_MAX_ERROR + 1e-4, name
        assert err[..., 1:].max() <= color.AB_STORE_MAX_ERROR + 1e-4, name


def test_stored_colour_is_the_photo_colour(built):
    # independent check of the whole chain: the red photo is stored red
    out, _ = built
    split, ex = all_examples(out)["red.jpg"]
    lab = stored_lab(ex["l"][..., 0], ex["ab"])
    expected = color.rgb_to_lab(tf.constant(np.array([[COLORS["red"]]], np.float32) / 255)).numpy()[0, 0]
    np.testing.assert_allclose(lab.mean(axis=(0, 1)), expected, atol=4.0)


def test_keep_gray(photos, tmp_path):
    manifest = builder.build(config(photos, tmp_path, skip_gray=False))
    assert manifest["counts"]["gray"] == 0 and manifest["gray"] == []
    assert manifest["counts"]["train"] + manifest["counts"]["val"] == len(GOOD) + 1
    assert GRAY in all_examples(tmp_path)


def test_photos_are_stored_whole_and_squashed(photos, tmp_path):
    builder.build(config(photos, tmp_path, workers=1))
    name = "a/b/blue.bmp"  # 40 x 28: squashed, not cropped
    expected = imageio.resize(imageio.read_image(photos / name), SIZE, SIZE)
    _, ex = all_examples(tmp_path)[name]
    stored = stored_lab(ex["l"][..., 0], ex["ab"])
    np.testing.assert_allclose(stored, color.rgb_to_lab_np(expected), atol=0.51)


def test_deterministic(photos, built, tmp_path):
    out1, manifest1 = built
    out2 = tmp_path / "again"
    manifest2 = builder.build(config(photos, out2, workers=1))  # also: worker count does not matter
    files1 = sorted(p.name for p in out1.iterdir())
    assert files1 == sorted(p.name for p in out2.iterdir())
    for name in files1:
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name
    assert manifest1["shards"] == manifest2["shards"]


def test_split_of():
    names = [f"folder{i % 7}/img_{i:05d}.jpg" for i in range(2000)]
    first = [builder.split_of(n, 0.2) for n in names]
    assert first == [builder.split_of(n, 0.2) for n in names]
    assert set(first) == {"train", "val"}
    val = first.count("val") / len(names)
    assert 0.17 < val < 0.23  # binomial sd ~0.009
    assert all(builder.split_of(n, 0.0) == "train" for n in names)
    # growing the fraction only moves files from train to val
    wider = [builder.split_of(n, 0.4) for n in names]
    assert all(w == "val" for f, w in zip(first, wider) if f == "val")
    assert 0.37 < wider.count("val") / len(names) < 0.43


# --- errors -------------------------------------------------------------------

def test_missing_input(tmp_path):
    with pytest.raises(builder.BuildError, match="does not exist"):
        builder.build(config(tmp_path / "nope", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_empty_input(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("no photos here")
    with pytest.raises(builder.BuildError, match="no image files"):
        builder.build(config(tmp_path / "in", tmp_path / "out"))


def test_existing_output_needs_overwrite(photos, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "train-00007.tfrecord"
    stale.write_bytes(b"old")
    with pytest.raises(builder.BuildError, match="overwrite"):
        builder.build(config(photos, out))
    assert stale.read_bytes() == b"old"  # untouched
    manifest = builder.build(config(photos, out, overwrite=True))
    assert not stale.exists()  # the old shard set is replaced, not mixed in
    assert manifest["counts"]["train"] + manifest["counts"]["val"] == len(GOOD)
    assert (out / builder.MANIFEST).exists()
    assert leftovers(out) == []


def test_output_inside_input(photos):
    with pytest.raises(builder.BuildError, match="inside"):
        builder.build(config(photos, photos / "shards"))


@pytest.mark.parametrize("option,value", [
    ("size", 2), ("shards", 0), ("val_fraction", 1.5), ("val_fraction", -0.1),
    ("workers", -1), ("gray_threshold", -1.0),
])
def test_invalid_options(photos, tmp_path, option, value):
    with pytest.raises(builder.BuildError, match=option):
        builder.build(config(photos, tmp_path / "out", **{option: value}))
    assert not (tmp_path / "out").exists()


def test_interrupted_build_leaves_no_shards(photos, tmp_path, monkeypatch):
    real = records.encode_example
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(records, "encode_example", flaky)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        builder.build(config(photos, out, workers=1))
    assert len(calls) == 4
    assert list(out.glob("train-*.tfrecord")) == []
    assert list(out.glob("val-*.tfrecord")) == []
    assert not (out / builder.MANIFEST).exists()
    assert list(out.iterdir()) == []  # no temp files either


# --- CLI ----------------------------------------------------------------------

def test_cli(photos, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    out = tmp_path / "cli"
    ok = subprocess.run(
        [sys.executable, "-m", "colorize.data", f"--input={photos}", f"--output={out}",
         f"--size={SIZE}", "--shards=1", "--val_fraction=0.3", "--workers=1"],
        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 1, ok.stderr  # finished, but with skipped files
    assert f"found {N_FOUND} image files" in ok.stdout
    assert f"near-gray dropped 1, unreadable skipped {len(BAD)}" in ok.stdout
    assert "skipped bad/empty.jpg: empty file" in ok.stdout
    manifest = json.loads((out / builder.MANIFEST).read_text())
    assert manifest["counts"]["train"] + manifest["counts"]["val"] == len(GOOD)

    missing = subprocess.run(
        [sys.executable, "-m", "colorize.data", f"--input={tmp_path / 'nope'}", f"--output={out}2"],
        capture_output=True, text=True, env=env, timeout=120)
    assert missing.returncode == 2
    assert "error:" in missing.stderr and "does not exist" in missing.stderr
    assert not Path(f"{out}2").exists()

    clean = subprocess.run(  # a folder where every file is stored: status 0
        [sys.executable, "-m", "colorize.data", f"--input={photos / 'a'}", f"--output={out}3",
         f"--size={SIZE}", "--shards=1", "--workers=1"],
        capture_output=True, text=True, env=env, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert "1 other files ignored" in clean.stdout  # a/meta.json


# --- awkward folders, huge photos, failed overwrites ------------------------------

def test_awkward_files_are_skipped_with_reasons_and_the_rest_is_built(tmp_path):
    """A named pipe, a socket and a broken link are never opened (the build
    would hang on the pipe); a header that claims 10,000 MP is refused
    before decoding; a 400 MP JPEG is decoded at 1/8 size and stored; a
    GIF and a name that is not UTF-8 are stored; one worker per core."""
    from tests.test_folders import awkward_folder
    from tests.test_imageio import big_blank_jpeg, png_header_claiming

    root = tmp_path / "in"
    root.mkdir()
    server = awkward_folder(root)
    try:
        (root / "bomb.png").write_bytes(png_header_claiming(100_000, 100_000))
        (root / "huge.jpg").write_bytes(big_blank_jpeg(20_000, 20_000))
        Image.fromarray(colour_image(12, 10, (40, 60, 210)), "RGB").save(root / "g.gif")
        manifest = builder.build(config(root, tmp_path / "out", skip_gray=False, workers=2))
    finally:
        server.close()
    reasons = {s["path"]: s["reason"] for s in manifest["skipped"]}
    assert reasons["pipe.jpg"] == "not a regular file: a named pipe"
    assert reasons["sock.png"] == "not a regular file: a socket"
    assert reasons["dangling.jpg"].startswith("broken symbolic link")
    assert "10000.0 MP" in reasons["bomb.png"] and "--max_megapixels" in reasons["bomb.png"]
    assert len(reasons) == 4
    assert manifest["ignored"] == ["notes.txt"]
    stored = [ex["name"] for split in builder.SPLITS
              for path in sorted((tmp_path / "out").glob(f"{split}-*.tfrecord"))
              for ex in read_shard(path)]
    names = [n.encode() for n in ("a.png", "sub/b.jpg", "link.png", "folder.jpg/c.png",
                                  "huge.jpg", "g.gif")] + [b"caf\xe9.jpg"]
    assert sorted(stored) == sorted(names)  # the file system's own bytes
    assert manifest["counts"]["found"] == len(names) + 4


def test_a_400_mp_jpeg_builds_in_under_1_gib(tmp_path):
    """Peak resident memory of a whole build (TensorFlow imported, one
    worker: the build runs in this one process) of a 20000 x 20000 JPEG.
    Decoded whole, its pixels alone would be 1.2 GB (4.8 GB as float)."""
    from tests.test_imageio import big_blank_jpeg

    root = tmp_path / "in"
    root.mkdir()
    (root / "huge.jpg").write_bytes(big_blank_jpeg(20_000, 20_000))
    code = (
        "from colorize.data import builder\n"
        f"m = builder.build(builder.BuildConfig(input={str(root)!r}, output={str(tmp_path / 'o')!r}, "
        "size=64, skip_gray=False, workers=1, progress=False))\n"
        "assert m['counts']['train'] + m['counts']['val'] == 1, m\n"
        # VmHWM, not ru_maxrss: that survives exec, so it would report this
        # pytest process's size at the fork (over 1 GiB late in the suite).
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1])\n")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak_gib = int(proc.stdout.split()[-1]) / 2**20  # kB
    assert peak_gib < 1.0, f"peak {peak_gib:.2f} GiB"


def test_a_failed_overwrite_keeps_the_old_build(photos, tmp_path, monkeypatch):
    out = tmp_path / "out"
    builder.build(config(photos, out, workers=1))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real, calls = records.encode_example, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(records, "encode_example", failing)
    with pytest.raises(OSError, match="disk full"):
        builder.build(config(photos, out, workers=1, shards=1, overwrite=True))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing lost or mixed in
    monkeypatch.setattr(records, "encode_example", real)
    manifest = builder.build(config(photos, out, workers=1, shards=1, overwrite=True))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [builder.MANIFEST] + [s["file"] for split in manifest["shards"].values() for s in split])
