"""What the page's buttons compute, with no web code: the automatic
colorization, scribbles (drawn strokes -> the hints image eval.py --marks
reads -> the corrected result), reference photos, and the palette of a
result's colours.

Each method is one small function over numpy arrays, so that the server
only moves bytes and the same calls can be tested and benchmarked alone.
Strokes are rasterised here, at the photo's full resolution, from the
points the page recorded in photo coordinates: the marks image is exact
whatever size the page showed the photo at, and the downloadable marks
file is the very array the result was computed from.
"""
from __future__ import annotations

import dataclasses
import math
import re
import tempfile
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from colorize import imageio, metrics

Progress = Callable[[str, float], None]  # (what is being done, fraction done)

# Bounds on what a page may send: far beyond what a hand draws, small
# enough that rasterising them costs nothing.
MAX_STROKES = 2000
MAX_POINTS = 200_000
MAX_RADIUS = 500.0
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

# Photos that scikit-image ships (so the page has samples with nothing
# downloaded): page name -> file in skimage/data. camera is gray.
SAMPLES = {"astronaut": "astronaut.png", "chelsea (cat)": "chelsea.png",
           "coffee": "coffee.png", "rocket": "rocket.jpg",
           "motorcycle": "motorcycle_left.png", "camera (gray)": "camera.png"}

# A photo whose mean chroma is below this is gray (eval's rule): the page
# then shows no colour original to compare with.
GRAY_CHROMA = 1.0
GRAY_CHECK_PIXELS = 128
PALETTE_SIZE = 8
PALETTE_PIXELS = 64  # the result is shrunk to this side before clustering


class BadInput(ValueError):
    """Input from the page that cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class Stroke:
    """One brush stroke in photo pixel coordinates."""
    rgb: tuple[int, int, int]
    radius: float
    points: tuple[tuple[float, float], ...]


def sample_photo(name: str) -> tuple[str, bytes]:
    """A built-in sample's (file name, bytes). Only names in SAMPLES: the
    page never names a path."""
    if name not in SAMPLES:
        raise BadInput(f"no sample called {name!r}; choose from {', '.join(SAMPLES)}")
    import skimage.data  # imported here: only the samples need it
    path = Path(skimage.data.__file__).parent / SAMPLES[name]
    return path.name, imageio.read_file(path)


def is_gray(photo: np.ndarray) -> bool:
    """eval's gray-photo rule, on a GRAY_CHECK_PIXELS copy: the caption
    only, and the full photo's Lab measured 0.28 s a megapixel."""
    small = imageio.to_uint8(photo)
    if max(small.shape[:2]) > GRAY_CHECK_PIXELS:
        small = imageio.resize(small, GRAY_CHECK_PIXELS, GRAY_CHECK_PIXELS)
    return metrics.mean_chroma(small) < GRAY_CHROMA


def parse_strokes(items, width: int, height: int) -> list[Stroke]:
    """The page's JSON strokes ([{color: "#rrggbb", radius, points: [[x,
    y], ...]}]) -> Strokes, or BadInput naming what is wrong."""
    if not isinstance(items, list):
        raise BadInput("strokes must be a list")
    if len(items) > MAX_STROKES:
        raise BadInput(f"{len(items)} strokes; at most {MAX_STROKES} at once")
    strokes, total = [], 0
    for i, item in enumerate(items):
        try:
            colour, radius, points = item["color"], float(item["radius"]), item["points"]
            points = tuple((float(x), float(y)) for x, y in points)
        except (KeyError, TypeError, ValueError):
            raise BadInput(f"stroke {i} is not {{color, radius, points: [[x, y], ...]}}") from None
        if not isinstance(colour, str) or not _HEX_COLOUR.match(colour):
            raise BadInput(f"stroke {i}: colour {colour!r} is not #rrggbb")
        if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS):
            raise BadInput(f"stroke {i}: radius {radius} is not in (0, {MAX_RADIUS:g}]")
        if not points or not all(map(math.isfinite, np.ravel(points))):
            raise BadInput(f"stroke {i} has no points, or points that are not numbers")
        if not all(-MAX_RADIUS <= x <= width + MAX_RADIUS and
                   -MAX_RADIUS <= y <= height + MAX_RADIUS for x, y in points):
            raise BadInput(f"stroke {i} goes far outside the {width}x{height} photo "
                           "(drawn on another photo?)")
        total += len(points)
        if total > MAX_POINTS:
            raise BadInput(f"more than {MAX_POINTS} points in all")
        rgb = tuple(int(colour[k:k + 2], 16) for k in (1, 3, 5))
        strokes.append(Stroke(rgb, radius, points))
    if strokes and not any(_touches(s, width, height) for s in strokes):
        raise BadInput("no stroke touches the photo (drawn on another, larger photo?)")
    return strokes


