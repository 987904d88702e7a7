"""Per-image colorization metrics, NumPy and scikit-image.

Every function scores one image at its own resolution. RGB inputs are
uint8 [H, W, 3] (0..255); ab inputs are float [H, W, 2] in Lab units.
Nothing here imports TensorFlow itself, so eval can score images in plain
NumPy (importing the `colorize` package still loads TF through
colorize.color, whose NumPy Lab conversion is used for the AuC).

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
"""
from __future__ import annotations

import math

import numpy as np
import skimage.metrics

from colorize.color import rgb_to_lab_np

PEAK = 255.0

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03

AUC_MAX_THRESHOLD = 150

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


# --- PSNR and SSIM: scikit-image's ----------------------------------------------
# skimage.metrics computes the definitions above exactly (the tests compare
# it with a window-by-window evaluation of Wang et al.'s formulas), and its
# SSIM measured faster than this project's earlier OpenCV version on large
# photos (4.5 s against 16.7 s at 12 MP).

def psnr(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray) -> float:
    """PSNR in dB on 8-bit RGB: 10 log10(255^2 / MSE), the MSE taken over all
    pixels and all three channels; float('inf') when the images are equal."""
    pred, true = _check_rgb_pair(pred_rgb_u8, true_rgb_u8)
    with np.errstate(divide="ignore"):
        return float(skimage.metrics.peak_signal_noise_ratio(true, pred, data_range=PEAK))


def ssim(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004) on 8-bit RGB, averaged over R, G, B:
    11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
    population statistics, mean over the windows lying wholly inside the
    image. NaN for an image under 11 px on a side, where the window does
    not fit (summarize() leaves NaN out of the mean)."""
    pred, true = _check_rgb_pair(pred_rgb_u8, true_rgb_u8)
    if min(pred.shape[:2]) < SSIM_WINDOW:
        return float("nan")
    return float(skimage.metrics.structural_similarity(
        pred, true, gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False,
        data_range=PEAK, channel_axis=-1, K1=SSIM_K1, K2=SSIM_K2))


# --- AuC of ab error ----------------------------------------------------------

def ab_error_auc(pred_ab: np.ndarray, true_ab: np.ndarray,
                 max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """Zhang et al.'s raw-accuracy AuC, as a percentage.

    e_i = ||pred_ab_i - true_ab_i||_2 per pixel (Lab units); for each integer
    threshold t = 0, 1, ..., T (T = max_threshold) acc(t) = fraction of
    pixels with e_i <= t; AuC = 100 * mean_t acc(t) = 100/(T+1) * sum_t acc(t).
    Hence a perfect prediction gives 100, an error above T everywhere gives
    0, and a constant error e in [0, T] gives 100 * (T + 1 - ceil(e)) / (T + 1).
    """
    pred_ab = np.asarray(pred_ab, dtype=np.float64)
    true_ab = np.asarray(true_ab, dtype=np.float64)
    _check_same_shape(pred_ab, true_ab)
    if pred_ab.ndim < 1 or pred_ab.shape[-1] != 2 or pred_ab.size == 0:
        raise ValueError(f"ab arrays must have shape [..., 2] and be non-empty, got {pred_ab.shape}")
    if int(max_threshold) != max_threshold or max_threshold < 0:
        raise ValueError(f"max_threshold must be a non-negative integer, got {max_threshold}")
    diff = (pred_ab - true_ab).reshape(-1, 2)
    errors = np.sort(np.hypot(diff[:, 0], diff[:, 1]))
    thresholds = np.arange(int(max_threshold) + 1, dtype=np.float64)
    within = np.searchsorted(errors, thresholds, side="right")  # count of e_i <= t
    return float(100.0 * np.mean(within / errors.size))


def rgb_u8_to_ab(rgb_u8: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] -> float32 ab [H, W, 2] (Lab units)."""
    rgb = _check_rgb_u8(rgb_u8, "rgb_u8")
    return rgb_to_lab_np(rgb.astype(np.float32) / 255.0)[..., 1:]


def auc_rgb(pred_rgb_u8: np.ndarray, true_rgb_u8: np.ndarray,
            max_threshold: int = AUC_MAX_THRESHOLD) -> float:
    """ab_error_auc of two uint8 RGB images, both converted to Lab by
    colorize.color.rgb_to_lab_np."""
    pred, true = _check_rgb_pair(pred_rgb_u8, true_rgb_u8)
    return ab_error_auc(rgb_u8_to_ab(pred), rgb_u8_to_ab(true), max_threshold)


# --- Colourfulness ------------------------------------------------------------

def colourfulness(rgb_u8: np.ndarray) -> float:
    """Hasler & Suesstrunk 2003 colourfulness M of uint8 RGB (0..255 values):
    rg = R - G, yb = (R + G)/2 - B,
    M = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2),
    with population standard deviations over all pixels. Gray -> 0."""
    rgb = _check_rgb_u8(rgb_u8, "rgb_u8").astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = math.hypot(float(np.std(rg)), float(np.std(yb)))
    offset = math.hypot(float(np.mean(rg)), float(np.mean(yb)))
    return spread + CF_MEAN_WEIGHT * offset


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
