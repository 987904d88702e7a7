"""colorize.imageio: decoding every format to sRGB float [H, W, 3], bad files,
folder listing and atomic writes. Test files are written with Pillow, an
independent encoder, wherever it can."""
import numpy as np
import pytest
from PIL import Image, ImageOps

from colorize import imageio


def rgb_pattern(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def check_float_image(img, shape):
    assert img.shape == shape
    assert img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0


# --- formats ------------------------------------------------------------------

@pytest.mark.parametrize("suffix,options", [
    (".png", {}),
    (".bmp", {}),
    (".tif", {}),
    (".webp", {"lossless": True}),
])
def test_lossless_formats_decode_exactly(tmp_path, suffix, options):
    rgb = rgb_pattern(24, 37, seed=1)
    path = tmp_path / f"img{suffix}"
    Image.fromarray(rgb, "RGB").save(path, **options)
    img = imageio.read_image(path)
    check_float_image(img, (24, 37, 3))
    # channel order is RGB (not OpenCV's BGR) and the scale is /255
    np.testing.assert_allclose(img, rgb / 255.0, atol=1e-6)


def test_jpeg_decodes_to_rgb(tmp_path):
    h, w = 32, 40
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, : w // 2] = (200, 60, 30)  # orange-red left half
    rgb[:, w // 2:] = (20, 90, 220)  # blue right half
    path = tmp_path / "img.jpg"
    Image.fromarray(rgb, "RGB").save(path, quality=95)
    img = imageio.read_image(path)
    check_float_image(img, (h, w, 3))
    # away from the edge, lossy JPEG is within a few levels of the source
    np.testing.assert_allclose(img[:, 2:16].mean(axis=(0, 1)), np.array([200, 60, 30]) / 255, atol=0.03)
    np.testing.assert_allclose(img[:, 24:38].mean(axis=(0, 1)), np.array([20, 90, 220]) / 255, atol=0.03)


def test_png_16_bit_scales_to_unit_range(tmp_path):
    import cv2  # Pillow cannot write 16-bit colour PNGs
    rgb16 = np.zeros((4, 5, 3), np.uint16)
    rgb16[0, 0] = (65535, 65535, 65535)
    rgb16[0, 1] = (65535, 0, 0)
    rgb16[0, 2] = (0, 32768, 0)
    rgb16[0, 3] = (0, 0, 257)
    rgb16[1:] = (1000, 20000, 50000)
    path = tmp_path / "deep.png"
    assert cv2.imwrite(str(path), rgb16[..., ::-1])  # OpenCV wants BGR
    assert path.read_bytes()[24] == 16  # IHDR bit depth: the file really is 16-bit
    img = imageio.read_image(path)
    check_float_image(img, (4, 5, 3))
    np.testing.assert_allclose(img[0, 0], [1.0, 1.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(img[0, 1], [1.0, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(img[0, 2], [0.0, 32768 / 65535, 0.0], atol=1e-7)
    np.testing.assert_allclose(img[0, 3], [0.0, 0.0, 257 / 65535], atol=1e-7)  # not 1/255: 16-bit kept
    np.testing.assert_allclose(img[2, 2], [1000 / 65535, 20000 / 65535, 50000 / 65535], atol=1e-7)


def test_png_rgba_composited_on_white(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (10, 200, 30, 0)  # fully transparent: colour must not leak
    rgba[0, 1] = (10, 200, 30, 255)  # opaque: keeps its colour
    rgba[0, 2] = (0, 0, 0, 51)  # 20% black over white -> 0.8
    rgba[1, :] = (200, 100, 0, 255)
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    img = imageio.read_image(path)
    check_float_image(img, (2, 3, 3))
    np.testing.assert_allclose(img[0, 0], [1.0, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(img[0, 1], np.array([10, 200, 30]) / 255, atol=1e-6)
    np.testing.assert_allclose(img[0, 2], [0.8, 0.8, 0.8], atol=1e-6)
    np.testing.assert_allclose(img[1, 1], np.array([200, 100, 0]) / 255, atol=1e-6)


def test_gray_png_gives_three_equal_channels(tmp_path):
    gray = np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6)
    path = tmp_path / "gray.png"
    Image.fromarray(gray, "L").save(path)
    img = imageio.read_image(path)
    check_float_image(img, (4, 6, 3))
    for c in range(3):
        np.testing.assert_allclose(img[..., c], gray / 255.0, atol=1e-6)


def test_gray_alpha_png(tmp_path):
    la = np.zeros((1, 2, 2), np.uint8)
    la[0, 0] = (40, 0)  # transparent -> white
    la[0, 1] = (40, 255)
    path = tmp_path / "gray_alpha.png"
    Image.fromarray(la, "LA").save(path)
    img = imageio.read_image(path)
    check_float_image(img, (1, 2, 3))
    np.testing.assert_allclose(img[0, 0], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(img[0, 1], [40 / 255] * 3, atol=1e-6)


def test_jpeg_exif_orientation_is_applied(tmp_path):
    # Stored 24 high x 48 wide: a red top-left block on blue.
    stored = np.zeros((24, 48, 3), np.uint8)
    stored[:] = (30, 60, 220)
    stored[:12, :16] = (230, 30, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: display rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored, "RGB").save(path, quality=95, exif=exif)

    img = imageio.read_image(path)
    check_float_image(img, (48, 24, 3))  # height and width swapped
    expected = np.rot90(stored, k=-1) / 255.0  # k=-1: clockwise
    assert np.abs(img - expected).mean() < 0.02
    # the red block went from the top-left to the top-right corner
    assert img[2:10, 14:22, 0].mean() > 0.8 and img[2:10, 14:22, 2].mean() < 0.25
    assert img[2:10, 2:8, 2].mean() > 0.75
    # Pillow's own EXIF transpose agrees
    reference = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")) / 255.0
    assert reference.shape == img.shape
    assert np.abs(img - reference).mean() < 0.01


# --- unreadable files ---------------------------------------------------------

def _jpeg_bytes(tmp_path):
    path = tmp_path / "good.jpg"
    Image.fromarray(rgb_pattern(40, 40, seed=3), "RGB").save(path, quality=90)
    return path.read_bytes()


def test_bad_files_raise_unreadable(tmp_path):
    good = _jpeg_bytes(tmp_path)
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": good[: len(good) // 2],
        "noise.jpg": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "notes.png": b"this is a text file, not a PNG\n" * 20,
        "jpeg_header_only.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 100,
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(imageio.UnreadableImage) as info:
            imageio.read_image(tmp_path / name)
        assert str(info.value), name  # a reason for the log and manifest
    assert "empty" in str(pytest.raises(imageio.UnreadableImage, imageio.read_image, tmp_path / "empty.jpg").value)


def test_missing_file_raises_unreadable(tmp_path):
    with pytest.raises(imageio.UnreadableImage, match="cannot read"):
        imageio.read_image(tmp_path / "nope.jpg")


def test_decode_image_from_bytes(tmp_path):
    good = _jpeg_bytes(tmp_path)
    check_float_image(imageio.decode_image(good), (40, 40, 3))
    with pytest.raises(imageio.UnreadableImage):
        imageio.decode_image(b"")


def test_keep_depth_gives_the_samples_and_float_for_alpha(tmp_path):
    """keep_depth: 8- and 16-bit RGB and gray files as their samples (RGB
    order, gray repeated); alpha files still float (composited)."""
    import cv2

    rgb = rgb_pattern(6, 7, seed=8)
    deep = rgb.astype(np.uint16) * 257 + np.arange(7, dtype=np.uint16)[None, :, None]
    Image.fromarray(rgb, "RGB").save(tmp_path / "rgb.png")
    Image.fromarray(rgb[..., 1], "L").save(tmp_path / "gray.png")
    Image.fromarray(rgb, "RGB").save(tmp_path / "rgb.jpg", quality=90)
    Image.fromarray(np.dstack([rgb, np.full((6, 7), 128, np.uint8)]), "RGBA").save(
        tmp_path / "alpha.png")
    assert cv2.imwrite(str(tmp_path / "deep.png"), np.ascontiguousarray(deep[..., ::-1]))
    got = imageio.read_image(tmp_path / "rgb.png", keep_depth=True)
    assert got.dtype == np.uint8 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, rgb)
    np.testing.assert_array_equal(imageio.read_image(tmp_path / "gray.png", keep_depth=True),
                                  np.repeat(rgb[..., 1:2], 3, axis=2))
    jpeg = imageio.read_image(tmp_path / "rgb.jpg", keep_depth=True)
    assert jpeg.dtype == np.uint8
    np.testing.assert_allclose(imageio.read_image(tmp_path / "rgb.jpg"), jpeg / 255.0, atol=1e-6)
    got16 = imageio.read_image(tmp_path / "deep.png", keep_depth=True)
    assert got16.dtype == np.uint16
    np.testing.assert_array_equal(got16, deep)
    np.testing.assert_allclose(imageio.to_unit_float(got16),
                               imageio.read_image(tmp_path / "deep.png"))
    alpha = imageio.read_image(tmp_path / "alpha.png", keep_depth=True)
    check_float_image(alpha, (6, 7, 3))
    np.testing.assert_array_equal(alpha, imageio.read_image(tmp_path / "alpha.png"))


def test_to_uint8_of_uint16_rounds_as_the_float_route():
    every = np.arange(65536, dtype=np.uint16).reshape(256, 256, 1).repeat(3, axis=2)
    np.testing.assert_array_equal(imageio.to_uint8(every),
                                  imageio.to_uint8(every.astype(np.float64) / 65535.0))
    img = rgb_pattern(3, 4)
    assert imageio.to_uint8(img) is img


# --- listing and writing ------------------------------------------------------

def test_write_image_png_round_trip(tmp_path):
    rgb = rgb_pattern(19, 23, seed=4)
    path = tmp_path / "out" / "nested" / "img.png"
    imageio.write_image(path, rgb)
    assert path.exists()
    # read back independently with Pillow, and with read_image
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), rgb)
    np.testing.assert_allclose(imageio.read_image(path), rgb / 255.0, atol=1e-6)
    assert sorted(p.name for p in path.parent.iterdir()) == ["img.png"]  # no .tmp left


def test_write_image_rgba_keeps_colour_and_alpha(tmp_path):
    # A hints image (RGBA): read back by Pillow, channel for channel.
    rgba = np.concatenate([rgb_pattern(7, 5, seed=6),
                           np.arange(35, dtype=np.uint8).reshape(7, 5, 1) * 7], axis=-1)
    path = tmp_path / "hints.png"
    imageio.write_image(path, rgba)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), rgba)


def test_write_image_float_input(tmp_path):
    rgb = rgb_pattern(8, 9, seed=5)
    path = tmp_path / "float.png"
    imageio.write_image(path, rgb.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), rgb)
    assert not list(tmp_path.glob("*.tmp"))


def test_center_crop_and_resize():
    img = np.arange(6 * 10 * 3, dtype=np.float32).reshape(6, 10, 3)
    crop = imageio.center_crop_square(img)
    np.testing.assert_array_equal(crop, img[:, 2:8])
    tall = img.transpose(1, 0, 2)
    np.testing.assert_array_equal(imageio.center_crop_square(tall), tall[2:8])
    flat = np.full((40, 30, 3), 0.25, np.float32)
    small = imageio.resize(flat, 10, 12)
    assert small.shape == (10, 12, 3)
    np.testing.assert_allclose(small, 0.25, atol=1e-6)
    assert imageio.resize(flat, 80, 60).shape == (80, 60, 3)


# --- awkward files: GIF, pipes, huge photos, odd names -------------------------

def test_gif_first_frame_with_transparency_on_white(tmp_path):
    first = Image.new("RGBA", (6, 4), (200, 20, 20, 255))
    first.putpixel((0, 0), (0, 0, 0, 0))  # transparent
    second = Image.new("RGBA", (6, 4), (20, 200, 20, 255))
    first.save(tmp_path / "anim.gif", save_all=True, append_images=[second])
    img = imageio.read_image(tmp_path / "anim.gif")
    check_float_image(img, (4, 6, 3))
    np.testing.assert_allclose(img[0, 0], [1, 1, 1])  # transparent -> white
    np.testing.assert_allclose(img[2, 3], np.array([200, 20, 20]) / 255, atol=1e-6)  # frame 1
    Image.new("RGB", (5, 3), (10, 20, 250)).save(tmp_path / "opaque.gif")
    kept = imageio.read_image(tmp_path / "opaque.gif", keep_depth=True)
    assert kept.dtype == np.uint8 and kept.shape == (3, 5, 3)
    assert abs(int(kept[1, 1, 2]) - 250) <= 4  # palette quantisation


def test_named_pipe_is_refused_without_blocking(tmp_path):
    import os
    import time
    os.mkfifo(tmp_path / "pipe.jpg")  # nobody writes: a plain open() would wait for ever
    start = time.monotonic()
    with pytest.raises(imageio.UnreadableImage, match="named pipe"):
        imageio.read_image(tmp_path / "pipe.jpg")
    assert time.monotonic() - start < 5


def big_blank_jpeg(height, width):
    """A real JPEG of height x width px, cheap to make: np.zeros is not
    touched until written, and a flat image encodes to a small file."""
    import cv2
    ok, data = cv2.imencode(".jpg", np.zeros((height, width, 3), np.uint8))
    assert ok
    return data.tobytes()


def png_header_claiming(width, height):
    """The first bytes of a PNG whose header says width x height (valid
    CRC), with no image data: what a decompression bomb looks like to a
    reader that trusts headers."""
    import struct
    import zlib
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def test_pixel_limit_is_checked_on_the_header_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_claiming(100_000, 100_000))
    with pytest.raises(imageio.UnreadableImage, match=r"100000x100000 px .* 10000\.0 MP.* 64 MP"):
        imageio.read_image(bomb)
    (tmp_path / "big.jpg").write_bytes(big_blank_jpeg(3000, 4000))
    with pytest.raises(imageio.UnreadableImage, match="12.0 MP, over the limit of 1 MP"):
        imageio.read_image(tmp_path / "big.jpg", max_pixels=1_000_000)
    assert imageio.read_image(tmp_path / "big.jpg", max_pixels=None, keep_depth=True).shape == (
        3000, 4000, 3)


@pytest.mark.parametrize("min_side,shape", [
    (300, (375, 500, 3)),   # 1/8: 3000 / 8 = 375 >= 300
    (400, (750, 1000, 3)),  # 1/4
    (1500, (1500, 2000, 3)),  # 1/2
    (2000, (3000, 4000, 3)),  # full size
])
def test_jpeg_decodes_at_reduced_size_when_the_caller_needs_less(tmp_path, min_side, shape):
    (tmp_path / "big.jpg").write_bytes(big_blank_jpeg(3000, 4000))
    img = imageio.read_image(tmp_path / "big.jpg", keep_depth=True, min_side=min_side)
    assert img.shape == shape
    # The limit applies to what is decoded: 1/8 of a 12 MP JPEG is 0.19 MP.
    if shape[0] == 375:
        imageio.read_image(tmp_path / "big.jpg", min_side=min_side, max_pixels=200_000)


def test_reduced_decoding_keeps_the_picture(tmp_path):
    """A detailed photo decoded at 1/4 and shrunk equals the full decode
    shrunk, to within a level or two (libjpeg's DCT scaling averages)."""
    import cv2
    rng = np.random.default_rng(0)
    small = cv2.resize(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), (800, 600),
                       interpolation=cv2.INTER_CUBIC)
    Image.fromarray(small, "RGB").save(tmp_path / "p.jpg", quality=95)
    full = imageio.resize(imageio.read_image(tmp_path / "p.jpg"), 30, 40)
    reduced = imageio.read_image(tmp_path / "p.jpg", min_side=150)
    assert reduced.shape == (150, 200, 3)
    reduced = imageio.resize(reduced, 30, 40)
    assert np.abs(full - reduced).mean() * 255 < 1.0
    assert np.abs(full - reduced).max() * 255 < 6.0


def test_names_that_are_not_utf8_read_and_write(tmp_path):
    import os
    path = tmp_path / os.fsdecode(b"caf\xe9.png")
    rgb = rgb_pattern(5, 6, seed=2)
    imageio.write_image(path, rgb)
    assert os.path.exists(os.fsencode(tmp_path) + b"/caf\xe9.png")
    np.testing.assert_array_equal(imageio.read_image(path, keep_depth=True), rgb)
