"""Comparison sheets: one row per example, (gray | colorized | real)."""
from __future__ import annotations

import numpy as np
import skimage.util

from colorize import color


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """The L-only view of a colour image, as the network sees it: same
    lightness, zero chroma (computed in Lab, not as an RGB average)."""
    lab = color.rgb_to_lab_np(rgb)
    lab[..., 1:] = 0.0
    return color.lab_to_rgb_np(lab)


def comparison_sheet(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile equally sized float RGB images [H, W, 3] in [0, 1]: `rows` is a
    list of rows, each a list of panels (short rows padded with white), with
    white gaps between and around the panels (skimage.util.montage)."""
    if not rows or not rows[0]:
        raise ValueError("comparison_sheet needs at least one panel")
    h, w = rows[0][0].shape[:2]
    n_cols = max(len(r) for r in rows)
    blank = np.ones((h, w, 3), np.float32)
    panels = []
    for i, row in enumerate(rows):
        for j, panel in enumerate(row):
            if panel.shape[:2] != (h, w):
                raise ValueError(f"panel {i},{j} has shape {panel.shape[:2]}, expected {(h, w)}")
        panels.extend(list(row) + [blank] * (n_cols - len(row)))
    return skimage.util.montage(np.stack(panels).astype(np.float32), grid_shape=(len(rows), n_cols),
                                padding_width=gap, fill=(1.0, 1.0, 1.0), channel_axis=-1)


def network_grid(l, fake_ab, real_ab) -> np.ndarray:
    """A batch in the network's range -> (gray | colorized | real) rows,
    float RGB [0, 1]."""
    gray = color.network_to_rgb(l, np.zeros_like(real_ab)).numpy()
    fake = color.network_to_rgb(l, fake_ab).numpy()
    real = color.network_to_rgb(l, real_ab).numpy()
    return comparison_sheet([[g, f, r] for g, f, r in zip(gray, fake, real)])
