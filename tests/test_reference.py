"""Colour from reference photos (colorize.reference) and its graph cut
(colorize.graphcut), on tiny synthetic images with hand-checkable answers."""
import itertools

import cv2
import numpy as np
import pytest

from colorize import color, graphcut, imageio, inference, metrics, reference
from tests.conftest import write_rgb

# Small and fast, the method unchanged.
SMALL = reference.ReferenceConfig(size=48, classes=4, samples=600, components=12,
                                  daisy_radii=(3, 6))
RED_AB, BLUE_AB = (55.0, 35.0), (15.0, -50.0)


def stripes(height, width, vertical: bool, period: int = 6) -> np.ndarray:
    """L in {40, 60}: stripes `period` px wide across or down."""
    index = np.arange(width if vertical else height)
    line = np.where(index % (2 * period) < period, 40.0, 60.0)
    return np.broadcast_to(line[None, :] if vertical else line[:, None], (height, width))


def lab_photo(l: np.ndarray, ab: np.ndarray) -> np.ndarray:
    lab = np.concatenate([l[..., None], ab], axis=-1).astype(np.float32)
    return imageio.to_uint8(np.clip(color.lab_to_rgb_np(lab), 0, 1))


def two_textures(height, width, top_vertical: bool, top_ab, bottom_ab) -> np.ndarray:
    """Top half stripes one way, bottom half the other, each its colour;
    both textures have the same L levels, so only the texture tells them
    apart."""
    half = height // 2
    l = np.concatenate([stripes(half, width, top_vertical),
                        stripes(height - half, width, not top_vertical)])
    ab = np.zeros((height, width, 2), np.float32)
    ab[:half], ab[half:] = top_ab, bottom_ab
    return lab_photo(l, ab)


def mean_ab(rgb_u8: np.ndarray) -> np.ndarray:
    return metrics.rgb_u8_to_ab(rgb_u8).reshape(-1, 2).mean(axis=0)


def test_each_texture_gets_its_colour_from_the_reference():
    # Reference: vertical stripes red (top), horizontal stripes blue.
    ref = two_textures(64, 64, top_vertical=True, top_ab=RED_AB, bottom_ab=BLUE_AB)
    model = reference.as_model(reference.learn([ref], SMALL))
    # The photo: the textures swapped (horizontal on top), at a size and
    # aspect the learner never saw; its own colours (green and yellow) do
    # not matter: only its L is used.
    photo = two_textures(72, 60, top_vertical=False, top_ab=(-40, 30), bottom_ab=(0, 60))
    out = inference.colorize_batch([photo], model)[0]
    assert out.shape == photo.shape
    # Away from the seam (graph cut and bilinear upsampling blur a few px):
    top, bottom = mean_ab(out[5:31]), mean_ab(out[41:67])
    assert np.linalg.norm(top - BLUE_AB) < 12, top
    assert np.linalg.norm(bottom - RED_AB) < 12, bottom


def test_colour_classes_are_the_clusters_centres():
    rng = np.random.default_rng(0)
    centres = np.array([[50.0, 0.0], [-30.0, 20.0], [0.0, -60.0]])
    ab = np.concatenate([c + rng.uniform(-2, 2, (200, 2)) for c in centres])
    found = reference.colour_classes(ab, 3)
    order = [int(np.argmin(np.linalg.norm(found - c, axis=1))) for c in centres]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(found[order], centres, atol=0.5)
    # Each point's class is its own cluster's.
    np.testing.assert_array_equal(reference.nearest_class(centres + 1.0, found), order)


def test_no_more_classes_than_distinct_colours():
    ab = np.array([[10.0, 10.0]] * 50 + [[-20.0, 5.0]] * 50)
    found = reference.colour_classes(ab, 32)
    assert len(found) == 2
    np.testing.assert_allclose(sorted(found[:, 0]), [-20.0, 10.0])


def brute_force(unary, edges, weights, pairwise):
    labels = range(unary.shape[1])
    return min(graphcut.energy(unary, edges, weights, pairwise, np.array(c))
               for c in itertools.product(labels, repeat=unary.shape[0]))


def test_graph_cut_by_hand():
    # Two pixels, labels 0/1: alone, pixel 0 wants 0 (cost 0 vs 1) and
    # pixel 1 wants 1 (cost 0 vs 0.4). The edge costs w * |0 - 1|.
    unary = np.array([[0.0, 1.0], [0.4, 0.0]])
    edges = np.array([[0, 1]])
    pairwise = np.array([[0.0, 1.0], [1.0, 0.0]])
    # w = 0.2: disagreeing costs 0.2 < 0.4, so each keeps its choice.
    assert graphcut.alpha_expansion(unary, edges, [0.2], pairwise).tolist() == [0, 1]
    # w = 2: agreeing is cheaper, on label 0 (0 + 0.4 < 1 + 0).
    assert graphcut.alpha_expansion(unary, edges, [2.0], pairwise).tolist() == [0, 0]