def _touches(stroke: Stroke, width: int, height: int) -> bool:
    r = stroke.radius
    return any(-r <= x < width + r and -r <= y < height + r for x, y in stroke.points)


def rasterize(strokes: list[Stroke], height: int, width: int) -> np.ndarray:
    """Strokes -> the hints image, uint8 RGBA [H, W, 4] at the photo's size:
    opaque in the stroke's colour within the brush radius of the stroke's
    path (a round brush swept along it, the page's preview), transparent
    elsewhere; later strokes over earlier ones. No anti-aliasing, so that
    every marked pixel has exactly the chosen colour.

    The path is drawn 1 px wide (OpenCV's 8-connected lines) through the
    pixels under the points (photo coordinates: pixel (i, j) covers
    [i, i + 1) x [j, j + 1), as the page measures), and a pixel is marked
    when its centre is within the radius of a path pixel's centre (OpenCV's
    exact Euclidean distance transform): within about half a pixel of the
    preview's geometry, and at a cost that grows with the stroke's area
    only, whatever the number of points."""
    hints = np.zeros((height, width, 4), np.uint8)
    for stroke in strokes:
        for run in _runs(stroke):
            mask, (top, left) = _near(run, stroke.radius, height, width)
            if mask is not None:
                region = hints[top:top + mask.shape[0], left:left + mask.shape[1]]
                region[mask] = (*stroke.rgb, 255)
    return hints


def _runs(stroke: Stroke) -> list[np.ndarray]:
    """The stroke's path as pixel points [n, 2] (x, y ints), in runs that
    span at most about two brush radii (long segments split), so that each
    run's distance transform covers a small box, not the box of the whole
    stroke (a stroke across a 12 MP photo took 0.6 s in one box). The runs
    share their end points: together they are the whole path."""
    points = np.floor(np.asarray(stroke.points, np.float64))
    span = max(2 * stroke.radius, 16.0)
    dense = [points[0]]
    for a, b in zip(points[:-1], points[1:]):
        pieces = max(1, math.ceil(float(np.abs(b - a).max()) / span))
        dense.extend(np.floor(a + (b - a) * np.linspace(0.0, 1.0, pieces + 1)[1:, None] + 0.5))
    dense = np.asarray(dense, np.int64)
    runs, start = [], 0
    low = high = dense[0]
    for i in range(1, len(dense)):
        low, high = np.minimum(low, dense[i]), np.maximum(high, dense[i])
        if (high - low).max() >= span:
            runs.append(dense[start:i + 1])
            start, low, high = i, dense[i], dense[i]
    if start < len(dense) - 1 or not runs:
        runs.append(dense[start:])
    return runs


