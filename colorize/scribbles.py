"""Colour from scribbles, at any photo size: Levin et al.'s propagation
alone, or scribbles that correct a model's colours.

The sparse solve (colorize.levin) runs at a bounded resolution, at most
WORK_PIXELS pixels with the photo's aspect, and its chroma is merged onto
the photo's own full-resolution L exactly as eval merges the network's
(colorize.fullres.merge): chroma is smooth, and a full-resolution solve
measured far too slow (bench/bench_scribbles.py: at 1 MP, scipy's direct
solve took 53 to 119 s and pyamg's AIR multigrid 18 to 116 s on the shared
2 cores). The price: Levin's result depends on the resolution it is solved
at (6.6 Lab units from the 1 MP solve's, on average: RESULTS.md). The scribbled
pixels themselves then get their scribbled chroma exactly, at full
resolution.

Scribbles that correct a model: the model's ab everywhere, plus a
correction delta that equals (scribble ab - model ab) at the marked pixels
and spreads by Levin's affinities with a weak pull towards 0 at unmarked
ones ((1 + shift) on the diagonal of their rows: correction_shift), so that it
fades with distance instead of recolouring the whole photo, and stops at
strong edges as Levin's colours do.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf

from colorize import color, imageio, inference, levin, quiet
from colorize.marks import Marks

# The solve's resolution: 256 x 256 for a square photo (the resolution of
# the quality sweep in RESULTS.md, so it measures what eval does), a
# direct solve of about 0.3 s a channel pair on one core.
WORK_PIXELS = 1 << 16
# The correction's pull towards 0 at unmarked pixels (see the module's
# docstring): SHIFT_ONE / k ** SHIFT_POWER for k separate scribbles. A
# correction spread from few scribbles is a noisy estimate of the model's
# error far away, so it must fade; from many, the propagated correction
# is an interpolation between them and needs no pull. 2e-4 / k: on
# validation photos (RESULTS.md) at least as good as the model alone at
# every number of simulated hints, and one stroke stays local (on
# scikit-image's cat, one red stroke changed pixels more than a quarter of
# the photo away by 0.5 levels on average). 2e-5 / k scored 0.5-0.8 dB
# higher with simulated hints (whose colours are true everywhere, so
# spreading them far pays), but the same stroke then changed those far
# pixels by 9.5 levels on average, up to 36: a user's stroke on a shirt
# must not tint the wall across the room.
SHIFT_ONE = 2e-4
SHIFT_POWER = 1.0


def work_size(height: int, width: int, max_pixels: int = WORK_PIXELS) -> tuple[int, int]:
    """The photo's size scaled down (never up) to at most max_pixels."""
    scale = min(1.0, math.sqrt(max_pixels / (height * width)))
    return max(1, int(height * scale)), max(1, int(width * scale))


