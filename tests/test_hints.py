"""Guided generators (--hints): the simulated user checked by hand and by
its statistics, the marks-to-grid averaging, training and resuming with
hints, a guided net that learns to use them, and inference (eval's route
and the exported signature) agreeing on the same hints."""
import dataclasses
import json
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorize import color, config as config_lib, export, hints, inference, trainer
from colorize.config import TrainConfig
from colorize.data import pipeline, sample
from tests.test_trainer import one_device, tiny, trained_in_stops


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return sample.ensure_sample(str(tmp_path_factory.mktemp("sample")))


def draws(n: int, size: int, sampling: hints.Sampling, seed: int = 0) -> dict:
    """The simulated user's draws for examples 0..n-1, as NumPy arrays."""
    ds = tf.data.Dataset.range(n).map(lambda i: hints.draw(size, seed, i, sampling))
    batch = next(iter(ds.batch(n)))
    return {k: v.numpy() for k, v in batch.items()}


# --- the simulated user -------------------------------------------------------------

def test_paint_by_hand():
    """A 6x6 ab image, three drawn points of which two are used: each used
    patch holds its patch's mean ab, the later point covers the earlier
    where they overlap, the unused third paints nothing, the mask says
    where."""
    ab = np.arange(6 * 6 * 2, dtype=np.float32).reshape(6, 6, 2) / 100
    points = {"count": tf.constant(2), "top": tf.constant([0, 1, 4]),
              "left": tf.constant([0, 1, 4]), "patch": tf.constant([2, 3, 2])}
    out = hints.paint(tf.constant(ab), points).numpy()
    first = ab[0:2, 0:2].reshape(-1, 2).mean(0)
    second = ab[1:4, 1:4].reshape(-1, 2).mean(0)
    expected_mask = np.zeros((6, 6))
    expected_mask[0:2, 0:2] = 1
    expected_mask[1:4, 1:4] = 1
    np.testing.assert_array_equal(out[..., 2], expected_mask)
    for (r, c) in [(0, 0), (0, 1), (1, 0)]:
        np.testing.assert_allclose(out[r, c, :2], first, atol=1e-6)
    for (r, c) in [(1, 1), (2, 2), (3, 3), (1, 3)]:  # (1, 1) is in both: the later wins
        np.testing.assert_allclose(out[r, c, :2], second, atol=1e-6)
    assert not out[4:, 4:].any()  # the third point is past count
    assert not out[5, 0].any()
    none = hints.paint(tf.constant(ab), {**points, "count": tf.constant(0)}).numpy()
    assert none.shape == (6, 6, 3) and not none.any()


def test_counts_are_geometric_from_zero():
    """p = 1/8: P(0) = 1/8, mean (1 - p) / p = 7, P(count >= 20) =
    (7/8)^20 = 0.069; the cap holds."""
    n = 4000
    counts = draws(n, 64, hints.Sampling())["count"]
    se = lambda p: 4 * np.sqrt(p * (1 - p) / n)  # noqa: E731 - four standard errors
    assert abs((counts == 0).mean() - 1 / 8) < se(1 / 8)
    assert abs((counts >= 20).mean() - (7 / 8) ** 20) < se((7 / 8) ** 20)
    assert abs(counts.mean() - 7) < 4 * np.sqrt(56 / n)  # variance (1 - p) / p^2 = 56
    capped = draws(500, 64, hints.Sampling(point_p=0.01, max_points=5))["count"]
    assert capped.max() == 5 and (capped == 5).mean() > 0.9
    assert not draws(50, 64, hints.Sampling(point_p=1.0))["count"].any()


def test_positions_are_gaussian_around_the_centre_and_patches_uniform():
    """Corners of 1 px patches on a 256 px side: mean 128, standard
    deviation 64 (a quarter of the side), clipped inside; patch sizes
    1..9, each about 1/9 of the draws."""
    d = draws(400, 256, hints.Sampling(max_patch=1))
    corners = np.concatenate([d["top"].ravel(), d["left"].ravel()])
    assert corners.min() >= 0 and corners.max() <= 255
    assert abs(corners.mean() - 127.5) < 4 * 64 / np.sqrt(corners.size)
    assert abs(corners.std() - 64) < 4  # clipping at 2 sigma trims it a little
    patches = draws(400, 256, hints.Sampling())["patch"].ravel()
    assert set(np.unique(patches)) == set(range(1, 10))
    shares = np.bincount(patches, minlength=10)[1:] / patches.size
    assert np.abs(shares - 1 / 9).max() < 0.02
    small = draws(100, 8, hints.Sampling())  # patches never leave a small image
    assert (small["top"] + small["patch"]).max() <= 8 and small["patch"].max() <= 8


