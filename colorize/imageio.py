"""Reading and writing image files with OpenCV (no TF here: the builder's
worker processes use it).

Every file comes back as sRGB float32 in [0, 1], shape [H, W, 3]:
8- and 16-bit, gray, gray+alpha, RGB and RGBA, in any format OpenCV reads
(or, on request, as the file's uint8 or uint16 samples).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

# Extensions the folder walkers pick up. Anything else is ignored, not
# reported: a photo folder often holds .txt, .db or .json side files.
IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .png .bmp .dib .tif .tiff .webp .ppm .pgm .pbm .pnm .jp2 .sr .ras".split()
)
_JPEG_MAGIC = b"\xff\xd8"


class UnreadableImage(Exception):
    """A file that is not a decodable image; the message is the reason."""


def list_images(root: str | os.PathLike) -> list[str]:
    """Relative paths (POSIX separators) of image files below root, sorted,
    so that every run sees the same order."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(found)


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
    """OpenCV's gray [H, W, 1] or BGR [H, W, 3] -> RGB [H, W, 3]."""
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[..., ::-1])


def decode_image(data: bytes, keep_depth: bool = False) -> np.ndarray:
    """Encoded bytes -> sRGB float32 [H, W, 3] in [0, 1]; with keep_depth,
    a file without alpha comes back as its uint8 or uint16 samples instead
    (eval keeps photos so: a 48 MP photo is 144 MB in uint8, 576 MB in
    float32).

    JPEG is decoded with IMREAD_COLOR so that OpenCV applies the EXIF
    orientation (cameras write it into JPEGs). Other formats are decoded
    unchanged so that 16-bit depth and alpha survive; alpha is composited
    onto white.
    """
    if not data:
        raise UnreadableImage("empty file")
    buf = np.frombuffer(data, dtype=np.uint8)
    if data[:2] == _JPEG_MAGIC:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    else:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise UnreadableImage("not a decodable image (corrupt, truncated or unsupported)")
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


def read_image(path: str | os.PathLike, keep_depth: bool = False) -> np.ndarray:
    """A file -> sRGB [H, W, 3] (see decode_image); UnreadableImage on failure."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UnreadableImage(f"cannot read file: {e.strerror or e}") from e
    return decode_image(data, keep_depth)


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
    rgb = to_uint8(rgb)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix or ".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise OSError(f"OpenCV cannot encode {path.suffix!r} images: {path}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encoded.tobytes())
    os.replace(tmp, path)


def center_crop_square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


def resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area interpolation to shrink (no aliasing), bilinear to enlarge."""
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img
    interp = cv2.INTER_AREA if height * width < h * w else cv2.INTER_LINEAR
    out = cv2.resize(img, (width, height), interpolation=interp)
    return out if out.ndim == img.ndim else out[..., None]
