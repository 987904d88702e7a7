"""Colorize a folder of photos, optionally scoring the results against the
photos' own colours, and write comparison sheets."""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from colorize import imageio, inference, metrics, visualize

GRID_DIR = "_grids"
GRID_ROWS = 8
GRID_PANEL = 128
# Below this mean chroma (Lab units) an input is a gray photo: nothing to
# score against. Low on purpose, so desaturated colour photos are scored.
GRAY_INPUT_CHROMA = 1.0
METRIC_KEYS = ("psnr", "ssim", "auc", "colourfulness", "colourfulness_true",
               "delta_colourfulness")
# A batch is cut at this many decoded pixels as well as at --batch_size
# photos. Batching only saves generator calls, which matter for small
# photos; holding every photo of a batch would make memory grow with
# --batch_size (eight 48 MP photos are 1.1 GiB even as uint8).
BATCH_PIXELS = 4_000_000


class EvalError(Exception):
    """A problem with eval's arguments or folders (not with one image)."""


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    input: str
    output: str
    model_dir: str | None = None
    step: int | None = None
    saved_model: str | None = None
    model: str = "generator"  # or "gray": the zero-chroma baseline
    render_size: int | None = None
    metrics: bool = False
    grid: bool = False
    overwrite: bool = False
    batch_size: int = 8
    progress: bool = True


def load_model(cfg: EvalConfig) -> inference.Model:
    if cfg.model == "gray":
        return inference.gray_model(cfg.render_size or 64)
    if cfg.model != "generator":
        raise EvalError(f"--model must be 'generator' or 'gray', got {cfg.model!r}")
    if cfg.saved_model and cfg.model_dir:
        raise EvalError("pass --model_dir or --saved_model, not both")
    if cfg.saved_model:
        return inference.saved_model(cfg.saved_model)
    if cfg.model_dir:
        return inference.checkpoint_model(cfg.model_dir, cfg.step, cfg.render_size)
    if cfg.step is not None:
        raise EvalError("--step needs --model_dir")
    return inference.shipped_model()


def _inputs(cfg: EvalConfig) -> tuple[Path, list[str], Path]:
    src = Path(cfg.input)
    if src.is_file():
        root, files = src.parent, [src.name]
    elif src.is_dir():
        root, files = src, imageio.list_images(src)
    else:
        raise EvalError(f"--input does not exist: {src}")
    if not files:
        raise EvalError(f"--input holds no image files: {src}")
    out = Path(cfg.output)
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise EvalError(f"--output must not be inside --input ({root}): eval never writes there")
    if cfg.batch_size < 1:
        raise EvalError(f"--batch_size must be >= 1, got {cfg.batch_size}")
    return root, files, out


def _loaded_batches(cfg: EvalConfig, root: Path, todo: list[str], report, bar):
    """Lists of (relpath, photo) of at most cfg.batch_size photos and about
    BATCH_PIXELS pixels. Photos keep the file's 8 or 16 bits (a quarter or
    a half of float32's memory). Unreadable files are reported, skipped."""
    batch, pixels = [], 0
    for relpath in todo:
        try:
            photo = imageio.read_image(root / relpath, keep_depth=True)
        except imageio.UnreadableImage as e:
            report.unreadable.append({"path": relpath, "reason": str(e)})
            bar.update(1)
            continue
        batch.append((relpath, photo))
        pixels += photo.shape[0] * photo.shape[1]
        if len(batch) >= cfg.batch_size or pixels >= BATCH_PIXELS:
            yield batch
            batch, pixels = [], 0
    if batch:
        yield batch


class _Report:
    """What happened to every file, and the metric rows."""

    def __init__(self):
        self.written, self.exists, self.unreadable, self.gray_inputs = [], [], [], []
        self.rows: list[dict] = []
        self.grid_rows: list[list[np.ndarray]] = []
        self.sheets: list[str] = []


def _panel(rgb: np.ndarray) -> np.ndarray:
    """RGB -> a float GRID_PANEL square (shrunk first: the sheets need no
    full-resolution float copy)."""
    return imageio.to_unit_float(
        imageio.resize(imageio.center_crop_square(rgb), GRID_PANEL, GRID_PANEL))


