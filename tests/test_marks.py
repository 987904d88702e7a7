"""Marks files (marked copies, hints images, JPEG), their pairing with
photos, the simulated user, and eval.py with --marks."""
import json
import math

import cv2
import numpy as np
import pytest

from colorize import color, evaluate, imageio, marks, scribbles
from tests.conftest import write_rgb


def _gray_photo(h=40, w=60, seed=0):
    rng = np.random.default_rng(seed)
    level = np.clip(np.linspace(60, 200, w)[None, :] + rng.normal(0, 8, (h, w)), 0, 255)
    return np.repeat(level.astype(np.uint8)[..., None], 3, axis=2)


def _mask(m: marks.Marks) -> np.ndarray:
    mask = np.zeros(m.height * m.width, bool)
    mask[m.index] = True
    return mask.reshape(m.height, m.width)


def test_marked_pixel_rule_is_sum_of_rgb_differences_over_0_01():
    photo = np.full((2, 3, 3), 100, np.uint8)
    marked = photo.copy()
    marked[0, 0] += np.array([1, 1, 1], np.uint8)  # 3 / 255 = 0.0118 > 0.01: marked
    marked[0, 1] += np.array([1, 1, 0], np.uint8)  # 2 / 255 = 0.0078: not marked
    marked[1, 2] = 255  # white paint: marked, neutral
    found = marks.from_marked_copy(marked, photo)
    np.testing.assert_array_equal(found.index, [0, 5])
    np.testing.assert_allclose(found.ab, 0.0, atol=0.01)  # gray and white: a = b = 0


def test_marked_copy_gives_the_paint_chroma_and_rejects_another_size():
    photo = _gray_photo()
    marked = photo.copy()
    marked[10:13, 5:30] = (220, 40, 30)
    found = marks.from_marked_copy(marked, photo)
    assert found.count == 3 * 25
    want = color.rgb_to_lab_np(np.array([[[220, 40, 30]]], np.float32) / 255)[0, 0, 1:]
    np.testing.assert_allclose(found.ab, np.broadcast_to(want, (75, 2)), atol=1e-3)
    with pytest.raises(marks.MarksError, match="of the photo's size"):
        marks.from_marked_copy(marked[:, :50], photo)


def test_hints_png_transparent_means_no_hint(tmp_path):
    photo = _gray_photo()
    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[5:8, 5:9] = (30, 60, 210, 255)  # RGBA: a blue hint
    rgba[20, 20] = (200, 0, 0, 100)  # mostly transparent: not a hint
    path = tmp_path / "hints.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    found = marks.read_marks(path, photo)
    assert found.count == 12
    assert sorted(found.index) == [r * 60 + c for r in range(5, 8) for c in range(5, 9)]
    assert found.ab[0, 1] < -40  # blue: strongly negative b


def test_jpeg_marked_copy_ignores_compression_noise(tmp_path):
    photo = _gray_photo(64, 96, seed=1)
    marked = photo.copy()
    cv2.line(marked, (10, 20), (80, 24), (220, 40, 30), 5)
    painted = np.abs(marked.astype(int) - photo).sum(-1) > 0
    path = write_rgb(tmp_path / "m.jpg", marked)
    found = marks.read_marks(path, photo)
    mask = _mask(found)
    near = cv2.dilate(painted.astype(np.uint8), np.ones((17, 17), np.uint8)) > 0
    assert not (mask & ~near).any()  # nothing far from the stroke
    assert (mask & painted).sum() > 0.6 * painted.sum()
    # The same file read with the lossless rule would take noise for paint.
    assert marks.from_marked_copy(imageio.read_image(path, keep_depth=True), photo).count \
        > found.count + 50


def test_unreadable_marks_file(tmp_path):
    (tmp_path / "bad.png").write_text("not an image")
    with pytest.raises(marks.MarksError, match="unreadable marks file"):
        marks.read_marks(tmp_path / "bad.png", _gray_photo())


def test_folder_pairs_marks_by_stem_and_lists_orphans(tmp_path):
    for rel in ("a.png", "sub/b.png", "orphan.png", "a.jpg"):
        write_rgb(tmp_path / rel, _gray_photo(4, 4))
    folder = marks.MarksFolder(tmp_path, ["a.tif", "sub/b.jpg", "c.png"])
    assert folder.files == {"a.tif": "a.png", "sub/b.jpg": "sub/b.png"}  # PNG before JPEG
    reasons = {n["path"]: n["reason"] for n in folder.notices}
    assert "no photo" in reasons["marks/orphan.png"] and "a.jpg" in reasons["marks/a.png"]


