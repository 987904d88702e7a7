"""Reading and writing image files with OpenCV (no TF here: the builder's
worker processes use it).

Every file comes back as sRGB float32 in [0, 1], shape [H, W, 3]:
8- and 16-bit, gray, gray+alpha, RGB and RGBA, in any format OpenCV reads,
and GIF (its first frame) through Pillow (or, on request, as the file's
uint8 or uint16 samples).

Memory is bounded before decoding: the header's size is read first (Pillow
reads headers without decoding), a JPEG is decoded at 1/2, 1/4 or 1/8 size
when the caller needs less (libjpeg's DCT scaling), and a file that would
still decode to more than max_pixels is refused with that reason, as
Pillow's decompression-bomb guard does.
"""
from __future__ import annotations

import io
import math
import os
import stat
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from colorize import files

# Extensions the folder walkers pick up (colorize.folders lists other
# files as ignored).
IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .png .bmp .dib .tif .tiff .webp .ppm .pgm .pbm .pnm .jp2 .sr .ras .gif"
    .split()
)
# Extensions OpenCV writes colour images in; for the others (gray-only PGM
# and PBM, GIF) a colour result needs another format.
COLOUR_WRITE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .png .bmp .dib .tif .tiff .webp .ppm .pnm .jp2 .sr .ras".split())
_JPEG_MAGIC = b"\xff\xd8"
_GIF_MAGIC = (b"GIF87a", b"GIF89a")
_REDUCED_JPEG = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                 8: cv2.IMREAD_REDUCED_COLOR_8}

# Decoded pixels allowed per file by default (--max_megapixels): 64 MP
# keeps eval below about 2 GiB and a builder worker below 1 GiB even for
# 16-bit RGBA; larger JPEGs still build, decoded at reduced size.
MAX_PIXELS = 64_000_000
# Pillow's own guard would refuse to read the very headers this module's
# limit is checked against; the limit here replaces it.
Image.MAX_IMAGE_PIXELS = None


class UnreadableImage(Exception):
    """A file that is not a decodable image; the message is the reason."""


def is_image_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def file_kind(mode: int) -> str:
    """What a stat mode is, for skip reasons."""
    for test, kind in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a regular file"


