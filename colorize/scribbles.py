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
ones ((1 + shift) on the diagonal of their rows: Correction), so that it
fades with distance instead of recolouring the whole photo, and stops at
strong edges as Levin's colours do. With many scribbles the pull
weakens and the model's colours count less (Correction), so that the
result tends to Levin's propagation of the scribbles alone.
"""
from __future__ import annotations

import dataclasses
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
# The correction (Correction): its pull towards the model at unmarked
# pixels is SHIFT_ONE / k ** SHIFT_POWER for k separate scribbles, and
# past TRUST_K scribbles the model's colours are trusted less, by
# (TRUST_K / k) ** TRUST_POWER. A correction spread from one scribble is a
# poor estimate of the model's error far away, so it must fade (2e-4: on
# scikit-image's cat one red stroke changes pixels more than a quarter of
# the photo away by 1 level on average); many scribbles pin the colours
# down between them, and there Levin's propagation of the scribbles alone
# beats the model's own colours, so the result tends to it. Chosen on
# held-out training photos with Zhang et al.'s simulated user (RESULTS.md,
# "Scribbles that correct the model"): with k ** 3 and trust past 5
# scribbles the correction was at least as good as the model alone and as
# Levin alone at every N from 5 to 100; with k ** 1 or k ** 2 it lost to
# Levin at 5 hints. The price: two or three strokes already spread far
# (two strokes on the cat change far pixels by 11 levels on average,
# against 3 with k ** 1).
SHIFT_ONE = 2e-4
SHIFT_POWER = 3.0
TRUST_K = 5.0
TRUST_POWER = 1.0


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


@dataclasses.dataclass(frozen=True)
class Correction:
    """How the model's colours are corrected by k separate scribbles
    (8-connected, at the solve's resolution): the correction's pull
    towards the model is shift = one / k ** power on the unmarked rows'
    diagonal, and the model's ab enters scaled by trust = min(1,
    (trust_k / k) ** trust_power). With many scribbles (small shift, trust
    < 1) the result approaches Levin's propagation of the scribbles
    alone, which beats the model's own colours once scribbles are dense
    (RESULTS.md)."""
    one: float = SHIFT_ONE
    power: float = SHIFT_POWER
    trust_k: float = TRUST_K
    trust_power: float = TRUST_POWER

    @classmethod
    def parse(cls, text: str) -> "Correction":
        """"ONE[:POWER[:TRUST_K[:TRUST_POWER]]]" (the sweep's --shifts); a
        lone number is a fixed shift with full trust."""
        fields = [float(x) for x in text.split(":")]
        if len(fields) == 1:
            fields += [0.0]
        return cls(*fields) if len(fields) > 2 else cls(*fields, trust_k=math.inf)

    def for_marks(self, mask: np.ndarray) -> tuple[float, float]:
        """(shift, trust) for marks mask [h, w]."""
        k = max(cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1, 1)
        return self.one / k ** self.power, min(1.0, (self.trust_k / k) ** self.trust_power)


def solve_ab(y: np.ndarray, mask: np.ndarray, ab_marks: np.ndarray, base: np.ndarray | None,
             correction: Correction = Correction(), least_squares: bool = False) -> np.ndarray:
    """ab [h, w, 2] at the solve's resolution: Levin's propagation of the
    marks (base None), or base corrected by the marks (see the module's
    docstring and Correction)."""
    if base is None:
        return levin.propagate(y, mask, ab_marks, least_squares=least_squares)
    shift, trust = correction.for_marks(mask)
    base = trust * base
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
             correction: Correction = Correction(),
             work_pixels: int = WORK_PIXELS) -> np.ndarray:
    """A photo (uint8, uint16 or float RGB) and its marks -> uint8 RGB:
    Levin's method alone (ab_small None) or the network's ab [S, S, 2]
    corrected by the marks, solved at up to work_pixels."""
    size = work_size(*photo.shape[:2], work_pixels)
    y = work_lightness(photo, size)
    mask, ab_marks = work_marks(marks, size)
    base = None if ab_small is None else model_ab(ab_small, size)
    rgb = merge(photo, solve_ab(y, mask, ab_marks, base, correction))
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
                   refine: bool = True,
                   correction: Correction = Correction()) -> list[np.ndarray]:
    """inference.colorize_batch with marks: photos without marks (None)
    get exactly its result; marked ones Levin's method alone (levin_only)
    or the model corrected by their marks. A guided model sees the marks
    as hints first; refine=False keeps its colours as they are (no
    correction). The same correction serves both kinds of model: with a
    guided one, trusting the network whatever the number of scribbles
    scored up to 0.8 dB lower (RESULTS.md, "Guided generators")."""
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
            results[i] = colorize(photos[i], marks[i], ab_small, correction)
    return results
