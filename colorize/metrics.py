"""Per-image colorization metrics, NumPy and scikit-image.

Every function scores one image at its own resolution. RGB inputs are
uint8 [H, W, 3] (0..255); ab inputs are float [H, W, 2] in Lab units.
The scores are computed in plain NumPy (the Lab conversion of the AuC is
colorize.color's NumPy route; that module also holds TF's, so importing
this one loads TensorFlow, but sets nothing outside the package).

Definitions:
- psnr: 10 log10(255^2 / MSE), MSE over all pixels and channels; +inf for
  identical images.
- ssim: Wang et al. 2004 per channel (11x11 Gaussian window, sigma 1.5,
  K1 = 0.01, K2 = 0.03, L = 255, population statistics), mean over the
  *valid* map (only windows lying wholly inside the image, as in Wang's
  reference code and skimage's cropped mean), then mean over R, G, B;
  undefined (NaN) for images under 11 px on a side.
- ab_error_auc: Zhang et al. 2016's raw accuracy: mean over the integer
  thresholds t = 0..150 of the fraction of pixels whose ab error is <= t,
  as a percentage.
- colourfulness: Hasler & Suesstrunk 2003's M on 0..255 values.

Every metric runs over row strips of about STRIP_PIXELS pixels, so that
scoring a 48 MP photo makes no full-size float copies (a float64 copy of
its RGB is 1.1 GiB; skimage's SSIM holds about a dozen float64 planes).
"""
from __future__ import annotations

import math

import numpy as np
import skimage.metrics

from colorize.color import mean_chroma_np, rgb_to_lab_np

PEAK = 255.0

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03

AUC_MAX_THRESHOLD = 150

STRIP_PIXELS = 1 << 20

# Hasler & Suesstrunk's weight of the mean-chroma term.
CF_MEAN_WEIGHT = 0.3

# The keys of score(), in the order tables list them.
METRIC_KEYS = ("psnr", "ssim", "auc", "colourfulness", "colourfulness_true",
               "delta_colourfulness")


def _check_rgb_u8(image: np.ndarray, name: str) -> np.ndarray:
    """uint8 [H, W, 3], non-empty; uint8 is required so that a float image
    in [0, 1] cannot silently be scored against a 255 peak."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8 RGB, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[-1] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} must have shape [H, W, 3] with H, W > 0, got {image.shape}")
    return image


def _check_same_shape(pred: np.ndarray, true: np.ndarray) -> None:
    if pred.shape != true.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground-truth shape {true.shape}")


def _check_rgb_pair(pred_rgb_u8, true_rgb_u8) -> tuple[np.ndarray, np.ndarray]:
    pred = _check_rgb_u8(pred_rgb_u8, "pred_rgb_u8")
    true = _check_rgb_u8(true_rgb_u8, "true_rgb_u8")
    _check_same_shape(pred, true)
    return pred, true


def row_strips(height: int, width: int):
    """(start, stop) row ranges of about STRIP_PIXELS pixels covering
    [0, height), in order."""
    rows = max(1, STRIP_PIXELS // max(1, width))
    for start in range(0, height, rows):
        yield start, min(start + rows, height)


# --- PSNR and SSIM ------------------------------------------------------------
# PSNR from the exact integer sum of squared errors (skimage's copies both
# images to float64 first). SSIM is scikit-image's, which computes the
# definition above exactly (the tests compare it with a window-by-window
# evaluation of Wang et al.'s formulas); it runs on overlapping row strips,
# whose valid windows are exactly the whole image's.

def psnr(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray) -> float:
    """PSNR in dB on 8-bit RGB: 10 log10(255^2 / MSE), the MSE taken over all
    pixels and all three channels; float('inf') when the images are equal."""
    pred, true = _check_rgb_pair(pred_rgb_u8, true_rgb_u8)
    squared_error = 0
    for start, stop in row_strips(*pred.shape[:2]):
        diff = pred[start:stop].astype(np.int32) - true[start:stop]
        squared_error += int(np.sum(diff * diff, dtype=np.int64))
    if squared_error == 0:
        return float("inf")
    return 10.0 * math.log10(PEAK ** 2 * pred.size / squared_error)


def ssim(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004) on 8-bit RGB, averaged over R, G, B:
    11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
    population statistics, mean over the windows lying wholly inside the
    image. NaN for an image under 11 px on a side, where the window does
    not fit (summarize() leaves NaN out of the mean)."""
    pred, true = _check_rgb_pair(pred_rgb_u8, true_rgb_u8)
    height, width = pred.shape[:2]
    if min(height, width) < SSIM_WINDOW:
        return float("nan")
    pad = SSIM_WINDOW // 2
    total = 0.0
    # Strips of the valid map's rows; each reads pad more image rows on
    # either side, so its windows are the whole image's.
    for start, stop in row_strips(height - 2 * pad, width):
        rows = slice(start, stop + 2 * pad)
        _, ssim_map = skimage.metrics.structural_similarity(
            pred[rows], true[rows], gaussian_weights=True, sigma=SSIM_SIGMA,
            use_sample_covariance=False, data_range=PEAK, channel_axis=-1, K1=SSIM_K1,
            K2=SSIM_K2, full=True)
        total += float(np.sum(ssim_map[pad:-pad, pad:-pad], dtype=np.float64))
    return total / ((height - 2 * pad) * (width - 2 * pad) * 3)