def test_sampling_is_a_function_of_seed_and_index():
    ab = tf.random.stateless_uniform([32, 32, 2], [1, 2], -1, 1)
    a, b = hints.sample(ab, 3, 17), hints.sample(ab, 3, 17)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    others = [hints.sample(ab, 3, i).numpy() for i in range(18, 30)]
    others += [hints.sample(ab, 4, 17).numpy()]
    assert all(not np.array_equal(a.numpy(), o) for o in others if o[..., 2].any() or
               a.numpy()[..., 2].any())


# --- a user's marks into the network's grid ------------------------------------------

def test_grid_averages_the_marks_of_each_cell_by_hand():
    """A 5x4 photo (height 5) into a 2x2 grid: a pixel belongs to the cell
    its centre falls in (row 2's centre, 2.5, is in the second row of
    cells: 2.5 * 2 / 5 = 1)."""
    marks = {(0, 0): (10, 20), (1, 1): (30, 40), (2, 3): (-50, 5), (4, 2): (-10, 15)}
    index = np.array([r * 4 + c for r, c in marks])
    ab = np.array(list(marks.values()), np.float32)
    out = hints.grid(index, ab, 5, 4, 2).numpy()
    np.testing.assert_allclose(out[0, 0], [20 / 110, 30 / 110, 1], atol=1e-6)
    np.testing.assert_array_equal(out[0, 1], [0, 0, 0])
    np.testing.assert_array_equal(out[1, 0], [0, 0, 0])
    np.testing.assert_allclose(out[1, 1], [-30 / 110, 10 / 110, 1], atol=1e-6)


def test_rgba_hints_image_gives_the_marks_of_its_opaque_pixels():
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[0, 1] = (200, 40, 30, 255)
    rgba[2, 3] = (30, 60, 210, 128)
    rgba[1, 1] = (30, 200, 30, 127)  # under half alpha: not a hint
    index, ab = hints.from_rgba(tf.constant(rgba))
    np.testing.assert_array_equal(index.numpy(), [1, 11])
    expected = color.rgb_to_lab_np(rgba[[0, 2], [1, 3], :3].reshape(2, 1, 3) / 255.0)[:, 0, 1:]
    np.testing.assert_allclose(ab.numpy(), expected, atol=0.05)


# --- training ---------------------------------------------------------------------

def test_older_configs_are_automatic_and_hints_are_an_architecture(tmp_path, shards):
    old = json.loads(TrainConfig().to_json())
    old["version"] = 1
    for added in ("hints", "hint_p", "hint_max_patch", "hint_max_points", "hints_at_output"):
        del old[added]
    migrated = TrainConfig.from_dict(old)
    assert migrated.hints is False and migrated.hint_sampling is None
    cfg = tiny(tmp_path / "run", data=shards, gan="none", max_steps=1)
    trainer.train(cfg, one_device())
    with pytest.raises(config_lib.ConfigError, match="--hints: False -> True"):
        trainer.prepare(dataclasses.replace(cfg, hints=True))
    with pytest.raises(config_lib.ConfigError, match="--hint_p"):
        TrainConfig(hints=True, hint_p=0.0).resolved()
    with pytest.raises(config_lib.ConfigError, match="--hints_at_output needs"):
        TrainConfig(hints=True, hints_at_output=True, generator="colcol").resolved()


def test_pipeline_hints_follow_the_stream_and_the_true_colours(shards):
    """The hints of example k are the same whether the stream starts at 0
    or skips to k (a resumed run), and every hinted pixel holds a colour
    of its own image's range (they are means of its true ab)."""
    sampling = hints.Sampling(point_p=0.2)
    pattern = pipeline.split_pattern(shards, "train")

    def batches(skip, n):
        ds = pipeline.make_dataset(pattern, 4, training=True, image_size=32, seed=5, skip=skip,
                                   hints=sampling, shuffle_buffer=16)
        return [tuple(t.numpy() for t in b) for b in ds.take(n)]

    straight, resumed = batches(0, 5), batches(8, 3)
    for a, b in zip(straight[2:], resumed):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    l, ab, h = np.concatenate([b[0] for b in straight]), *(
        np.concatenate([b[i] for b in straight]) for i in (1, 2))
    assert h.shape == (20, 32, 32, 3) and set(np.unique(h[..., 2])) <= {0.0, 1.0}
    assert h[..., 2].any() and (h[..., 2] == 0).any()
    for abi, hi in zip(ab, h):
        marked = hi[..., 2] == 1
        assert (hi[~marked, :2] == 0).all()
        if marked.any():
            assert (hi[marked, :2] >= abi[..., :].reshape(-1, 2).min(0) - 1e-5).all()
            assert (hi[marked, :2] <= abi.reshape(-1, 2).max(0) + 1e-5).all()


