"""colorize.color against hand-computed CIE Lab values, between its routes,
and against tensorflow-io's colour ops, which the TF route replaced."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_io as tfio

from tests.conftest import REPO_ROOT, stored_lab
from colorize import color

# sRGB (D65) -> CIE Lab, computed by hand from the sRGB curve, the sRGB->XYZ
# matrix, the D65 white and the CIE Lab formulas (standard published values).
REFERENCE = [
    ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),  # white
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),  # black
    ((0.5, 0.5, 0.5), (53.39, 0.0, 0.0)),  # sRGB mid-gray: Y = 0.2140 -> L = 53.39
    ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),  # red
    ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),  # green
    ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),  # blue
]
REF_RGB = np.array([[rgb for rgb, _ in REFERENCE]], np.float32)  # [1, 6, 3]
REF_LAB = np.array([[lab for _, lab in REFERENCE]], np.float32)

ROUTES = {
    "tf": lambda rgb: color.rgb_to_lab(tf.constant(rgb)).numpy(),
    "np": color.rgb_to_lab_np,
}
INVERSE = {
    "tf": lambda lab: color.lab_to_rgb(tf.constant(lab)).numpy(),
    "np": color.lab_to_rgb_np,
}


def random_rgb(h=48, w=48, seed=0):
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_rgb_to_lab_matches_hand_computed_values(route):
    lab = ROUTES[route](REF_RGB)
    assert lab.shape == REF_LAB.shape
    assert lab.dtype == np.float32
    np.testing.assert_allclose(lab, REF_LAB, atol=0.05)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_lab_to_rgb_of_reference_values(route):
    rgb = INVERSE[route](REF_LAB)
    np.testing.assert_allclose(rgb, REF_RGB, atol=2e-3)


def test_lightness_matches_hand_computed_values():
    np.testing.assert_allclose(color.lightness(tf.constant(REF_RGB)).numpy(), REF_LAB[..., 0],
                               atol=0.05)


def test_tf_and_numpy_routes_agree_on_random_images():
    for seed in range(3):
        rgb = random_rgb(seed=seed)
        diff = np.abs(ROUTES["tf"](rgb) - ROUTES["np"](rgb))
        assert diff.max() < 0.05, f"seed {seed}: routes differ by {diff.max():.3f} Lab units"


def test_tf_and_numpy_routes_agree_on_dark_colours():
    # Dark colours sit near the linear segment of the Lab curve, where
    # approximations differ most.
    rgb = random_rgb(seed=7) * 0.15
    diff = np.abs(ROUTES["tf"](rgb) - ROUTES["np"](rgb))
    assert diff.max() < 0.05


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_round_trip_rgb_lab_rgb(route):
    rgb = random_rgb(seed=3)
    back = INVERSE[route](ROUTES[route](rgb))
    np.testing.assert_allclose(back, rgb, atol=1e-3)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_gray_has_no_chroma(route):
    levels = np.linspace(0.0, 1.0, 64, dtype=np.float32)
    gray = np.repeat(levels[None, :, None], 3, axis=2)  # [1, 64, 3]
    lab = ROUTES[route](gray)
    assert np.abs(lab[..., 1:]).max() < 0.01
    # L rises with the gray level, from black to white
    assert np.all(np.diff(lab[0, :, 0]) > 0)
    assert lab[0, 0, 0] == pytest.approx(0.0, abs=0.01)
    assert lab[0, -1, 0] == pytest.approx(100.0, abs=0.01)
    assert color.mean_chroma_np(lab) < 0.01


# --- The TF route against tensorflow-io's ops, which it replaced --------------
# Same definition (constants), computed differently: float32 rounding only.

def all_uint8_colours_sample(seed=0):
    """Every 8-bit level in each channel (gray ramp) plus random colours."""
    levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)[None]
    rand = np.random.default_rng(seed).integers(0, 256, (1, 4096, 3), dtype=np.uint8)
    return np.concatenate([levels, rand], axis=1)  # [1, 4352, 3]


def test_rgb_to_lab_matches_tensorflow_io():
    rgb = random_rgb(64, 64, seed=11)
    expected = tfio.experimental.color.rgb_to_lab(rgb).numpy()
    np.testing.assert_allclose(color.rgb_to_lab(tf.constant(rgb)).numpy(), expected, atol=1e-3)
    u8 = all_uint8_colours_sample()
    expected = tfio.experimental.color.rgb_to_lab(u8.astype(np.float32) / 255.0).numpy()
    np.testing.assert_allclose(color.rgb_to_lab(tf.constant(u8)).numpy(), expected, atol=1e-3)
    np.testing.assert_allclose(color.lightness(tf.constant(u8)).numpy(), expected[..., 0],
                               atol=1e-3)


def test_lab_to_rgb_matches_tensorflow_io():
    lab = random_lab(40000, seed=4)  # much of it out of gamut: the clipping too
    expected = np.clip(tfio.experimental.color.lab_to_rgb(lab).numpy(), 0.0, 1.0)
    np.testing.assert_allclose(color.lab_to_rgb(tf.constant(lab)).numpy(), expected, atol=1e-5)


def test_lab_to_uint8_within_one_level_of_tensorflow_io_and_opencv():
    lab = random_lab(40000, seed=5)
    got = color.lab_to_uint8(*np.moveaxis(lab, -1, 0)).numpy().astype(int)
    assert got.shape == lab.shape
    tfio_u8 = np.round(np.clip(tfio.experimental.color.lab_to_rgb(lab).numpy(), 0, 1) * 255)
    assert np.abs(got - tfio_u8).max() <= 1
    # OpenCV's float conversion (its own constants) as an independent
    # reference, on the colours inside the sRGB gamut (it clips others
    # differently).
    cv = np.clip(color.lab_to_rgb_np(lab), 0.0, 1.0)
    in_gamut = np.abs(color.rgb_to_lab_np(cv) - lab).max(axis=-1) < 0.5
    assert in_gamut.mean() > 0.1
    assert np.abs(got - np.round(cv * 255))[in_gamut].max() <= 1


def test_lab_to_uint8_gives_real_photos_back():
    """Photo -> Lab (OpenCV's route) -> uint8: every pixel comes back."""
    import skimage.data

    for photo in (skimage.data.astronaut(), skimage.data.coffee()):
        lab = color.rgb_to_lab_np(photo.astype(np.float32) / 255.0)
        back = color.lab_to_uint8(*np.moveaxis(lab, -1, 0)).numpy()
        np.testing.assert_array_equal(back, photo)


def test_uint8_table_is_the_srgb_curve():
    table = color.uint8_to_linear_table().numpy()
    levels = np.arange(256) / 255.0
    by_hand = np.where(levels <= 0.04045, levels / 12.92, ((levels + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(table, by_hand, rtol=1e-6, atol=1e-9)


def test_gamma_table_rounds_correctly_except_next_to_a_boundary():
    """The output curve read from the table is the correctly rounded 8-bit
    level, or one off where the exact level is within 0.025 of x.5 (the
    bound in color.GAMMA_TABLE_STEPS's comment)."""
    v = np.random.default_rng(6).random(200_000)
    v[:20_000] *= 0.01  # near black, where the curve is steepest
    exact = 255.0 * np.where(v > 0.0031308, 1.055 * v ** (1 / 2.4) - 0.055, 12.92 * v)
    got = color.linear_to_uint8(tf.constant(v, tf.float32)).numpy().astype(int)
    off = got != np.round(exact)
    assert np.abs(got - np.round(exact)).max() <= 1
    assert off.mean() < 0.005
    assert np.all(np.abs(exact[off] - np.floor(exact[off]) - 0.5) < 0.025)
    # out of range: clipped
    assert color.linear_to_uint8(tf.constant([-0.5, 0.0, 1.0, 7.0])).numpy().tolist() == \
        [0, 0, 255, 255]


def test_mean_chroma_by_hand():
    lab = np.array([[[50, 3, 4], [50, -6, 8]]], np.float32)  # chroma 5 and 10
    assert color.mean_chroma_np(lab) == pytest.approx(7.5)


def test_normalize_endpoints():
    l = tf.constant([0.0, 50.0, 100.0])
    np.testing.assert_allclose(color.normalize_l(l).numpy(), [-1.0, 0.0, 1.0], atol=1e-7)
    ab = tf.constant([-110.0, 0.0, 55.0, 110.0])
    np.testing.assert_allclose(color.normalize_ab(ab).numpy(), [-1.0, 0.0, 0.5, 1.0], atol=1e-7)


def test_normalize_denormalize_are_inverse():
    rng = np.random.default_rng(1)
    l = tf.constant(rng.uniform(0, 100, 200).astype(np.float32))
    ab = tf.constant(rng.uniform(-110, 110, 200).astype(np.float32))
    np.testing.assert_allclose(color.denormalize_l(color.normalize_l(l)).numpy(), l.numpy(), atol=1e-4)
    np.testing.assert_allclose(color.denormalize_ab(color.normalize_ab(ab)).numpy(), ab.numpy(), atol=1e-4)
    l_in = tf.constant(rng.uniform(-1, 1, 200).astype(np.float32))
    np.testing.assert_allclose(color.normalize_l(color.denormalize_l(l_in)).numpy(), l_in.numpy(), atol=1e-6)


def test_denormalize_ab_clips():
    out = color.denormalize_ab(tf.constant([-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.0])).numpy()
    np.testing.assert_allclose(out, [-110.0, -110.0, -55.0, 0.0, 27.5, 110.0, 110.0], atol=1e-5)


def test_network_to_rgb_inverts_the_network_range():
    rgb = random_rgb(16, 16, seed=5)
    lab = color.rgb_to_lab(tf.constant(rgb))
    l_in = color.normalize_l(lab[..., :1])
    ab_out = color.normalize_ab(lab[..., 1:])
    np.testing.assert_allclose(color.network_to_rgb(l_in, ab_out).numpy(), rgb, atol=1e-3)
    np.testing.assert_allclose(color.lab_from_network(l_in, ab_out).numpy(), lab.numpy(), atol=1e-3)


def test_storage_error_constants():
    assert color.L_STORE_MAX_ERROR == pytest.approx(100.0 / 255.0 / 2.0)  # 0.19607...
    assert 0.196 < color.L_STORE_MAX_ERROR < 0.1961
    assert color.AB_STORE_MAX_ERROR == 0.5


def random_lab(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    lab = np.stack([rng.uniform(0, 100, n), rng.uniform(-110, 110, n), rng.uniform(-110, 110, n)], -1)
    return lab.astype(np.float32).reshape(100, n // 100, 3)


def test_quantize_round_trip_within_stated_error():
    lab = random_lab()
    l_u8, ab_i8 = color.quantize_lab_np(lab)
    assert l_u8.dtype == np.uint8 and l_u8.shape == lab.shape[:2]
    assert ab_i8.dtype == np.int8 and ab_i8.shape == lab.shape[:2] + (2,)
    back = stored_lab(l_u8, ab_i8)
    assert back.shape == lab.shape and back.dtype == np.float32
    err = np.abs(back - lab)
    eps = 1e-4  # float32 rounding
    assert err[..., 0].max() <= color.L_STORE_MAX_ERROR + eps
    assert err[..., 1:].max() <= color.AB_STORE_MAX_ERROR + eps
    # ...and the bounds are tight: 20000 uniform samples come close to them
    assert err[..., 0].max() > 0.95 * color.L_STORE_MAX_ERROR
    assert err[..., 1:].max() > 0.95 * color.AB_STORE_MAX_ERROR


def test_quantize_by_hand_and_clipping():
    lab = np.array([[[0.0, 0.0, 0.0], [100.0, -128.0, 127.0], [50.0, 0.4, -0.6],
                     [120.0, -200.0, 200.0], [-5.0, 3.5, -2.5]]], np.float32)
    l_u8, ab_i8 = color.quantize_lab_np(lab)
    assert l_u8.tolist() == [[0, 255, 128, 255, 0]]  # 50 * 2.55 = 127.5 -> 128
    assert ab_i8.tolist() == [[[0, 0], [-128, 127], [0, -1], [-128, 127], [4, -2]]]  # rint: half to even


def test_decode_stored_gives_the_network_range_of_the_stored_values():
    l_u8, ab_i8 = color.quantize_lab_np(random_lab(2000, seed=2))
    l_in, ab_out = color.decode_stored(tf.constant(l_u8), tf.constant(ab_i8))
    assert l_in.dtype == tf.float32 and ab_out.dtype == tf.float32
    # stored values by hand (L * 255/100, ab as they are), then the network
    # range: L / 50 - 1, ab / 110
    lab = np.concatenate([l_u8[..., None] / 2.55, ab_i8], -1)
    np.testing.assert_allclose(l_in.numpy(), lab[..., 0] / 50.0 - 1.0, atol=1e-6)
    np.testing.assert_allclose(ab_out.numpy(), lab[..., 1:] / 110.0, atol=1e-6)
    assert l_in.numpy().min() >= -1.0 and l_in.numpy().max() <= 1.0


def test_tensorflow_io_loads_for_remote_paths_only():
    """colorize.files imports tensorflow-io for the URIs whose file systems
    it provides (s3://), not for local paths or gs:// (TF's own), and the
    pinned TF/tensorflow-io pair loads."""
    import subprocess
    import sys

    code = ("import sys; from colorize import files; "
            "files.register_filesystems('runs/x', 'gs://b/x', None); "
            "assert 'tensorflow_io' not in sys.modules; "
            "files.register_filesystems('s3://b/x'); "
            "import tensorflow_io as tfio; print(tfio.__version__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().startswith("0.37.")
