"""Shared test fixtures: small synthetic images (tests stay fast on 2
cores); tests that need real photos use the ones that ship with
scikit-image (colorize.data.sample)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # the package is used from the checkout, not installed
    sys.path.insert(0, str(REPO_ROOT))

# Distinct, clearly saturated sRGB colours (uint8 RGB).
COLORS = {
    "red": (220, 40, 30),
    "green": (40, 180, 60),
    "blue": (30, 60, 210),
    "yellow": (230, 210, 40),
    "magenta": (200, 50, 190),
}


def colour_image(height: int, width: int, rgb, seed: int = 0) -> np.ndarray:
    """uint8 RGB [H, W, 3]: a flat colour with a mild gradient and noise, so
    that crops and flips of it differ."""
    rng = np.random.default_rng(seed)
    base = np.asarray(rgb, np.float32)
    ramp = np.linspace(-25, 25, width, dtype=np.float32)[None, :, None]
    noise = rng.normal(0, 6, (height, width, 3)).astype(np.float32)
    return np.clip(base + ramp + noise, 0, 255).astype(np.uint8)


def write_rgb(path, rgb: np.ndarray) -> Path:
    """Write uint8 RGB with OpenCV (which wants BGR); format from the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])), path
    return path


@pytest.fixture
def color_images(tmp_path):
    """A folder of five small colour photos (24-40 px, PNG and JPEG), one per
    colour in COLORS; returns (folder, {relative path: uint8 RGB written})."""
    folder = tmp_path / "images"
    written = {}
    sizes = [(24, 24), (32, 40), (40, 28), (24, 36), (36, 36)]
    for i, ((name, rgb), (h, w)) in enumerate(zip(COLORS.items(), sizes)):
        rel = f"{name}.{'png' if i % 2 == 0 else 'jpg'}"
        img = colour_image(h, w, rgb, seed=i)
        write_rgb(folder / rel, img)
        written[rel] = img
    return folder, written


def stored_lab(l_u8: np.ndarray, ab_i8: np.ndarray) -> np.ndarray:
    """Stored L [H, W] uint8 and ab [H, W, 2] int8 -> Lab float32 [H, W, 3],
    through the decoding the training pipeline uses."""
    from colorize import color

    l_in, ab_out = color.decode_stored(l_u8[..., None], ab_i8)
    return np.concatenate([np.asarray(color.denormalize_l(l_in)),
                           np.asarray(color.denormalize_ab(ab_out))], -1).astype(np.float32)


def _split_cpu_into_two_logical_devices() -> None:
    """Two logical CPUs let tests run MirroredStrategy with 2 replicas on a
    CPU-only machine. It must happen before TF initialises its runtime,
    hence here, at conftest import. A strategy built without device names
    still uses only /cpu:0."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


_split_cpu_into_two_logical_devices()