def read_file(path: str | os.PathLike) -> bytes:
    """A regular file's bytes. Opened non-blocking and checked after
    opening, so that a named pipe (or a file swapped for one) is refused at
    once instead of blocking for ever."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise UnreadableImage(f"cannot read file: {e.strerror or e}") from e
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableImage(f"not a regular file: {file_kind(mode)}")
        try:
            return f.read()
        except OSError as e:
            raise UnreadableImage(f"cannot read file: {e.strerror or e}") from e


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header alone, or None if Pillow does not
    know the format (OpenCV may still decode it)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # noqa: BLE001 - any failure means "size unknown"
        return None


def jpeg_reduction(size: tuple[int, int] | None, min_side: int | None) -> int:
    """The largest DCT scaling (8, 4, 2 or 1) that keeps both sides of a
    JPEG of this size at least min_side px."""
    if not min_side or size is None:
        return 1
    return next((f for f in (8, 4, 2) if min(size) // f >= min_side), 1)


def _check_pixels(width: int, height: int, factor: int, max_pixels: int | None) -> None:
    decoded = math.ceil(width / factor) * math.ceil(height / factor)
    if max_pixels and decoded > max_pixels:
        shrunk = f" (at 1/{factor} size)" if factor > 1 else ""
        raise UnreadableImage(
            f"{width}x{height} px would decode to {decoded / 1e6:.1f} MP{shrunk}, over the "
            f"limit of {max_pixels / 1e6:g} MP (--max_megapixels raises it)")


def _decode_gif(data: bytes) -> np.ndarray:
    """A GIF's first frame -> uint8 BGR, or BGRA when it has transparency
    (OpenCV's channel order, as the other formats come out of imdecode)."""
    with Image.open(io.BytesIO(data)) as im:
        rgba = np.asarray(im.convert("RGBA"))
    if (rgba[..., 3] == 255).all():
        return np.ascontiguousarray(rgba[..., 2::-1])
    return np.ascontiguousarray(rgba[..., [2, 1, 0, 3]])


def to_unit_float(img: np.ndarray) -> np.ndarray:
    """uint8, uint16 or float samples -> float32 in [0, 1]."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    if img.dtype in (np.float32, np.float64):
        return np.clip(np.nan_to_num(img.astype(np.float32)), 0.0, 1.0)
    raise UnreadableImage(f"unsupported sample type {img.dtype}")


def _composite_on_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    # Transparent pixels carry arbitrary colour; white is what a viewer shows.
    alpha = alpha[..., None]
    return color * alpha + (1.0 - alpha)


def _rgb_order(img: np.ndarray) -> np.ndarray:
    """OpenCV's gray [H, W, 1] or BGR [H, W, 3] -> RGB [H, W, 3]. BGR is
    swapped in place when it can be (a fresh decode): no second copy of a
    large photo."""
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    if img.flags.c_contiguous and img.flags.writeable and img.dtype != np.float64:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)
    return np.ascontiguousarray(img[..., ::-1])


def decode_image(data: bytes, keep_depth: bool = False, min_side: int | None = None,
                 max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Encoded bytes -> sRGB float32 [H, W, 3] in [0, 1]; with keep_depth,
    a file without alpha comes back as its uint8 or uint16 samples instead
    (eval keeps photos so: a 48 MP photo is 144 MB in uint8, 576 MB in
    float32).

    JPEG is decoded with IMREAD_COLOR so that OpenCV applies the EXIF
    orientation (cameras write it into JPEGs), at reduced size when both
    sides stay at least min_side px (for callers that shrink the photo
    anyway). Other formats are decoded unchanged so that 16-bit depth and
    alpha survive; alpha is composited onto white. UnreadableImage when
    the decoded image would exceed max_pixels (None: no limit).
    """
    if not data:
        raise UnreadableImage("empty file")
    size = header_size(data)
    jpeg = data[:2] == _JPEG_MAGIC
    factor = jpeg_reduction(size, min_side) if jpeg else 1
    if size is not None:
        _check_pixels(*size, factor, max_pixels)
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        if data[:6] in _GIF_MAGIC:
            img = _decode_gif(data)
        elif factor > 1:
            img = cv2.imdecode(buf, _REDUCED_JPEG[factor])
        elif jpeg:
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
        else:
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as e:  # e.g. OpenCV's own 2^30-pixel limit
        raise UnreadableImage(f"OpenCV cannot decode it: {str(e).strip().splitlines()[-1]}") from e
    if img is None or img.size == 0:
        raise UnreadableImage("not a decodable image (corrupt, truncated or unsupported)")
    if size is None:  # a format Pillow does not know: checked after the fact
        _check_pixels(img.shape[1], img.shape[0], 1, max_pixels)
    if img.ndim == 2:
        img = img[..., None]
    channels = img.shape[2]
    if keep_depth and img.dtype in (np.uint8, np.uint16) and channels in (1, 3):
        return _rgb_order(img)
    img = to_unit_float(img)
    if channels in (2, 4):
        img = _composite_on_white(img[..., :-1], img[..., -1])
    elif channels not in (1, 3):
        raise UnreadableImage(f"unsupported channel count {channels}")
    return _rgb_order(img)


def read_image(path: str | os.PathLike, keep_depth: bool = False, min_side: int | None = None,
               max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """A file -> sRGB [H, W, 3] (see decode_image); UnreadableImage on failure."""
    return decode_image(read_file(path), keep_depth, min_side, max_pixels)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Float in [0, 1] or uint16 -> uint8 (rounded); uint8 is returned as
    it is."""
    if rgb.dtype == np.uint8:
        return rgb
    if rgb.dtype == np.uint16:
        # round(x / 257) (= round(x / 65535 * 255)), computed in OpenCV's
        # float32 without a full-size float copy; exact: x / 257 is never
        # within float32 rounding of a half.
        return cv2.convertScaleAbs(rgb, alpha=1.0 / 257.0)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write sRGB (uint8, uint16, or float in [0, 1]) to path; the format follows
    the extension. Written to a temporary name first, then renamed, so an
    interrupted run leaves no truncated output."""
    path = Path(path)
    encoded = encode_image(rgb, path.suffix or ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomic(path, encoded)


def encode_image(rgb: np.ndarray, suffix: str) -> bytes:
    """sRGB (uint8, uint16, or float in [0, 1]), or RGBA (a hints image), ->
    the bytes of an image file in the format of suffix (".png", ".jpg", ...)."""
    rgb = to_uint8(rgb)
    # OpenCV encodes BGR(A): the colour channels reversed, alpha kept last.
    order = [2, 1, 0, 3] if rgb.ndim == 3 and rgb.shape[-1] == 4 else [2, 1, 0]
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(rgb[..., order]))
    if not ok:
        raise OSError(f"OpenCV cannot encode {suffix!r} images")
    return encoded.tobytes()


def center_crop_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


# A photo more than this many times the network's size on a side is first
# shrunk in its own 8 or 16 bits, so that no full-size float copy is made
# (12 bytes a pixel); the second shrink then averages 4 x 4 or more of those
# pixels, so their rounding is far below what the network can see. JPEGs
# are decoded at 1/2 to 1/8 size while both sides stay this many times the
# size (see read_image's min_side).
SHRINK_MARGIN = 4


def network_rgb(rgb: np.ndarray, size: int) -> np.ndarray:
    """The one route from a photo to what the network sees, for the shard
    builder (which stores it) and for inference (which feeds it): RGB
    [H, W, 3] (uint8, uint16 or float in [0, 1]) -> float32 [size, size, 3]
    in [0, 1], the whole photo squashed to a square by area averaging in
    sRGB (resize). fullres.network_input_tf is its TensorFlow twin, for
    the exported SavedModel (tested to agree)."""
    h, w = rgb.shape[:2]
    edge = SHRINK_MARGIN * size
    if rgb.dtype in (np.uint8, np.uint16) and max(h, w) > edge:
        rgb = resize(rgb, min(h, edge), min(w, edge))
    return resize(to_unit_float(rgb), size, size)


def resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area averaging along the axes that shrink (no aliasing), then
    bilinear along those that grow: separable, so that TensorFlow's area
    and bilinear resizes compute the same (fullres.resize_tf)."""
    h, w = img.shape[:2]
    mid = (min(h, height), min(w, width))
    out = img
    if mid != (h, w):
        out = cv2.resize(out, mid[::-1], interpolation=cv2.INTER_AREA)
    if mid != (height, width):
        out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)
    return out if out.ndim == img.ndim else out[..., None]