# --- AuC of ab error ----------------------------------------------------------

def _within_counts(pred_ab: np.ndarray, true_ab: np.ndarray, max_threshold: int) -> np.ndarray:
    """[T + 1] int: how many pixels have ab error <= t, for t = 0..T."""
    diff = (np.asarray(pred_ab, np.float64) - np.asarray(true_ab, np.float64)).reshape(-1, 2)
    errors = np.hypot(diff[:, 0], diff[:, 1])
    # For an integer t, e <= t exactly when ceil(e) <= t.
    bins = np.minimum(np.ceil(errors), max_threshold + 1).astype(np.int64)
    return np.cumsum(np.bincount(bins, minlength=max_threshold + 2))[:max_threshold + 1]


def _check_threshold(max_threshold) -> int:
    if int(max_threshold) != max_threshold or max_threshold < 0:
        raise ValueError(f"max_threshold must be a non-negative integer, got {max_threshold}")
    return int(max_threshold)


def ab_error_auc(pred_ab: np.ndarray, true_ab: np.ndarray,
                 max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """Zhang et al.'s raw-accuracy AuC, as a percentage.

    e_i = ||pred_ab_i - true_ab_i||_2 per pixel (Lab units); for each integer
    threshold t = 0, 1, ..., T (T = max_threshold) acc(t) = fraction of
    pixels with e_i <= t; AuC = 100 * mean_t acc(t) = 100/(T+1) * sum_t acc(t).
    Hence a perfect prediction gives 100, an error above T everywhere gives
    0, and a constant error e in [0, T] gives 100 * (T + 1 - ceil(e)) / (T + 1).
    """
    pred_ab, true_ab = np.asarray(pred_ab), np.asarray(true_ab)
    _check_same_shape(pred_ab, true_ab)
    if pred_ab.ndim < 1 or pred_ab.shape[-1] != 2 or pred_ab.size == 0:
        raise ValueError(f"ab arrays must have shape [..., 2] and be non-empty, got {pred_ab.shape}")
    counts = _within_counts(pred_ab, true_ab, _check_threshold(max_threshold))
    return float(100.0 * np.mean(counts / (pred_ab.size // 2)))


def _lab_u8(rgb_u8: np.ndarray) -> np.ndarray:
    return rgb_to_lab_np(rgb_u8.astype(np.float32) / 255.0)


def rgb_u8_to_ab(rgb_u8: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] -> float32 ab [H, W, 2] (Lab units)."""
    return _lab_u8(_check_rgb_u8(rgb_u8, "rgb_u8"))[..., 1:]


def auc_rgb(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray,
            max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """ab_error_auc of two uint8 RGB images, both converted to Lab by
    colorize.color.rgb_to_lab_np."""
    pred, true = _check_rgb_pair(pred_rgb_u8, true_rgb_u8)
    max_threshold = _check_threshold(max_threshold)
    counts = np.zeros(max_threshold + 1, np.int64)
    for start, stop in row_strips(*pred.shape[:2]):
        counts += _within_counts(rgb_u8_to_ab(pred[start:stop]), rgb_u8_to_ab(true[start:stop]),
                                 max_threshold)
    return float(100.0 * np.mean(counts / (pred.size // 3)))


def mean_chroma(rgb_u8: np.ndarray) -> float:
    """Mean chroma sqrt(a^2 + b^2) of uint8 RGB (colorize.color.mean_chroma_np
    over row strips): the gray-photo test."""
    rgb = _check_rgb_u8(rgb_u8, "rgb_u8")
    total = 0.0
    for start, stop in row_strips(*rgb.shape[:2]):
        strip = rgb[start:stop]
        total += mean_chroma_np(_lab_u8(strip)) * (strip.size // 3)
    return total / (rgb.size // 3)


# --- Colourfulness ------------------------------------------------------------

def colourfulness(rgb_u8: np.ndarray) -> float:
    """Hasler & Suesstrunk 2003 colourfulness M of uint8 RGB (0..255 values):
    rg = R - G, yb = (R + G)/2 - B,
    M = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2),
    with population standard deviations over all pixels. Gray -> 0.
    Moments from exact integer sums over row strips (rg and 2 yb are
    integers), so no float64 copy of the image is made."""
    rgb = _check_rgb_u8(rgb_u8, "rgb_u8")
    n = rgb.size // 3
    sums = [0, 0, 0, 0]  # rg, rg^2, 2yb, (2yb)^2: Python ints, exact
    for start, stop in row_strips(*rgb.shape[:2]):
        r, g, b = (rgb[start:stop, :, c].astype(np.int64) for c in range(3))
        for i, x in enumerate((r - g, r + g - 2 * b)):
            sums[2 * i] += int(x.sum())
            sums[2 * i + 1] += int((x * x).sum())
    mean_rg, mean_yb = sums[0] / n, sums[2] / (2 * n)
    var_rg = (n * sums[1] - sums[0] ** 2) / n ** 2
    var_yb = (n * sums[3] - sums[2] ** 2) / (4 * n ** 2)
    return math.sqrt(var_rg + var_yb) + CF_MEAN_WEIGHT * math.hypot(mean_rg, mean_yb)


# --- Per image and over a set ---------------------------------------------------

def score(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray) -> dict[str, float]:
    """All metrics of one prediction against its colour original.

    Keys: psnr, ssim, auc, colourfulness (of the prediction),
    colourfulness_true, delta_colourfulness (prediction minus original)."""
    pred, true = _check_rgb_pair(pred_rgb_u8, true_rgb_u8)
    cf_pred = colourfulness(pred)
    cf_true = colourfulness(true)
    return {
        "psnr": psnr(pred, true),
        "ssim": ssim(pred, true),
        "auc": auc_rgb(pred, true),
        "colourfulness": cf_pred,
        "colourfulness_true": cf_true,
        "delta_colourfulness": cf_pred - cf_true,
    }


def summarize(rows: list[dict]) -> dict[str, float | int]:
    """Means over images of the metrics in `rows` (score() dicts, possibly
    with extra entries such as path or width, which are not averaged). The
    averaged keys are those of METRIC_KEYS in the first row; every row must
    have them.

    PSNR is averaged over its finite values only (identical images give
    +inf), and `psnr_infinite` counts the others; if every PSNR is infinite
    the mean is +inf. `count` is the number of rows."""
    summary: dict[str, float | int] = {"count": len(rows)}
    if not rows:
        return summary
    for key in (k for k in METRIC_KEYS if k in rows[0]):
        values = np.array([float(row[key]) for row in rows], dtype=np.float64)
        if key == "psnr":
            finite = values[np.isfinite(values)]
            summary["psnr"] = float(np.mean(finite)) if finite.size else float("inf")
            summary["psnr_infinite"] = int(values.size - finite.size)
        else:
            summary[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    return summary