def _near(points: np.ndarray, radius: float, height: int, width: int):
    """(bool mask of the photo's pixels within radius of the path through
    pixel points [n, 2], its (top, left) in the photo), over the path's
    bounding box; (None, _) when none is in the photo."""
    pad = math.ceil(radius) + 1
    # Path pixels further than pad outside the photo reach none of its pixels.
    x0, y0 = max(points[:, 0].min() - pad, -pad), max(points[:, 1].min() - pad, -pad)
    x1 = min(points[:, 0].max() + pad + 1, width + pad)
    y1 = min(points[:, 1].max() + pad + 1, height + pad)
    if x0 >= x1 or y0 >= y1:
        return None, (0, 0)
    canvas = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    local = points - (x0, y0)
    # polylines draws nothing for a single point: each point is set too.
    near = (local >= 0).all(1) & (local[:, 0] < x1 - x0) & (local[:, 1] < y1 - y0)
    canvas[local[near, 1], local[near, 0]] = 0
    cv2.polylines(canvas, [local.astype(np.int32)[:, None]], False, 0, 1, cv2.LINE_8)
    distance = cv2.distanceTransform(canvas, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    top, left = max(y0, 0), max(x0, 0)
    inside = distance[top - y0:min(y1, height) - y0, left - x0:min(x1, width) - x0]
    if not inside.size:
        return None, (0, 0)
    return inside <= radius, (top, left)


def palette(result: np.ndarray, count: int = PALETTE_SIZE) -> list[str]:
    """The main colours of a result, most common first, as #rrggbb: k-means
    (k-means++ seeding, a fixed seed: the same result gives the same
    palette) over the result's pixels, sampled on a PALETTE_PIXELS grid."""
    small = imageio.to_uint8(result)
    if max(small.shape[:2]) > PALETTE_PIXELS:  # nearest: colours the result has, no blends
        small = cv2.resize(small, (PALETTE_PIXELS, PALETTE_PIXELS),
                           interpolation=cv2.INTER_NEAREST)
    pixels = small.reshape(-1, 3).astype(np.float32)
    count = min(count, len(np.unique(pixels, axis=0)))
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(pixels, count, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    order = np.argsort(-np.bincount(labels.ravel(), minlength=count), kind="stable")
    colours = np.clip(np.rint(centres[order]), 0, 255).astype(int)
    return ["#%02x%02x%02x" % tuple(c) for c in colours]


def automatic(photo: np.ndarray, model, progress: Progress) -> np.ndarray:
    """The model's colorization of a photo (uint8 or uint16 [H, W, 3]) ->
    uint8 RGB [H, W, 3], as eval.py computes it."""
    from colorize import inference  # TF: imported when a model runs
    progress("colorizing", 0.1)
    return np.asarray(inference.colorize_batch([photo], model)[0])


def scribbles(photo: np.ndarray, hints: np.ndarray, model, progress: Progress) -> np.ndarray:
    """The model corrected by the hints image (uint8 RGBA of the photo's
    size): eval.py --marks with that image as the marks file, same
    result."""
    from colorize import marks as marks_lib, scribbles as levin_scribbles
    marks = marks_lib.from_hints(imageio.to_unit_float(hints))
    if not marks.count:
        raise BadInput("no stroke touches the photo")
    progress(f"spreading {marks.count} scribbled pixels", 0.2)
    return np.asarray(levin_scribbles.colorize_batch([photo], [marks], model)[0])


def read_references(files: list[tuple[str, bytes]], max_pixels: int) -> tuple[list, list]:
    """Uploaded reference photos [(name, bytes)] -> (photos, names), read
    by the very code eval.py --reference reads files with
    (colorize.reference.read_references: reduced JPEG decoding, gray
    photos refused, photos kept at learning size), from a temporary
    folder of the server's that is deleted at once. BadInput naming the
    files that cannot be used."""
    from colorize import reference as charpiat
    with tempfile.TemporaryDirectory(prefix="colorize-app-") as folder:
        stored = {}
        for i, (name, data) in enumerate(files):
            # The extension only makes the folder walk pick the file up;
            # decoding goes by the bytes.
            suffix = Path(name).suffix.lower() if imageio.is_image_name(name) else ".png"
            stored[f"{i:03d}{suffix}"] = name
            (Path(folder) / f"{i:03d}{suffix}").write_bytes(data)

        def named(text: str) -> str:
            for file, name in stored.items():
                text = text.replace(file, name)
            return text.replace(folder, "the upload")

        try:
            photos, kept, skipped = charpiat.read_references(folder, max_pixels)
        except charpiat.ReferenceError as e:
            raise BadInput(named(str(e))) from None
    if skipped:
        raise BadInput("cannot use " + "; ".join(f"{stored.get(s['path'], s['path'])}: "
                                                  f"{named(s['reason'])}" for s in skipped))
    return photos, [stored[k] for k in kept]


def reference(photo: np.ndarray, references: list, names: list, model,
              progress: Progress) -> np.ndarray:
    """Charpiat et al.'s colorization learnt from the reference photos,
    with the automatic model as the prior where its classifier is unsure
    if eval.py --reference has it by default: that command's result."""
    from colorize import evaluate, inference, reference as charpiat
    progress(f"learning colours from {len(references)} reference photo(s)", 0.1)
    try:
        learnt = charpiat.learn(references, names=names)
    except charpiat.ReferenceError as e:
        raise BadInput(str(e)) from None
    progress("colorizing from the references", 0.6)
    prior = model if evaluate.EvalConfig.reference_prior else None
    return np.asarray(inference.colorize_batch([photo], charpiat.as_model(learnt, prior))[0])
