"""Scribbles ("marks") for a photo: reading them from files, pairing a
folder of them with a folder of photos, and the simulated user of Zhang et
al. 2017 that the quality sweep uses.

Two kinds of marks file, of the photo's size, same stem, in a folder that
mirrors the photos' folder:
- a marked copy (Levin et al.'s format): the photo with colour painted on
  it. A pixel is marked where it differs from the photo by more than
  TOLERANCE summed over R, G and B in [0, 1] (the authors' rule); white or
  gray paint marks "neutral here" (its chroma is 0). A JPEG copy uses
  JPEG_TOLERANCE instead, so that compression noise is not taken for paint.
- a hints image: a PNG (or TIFF) with alpha, transparent where there is no
  hint, the hint's colour where alpha is at least half.

Only a mark's chroma (Lab a, b) is used: the lightness is the photo's.
"""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from colorize import color, folders, imageio

TOLERANCE = 0.01  # sum over RGB of |marked - photo| in [0, 1] (getColorExact's rule)
# JPEG marked copies: 0.2 summed over RGB (about 17 levels of 255 per
# channel), then a 3x3 erosion, which drops the ring of blended colour that
# 4:2:0 chroma subsampling leaves around a stroke. Measured on 10 gray
# photos with 6 strokes each, 5 px wide (89,940 painted pixels), saved at
# JPEG quality 75 / 85 / 95: no pixel marked farther than 8 px from a
# stroke (0.06 gave 521 / 10 / 0), 252 / 13 / 0 unpainted pixels next to a
# stroke marked (0.12: 3447 / 2272 / 832), 8 % of the painted pixels not
# marked (the erosion's edge, and gray paint as bright as the photo).
JPEG_TOLERANCE = 0.2
MARKS_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")  # preferred first
ALPHA_HINT = 0.5  # a hints image's pixel is a hint where alpha >= this
STRIP_ROWS_PIXELS = 1 << 20  # pixels compared per strip (no full-size float copy)


class MarksError(Exception):
    """A marks file that cannot be used; the message is the reason."""


@dataclasses.dataclass
class Marks:
    """Marked pixels of a height x width photo: flat indices and their
    chroma (Lab a, b)."""
    height: int
    width: int
    index: np.ndarray  # [n] int64, flat (row * width + column)
    ab: np.ndarray  # [n, 2] float32

    @property
    def count(self) -> int:
        return int(self.index.size)


def _is_jpeg(data: bytes) -> bool:
    return data[:2] == b"\xff\xd8"


def _may_have_alpha(data: bytes) -> bool:
    """Whether the header announces transparency (Pillow reads headers
    without decoding): other files are decoded once, as marked copies."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    except Exception:  # noqa: BLE001 - a format Pillow does not know: let OpenCV tell
        return True


def _decode_with_alpha(data: bytes) -> np.ndarray | None:
    """RGBA float [H, W, 4] when the file has an alpha channel that is not
    opaque everywhere (a hints image), else None."""
    if _is_jpeg(data) or not _may_have_alpha(data):
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 3 or img.shape[2] not in (2, 4):
        return None
    alpha = img[..., -1]
    opaque = np.iinfo(alpha.dtype).max if alpha.dtype.kind == "u" else 1.0
    if alpha.min() >= opaque:  # an RGBA marked copy: read as one
        return None
    rgb = img[..., :1].repeat(3, axis=2) if img.shape[2] == 2 else img[..., 2::-1]
    return np.concatenate([imageio.to_unit_float(rgb), imageio.to_unit_float(alpha)[..., None]],
                          axis=-1)


def _check_size(marks_shape, photo_shape) -> None:
    if tuple(marks_shape[:2]) != tuple(photo_shape[:2]):
        raise MarksError(f"the marks are {marks_shape[1]}x{marks_shape[0]} px, the photo "
                         f"{photo_shape[1]}x{photo_shape[0]}: marks must be of the photo's size")


def _ab_of(rgb: np.ndarray) -> np.ndarray:
    """sRGB float [n, 3] -> Lab ab [n, 2] float32."""
    if not len(rgb):
        return np.zeros((0, 2), np.float32)
    return color.rgb_to_lab_np(rgb.reshape(-1, 1, 3))[:, 0, 1:].astype(np.float32)


def _strips(height: int, width: int):
    rows = max(1, STRIP_ROWS_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        yield slice(top, min(height, top + rows))


def from_hints(rgba: np.ndarray) -> Marks:
    """A hints image (RGBA float in [0, 1]) -> Marks where alpha >= ALPHA_HINT."""
    h, w = rgba.shape[:2]
    index = np.flatnonzero(rgba[..., 3] >= ALPHA_HINT)
    rgb = rgba[..., :3].reshape(-1, 3)[index]
    return Marks(h, w, index.astype(np.int64), _ab_of(rgb))


def from_marked_copy(marked: np.ndarray, photo: np.ndarray,
                     tolerance: float = TOLERANCE, erode: bool = False) -> Marks:
    """A marked copy and its photo (uint8, uint16 or float RGB, same size)
    -> Marks where sum_RGB |marked - photo| > tolerance (in [0, 1]),
    compared a strip of rows at a time. erode: keep only pixels whose 3x3
    neighbourhood is marked too (for JPEG)."""
    _check_size(marked.shape, photo.shape)
    h, w = photo.shape[:2]
    mask = np.empty((h, w), bool)
    for rows in _strips(h, w):
        diff = np.abs(imageio.to_unit_float(marked[rows]) - imageio.to_unit_float(photo[rows]))
        mask[rows] = diff.sum(axis=-1) > tolerance
    if erode:
        mask = cv2.erode(mask.view(np.uint8), np.ones((3, 3), np.uint8),
                         borderType=cv2.BORDER_REPLICATE).view(bool)
    index = np.flatnonzero(mask).astype(np.int64)
    rgb = imageio.to_unit_float(marked.reshape(-1, 3)[index])
    return Marks(h, w, index, _ab_of(rgb))


def read_marks(path: str | Path, photo: np.ndarray, max_pixels: int | None = None) -> Marks:
    """The marks in a file, for this photo; MarksError with the reason when
    the file cannot be read or is not of the photo's size."""
    try:
        data = imageio.read_file(path)
        size = imageio.header_size(data)
        if size is not None and not _is_jpeg(data):  # (a JPEG may be rotated by its EXIF)
            _check_size(size[::-1], photo.shape)  # before decoding a file of another size
        hints = _decode_with_alpha(data)
        if hints is not None:
            _check_size(hints.shape, photo.shape)
            return from_hints(hints)
        marked = imageio.decode_image(data, keep_depth=True, max_pixels=max_pixels)
    except imageio.UnreadableImage as e:
        raise MarksError(f"unreadable marks file: {e}") from e
    jpeg = _is_jpeg(data)
    return from_marked_copy(marked, photo, JPEG_TOLERANCE if jpeg else TOLERANCE, erode=jpeg)


