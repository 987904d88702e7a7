"""Colorize a folder of photos, optionally scoring the results against the
photos' own colours, and write comparison sheets."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np
from tqdm import tqdm

from colorize import files, folders, imageio, inference, marks as marks_lib, metrics, \
    scribbles, visualize
from colorize.settings import REQUIRED, setting

GRID_DIR = "_grids"
GRID_ROWS = 8
GRID_PANEL = 128
# Below this mean chroma (Lab units) an input is a gray photo: nothing to
# score against. Low on purpose, so desaturated colour photos are scored.
GRAY_INPUT_CHROMA = 1.0
# A batch is cut at this many decoded pixels as well as at --batch_size
# photos. Batching only saves generator calls, which matter for small
# photos; holding every photo of a batch would make memory grow with
# --batch_size (eight 48 MP photos are 1.1 GiB even as uint8).
BATCH_PIXELS = 4_000_000


class EvalError(Exception):
    """A problem with eval's arguments or folders (not with one image)."""


MODELS = ("generator", "gray", "levin")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """eval.py's settings: each field with setting() is a flag of the same
    name (colorize.settings)."""
    input: str = setting(REQUIRED, "Folder of photos (walked recursively) or one file.")
    output: str = setting(REQUIRED, "Folder for the results, same relative paths as --input.")
    model_dir: Optional[str] = setting(
        None, "Training run: config.json + checkpoints. With no --model_dir, --saved_model or "
        "--model=gray: the model shipped in the package.")
    step: Optional[int] = setting(None, "Checkpoint step (default: the latest).")
    saved_model: Optional[str] = setting(None, "An exported SavedModel instead of --model_dir.")
    model: str = setting("generator", "gray: the zero-chroma baseline (no model needed); levin: "
                         "Levin et al.'s colorization from --marks alone (no model).", MODELS)
    render_size: Optional[int] = setting(None, "Size the generator runs at (default: trained "
                                         "size).")
    metrics: bool = setting(False, "Score against the inputs' colours: metrics.csv/.json.")
    grid: bool = setting(False, "Write comparison sheets (gray | colorized | original).")
    overwrite: bool = setting(False, "Replace outputs that already exist.")
    batch_size: int = setting(8, "Photos per generator call, at most: a batch also ends once "
                              "its photos are large (colorize.evaluate.BATCH_PIXELS), so memory "
                              "does not grow with it.")
    max_pixels: int = setting(imageio.MAX_PIXELS, "Skip photos larger than this, with the "
                              "reason (bounds memory: about 0.6 GiB + 20 bytes a pixel).",
                              flag="max_megapixels", unit=1e6)
    progress: bool = True  # a progress bar on stderr (off in tests)
    # Colour from reference photos (colorize.reference): a colour photo or a
    # folder of them to learn from, or a model saved by an earlier run.
    reference: Optional[str] = setting(
        None, "A colour photo, or a folder of them, of the same subject: colours are learnt "
        "from it once and used for every photo.")
    reference_model: Optional[str] = setting(
        None, "A reference model saved by --save_reference_model (instead of --reference).")
    save_reference_model: Optional[str] = setting(
        None, "Save what --reference learnt here (.npz), for a later run's --reference_model.")
    # Off by default: on photos that share the reference's colours the mix
    # made them paler and lowered AuC (RESULTS.md, "Colour from reference
    # photos").
    reference_prior: bool = setting(
        False, "With --reference: mix in the automatic model's colour where the reference "
        "classifier is unsure (see docs/reference.md).")
    # Scribbles (colorize.marks, colorize.scribbles): they correct the
    # model's colours, or are the only colours with --model=levin.
    marks: Optional[str] = setting(
        None, "Folder of scribbles: for each photo, a marked copy or a hints PNG with alpha "
        "under the same relative path and stem (docs/scribbles.md). They correct the "
        "model's colours (or, with --model=levin, are the only colours).")
    refine: bool = setting(
        True, "--marks with a guided model (trained with --hints, docs/guided.md): the "
        "network sees the marks as hints, and its colours are then corrected by the exact "
        "marks as an automatic model's are; --norefine: the guided network's colours alone.")


