"""experiments/figure3_sheet.py: another method joins Figure 3 by one flag
(an eval.py output folder), and a folder that is not one is refused."""
import argparse
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, write_rgb

sys.path.insert(0, str(REPO_ROOT / "experiments"))
import figure3_sheet  # noqa: E402
from colorize import imageio  # noqa: E402

PANEL, GAP = figure3_sheet.sample_sheets.PANEL, 2


def flat(rgb, h=40, w=60):
    return np.broadcast_to(np.asarray(rgb, np.uint8), (h, w, 3)).copy()


@pytest.fixture
def folders(tmp_path):
    """An input folder of two photos and two eval-style output folders
    (same relative names), one all red and one all blue."""
    rels = ["skimage/a.png", "scenes/sea/b.jpg"]
    for rel in rels:
        write_rgb(tmp_path / "input" / rel, flat((120, 120, 120)))
        write_rgb(tmp_path / "red" / rel, flat((255, 0, 0)))
        write_rgb(tmp_path / "blue" / rel, flat((0, 0, 255)))
    return tmp_path, rels


def panel_at(sheet, row, col):
    y, x = GAP + row * (PANEL + GAP), GAP + col * (PANEL + GAP)
    return sheet[y:y + PANEL, x:x + PANEL]


def test_extra_columns_are_drawn_in_order_before_the_original(folders):
    root, rels = folders
    out = root / "sheet.png"
    figure3_sheet.draw(root / "input", rels, [("red", root / "red"), ("Levin", root / "blue")],
                       out)
    sheet = imageio.read_image(out)
    assert sheet.shape[:2] == (2 * PANEL + 3 * GAP, 3 * PANEL + 4 * GAP)
    for row in range(2):
        np.testing.assert_allclose(panel_at(sheet, row, 0).mean((0, 1)), (1, 0, 0), atol=0.02)
        np.testing.assert_allclose(panel_at(sheet, row, 1).mean((0, 1)), (0, 0, 1), atol=0.02)
        np.testing.assert_allclose(panel_at(sheet, row, 2).mean((0, 1)), [120 / 255] * 3,
                                   atol=0.03)


def test_a_folder_without_the_rows_photos_is_refused(folders):
    root, rels = folders
    (root / "blue" / rels[1]).unlink()
    with pytest.raises(SystemExit, match="'Levin'.*b.jpg is missing"):
        figure3_sheet.draw(root / "input", rels, [("Levin", root / "blue")], root / "s.png")


def test_column_flag_wants_a_label_and_a_folder(tmp_path):
    assert figure3_sheet.parse_column(f"Levin, scribbles={tmp_path}") == (
        "Levin, scribbles", tmp_path)
    for bad in ("no_equals_sign", "=dir", "label="):
        with pytest.raises(argparse.ArgumentTypeError):
            figure3_sheet.parse_column(bad)