def test_simulated_user_paints_patch_means_around_the_centre():
    rng = np.random.default_rng(0)
    lab = np.zeros((256, 256, 3), np.float32)
    lab[..., 1] = np.arange(256)[None, :]  # a = column
    one = marks.simulated_marks(lab, 1, rng)
    assert one.count == 36
    cols = one.index % 256
    np.testing.assert_allclose(one.ab[:, 0], cols.mean())  # the 6x6 patch's mean a
    centres = []
    for _ in range(400):
        m = marks.simulated_marks(lab, 1, rng)
        centres.append(np.divmod(m.index, 256)[0].mean())
    # top-left ~ N(251 / 2, 251 / 4): patch centres around 128, spread ~63.
    assert abs(np.mean(centres) - 128) < 8 and 50 < np.std(centres) < 75
    assert marks.simulated_marks(lab, 0, rng).count == 0


def test_thin_stroke_survives_the_solves_resolution():
    m = marks.Marks(1000, 1000, np.arange(300, 700, dtype=np.int64) + 500 * 1000,
                    np.tile(np.float32([50, -20]), (400, 1)))
    size = scribbles.work_size(1000, 1000)
    assert size == (256, 256)
    mask, ab = scribbles.work_marks(m, size)
    assert mask.sum() >= 100 and np.allclose(ab[mask], (50, -20))


def _folders(tmp_path):
    photos, marked = tmp_path / "photos", tmp_path / "marked"
    two = _gray_photo(48, 64, seed=2)
    two[:, 32:] //= 3  # a strong edge down the middle
    stroke = two.copy()
    stroke[10:14, 4:20] = (40, 180, 60)  # green, left of the edge
    stroke[30:33, 40:60] = 255  # white, right of it: "neutral here"
    write_rgb(photos / "scribbled.png", two)
    write_rgb(marked / "scribbled.png", stroke)
    write_rgb(photos / "plain.png", _gray_photo(30, 30, seed=3))
    write_rgb(photos / "nothing.png", _gray_photo(30, 30, seed=4))
    write_rgb(marked / "nothing.png", _gray_photo(30, 30, seed=4))  # no marked pixel
    write_rgb(photos / "other_size.png", _gray_photo(30, 30, seed=5))
    write_rgb(marked / "other_size.png", _gray_photo(20, 30, seed=5))
    write_rgb(marked / "orphan.bmp", _gray_photo(8, 8))
    return photos, marked, stroke


@pytest.mark.parametrize("model", ["gray", "levin"])
def test_eval_with_marks(tmp_path, model):
    photos, marked, stroke = _folders(tmp_path)
    out = tmp_path / "out"
    summary = evaluate.run(evaluate.EvalConfig(input=str(photos), output=str(out),
                                               marks=str(marked), model=model, progress=False))
    assert summary["written"] == 3
    assert [s["path"] for s in summary["skipped"]] == ["other_size.png"]
    assert "of the photo's size" in summary["skipped"][0]["reason"]
    m = summary["marks"]
    assert m["photos_with_marks"] == 1 and m["marked_pixels"] == 4 * 16 + 3 * 20
    reasons = {n["path"]: n["reason"] for n in m["notices"]}
    assert "no photo" in reasons["marks/orphan.bmp"]
    assert "no marked pixel" in reasons["marks/nothing.png"]
    text = evaluate.format_summary(summary)
    assert "1 photos had marks, 124 marked pixels" in text
    result = imageio.read_image(out / "scribbled.png")
    lab = color.rgb_to_lab_np(result)
    # Marked pixels: the photo's L with the paint's ab exactly (then
    # clipped into sRGB, as any Lab colour out of gamut is).
    paint = color.rgb_to_lab_np(imageio.to_unit_float(stroke[10:14, 4:20]))
    photo_l = color.rgb_to_lab_np(imageio.read_image(photos / "scribbled.png"))[10:14, 4:20, :1]
    want = color.lab_to_rgb_np(np.concatenate([photo_l, paint[..., 1:]], axis=-1))
    np.testing.assert_allclose(result[10:14, 4:20], want, atol=1.5 / 255)
    left, right = np.hypot(*np.moveaxis(lab[..., 1:], -1, 0)).reshape(48, 2, 32).mean(axis=(0, 2))
    assert right < 0.25 * left  # the green stops at the edge, the right stays neutral
    if model == "levin":  # Levin alone fills its region
        assert left > 20
    # Photos without marks: exactly the output without --marks.
    plain = evaluate.run(evaluate.EvalConfig(input=str(photos / "plain.png"),
                                             output=str(tmp_path / "plain"), model="gray",
                                             progress=False))
    assert plain["written"] == 1
    np.testing.assert_array_equal(imageio.read_image(out / "plain.png"),
                                  imageio.read_image(tmp_path / "plain" / "plain.png"))