@pytest.mark.parametrize("generator, gan, at_output", [("unet", "wgan-gp", True),
                                                       ("colcol", "lsgan", False)])
def test_every_generator_and_variant_trains_with_hints(tmp_path, shards, generator, gan,
                                                       at_output):
    cfg = tiny(tmp_path, data=shards, generator=generator, gan=gan, hints=True,
               hints_at_output=at_output)
    result = trainer.train(cfg, one_device())
    assert result["step"] == 2 and np.isfinite(result["g_total"])
    t = trainer.Trainer(cfg, one_device())
    assert t.generator.input.shape[-1] == 4
    assert t.discriminator.inputs[0].shape[-1] == 1  # D sees L and ab alone
    assert config_lib.load(cfg.model_dir).hints is True
    if at_output:  # the last conv sees the input (4 channels) beside the 2 x ngf features
        ngf = t.generator.get_layer("down0").output.shape[-1]
        assert t.generator.get_layer("ab").kernel.shape[2] == 2 * ngf + 4


def test_a_resumed_guided_run_continues_the_same_hints(tmp_path, shards, monkeypatch):
    """As for an automatic run: 4 steps straight = 2, a stop, 2 more (the
    hints of the resumed steps are those of the straight run's); the run
    whose hints restart from another seed of the sampler ends elsewhere."""
    def run(name, stops):
        return trained_in_stops(tmp_path / name, shards, stops, hints=True, hint_p=0.1)

    straight, resumed = run("straight", [4]), run("resumed", [2, 4])
    for a, b in zip(straight, resumed):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    original = hints.sample
    monkeypatch.setattr(hints, "sample",
                        lambda ab, seed, index, sampling: original(ab, seed + 1, index, sampling))
    other = run("other_hints", [2, 4])
    assert any(not np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(straight, other))


def flat_colour_examples(n: int, size: int, seed: int):
    """Images of one flat colour each, drawn at random, whose L is noise
    that says nothing of the colour: without hints the best guess is the
    mean colour; with one hint, the hint's colour is everywhere."""
    rng = np.random.default_rng(seed)
    l = rng.uniform(-1, 1, [n, size, size, 1]).astype(np.float32)
    colours = rng.uniform(-0.5, 0.5, [n, 1, 1, 2]).astype(np.float32)
    return l, np.broadcast_to(colours, [n, size, size, 2]).copy()


def test_a_guided_generator_learns_to_follow_the_hints(tmp_path):
    """After a short training on flat colours, the output at (and around) a
    hinted patch is much nearer the hint than the output without it: the
    colour is not in L, so only the hint can tell it."""
    size = 32
    cfg = tiny(tmp_path, gan="none", loss="l1", hints=True, batch_size=8, lr_g=2e-3,
               width=1 / 8)
    keras.utils.set_random_seed(0)
    t = trainer.Trainer(cfg, one_device())
    l, ab = flat_colour_examples(512, size, 0)
    sampling = hints.Sampling(point_p=0.3)
    ds = (tf.data.Dataset.from_tensor_slices((l, ab)).enumerate()
          .map(lambda i, ex: (*ex, hints.sample(ex[1], 0, i, sampling))).repeat().batch(8))
    it = iter(t.strategy.experimental_distribute_dataset(ds))
    t.train_step(it, tf.constant(200))
    tl, tab = flat_colour_examples(16, size, 1)
    one_hint = np.zeros([16, size, size, 3], np.float32)
    one_hint[:, 14:18, 14:18, :2] = tab[:, 14:18, 14:18]
    one_hint[:, 14:18, 14:18, 2] = 1
    with_hint = t.colorize(tf.constant(tl), tf.constant(one_hint)).numpy()
    without = t.colorize(tf.constant(tl), tf.constant(np.zeros_like(one_hint))).numpy()
    # Measured: 0.18 against 0.28 (the mean colour's error) after 200
    # steps; a net that ignores its hints scores the same with and without.
    err_with = np.abs(with_hint[:, 14:18, 14:18] - tab[:, 14:18, 14:18]).mean()
    err_without = np.abs(without[:, 14:18, 14:18] - tab[:, 14:18, 14:18]).mean()
    assert err_with < 0.75 * err_without, (err_with, err_without)


