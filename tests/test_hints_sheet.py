"""experiments/hints_sheet.py: every method of a row gets the same hints,
and the first panel shows exactly those hints."""
import sys

import numpy as np

from tests.conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "experiments"))
import hints_sheet  # noqa: E402
import scribble_sweep  # noqa: E402
from colorize import color, metrics  # noqa: E402


def test_each_method_sees_the_rows_hints_and_the_legend_scores_it(monkeypatch):
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, :16] = (200, 40, 40)  # hints in either half take its own colour
    rgb[:, 16:] = (40, 60, 200)
    gray = np.repeat(np.rint(color.rgb_to_lab_np(rgb / 255.0)[..., :1] * 2.55), 3, -1)
    gray = gray.astype(np.uint8)
    seen = []

    def record(case):  # a method that returns the truth where hinted, gray elsewhere
        seen.append(case.marks)
        out = case.gray.copy()
        out.reshape(-1, 3)[case.marks.index] = case.rgb.reshape(-1, 3)[case.marks.index]
        return out

    monkeypatch.setitem(scribble_sweep.METHODS, "a", record)
    monkeypatch.setitem(scribble_sweep.METHODS, "b", record)
    monkeypatch.setattr(hints_sheet, "PANEL", 32)
    case = scribble_sweep.make_case(0, rgb, gray, gray, None, 3)
    assert 0 < case.marks.count <= 3 * 36  # three 6 x 6 squares (they may overlap)
    sheet, legend = hints_sheet.rows([("red", case)], ["a", "b"])

    assert len(sheet) == 1 and len(sheet[0]) == 4  # hints | a | b | original
    assert seen[0] is seen[1] is case.marks
    hinted = np.zeros(32 * 32, bool)
    hinted[case.marks.index] = True
    panel = np.rint(sheet[0][0] * 255).reshape(-1, 3)
    # Hinted pixels take the hint's colour (the square's mean: the truth's
    # colour, where a square does not straddle the halves), the others stay gray.
    column = np.arange(32 * 32) % 32
    clean = hinted & ((column < 10) | (column > 21))
    assert clean.any()
    assert np.abs(panel[clean] - rgb.reshape(-1, 3)[clean]).max() <= 2
    np.testing.assert_array_equal(panel[~hinted], gray.reshape(-1, 3)[~hinted])
    expected = metrics.psnr(record(case), rgb)
    assert legend == [f"red, N=3: a {expected:.2f} dB, b {expected:.2f} dB"]