def test_levin_needs_marks(tmp_path):
    photos, _, _ = _folders(tmp_path)
    with pytest.raises(evaluate.EvalError, match="--marks"):
        evaluate.run(evaluate.EvalConfig(input=str(photos), output=str(tmp_path / "o"),
                                         model="levin", progress=False))


def test_opaque_rgba_file_is_a_marked_copy(tmp_path):
    photo = _gray_photo()
    rgba = np.concatenate([photo, np.full((40, 60, 1), 255, np.uint8)], axis=-1)
    rgba[3, 4, :3] = (200, 30, 30)
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    found = marks.read_marks(path, photo)
    np.testing.assert_array_equal(found.index, [3 * 60 + 4])


def test_no_marks_gives_gray_with_levin_alone():
    photo = _gray_photo(20, 30)
    empty = marks.Marks(20, 30, np.zeros(0, np.int64), np.zeros((0, 2), np.float32))
    rgb = scribbles.colorize(photo, empty)
    assert np.abs(rgb.astype(int) - photo).max() <= 1


def _blobs(k: int, size=(40, 60)) -> np.ndarray:
    """A mask of k separate 2x2 scribbles."""
    mask = np.zeros(size, bool)
    for i in range(k):
        r, c = 4 + 8 * (i // 6), 4 + 9 * (i % 6)
        mask[r:r + 2, c:c + 2] = True
    return mask


def test_correction_rule_by_number_of_scribbles():
    """shift = one / k ** power; the model's trust min(1, (trust_k / k) **
    trust_power); a lone number is a fixed shift with full trust."""
    rule = scribbles.Correction.parse("2e-4:3:5:1")
    assert rule == scribbles.Correction(2e-4, 3.0, 5.0, 1.0)
    assert rule.for_marks(_blobs(1)) == pytest.approx((2e-4, 1.0))
    assert rule.for_marks(_blobs(2)) == pytest.approx((2e-4 / 8, 1.0))
    assert rule.for_marks(_blobs(10)) == pytest.approx((2e-4 / 1000, 0.5))
    fixed = scribbles.Correction.parse("1e-3")
    assert fixed.for_marks(_blobs(10)) == pytest.approx((1e-3, 1.0))
    assert scribbles.Correction.parse("0").for_marks(_blobs(3)) == (0.0, 1.0)


def test_an_untrusted_model_gives_levin_alone():
    """Trust 0 and shift 0 (dense scribbles in the limit): the corrected
    model is exactly Levin's propagation of the scribbles; full trust and
    a large shift keep the model's colours away from them."""
    photo = _gray_photo()
    y = scribbles.work_lightness(photo, photo.shape[:2])
    mask = _blobs(12)
    rng = np.random.default_rng(0)
    ab_marks = np.where(mask[..., None], rng.uniform(-40, 40, mask.shape + (2,)), 0.0)
    model = rng.uniform(-20, 20, mask.shape + (2,))
    levin_alone = scribbles.solve_ab(y, mask, ab_marks, None)
    untrusted = scribbles.solve_ab(y, mask, ab_marks, model,
                                   scribbles.Correction(0.0, 0.0, trust_k=0.0))
    np.testing.assert_allclose(untrusted, levin_alone, atol=1e-8)
    kept = scribbles.solve_ab(y, mask, ab_marks, model,
                              scribbles.Correction(10.0, 0.0, trust_k=math.inf))
    far = ~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.abs(kept - model)[far].max() < 1.0
    np.testing.assert_allclose(kept[mask], ab_marks[mask])