# --- inference ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guided_run(tmp_path_factory, shards):
    """A tiny guided run and its export (flip-averaged: the hints must be
    mirrored with the photo)."""
    root = tmp_path_factory.mktemp("guided")
    cfg = tiny(root / "run", data=shards, gan="none", hints=True)
    trainer.train(cfg, one_device())
    export.export(cfg.model_dir, str(root / "export"), flip_average=True)
    return cfg.model_dir, str(root / "export")


def photo_and_hints(h=50, w=70):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[10:20, 30:40] = (200, 30, 30, 255)
    rgba[40:44, 5:9] = (30, 60, 210, 255)
    return photo, rgba


def marks_of(rgba):
    """The marks of a hints image, computed in NumPy (not by hints.from_rgba)."""
    index = np.flatnonzero(rgba[..., 3] >= 128)
    rgb = rgba[..., :3].reshape(-1, 3)[index].reshape(-1, 1, 3) / 255.0
    return types.SimpleNamespace(index=index, ab=color.rgb_to_lab_np(rgb)[:, 0, 1:],
                                 height=rgba.shape[0], width=rgba.shape[1])


def test_export_and_eval_agree_on_the_same_hints(guided_run):
    """eval's route (marks -> colorize_batch) and the exported
    colorize_hints signature (RGBA hints image) give the same colours; the
    hints change them; serving_default is the answer with no hint."""
    model_dir, exported = guided_run
    photo, rgba = photo_and_hints()
    served = inference.saved_model(exported)
    assert served.guided and inference.checkpoint_model(model_dir).guided
    signature = served.owner.signatures["colorize_hints"]
    out_sig = signature(image=tf.constant(photo), hints=tf.constant(rgba))["rgb"].numpy()
    out_eval = inference.colorize_batch([photo], served, [marks_of(rgba)])[0]
    assert np.abs(out_eval.astype(int) - out_sig).max() <= 1
    plain = served.owner.signatures["serving_default"](image=tf.constant(photo))["rgb"].numpy()
    none = signature(image=tf.constant(photo), hints=tf.constant(np.zeros_like(rgba)))["rgb"]
    np.testing.assert_array_equal(plain, none.numpy())
    assert np.abs(plain.astype(int) - out_sig).max() > 0
    # The checkpoint (no flip averaging) agrees with an export without it.
    plain_export = inference.saved_model(export_again(model_dir, exported))
    a = inference.colorize_batch([photo], plain_export, [marks_of(rgba)])[0]
    b = inference.colorize_batch([photo], inference.checkpoint_model(model_dir),
                                 [marks_of(rgba)])[0]
    assert np.abs(a.astype(int) - b).max() <= 1


def export_again(model_dir, exported):
    out = exported + "_plain"
    export.export(model_dir, out, overwrite=True)
    return out


def test_reexport_keeps_the_hint_signatures(guided_run, tmp_path):
    _, exported = guided_run
    export.reexport(exported, str(tmp_path / "again"))
    again = tf.saved_model.load(str(tmp_path / "again"))
    assert {"serving_default", "predict_ab", "colorize_hints", "predict_ab_hints"} <= set(
        again.signatures)
    photo, rgba = photo_and_hints()
    first = tf.saved_model.load(exported).signatures["colorize_hints"](
        image=tf.constant(photo), hints=tf.constant(rgba))["rgb"].numpy()
    second = again.signatures["colorize_hints"](
        image=tf.constant(photo), hints=tf.constant(rgba))["rgb"].numpy()
    np.testing.assert_array_equal(first, second)


def test_hints_of_another_size_are_refused(guided_run):
    model_dir, exported = guided_run
    photo, rgba = photo_and_hints()
    signature = tf.saved_model.load(exported).signatures["colorize_hints"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have the same height and width as the photo.*"
                       r"\[40 70\].*\[50 70\]"):
        signature(image=tf.constant(photo), hints=tf.constant(rgba[:40]))
    marks = marks_of(rgba[:, :60])
    with pytest.raises(ValueError, match=r"the marks are 60x50 px, the photo 70x50"):
        inference.colorize_batch([photo], inference.checkpoint_model(model_dir), [marks])


