"""Comparison sheets: one row per example, (gray | colorized | real)."""
from __future__ import annotations

import numpy as np

from colorize import color


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """The L-only view of a colour image, as the network sees it: same
    lightness, zero chroma (computed in Lab, not as an RGB average)."""
    lab = color.rgb_to_lab_np(rgb)
    lab[..., 1:] = 0.0
    return color.lab_to_rgb_np(lab)


def comparison_sheet(rows: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Tile equally sized float RGB images [H, W, 3] in [0, 1]: `rows` is a
    list of rows, each a list of panels. White gaps between panels."""
    if not rows or not rows[0]:
        raise ValueError("comparison_sheet needs at least one panel")
    h, w = rows[0][0].shape[:2]
    n_cols = max(len(r) for r in rows)
    sheet = np.ones((len(rows) * (h + gap) - gap, n_cols * (w + gap) - gap, 3), np.float32)
    for i, row in enumerate(rows):
        for j, panel in enumerate(row):
            if panel.shape[:2] != (h, w):
                raise ValueError(f"panel {i},{j} has shape {panel.shape[:2]}, expected {(h, w)}")
            sheet[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = panel
    return sheet
