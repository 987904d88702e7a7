"""Metrics against hand-worked values and independent implementations."""
import math

import cv2
import numpy as np
import pytest
import scipy.signal
import skimage.data
import skimage.metrics

from colorize import color, metrics


def _random_rgb(h, w, seed=0, low=0, high=256):
    return np.random.default_rng(seed).integers(low, high, (h, w, 3), dtype=np.uint8)


def _shift(img_u8, delta):
    out = img_u8.astype(np.int32) + delta
    assert out.min() >= 0 and out.max() <= 255  # no clipping: the error stays exact
    return out.astype(np.uint8)


@pytest.fixture(scope="module")
def astronaut_pair():
    """A small natural image (56x64, non-square) and a noisy copy."""
    img = cv2.resize(skimage.data.astronaut(), (64, 56), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(1).normal(0, 12, img.shape)
    noisy = np.clip(np.rint(img + noise), 0, 255).astype(np.uint8)
    return img, noisy


# --- PSNR -------------------------------------------------------------------

@pytest.mark.parametrize("delta", [5, -5])
def test_psnr_uniform_error(delta):
    true = _random_rgb(7, 9, low=10, high=240)
    pred = _shift(true, delta)  # every pixel and channel off by 5: MSE = 25
    # delta = -5 would give 251 per value if the difference wrapped in uint8.
    assert metrics.psnr(pred, true) == pytest.approx(20 * math.log10(255 / 5), abs=1e-9)


def test_psnr_error_in_one_channel_only():
    true = _random_rgb(4, 6, low=20, high=200)
    pred = true.copy()
    pred[..., 1] += 10  # MSE = 100 / 3 over all pixels and channels
    assert metrics.psnr(pred, true) == pytest.approx(10 * math.log10(255**2 / (100 / 3)), abs=1e-9)


def test_psnr_identical_is_inf():
    img = _random_rgb(5, 5)
    assert metrics.psnr(img, img.copy()) == float("inf")


# --- SSIM -------------------------------------------------------------------

def _ssim_direct(x_u8, y_u8, win):
    """Wang et al.'s eqs. 14-16 evaluated window by window (weighted means,
    variances and covariance of the centred values), mean over every window
    lying inside the image, then over channels. Independent of the filter
    route in metrics.py; slow, so for tiny images only."""
    g = scipy.signal.windows.gaussian(win, std=1.5)
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    h, wd = x_u8.shape[:2]
    per_channel = []
    for c in range(3):
        x, y = x_u8[..., c].astype(np.float64), y_u8[..., c].astype(np.float64)
        vals = []
        for i in range(h - win + 1):
            for j in range(wd - win + 1):
                px, py = x[i:i + win, j:j + win], y[i:i + win, j:j + win]
                mx, my = (w * px).sum(), (w * py).sum()
                vx = (w * (px - mx) ** 2).sum()
                vy = (w * (py - my) ** 2).sum()
                cxy = (w * (px - mx) * (py - my)).sum()
                vals.append((2 * mx * my + c1) * (2 * cxy + c2)
                            / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
        per_channel.append(np.mean(vals))
    return float(np.mean(per_channel))


def test_ssim_identical_is_one(astronaut_pair):
    img, _ = astronaut_pair
    assert metrics.ssim(img, img.copy()) == pytest.approx(1.0, abs=1e-12)


def test_ssim_matches_skimage(astronaut_pair):
    img, noisy = astronaut_pair
    expected = skimage.metrics.structural_similarity(
        noisy, img, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=255, channel_axis=-1)
    got = metrics.ssim(noisy, img)
    assert 0.3 < expected < 0.95  # the noisy copy is genuinely different
    assert got == pytest.approx(expected, abs=1e-6)


def test_ssim_symmetric_and_below_one_for_noise(astronaut_pair):
    img, noisy = astronaut_pair
    a, b = metrics.ssim(noisy, img), metrics.ssim(img, noisy)
    assert a == pytest.approx(b, abs=1e-12)
    assert a < 0.99


@pytest.mark.parametrize("shape", [(11, 11, 3), (13, 12, 3), (16, 11, 3)])
def test_ssim_matches_direct_window_formula(shape):
    x = _random_rgb(*shape[:2], seed=2)
    y = np.clip(x.astype(np.int32) + np.random.default_rng(3).integers(-40, 41, shape), 0, 255
                ).astype(np.uint8)
    assert metrics.ssim(x, y) == pytest.approx(_ssim_direct(x, y, 11), abs=1e-9)


def test_ssim_undefined_below_the_window_and_left_out_of_means():
    x = _random_rgb(10, 40, seed=2)
    assert math.isnan(metrics.ssim(x, x))
    rows = [{"psnr": 30.0, "ssim": float("nan")}, {"psnr": 40.0, "ssim": 0.5}]
    assert metrics.summarize(rows)["ssim"] == 0.5


# --- AuC of ab error ----------------------------------------------------------

def test_auc_perfect_is_100():
    ab = np.random.default_rng(0).uniform(-80, 80, (6, 7, 2))
    assert metrics.ab_error_auc(ab, ab.copy()) == pytest.approx(100.0, abs=1e-12)


@pytest.mark.parametrize("offset, accurate_thresholds", [
    ((3.0, 4.0), 146),   # e = 5 exactly: t = 5..150 count, 146 of 151
    ((1.5, 2.0), 148),   # e = 2.5: t = 3..150, 148 of 151
    ((0.0, 150.0), 1),   # e = 150: only t = 150
])
def test_auc_constant_error(offset, accurate_thresholds):
    true = np.random.default_rng(0).uniform(-50, 50, (4, 5, 2))
    pred = true + np.asarray(offset)
    expected = 100.0 * accurate_thresholds / 151
    assert metrics.ab_error_auc(pred, true) == pytest.approx(expected, abs=1e-9)


def test_auc_error_above_150_is_zero():
    true = np.zeros((3, 3, 2))
    pred = np.full((3, 3, 2), 110.0)  # e = 110 sqrt(2) = 155.6 everywhere
    assert metrics.ab_error_auc(pred, true) == 0.0


def test_auc_mixed_pixels_average():
    """Half the pixels perfect (100 each), half with e = 10 (141/151 each)."""
    true = np.zeros((2, 4, 2))
    pred = true.copy()
    pred[0, :, 0] = 10.0
    expected = 0.5 * 100.0 + 0.5 * 100.0 * 141 / 151
    assert metrics.ab_error_auc(pred, true) == pytest.approx(expected, abs=1e-9)


def test_auc_rgb_red_against_gray():
    """sRGB red is Lab (53.24, 80.09, 67.20) (published D65 value), chroma
    104.55; gray has ab = 0; so e = 104.55 everywhere and t = 105..150 count."""
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    gray = np.full((4, 4, 3), 128, np.uint8)
    assert metrics.auc_rgb(gray, red) == pytest.approx(100.0 * 46 / 151, abs=1e-9)


# --- Colourfulness ------------------------------------------------------------

def test_colourfulness_red_and_blue():
    """2x1 image: red (255, 0, 0) and blue (0, 0, 255).
    rg = R - G = [255, 0]: mean 127.5, std 127.5.
    yb = (R + G)/2 - B = [127.5, -255]: mean -63.75, std 191.25.
    M = sqrt(127.5^2 + 191.25^2) + 0.3 sqrt(127.5^2 + 63.75^2)
      = 127.5 sqrt(3.25) + 0.3 * 127.5 sqrt(1.25) = 229.854 + 42.765 = 272.619."""
    img = np.array([[[255, 0, 0]], [[0, 0, 255]]], np.uint8)
    expected = 127.5 * math.sqrt(3.25) + 0.3 * 127.5 * math.sqrt(1.25)
    assert metrics.colourfulness(img) == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(272.619, abs=1e-3)


def test_colourfulness_flat_colour():
    """Flat (200, 100, 50): rg = 100, yb = 150 - 50 = 100, no spread:
    M = 0.3 sqrt(100^2 + 100^2) = 30 sqrt(2)."""
    img = np.empty((3, 4, 3), np.uint8)
    img[...] = (200, 100, 50)
    assert metrics.colourfulness(img) == pytest.approx(30 * math.sqrt(2), abs=1e-9)


def test_colourfulness_gray_is_zero():
    gray = np.repeat(_random_rgb(5, 6)[..., :1], 3, axis=-1)
    assert metrics.colourfulness(gray) == 0.0


# --- Row strips -----------------------------------------------------------------

def test_row_strips_cover_the_rows_once():
    assert list(metrics.row_strips(7, metrics.STRIP_PIXELS // 3)) == [(0, 3), (3, 6), (6, 7)]
    assert list(metrics.row_strips(2, 10 * metrics.STRIP_PIXELS)) == [(0, 1), (1, 2)]


def test_strips_give_the_whole_image_values(monkeypatch):
    """Scored a few rows at a time, every metric equals the whole-image
    computation (skimage's PSNR and SSIM, NumPy's moments, the AuC and the
    mean chroma of whole-image Lab)."""
    true = cv2.resize(skimage.data.astronaut(), (90, 77), interpolation=cv2.INTER_AREA)
    noise = np.random.default_rng(7).normal(0, 20, true.shape)
    pred = np.clip(np.rint(true * [0.7, 1.0, 1.2] + noise), 0, 255).astype(np.uint8)
    t64 = true.astype(np.float64)
    rg, yb = t64[..., 0] - t64[..., 1], 0.5 * (t64[..., 0] + t64[..., 1]) - t64[..., 2]
    expected = {
        "psnr": skimage.metrics.peak_signal_noise_ratio(true, pred, data_range=255),
        "ssim": skimage.metrics.structural_similarity(
            pred, true, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
            data_range=255, channel_axis=-1),
        "auc": metrics.ab_error_auc(metrics.rgb_u8_to_ab(pred), metrics.rgb_u8_to_ab(true)),
        "colourfulness": math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()),
        "chroma": color.mean_chroma_np(color.rgb_to_lab_np(true / 255.0)),
    }
    monkeypatch.setattr(metrics, "STRIP_PIXELS", 4 * 90)  # 4-row strips, 2 for SSIM's valid map
    got = {"psnr": metrics.psnr(pred, true), "ssim": metrics.ssim(pred, true),
           "auc": metrics.auc_rgb(pred, true), "colourfulness": metrics.colourfulness(true),
           "chroma": metrics.mean_chroma(true)}
    for key, value in expected.items():
        # (mean_chroma_np averages float32 values: rounding at 1e-7)
        assert got[key] == pytest.approx(value, rel=1e-6 if key == "chroma" else 1e-9), key
    assert 0.2 < got["ssim"] < 0.9 and 0 < got["auc"] < 100  # not trivial cases


# --- score and summarize --------------------------------------------------------

def test_score_identical():
    img = _random_rgb(16, 12, seed=4)
    s = metrics.score(img, img.copy())
    assert tuple(s) == metrics.METRIC_KEYS == (
        "psnr", "ssim", "auc", "colourfulness", "colourfulness_true", "delta_colourfulness")
    assert all(type(v) is float for v in s.values()), s
    assert s["psnr"] == float("inf")
    assert s["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert s["auc"] == pytest.approx(100.0, abs=1e-12)
    assert s["colourfulness"] == s["colourfulness_true"] > 0
    assert s["delta_colourfulness"] == 0.0


def test_score_gray_prediction():
    true = _random_rgb(16, 12, seed=5)
    gray = np.repeat(true[..., 1:2], 3, axis=-1)
    s = metrics.score(gray, true)
    assert s["colourfulness"] == 0.0
    assert s["delta_colourfulness"] == pytest.approx(-metrics.colourfulness(true))
    assert s["auc"] < 100.0 and s["ssim"] < 1.0 and math.isfinite(s["psnr"])


@pytest.mark.parametrize("fn", [metrics.psnr, metrics.ssim, metrics.auc_rgb, metrics.score])
def test_shape_mismatch_raises(fn):
    with pytest.raises(ValueError, match="shape"):
        fn(_random_rgb(8, 8), _random_rgb(8, 9))


def test_ab_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        metrics.ab_error_auc(np.zeros((4, 4, 2)), np.zeros((4, 5, 2)))


def test_float_rgb_rejected():
    img = _random_rgb(4, 4)
    with pytest.raises(TypeError, match="uint8"):
        metrics.psnr(img / 255.0, img)


def test_summarize():
    rows = [
        {"path": "a.png", "width": 8, "psnr": float("inf"), "ssim": 1.0, "auc": 100.0},
        {"path": "b.png", "width": 9, "psnr": 30.0, "ssim": 0.5, "auc": 80.0},
        {"path": "c.png", "width": 7, "psnr": 40.0, "ssim": 0.6, "auc": 60.0},
    ]
    assert metrics.summarize(rows) == {
        "count": 3, "psnr": 35.0, "psnr_infinite": 1, "ssim": pytest.approx(0.7),
        "auc": 80.0}


def test_summarize_all_infinite_and_empty():
    rows = [{"psnr": float("inf")}, {"psnr": float("inf")}]
    assert metrics.summarize(rows) == {"count": 2, "psnr": float("inf"), "psnr_infinite": 2}
    assert metrics.summarize([]) == {"count": 0}