def load_model(cfg: EvalConfig) -> inference.Model:
    if cfg.reference or cfg.reference_model:
        return _reference_model(cfg)
    if cfg.save_reference_model:
        raise EvalError("--save_reference_model needs --reference (the photos to learn from)")
    if cfg.reference_prior:
        raise EvalError("--reference_prior needs --reference or --reference_model")
    if cfg.model == "gray":
        return inference.gray_model(cfg.render_size or 64)
    if cfg.model == "levin":
        if not cfg.marks:
            raise EvalError("--model=levin colours photos from their scribbles: pass --marks")
        model = inference.gray_model(cfg.render_size or 64)  # photos without marks stay gray
        model.name = "levin (Levin et al. 2004: colours from the marks only)"
        return model
    if cfg.model != "generator":
        raise EvalError(f"--model must be one of {', '.join(MODELS)}, got {cfg.model!r}")
    if cfg.saved_model and cfg.model_dir:
        raise EvalError("pass --model_dir or --saved_model, not both")
    if cfg.saved_model:
        return inference.saved_model(cfg.saved_model)
    if cfg.model_dir:
        return inference.checkpoint_model(cfg.model_dir, cfg.step, cfg.render_size)
    if cfg.step is not None:
        raise EvalError("--step needs --model_dir")
    return inference.shipped_model()


def _reference_model(cfg: EvalConfig) -> inference.Model:
    """Learnt once from cfg.reference (or loaded), then used for every
    photo; reference files that cannot be used are listed with the reason."""
    from colorize import reference

    if cfg.reference and cfg.reference_model:
        raise EvalError("pass --reference or --reference_model, not both")
    if cfg.model == "gray":
        raise EvalError("--model=gray takes no --reference")
    if (cfg.model_dir or cfg.saved_model) and not cfg.reference_prior:
        raise EvalError("with --reference, --model_dir or --saved_model names the automatic "
                        "model that --reference_prior mixes in: add --reference_prior")
    if cfg.reference_model:
        learnt = reference.load(cfg.reference_model)
    else:
        photos, names, skipped = reference.read_references(cfg.reference, cfg.max_pixels)
        for item in skipped:
            print(f"reference skipped {item['path']}: {item['reason']}", file=sys.stderr)
        if cfg.progress:
            print(f"learning colours from {len(photos)} reference photo(s)", file=sys.stderr)
        learnt = reference.learn(photos, names=names)
        del photos
    if cfg.save_reference_model:
        reference.save(learnt, cfg.save_reference_model)
    prior = None
    if cfg.reference_prior:
        prior = load_model(dataclasses.replace(cfg, reference=None, reference_model=None,
                                               save_reference_model=None, reference_prior=False))
    return reference.as_model(learnt, prior)


@dataclasses.dataclass
class _Folder:
    root: Path
    out: Path
    scan: folders.Scan
    outputs: dict  # input relpath -> output relpath
    marks: marks_lib.MarksFolder | None = None


def _inputs(cfg: EvalConfig) -> _Folder:
    src = Path(cfg.input)
    if src.is_file():
        root, found = src.parent, folders.Scan(images=[src.name])
    elif src.is_dir():
        root, found = src, folders.scan(src)
    elif src.exists():
        raise EvalError(f"--input is {imageio.file_kind(src.stat().st_mode)}, not a photo or a "
                        f"folder: {src}")
    else:
        raise EvalError(f"--input does not exist: {src}")
    if not found.images and not found.skipped:
        raise EvalError(f"--input holds no image files: {src}")
    out = Path(cfg.output)
    if folders.inside(out, root):
        raise EvalError(f"--output must not be inside --input ({root}): eval never writes there")
    if cfg.batch_size < 1:
        raise EvalError(f"--batch_size must be >= 1, got {cfg.batch_size}")
    if cfg.max_pixels < 1:
        raise EvalError(f"--max_megapixels must be > 0, got {cfg.max_pixels / 1e6:g}")
    outputs = folders.output_names(found.images)
    # --input inside --output: an input's output could land on another input.
    inside_input = [rel for rel, name in outputs.items() if folders.inside(out / name, root)]
    if inside_input:
        raise EvalError(f"the output of {folders.display_name(inside_input[0])} would land "
                        f"inside --input ({root}); choose an --output outside it")
    return _Folder(root, out, found, outputs)


def _loaded_batches(cfg: EvalConfig, root: Path, todo: list[str], report, bar):
    """Lists of (relpath, photo) of at most cfg.batch_size photos and about
    BATCH_PIXELS pixels. Photos keep the file's 8 or 16 bits (a quarter or
    a half of float32's memory). Files that fail to read are skipped with
    the reason."""
    batch, pixels = [], 0
    for relpath in todo:
        try:
            photo = imageio.read_image(root / relpath, keep_depth=True, max_pixels=cfg.max_pixels)
        except Exception as e:  # noqa: BLE001 - any failure is this file's skip reason
            report.skip(relpath, e)
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
    """What happened to every file, and the metric rows (keyed by display
    name: metrics.csv/json hold any file name)."""

    def __init__(self):
        self.written, self.exists, self.skipped, self.gray_inputs = [], [], [], []
        self.rows: dict[str, dict] = {}
        self.grid_rows: list[list[np.ndarray]] = []
        self.sheets: list[str] = []

    def skip(self, relpath: str, error: Exception) -> None:
        self.skipped.append({"path": folders.display_name(relpath),
                             "reason": folders.skip_reason(error)})

    def score(self, relpath: str, original: np.ndarray, result: np.ndarray) -> None:
        true_u8 = imageio.to_uint8(original)
        name = folders.display_name(relpath)
        if metrics.mean_chroma(true_u8) < GRAY_INPUT_CHROMA:
            self.gray_inputs.append(name)
        else:
            h, w = original.shape[:2]
            self.rows[name] = {"path": name, "width": w, "height": h,
                               **metrics.score(result, true_u8)}


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