def work_lightness(photo: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """L / 100 of the photo shrunk to size (area-averaged sRGB, then L):
    Levin's intensities in [0, 1]."""
    small = imageio.to_unit_float(imageio.resize(photo, *size))
    return color.rgb_to_lab_np(small)[..., 0].astype(np.float64) / color.L_MAX


def work_marks(marks: Marks, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Marks at the solve's resolution: a cell is marked when any of its
    full-resolution pixels is, with their mean chroma (a thin stroke must
    not vanish when the photo is shrunk). -> mask [h, w], ab [h, w, 2]."""
    h, w = size
    rows, cols = np.divmod(marks.index, marks.width)
    cell = (rows * h // marks.height) * w + cols * w // marks.width
    count = np.bincount(cell, minlength=h * w)
    ab = np.stack([np.bincount(cell, marks.ab[:, c], minlength=h * w)
                   for c in range(2)], -1).astype(np.float64)  # (int when there is no mark)
    mask = count > 0
    ab[mask] /= count[mask, None]
    return mask.reshape(h, w), ab.reshape(h, w, 2)


def correction_shift(mask: np.ndarray, one: float = SHIFT_ONE,
                     power: float = SHIFT_POWER) -> float:
    """The correction's shift for marks mask [h, w]: one / k ** power, k
    its 8-connected scribbles."""
    k = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1
    return one / max(k, 1) ** power


def solve_ab(y: np.ndarray, mask: np.ndarray, ab_marks: np.ndarray, base: np.ndarray | None,
             shift: float | None = None, least_squares: bool = False) -> np.ndarray:
    """ab [h, w, 2] at the solve's resolution: Levin's propagation of the
    marks (base None), or base corrected by the marks (see the module's
    docstring) with this shift (None: correction_shift's)."""
    if base is None:
        return levin.propagate(y, mask, ab_marks, least_squares=least_squares)
    shift = correction_shift(mask) if shift is None else shift
    delta = levin.propagate(y, mask, ab_marks - base, shift=shift, least_squares=least_squares)
    return base + delta


def merge(photo: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """The photo's full-resolution L with ab [h, w, 2] upsampled ->
    uint8 RGB. fullres.merge takes a square ab: ab is stretched to the
    square of its longer side first (bilinear, so no chroma is lost)."""
    side = max(ab.shape[:2])
    square = cv2.resize(ab.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    with quiet.without_xla_startup_lines():
        rgb = inference.merge(inference.as_image_tensor(photo),
                              tf.constant(color.normalize_ab(square)))
    return np.array(rgb)  # a writable copy: paint_marks writes into it


def paint_marks(rgb: np.ndarray, photo: np.ndarray, marks: Marks) -> None:
    """The marked pixels of rgb (uint8 [H, W, 3], in place) get the photo's
    L with their scribbled ab exactly."""
    if not marks.count:
        return
    flat = rgb.reshape(-1, 3)
    l = color.rgb_to_lab_np(imageio.to_unit_float(photo.reshape(-1, 3)[marks.index])[:, None])
    lab = np.concatenate([l[..., :1], marks.ab[:, None]], axis=-1)
    flat[marks.index] = imageio.to_uint8(color.lab_to_rgb_np(lab)[:, 0])


def model_ab(ab_small: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A network's ab [S, S, 2] (network range) -> Lab ab at size, as eval
    would merge it (clipped to [-1, 1], bilinear)."""
    ab = color.AB_SCALE * np.clip(np.asarray(ab_small, np.float32), -1.0, 1.0)
    return cv2.resize(ab, size[::-1], interpolation=cv2.INTER_LINEAR).astype(np.float64)


def colorize(photo: np.ndarray, marks: Marks, ab_small: np.ndarray | None = None,
             shift: float | None = None, work_pixels: int = WORK_PIXELS) -> np.ndarray:
    """A photo (uint8, uint16 or float RGB) and its marks -> uint8 RGB:
    Levin's method alone (ab_small None) or the network's ab [S, S, 2]
    corrected by the marks, solved at up to work_pixels."""
    size = work_size(*photo.shape[:2], work_pixels)
    y = work_lightness(photo, size)
    mask, ab_marks = work_marks(marks, size)
    base = None if ab_small is None else model_ab(ab_small, size)
    rgb = merge(photo, solve_ab(y, mask, ab_marks, base, shift))
    paint_marks(rgb, photo, marks)
    return rgb


def network_ab(photos: list[np.ndarray], model: inference.Model,
               marks: list[Marks | None] | None = None) -> list[np.ndarray]:
    """The network's ab [S, S, 2] for each photo, one generator call (the
    same inputs as inference.colorize_batch); a guided model (trained with
    --hints) sees the marks as hints."""
    return list(np.asarray(inference.network_ab(photos, model,
                                                marks if model.guided else None)))


def colorize_batch(photos: list[np.ndarray], marks: list[Marks | None],
                   model: inference.Model, levin_only: bool = False,
                   refine: bool = True) -> list[np.ndarray]:
    """inference.colorize_batch with marks: photos without marks (None)
    get exactly its result; marked ones Levin's method alone (levin_only)
    or the model corrected by their marks. A guided model sees the marks
    as hints first; refine=False keeps its colours as they are (no
    correction)."""
    results = [None] * len(photos)
    plain = [i for i, m in enumerate(marks) if m is None]
    if plain:
        for i, rgb in zip(plain, inference.colorize_batch([photos[i] for i in plain], model)):
            results[i] = rgb
    marked = [i for i, m in enumerate(marks) if m is not None]
    if marked and model.guided and not refine and not levin_only:
        for i, rgb in zip(marked, inference.colorize_batch(
                [photos[i] for i in marked], model, [marks[i] for i in marked])):
            results[i] = rgb
    elif marked:
        abs_small = ([None] * len(marked) if levin_only
                     else network_ab([photos[i] for i in marked], model,
                                     [marks[i] for i in marked]))
        for i, ab_small in zip(marked, abs_small):
            results[i] = colorize(photos[i], marks[i], ab_small)
    return results