def _flush_grid(report: _Report, out: Path, final: bool = False) -> None:
    while len(report.grid_rows) >= GRID_ROWS or (final and report.grid_rows):
        rows, report.grid_rows = report.grid_rows[:GRID_ROWS], report.grid_rows[GRID_ROWS:]
        path = out / GRID_DIR / f"sheet_{len(report.sheets):03d}.png"
        imageio.write_image(path, visualize.comparison_sheet(rows))
        report.sheets.append(str(path))


def _handle_result(cfg, report, out, relpath, original, result):
    target = out / relpath
    try:
        imageio.write_image(target, result)
    except OSError:  # an extension OpenCV reads but cannot write
        target = target.with_suffix(".png")
        imageio.write_image(target, result)
    report.written.append(str(target))
    if cfg.metrics:
        true_u8 = imageio.to_uint8(original)
        if metrics.mean_chroma(true_u8) < GRAY_INPUT_CHROMA:
            report.gray_inputs.append(relpath)
        else:
            h, w = original.shape[:2]
            report.rows.append({"path": relpath, "width": w, "height": h,
                                **metrics.score(result, true_u8)})
    if cfg.grid:
        panel = _panel(original)
        report.grid_rows.append([visualize.gray_of(panel), _panel(result), panel])
        _flush_grid(report, out)


def _colorize_batch(cfg, report, out, model, batch, bar) -> None:
    results = inference.colorize_batch([photo for _, photo in batch], model)
    for (relpath, original), result in zip(batch, results):
        _handle_result(cfg, report, out, relpath, original, result)
        bar.update(1)


def run(cfg: EvalConfig) -> dict:
    """Colorize cfg.input into cfg.output; returns the summary dict."""
    root, files, out = _inputs(cfg)
    model = load_model(cfg)
    out.mkdir(parents=True, exist_ok=True)
    report = _Report()
    todo = []
    for relpath in files:
        if not cfg.overwrite and (out / relpath).exists():
            report.exists.append(relpath)
        else:
            todo.append(relpath)
    bar = tqdm(total=len(todo), unit="img", desc="colorizing", disable=not cfg.progress,
               file=sys.stderr, dynamic_ncols=True)
    for batch in _loaded_batches(cfg, root, todo, report, bar):
        _colorize_batch(cfg, report, out, model, batch, bar)
        del batch  # free its photos before the next batch is read
    bar.close()
    if cfg.grid:
        _flush_grid(report, out, final=True)
    summary = {
        "model": model.name, "input": str(root), "output": str(out),
        "found": len(files), "written": len(report.written),
        "skipped_existing": len(report.exists), "unreadable": report.unreadable,
        "grid_sheets": report.sheets,
    }
    if cfg.metrics:
        summary["metrics"] = _write_metrics(out, model.name, report)
    return summary


def _write_metrics(out: Path, model_name: str, report: _Report) -> dict:
    mean = metrics.summarize(report.rows) if report.rows else {"count": 0}
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "width", "height", *METRIC_KEYS])
        writer.writeheader()
        for row in report.rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    doc = {"model": model_name, "mean": mean, "gray_inputs_not_scored": report.gray_inputs,
           "per_image": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                          for k, v in row.items()} for row in report.rows]}
    (out / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n")
    return mean


def format_summary(summary: dict) -> str:
    lines = [f"{summary['model']}: {summary['found']} image files in {summary['input']}",
             f"  wrote {summary['written']} to {summary['output']}; "
             f"{summary['skipped_existing']} already there (kept; --overwrite replaces them); "
             f"{len(summary['unreadable'])} unreadable"]
    for item in summary["unreadable"][:10]:
        lines.append(f"  unreadable {item['path']}: {item['reason']}")
    if len(summary["unreadable"]) > 10:
        lines.append(f"  ... and {len(summary['unreadable']) - 10} more")
    if summary["grid_sheets"]:
        lines.append(f"  {len(summary['grid_sheets'])} comparison sheets in "
                     f"{os.path.dirname(summary['grid_sheets'][0])}")
    if "metrics" in summary:
        m = summary["metrics"]
        if m.get("count"):
            lines.append(
                f"  mean over {m['count']} images: PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.4f}  "
                f"AuC {m['auc']:.2f}%  colourfulness {m['colourfulness']:.2f} "
                f"(originals {m['colourfulness_true']:.2f}, dCF {m['delta_colourfulness']:+.2f})")
        lines.append(f"  per-image metrics: {summary['output']}/metrics.csv, metrics.json")
    return "\n".join(lines)