def _handle_result(cfg, report, folder, relpath, original, result):
    target = folder.out / folder.outputs[relpath]
    imageio.write_image(target, result)
    report.written.append(str(target))
    if cfg.metrics:
        report.score(relpath, original, result)
    if cfg.grid:
        panel = _panel(original)
        report.grid_rows.append([visualize.gray_of(panel), _panel(result), panel])
        _flush_grid(report, folder.out)


def _read_marks(cfg, report, folder, batch, bar) -> tuple[list, list]:
    """(the batch without photos whose marks file is bad, their marks or
    None): a bad marks file skips its photo with the reason."""
    kept, found = [], []
    for relpath, photo in batch:
        try:
            found.append(folder.marks.read(relpath, photo, cfg.max_pixels,
                                           gray_without=cfg.model == "levin"))
            kept.append((relpath, photo))
        except Exception as e:  # noqa: BLE001 - any failure is this photo's skip reason
            report.skip(relpath, imageio.UnreadableImage(str(e)) if isinstance(
                e, marks_lib.MarksError) else e)
            bar.update(1)
    return kept, found


def _colorize_batch(cfg, report, folder, model, batch, bar, found=None) -> None:
    """One generator call for the batch; if it fails, each photo alone, so
    that one bad photo is skipped with its reason and the others go on.
    With --marks, found holds each photo's marks (or None)."""
    if folder.marks is not None and found is None:
        batch, found = _read_marks(cfg, report, folder, batch, bar)
    try:
        photos = [photo for _, photo in batch]
        results = (inference.colorize_batch(photos, model) if found is None
                   else scribbles.colorize_batch(photos, found, model, cfg.model == "levin",
                                                 cfg.refine))
    except Exception as e:  # noqa: BLE001
        if len(batch) == 1:
            report.skip(batch[0][0], e)
            bar.update(1)
            return
        for i, item in enumerate(batch):
            _colorize_batch(cfg, report, folder, model, [item], bar,
                            None if found is None else [found[i]])
        return
    for (relpath, original), result in zip(batch, results):
        try:
            _handle_result(cfg, report, folder, relpath, original, result)
        except Exception as e:  # noqa: BLE001
            report.skip(relpath, e)
        bar.update(1)


def _earlier_scores(out: Path) -> tuple[dict, set]:
    """(per-image rows by name, gray inputs) of an earlier run's
    metrics.json in out; empty when there is none or it is unreadable."""
    try:
        doc = json.loads((out / "metrics.json").read_text())
        return ({row["path"]: row for row in doc.get("per_image", [])},
                set(doc.get("gray_inputs_not_scored", [])))
    except (OSError, ValueError, KeyError, TypeError):
        return {}, set()


def _earlier_metrics(cfg: EvalConfig, folder: _Folder, report: _Report) -> None:
    """Scores of outputs an earlier run wrote (kept, not overwritten), so
    that metrics.csv/json cover the whole folder: taken from the earlier
    metrics.json, or computed from the output file when it has none."""
    earlier, gray = _earlier_scores(folder.out)
    for relpath in report.exists:
        name = folders.display_name(relpath)
        if name in earlier:
            # JSON holds a non-finite value as null: for PSNR that is +inf
            # (an output identical to the photo).
            report.rows[name] = {k: ((math.inf if k == "psnr" else math.nan) if v is None else v)
                                 for k, v in earlier[name].items()}
        elif name in gray:
            report.gray_inputs.append(name)
        else:
            try:
                original = imageio.read_image(folder.root / relpath, keep_depth=True,
                                              max_pixels=cfg.max_pixels)
                result = imageio.read_image(folder.out / folder.outputs[relpath], keep_depth=True,
                                            max_pixels=cfg.max_pixels)
                if result.shape != original.shape:
                    raise ValueError(f"earlier output is {result.shape[1]}x{result.shape[0]}, "
                                     f"the photo {original.shape[1]}x{original.shape[0]}")
                report.score(relpath, original, imageio.to_uint8(result))
            except Exception as e:  # noqa: BLE001
                report.skip(relpath, RuntimeError(f"cannot score the earlier output: {e}"))