def test_graph_cut_with_two_labels_is_the_global_minimum():
    rng = np.random.default_rng(1)
    edges = graphcut.grid_edges(3, 4)
    assert len(edges) == 3 * 3 + 2 * 4
    pairwise = np.array([[0.0, 1.0], [1.0, 0.0]])
    for _ in range(10):
        unary = rng.uniform(0, 3, (12, 2))
        weights = rng.uniform(0, 2, len(edges))
        labels = graphcut.alpha_expansion(unary, edges, weights, pairwise)
        assert graphcut.energy(unary, edges, weights, pairwise, labels) == pytest.approx(
            brute_force(unary, edges, weights, pairwise))


def test_graph_cut_with_three_labels_no_expansion_lowers_it():
    """Alpha-expansion's guarantee: at the end no expansion move (checked
    here by listing every one of them) lowers the energy, and it is within
    Boykov et al.'s bound of the brute-force minimum."""
    rng = np.random.default_rng(2)
    edges = graphcut.grid_edges(3, 3)
    points = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 40.0]])
    pairwise = np.linalg.norm(points[:, None] - points[None], axis=-1) / 30.0  # a metric
    for _ in range(5):
        unary = rng.uniform(0, 3, (9, 3))
        weights = rng.uniform(0, 2, len(edges))
        labels = graphcut.alpha_expansion(unary, edges, weights, pairwise)
        found = graphcut.energy(unary, edges, weights, pairwise, labels)
        for alpha, chosen in itertools.product(range(3), itertools.product([0, 1], repeat=9)):
            moved = np.where(np.array(chosen, bool), alpha, labels)
            assert graphcut.energy(unary, edges, weights, pairwise, moved) >= found - 1e-9
        best = brute_force(unary, edges, weights, pairwise)
        off_diagonal = pairwise[~np.eye(3, dtype=bool)]
        assert best <= found <= 2 * off_diagonal.max() / off_diagonal.min() * best


def test_saved_model_predicts_the_same(tmp_path):
    ref = two_textures(40, 40, top_vertical=True, top_ab=RED_AB, bottom_ab=BLUE_AB)
    learnt = reference.learn([ref], SMALL, names=["ref.png"])
    reference.save(learnt, tmp_path / "ref_model.npz")
    loaded = reference.load(tmp_path / "ref_model.npz")
    assert loaded.config == SMALL and loaded.sources == ["ref.png"]
    l = stripes(SMALL.size, SMALL.size, vertical=True)
    np.testing.assert_array_equal(reference.colorize_l(learnt, l)[0],
                                  reference.colorize_l(loaded, l)[0])


def test_not_a_saved_model(tmp_path):
    (tmp_path / "junk.npz").write_text("no")
    with pytest.raises(reference.ReferenceError, match="not a reference model"):
        reference.load(tmp_path / "junk.npz")


def test_gray_reference_is_refused():
    gray = np.repeat(stripes(30, 30, True)[..., None] * 2.55, 3, axis=-1).astype(np.uint8)
    with pytest.raises(reference.ReferenceError, match="gray or nearly"):
        reference.learn([gray], SMALL, names=["gray.png"])


def test_reference_folder_skips_bad_files_and_keeps_the_rest(tmp_path):
    write_rgb(tmp_path / "good.png", two_textures(40, 40, True, RED_AB, BLUE_AB))
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((20, 30), 128, np.uint8))
    (tmp_path / "junk.jpg").write_text("not an image")
    photos, names, skipped = reference.read_references(tmp_path, size=SMALL.size)
    assert names == ["good.png"] and len(photos) == 1
    reasons = {s["path"]: s["reason"] for s in skipped}
    assert set(reasons) == {"gray.png", "junk.jpg"}
    assert "gray or nearly" in reasons["gray.png"]


def test_reference_folder_with_no_usable_photo(tmp_path):
    cv2.imwrite(str(tmp_path / "gray.png"), np.full((20, 30), 128, np.uint8))
    (tmp_path / "junk.jpg").write_text("not an image")
    with pytest.raises(reference.ReferenceError, match="no usable reference photo.*gray.png"):
        reference.read_references(tmp_path)
    with pytest.raises(reference.ReferenceError, match="does not exist"):
        reference.read_references(tmp_path / "missing")