class MarksFolder:
    """A folder of marks files paired with a folder's photos by relative
    path and stem (photo a/b.jpg <- marks a/b.png, .bmp, .tif, .jpg ...)."""

    def __init__(self, root: str | Path, photos: list[str]):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"--marks is not a folder: {self.root}")
        found = folders.scan(self.root)
        by_stem: dict[str, list[str]] = {}
        for rel in found.images:
            if Path(rel).suffix.lower() in MARKS_EXTENSIONS:
                by_stem.setdefault(str(Path(rel).with_suffix("")), []).append(rel)
        self.notices: list[dict] = [{"path": f"marks/{s['path']}", "reason": s["reason"]}
                                    for s in found.skipped]
        self.files: dict[str, str] = {}  # photo relpath -> marks relpath
        photo_stems = {}
        for photo in photos:
            photo_stems.setdefault(str(Path(photo).with_suffix("")), []).append(photo)
        for stem, names in sorted(by_stem.items()):
            names.sort(key=lambda n: MARKS_EXTENSIONS.index(Path(n).suffix.lower()))
            if stem not in photo_stems:
                for name in names:
                    self.notices.append({"path": f"marks/{folders.display_name(name)}",
                                         "reason": "no photo of that name: not used"})
                continue
            if len(names) > 1:
                self.notices.append({"path": f"marks/{folders.display_name(names[0])}",
                                     "reason": f"used; also found {', '.join(names[1:])}"})
            for photo in photo_stems[stem]:
                self.files[photo] = names[0]
        self.photos_with_marks = 0
        self.marked_pixels = 0

    def read(self, relpath: str, photo: np.ndarray, max_pixels: int | None = None,
             gray_without: bool = False) -> Marks | None:
        """The photo's marks, None when it has no marks file or no marked
        pixel in it (a notice: it gets the automatic result). gray_without:
        a photo without a marks file gets a notice too (Levin's method
        alone leaves it gray)."""
        name = self.files.get(relpath)
        if name is None:
            if gray_without:
                self.notices.append({"path": folders.display_name(relpath),
                                     "reason": "no marks file: left gray"})
            return None
        marks = read_marks(self.root / name, photo, max_pixels)
        if not marks.count:
            self.notices.append({"path": f"marks/{folders.display_name(name)}",
                                 "reason": "no marked pixel (nothing differs from the photo): "
                                           "the automatic result"})
            return None
        self.photos_with_marks += 1
        self.marked_pixels += marks.count
        return marks

    def summary(self) -> dict:
        return {"folder": str(self.root), "photos_with_marks": self.photos_with_marks,
                "marked_pixels": self.marked_pixels, "notices": self.notices}


# --- the simulated user (Zhang et al. 2017, "Real-time user-guided image
# colorization with learned deep priors", section 4) ------------------------

HINT_PATCH = 6


def simulated_marks(lab: np.ndarray, count: int, rng: np.random.Generator,
                    patch: int = HINT_PATCH) -> Marks:
    """count hints on a photo of Lab [H, W, 3]: each a patch x patch square
    whose top-left corner is drawn from a Gaussian centred on the photo
    (standard deviation a quarter of the free range, clipped inside),
    painted with the square's mean true ab (as Zhang et al.'s evaluation
    code does). Later hints overwrite earlier ones where they overlap."""
    h, w = lab.shape[:2]
    ab = np.zeros((h, w, 2), np.float32)
    mask = np.zeros((h, w), bool)
    for _ in range(count):
        top, left = (int(np.clip(rng.normal((n - patch + 1) / 2, (n - patch + 1) / 4),
                                 0, n - patch)) for n in (h, w))
        square = (slice(top, top + patch), slice(left, left + patch))
        ab[square] = lab[square][..., 1:].reshape(-1, 2).mean(axis=0)
        mask[square] = True
    index = np.flatnonzero(mask).astype(np.int64)
    return Marks(h, w, index, ab.reshape(-1, 2)[index])