def test_an_automatic_model_refuses_hints(tmp_path, shards):
    cfg = tiny(tmp_path, data=shards, gan="none", max_steps=1)
    trainer.train(cfg, one_device())
    photo, rgba = photo_and_hints()
    model = inference.checkpoint_model(cfg.model_dir)
    with pytest.raises(ValueError, match="takes no hints"):
        inference.colorize_batch([photo], model, [marks_of(rgba)])
    assert inference.colorize_batch([photo], model, [None])[0].shape == (50, 70, 3)


def test_eval_marks_feed_a_guided_model(guided_run, tmp_path):
    """eval.py --marks with a guided model: --norefine gives the guided
    network's colours with the hints (inference.colorize_batch with the
    marks file's marks), the default corrects them by the exact marks
    (the hinted pixels get the hint's chroma); a photo without a marks
    file gets the guided model's automatic answer."""
    from colorize import evaluate, imageio, marks as marks_lib
    from tests.conftest import write_rgb
    import cv2

    model_dir, exported = guided_run
    photo, rgba = photo_and_hints()
    photos, marked = tmp_path / "photos", tmp_path / "marks"
    write_rgb(photos / "a.png", photo)
    write_rgb(photos / "b.png", photo)
    marked.mkdir()
    assert cv2.imwrite(str(marked / "a.png"), rgba[..., [2, 1, 0, 3]])

    def run(name, **flags):
        out = tmp_path / name
        summary = evaluate.run(evaluate.EvalConfig(input=str(photos), output=str(out),
                                                   saved_model=exported, marks=str(marked),
                                                   progress=False, **flags))
        assert summary["written"] == 2 and summary["marks"]["photos_with_marks"] == 1
        return tuple(imageio.read_image(out / n, keep_depth=True) for n in ("a.png", "b.png"))

    alone, plain = run("alone", refine=False)
    m = marks_lib.read_marks(marked / "a.png", photo)
    model = inference.saved_model(exported)
    np.testing.assert_array_equal(alone, inference.colorize_batch([photo], model, [m])[0])
    np.testing.assert_array_equal(plain, inference.colorize_batch([photo], model)[0])
    refined, _ = run("refined")
    # The hinted pixels: the photo's L with the hint's ab (clipped into sRGB,
    # as any out-of-gamut Lab colour is); the network alone is not exact.
    photo_l = color.rgb_to_lab_np(imageio.to_unit_float(photo))[10:20, 30:40, :1]
    paint = color.rgb_to_lab_np(np.full((10, 10, 3), (200 / 255, 30 / 255, 30 / 255),
                                        np.float32))[..., 1:]
    want = color.lab_to_rgb_np(np.concatenate([photo_l, paint], axis=-1))
    np.testing.assert_allclose(imageio.to_unit_float(refined)[10:20, 30:40], want, atol=1.5 / 255)
    assert np.abs(imageio.to_unit_float(alone)[10:20, 30:40] - want).max() > 5 / 255


def test_the_shipped_model_sends_hints_to_the_shipped_guided_model(tmp_path, monkeypatch):
    """With a guided export at colorize/pretrained/guided, the shipped
    model keeps the general model's automatic colours and takes hints
    through the guided one; one of another size is refused; without one,
    the shipped model takes no hints."""
    assert not inference.shipped_model(with_guided=False).guided

    def untrained_guided_export(name, size):
        """A guided generator at size px (its initial weights), exported."""
        cfg = tiny(tmp_path / name, gan="none", hints=True, image_size=size)
        t = trainer.Trainer(cfg, one_device())
        config_lib.save(cfg)
        t.manager.save()
        export.export(cfg.model_dir, str(tmp_path / f"{name}_export"))
        return str(tmp_path / f"{name}_export")

    monkeypatch.setattr(inference, "SHIPPED_GUIDED", untrained_guided_export("guided", 128))
    both = inference.shipped_model()
    general = inference.shipped_model(with_guided=False)
    guided = inference.saved_model(inference.SHIPPED_GUIDED)
    photo = photo_and_hints()[0]
    np.testing.assert_array_equal(inference.colorize_batch([photo], both)[0],
                                  inference.colorize_batch([photo], general)[0])
    marks = [marks_of(photo_and_hints()[1])]
    np.testing.assert_array_equal(inference.colorize_batch([photo], both, marks)[0],
                                  inference.colorize_batch([photo], guided, marks)[0])
    monkeypatch.setattr(inference, "SHIPPED_GUIDED", untrained_guided_export("small", 32))
    with pytest.raises(ValueError, match="not a guided model at the general model's size"):
        inference.shipped_model()