def run(cfg: EvalConfig) -> dict:
    """Colorize cfg.input into cfg.output; returns the summary dict. When
    stopped by signals.Stopped, metrics of the photos done so far are
    written before it propagates (a resumed run keeps them)."""
    folder = _inputs(cfg)
    model = load_model(cfg)
    if cfg.marks:
        folder.marks = marks_lib.MarksFolder(cfg.marks, folder.scan.images)
    folder.out.mkdir(parents=True, exist_ok=True)
    report = _Report()
    report.skipped.extend(folder.scan.skipped)
    todo = []
    for relpath in folder.scan.images:
        if not cfg.overwrite and (folder.out / folder.outputs[relpath]).exists():
            report.exists.append(relpath)
        else:
            todo.append(relpath)
    if cfg.metrics:
        _earlier_metrics(cfg, folder, report)
    bar = tqdm(total=len(todo), unit="img", desc="colorizing", disable=not cfg.progress,
               file=sys.stderr, dynamic_ncols=True)
    try:
        for batch in _loaded_batches(cfg, folder.root, todo, report, bar):
            _colorize_batch(cfg, report, folder, model, batch, bar)
            del batch  # free its photos before the next batch is read
    finally:
        bar.close()
        if cfg.metrics:
            mean = _write_metrics(folder.out, model.name, report)
    if cfg.grid:
        _flush_grid(report, folder.out, final=True)
    summary = {
        "model": model.name, "input": str(folder.root), "output": str(folder.out),
        "found": len(folder.scan.images) + len(folder.scan.skipped),
        "written": len(report.written), "skipped_existing": len(report.exists),
        "skipped": report.skipped, "ignored": len(folder.scan.ignored),
        "grid_sheets": report.sheets,
    }
    if cfg.metrics:
        summary["metrics"] = mean
    if folder.marks is not None:
        summary["marks"] = folder.marks.summary()
    return summary


def exit_status(summary: dict) -> int:
    return folders.EXIT_SKIPPED if summary["skipped"] else folders.EXIT_OK


def _write_metrics(out: Path, model_name: str, report: _Report) -> dict:
    rows = [report.rows[name] for name in sorted(report.rows)]
    mean = metrics.summarize(rows) if rows else {"count": 0}
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["path", "width", "height", *metrics.METRIC_KEYS])
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    files.write_atomic(out / "metrics.csv", text.getvalue())
    doc = {"model": model_name, "mean": mean, "gray_inputs_not_scored": sorted(report.gray_inputs),
           "per_image": [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                          for k, v in row.items()} for row in rows]}
    files.write_atomic(out / "metrics.json", json.dumps(doc, indent=2) + "\n")
    return mean


def format_summary(summary: dict) -> str:
    lines = [f"{summary['model']}: {summary['found']} image files in {summary['input']}",
             f"  wrote {summary['written']} to {summary['output']}; "
             f"{summary['skipped_existing']} already there (kept; --overwrite replaces them); "
             f"{len(summary['skipped'])} skipped"
             + (f"; {summary['ignored']} other files ignored" if summary["ignored"] else "")]
    for item in summary["skipped"][:10]:
        lines.append(f"  skipped {item['path']}: {item['reason']}")
    if len(summary["skipped"]) > 10:
        lines.append(f"  ... and {len(summary['skipped']) - 10} more")
    if summary["grid_sheets"]:
        lines.append(f"  {len(summary['grid_sheets'])} comparison sheets in "
                     f"{os.path.dirname(summary['grid_sheets'][0])}")
    if "marks" in summary:
        m = summary["marks"]
        lines.append(f"  marks from {m['folder']}: {m['photos_with_marks']} photos had marks, "
                     f"{m['marked_pixels']} marked pixels in all")
        for item in m["notices"][:10]:
            lines.append(f"  notice {item['path']}: {item['reason']}")
        if len(m["notices"]) > 10:
            lines.append(f"  ... and {len(m['notices']) - 10} more notices")
    if "metrics" in summary:
        m = summary["metrics"]
        if m.get("count"):
            lines.append(
                f"  mean over {m['count']} images: PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.4f}  "
                f"AuC {m['auc']:.2f}%  colourfulness {m['colourfulness']:.2f} "
                f"(originals {m['colourfulness_true']:.2f}, dCF {m['delta_colourfulness']:+.2f})")
        lines.append(f"  per-image metrics: {summary['output']}/metrics.csv, metrics.json")
    return "\n".join(lines)
