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
    return metrics.mean_chroma(imageio.to_uint8(photo)) < GRAY_CHROMA


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
    opaque in the stroke's colour where drawn, transparent elsewhere; later
    strokes over earlier ones. Round brushes without anti-aliasing, so that
    every marked pixel has exactly the chosen colour."""
    hints = np.zeros((height, width, 4), np.uint8)
    for stroke in strokes:
        colour = (*stroke.rgb, 255)
        # OpenCV draws a line of thickness t as a round-capped band t px
        # wide: a disc brush of this radius swept along the points.
        thickness = max(1, round(2 * stroke.radius))
        points = [(round(x), round(y)) for x, y in stroke.points]
        if len(points) == 1:
            cv2.circle(hints, points[0], max(0, round(stroke.radius)), colour, -1, cv2.LINE_8)
        for a, b in zip(points, points[1:]):
            cv2.line(hints, a, b, colour, thickness, cv2.LINE_8)
    return hints


def palette(result: np.ndarray, count: int = PALETTE_SIZE) -> list[str]:
    """The main colours of a result, most common first, as #rrggbb: k-means
    (k-means++ seeding, a fixed seed: the same result gives the same
    palette) over the result shrunk to PALETTE_PIXELS px a side."""
    small = imageio.resize(imageio.to_uint8(result), PALETTE_PIXELS, PALETTE_PIXELS)
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


def scribbles_unavailable() -> str | None:
    """Why the page cannot apply scribbles, or None when it can."""
    return "scribbles need the Levin module (colorize.levin), not in this install yet"


def scribbles(photo: np.ndarray, hints: np.ndarray, model, progress: Progress) -> np.ndarray:
    raise BadInput(scribbles_unavailable())


def reference_unavailable() -> str | None:
    """Why the page cannot use reference photos, or None when it can."""
    return "reference photos need the Charpiat module (colorize.reference), not in this " \
           "install yet"


def reference(photo: np.ndarray, references: list, model, progress: Progress) -> np.ndarray:
    raise BadInput(reference_unavailable())