def test_huge_reference_is_kept_small(tmp_path):
    """A JPEG far larger than the work size is decoded at 1/8 size and
    kept at most 2x the work size: memory does not follow the file."""
    big = cv2.resize(two_textures(64, 64, True, RED_AB, BLUE_AB), (3200, 2400),
                     interpolation=cv2.INTER_NEAREST)
    write_rgb(tmp_path / "big.jpg", big)
    photos, _, skipped = reference.read_references(tmp_path / "big.jpg", size=SMALL.size)
    assert not skipped
    assert min(photos[0].shape[:2]) == 2 * SMALL.size
    assert photos[0].shape[1] / photos[0].shape[0] == pytest.approx(4 / 3, rel=0.01)


# --- eval --reference ------------------------------------------------------------

@pytest.fixture
def pair(tmp_path):
    """A reference folder (one usable photo, one gray, one unreadable) and a
    folder of photos of the same two textures, plus a broken file."""
    refs, photos = tmp_path / "refs", tmp_path / "photos"
    write_rgb(refs / "colour.png", two_textures(96, 96, True, RED_AB, BLUE_AB))
    cv2.imwrite(str(refs / "gray.png"), np.full((20, 30), 128, np.uint8))
    (refs / "junk.jpg").write_text("not an image")
    write_rgb(photos / "a.png", two_textures(80, 100, False, (-40, 30), (0, 60)))
    write_rgb(photos / "sub/b.png", two_textures(130, 90, True, (-40, 30), (0, 60)))
    (photos / "broken.png").write_text("not an image")
    return refs, photos


def run_eval(refs, photos, out, **kw):
    from colorize import evaluate

    kw.setdefault("reference_prior", False)
    cfg = evaluate.EvalConfig(input=str(photos), output=str(out), progress=False,
                              reference=None if refs is None else str(refs), **kw)
    return evaluate.run(cfg)


def test_eval_with_reference_folder(pair, tmp_path, capsys):
    refs, photos = pair
    summary = run_eval(refs, photos, tmp_path / "out", metrics=True, grid=True,
                       save_reference_model=str(tmp_path / "model.npz"))
    assert summary["written"] == 2 and summary["model"].startswith("reference (1 photo)")
    assert [s["path"] for s in summary["skipped"]] == ["broken.png"]
    err = capsys.readouterr().err
    assert "reference skipped gray.png: " in err and "reference skipped junk.jpg: " in err
    a = imageio.read_image(tmp_path / "out/a.png", keep_depth=True)
    assert a.shape == (80, 100, 3)
    # a.png: horizontal stripes on top (blue in the reference), vertical below.
    assert np.linalg.norm(mean_ab(a[6:34]) - BLUE_AB) < 15
    assert np.linalg.norm(mean_ab(a[46:74]) - RED_AB) < 15
    assert summary["metrics"]["count"] == 2 and summary["grid_sheets"]
    # Resumed: nothing redone, scores kept.
    again = run_eval(refs, photos, tmp_path / "out", metrics=True)
    assert again["written"] == 0 and again["skipped_existing"] == 2
    assert again["metrics"]["count"] == 2
    # The saved model gives the same photos without the reference.
    from colorize import evaluate

    evaluate.run(evaluate.EvalConfig(input=str(photos), output=str(tmp_path / "out2"),
                                     progress=False, reference_model=str(tmp_path / "model.npz"),
                                     reference_prior=False))
    for name in ("a.png", "sub/b.png"):
        np.testing.assert_array_equal(imageio.read_image(tmp_path / "out2" / name, keep_depth=True),
                                      imageio.read_image(tmp_path / "out" / name, keep_depth=True))


def test_eval_with_the_automatic_prior(pair, tmp_path):
    refs, photos = pair
    summary = run_eval(refs / "colour.png", photos, tmp_path / "out", reference_prior=True)
    assert summary["written"] == 2 and "automatic prior" in summary["model"]


def test_eval_refuses_bad_references(pair, tmp_path):
    from colorize import evaluate

    refs, photos = pair
    with pytest.raises(reference.ReferenceError, match=r"^--reference .*gray.png: .*gray or nearly"):
        run_eval(refs / "gray.png", photos, tmp_path / "out")
    (refs / "colour.png").unlink()
    with pytest.raises(reference.ReferenceError, match="no usable reference photo"):
        run_eval(refs, photos, tmp_path / "out")
    with pytest.raises(evaluate.EvalError, match="not both"):
        run_eval(refs, photos, tmp_path / "out", reference_model=str(tmp_path / "m.npz"))
    with pytest.raises(evaluate.EvalError, match="needs --reference"):
        run_eval(None, photos, tmp_path / "out", save_reference_model=str(tmp_path / "m.npz"))
    with pytest.raises(evaluate.EvalError, match="--reference_prior needs --reference"):
        run_eval(None, photos, tmp_path / "out", reference_prior=True)
    with pytest.raises(evaluate.EvalError, match="add --reference_prior"):
        run_eval(refs, photos, tmp_path / "out", saved_model=str(tmp_path / "m"))
    assert not (tmp_path / "out").exists()  # nothing written for a refused run
