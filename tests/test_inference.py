"""colorize.fullres's full-resolution passes: the strip-wise kernels against
whole-image TF ops and the tensorflow-io route they replaced; the
network's input, one route for the builder and inference."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_io as tfio

from colorize import color, fullres, inference


def photo(h, w, seed=0):
    """uint8 RGB: smooth colour fields plus noise, dark and bright parts."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(5 * xx + c) * np.cos(3 * yy - c) for c in range(3)], -1)
    return np.clip(127.5 + 120 * base + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)


def network_ab(size, seed=0):
    """A smooth network output in [-1.2, 1.2] (beyond the clip on purpose)."""
    rng = np.random.default_rng(seed)
    return tf.image.resize(rng.uniform(-1.2, 1.2, (1, 4, 4, 2)).astype(np.float32),
                           [size, size], method="bicubic")[0]


def tfio_merge(image_u8, ab_small):
    """The code this replaced: tensorflow-io's Lab at full resolution, ab
    upsampled by tf.image.resize, back to sRGB, rounded."""
    lab = tfio.experimental.color.rgb_to_lab(image_u8.astype(np.float32) / 255.0)
    ab = color.denormalize_ab(tf.image.resize(ab_small, image_u8.shape[:2], method="bilinear"))
    rgb = tfio.experimental.color.lab_to_rgb(tf.concat([lab[..., :1], ab], axis=-1))
    return np.round(np.clip(rgb.numpy(), 0.0, 1.0) * 255.0).astype(np.uint8)


@pytest.mark.parametrize("h,w,size", [(37, 53, 8), (64, 64, 16), (5, 7, 16), (1, 300, 8)])
def test_upsampled_ab_is_tf_image_resize(h, w, size):
    """Up and down (a photo smaller than the render size), odd sizes."""
    ab = network_ab(size, seed=h)
    a, b = fullres.upsample_ab_at(ab, tf.range(h * w), tf.constant(h), tf.constant(w))
    expected = tf.image.resize(ab, [h, w], method="bilinear").numpy().reshape(-1, 2)
    np.testing.assert_allclose(np.stack([a, b], -1), expected, atol=1e-5)


def test_strip_wise_merge_equals_whole_image_merge():
    """Strips of 3 rows (the last one shorter, all zero-padded) against one
    strip holding the whole photo; and a photo wider than a strip (each
    strip size is an XLA compile: few sizes keep the test fast)."""
    img, ab = tf.constant(photo(47, 61)), network_ab(16)
    whole = fullres.merge(img, ab, strip_pixels=47 * 61).numpy()
    np.testing.assert_array_equal(fullres.merge(img, ab, strip_pixels=61 * 3 + 5).numpy(),
                                  whole)
    wide = tf.constant(photo(3, 200))
    np.testing.assert_array_equal(fullres.merge(wide, ab, strip_pixels=61 * 3 + 5).numpy(),
                                  fullres.merge(wide, ab, strip_pixels=600).numpy())


@pytest.mark.parametrize("h,w,size,dtype", [
    (47, 61, 16, np.uint8), (300, 451, 64, np.uint8), (700, 333, 16, np.uint16),
    (90, 120, 32, np.float32), (5, 7, 16, np.uint8), (30, 75, 32, np.uint8)])
def test_the_exported_models_network_input_is_the_builders(h, w, size, dtype):
    """The SavedModel's TF route to the network's input (fullres.
    network_input_tf) against the NumPy one the builder stores and eval
    feeds (imageio.network_rgb): photos larger than SHRINK_MARGIN x size
    (shrunk in their own bits first), smaller ones, 16-bit and float, and
    ones smaller than the render size on one side or both."""
    img = photo(h, w, seed=h).astype(np.float32)
    img = {np.uint8: img, np.uint16: img * 257, np.float32: img / 255}[dtype].astype(dtype)
    want = inference.network_input(img, size)
    got = fullres.network_input_tf(tf.constant(img), size).numpy()
    assert got.shape == want.shape == (size, size, 1)
    # normalised L: 0.0002 is 0.01 L units
    np.testing.assert_allclose(got, want, atol=2e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_merge_within_one_level_of_the_tfio_route(seed):
    img, ab = photo(80, 120, seed), network_ab(16, seed)
    got = fullres.merge(tf.constant(img), ab).numpy()
    assert got.dtype == np.uint8 and got.shape == img.shape
    assert np.abs(got.astype(int) - tfio_merge(img, ab)).max() <= 1


def test_real_photo_within_one_level_of_the_tfio_route():
    import skimage.data

    img = skimage.data.chelsea()
    ab = network_ab(32, seed=3)
    got = fullres.merge(tf.constant(img), ab).numpy()
    assert np.abs(got.astype(int) - tfio_merge(img, ab)).max() <= 1


def test_uint8_float_gray_and_alpha_inputs():
    rgb = photo(30, 40, seed=4)
    ab = network_ab(8)
    from_u8 = fullres.merge(tf.constant(rgb), ab).numpy()
    from_float = fullres.merge(tf.constant(rgb.astype(np.float32) / 255.0), ab).numpy()
    assert np.abs(from_u8.astype(int) - from_float).max() <= 1
    rgba = np.concatenate([rgb, np.full((30, 40, 1), 7, np.uint8)], -1)
    np.testing.assert_array_equal(fullres.merge(tf.constant(rgba), ab).numpy(), from_u8)
    gray = rgb[..., :1]
    np.testing.assert_array_equal(fullres.merge(tf.constant(gray), ab).numpy(),
                                  fullres.merge(tf.constant(np.repeat(gray, 3, -1)), ab).numpy())


def test_colorize_batch_is_colorize_image_per_photo():
    model = inference.Model(lambda l: tf.tanh(tf.concat([l, -l], -1)) * 0.5, 8, "toy")
    photos = [photo(20, 30, 5), photo(33, 17, 6).astype(np.float32) / 255.0]
    batch = inference.colorize_batch(photos, model)
    for p, got in zip(photos, batch):
        one = fullres.colorize_image(inference.as_image_tensor(p), model.predict, 8).numpy()
        np.testing.assert_array_equal(got, one)
        assert got.shape == p.shape[:2] + (3,) and got.dtype == np.uint8

