"""Image folder -> sharded TFRecords of (L, ab) and a JSON manifest.

Decoding and colour conversion run in forked worker processes that use
OpenCV and NumPy only; the parent serializes and writes. Results come back
in input order, so the same folder gives the same split and the same bytes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import cv2
import tensorflow as tf
from tqdm import tqdm

from colorize import color, imageio
from colorize.data import records

MANIFEST = "manifest.json"
SPLITS = ("train", "val")


class BuildError(Exception):
    """A problem with the build's arguments or folders (not with one image)."""


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    input: str
    output: str
    size: int = 64
    shards: int = 8
    val_fraction: float = 0.05
    skip_gray: bool = True
    gray_threshold: float = 3.0  # mean chroma, Lab units (shared/data's rule)
    workers: int = 0  # 0: one per core
    overwrite: bool = False
    progress: bool = True

    def validate(self) -> None:
        if self.size < 8:
            raise BuildError(f"--size must be at least 8 px, got {self.size}")
        if self.shards < 1:
            raise BuildError(f"--shards must be at least 1, got {self.shards}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise BuildError(f"--val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.gray_threshold < 0:
            raise BuildError(f"--gray_threshold must be >= 0, got {self.gray_threshold}")
        if self.workers < 0:
            raise BuildError(f"--workers must be >= 0, got {self.workers}")


def split_of(relpath: str, val_fraction: float) -> str:
    """Deterministic split from a hash of the relative path: a file keeps its
    split when other files are added or removed."""
    h = int.from_bytes(hashlib.sha1(relpath.encode("utf-8")).digest()[:8], "big")
    return "val" if h / 2.0**64 < val_fraction else "train"


# Every photo is stored whole, squashed to a square, because that is how
# inference feeds a photo to the network (colorize.inference): the model
# must meet at inference the geometry it was trained on. A centre crop
# would train on a zoomed, cut view and colorize whole, squashed photos.
GEOMETRY = "squash"


def prepare_lab(rgb, size: int):
    """RGB float [H, W, 3] -> Lab float32 [size, size, 3], the whole photo
    squashed (see GEOMETRY)."""
    return color.rgb_to_lab_np(imageio.resize(rgb, size, size))


# --- worker side (no TF) ----------------------------------------------------

_WORKER_ARGS: dict = {}


def _init_worker(args: dict) -> None:
    _WORKER_ARGS.update(args)
    cv2.setNumThreads(1)  # one process per core already


def _process(relpath: str) -> tuple:
    a = _WORKER_ARGS
    try:
        rgb = imageio.read_image(os.path.join(a["root"], relpath))
    except imageio.UnreadableImage as e:
        return ("skipped", relpath, str(e))
    lab = prepare_lab(rgb, a["size"])
    chroma = color.mean_chroma_np(lab)
    if a["skip_gray"] and chroma < a["gray_threshold"]:
        return ("gray", relpath, round(chroma, 3))
    l_u8, ab_i8 = color.quantize_lab_np(lab)
    return ("ok", relpath, l_u8, ab_i8)


def _results(files: list[str], worker_args: dict, workers: int) -> Iterator[tuple]:
    if workers == 1:
        _init_worker(worker_args)
        yield from map(_process, files)
        return
    # fork: children inherit the imported modules instead of re-importing TF.
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_init_worker, initargs=(worker_args,)) as pool:
        yield from pool.imap(_process, files, chunksize=8)


# --- parent side ------------------------------------------------------------

class _ShardSet:
    """N shard writers for one split, round-robin, under temporary names."""

    def __init__(self, out: Path, split: str, n: int):
        self.final = [out / f"{split}-{i:05d}{records.SHARD_SUFFIX}" for i in range(n)]
        self.tmp = [p.with_name(".tmp-" + p.name) for p in self.final]
        self.writers = [tf.io.TFRecordWriter(str(p)) for p in self.tmp]
        self.counts = [0] * n
        self.next = 0

    def write(self, serialized: bytes) -> None:
        i = self.next
        self.writers[i].write(serialized)
        self.counts[i] += 1
        self.next = (i + 1) % len(self.writers)

    def close(self) -> None:
        for w in self.writers:
            w.close()

    def commit(self) -> list[dict]:
        """Rename complete shards to their final names; drop empty ones."""
        shards = []
        for tmp, final, count in zip(self.tmp, self.final, self.counts):
            if count == 0:
                tmp.unlink()
                continue
            os.replace(tmp, final)
            shards.append({"file": final.name, "examples": count})
        return shards

    def discard(self) -> None:
        for tmp in self.tmp:
            tmp.unlink(missing_ok=True)


def _check_folders(cfg: BuildConfig) -> tuple[Path, Path, list[str]]:
    root = Path(cfg.input)
    if not root.is_dir():
        raise BuildError(f"input folder does not exist: {root}")
    files = imageio.list_images(root)
    if not files:
        raise BuildError(
            f"input folder holds no image files ({', '.join(sorted(imageio.IMAGE_EXTENSIONS))}): {root}")
    out = Path(cfg.output)
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise BuildError(f"--output must not lie inside --input: {out}")
    existing = list(out.glob(f"*{records.SHARD_SUFFIX}")) + list(out.glob(MANIFEST))
    if existing and not cfg.overwrite:
        raise BuildError(f"{out} already holds shards or a manifest; pass --overwrite to replace them")
    out.mkdir(parents=True, exist_ok=True)
    for p in existing:
        p.unlink()
    return root, out, files


def build(cfg: BuildConfig) -> dict:
    """Build the shards and the manifest; returns the manifest."""
    cfg.validate()
    root, out, files = _check_folders(cfg)
    workers = cfg.workers or os.cpu_count() or 1
    n_val_shards = max(1, round(cfg.shards * cfg.val_fraction))
    shard_sets = {"train": _ShardSet(out, "train", cfg.shards),
                  "val": _ShardSet(out, "val", n_val_shards)}
    skipped, gray = [], []
    worker_args = {"root": str(root), "size": cfg.size,
                   "skip_gray": cfg.skip_gray, "gray_threshold": cfg.gray_threshold}
    start = time.monotonic()
    try:
        bar = tqdm(total=len(files), unit="img", desc="building", disable=not cfg.progress,
                   file=sys.stderr, dynamic_ncols=True)
        for result in _results(files, worker_args, workers):
            kind, relpath = result[0], result[1]
            if kind == "ok":
                split = split_of(relpath, cfg.val_fraction)
                shard_sets[split].write(records.encode_example(result[2], result[3], relpath))
            elif kind == "gray":
                gray.append({"path": relpath, "mean_chroma": result[2]})
            else:
                skipped.append({"path": relpath, "reason": result[2]})
            bar.update(1)
        bar.close()
        for s in shard_sets.values():
            s.close()
    except BaseException:
        for s in shard_sets.values():
            s.close()
            s.discard()
        raise
    shards = {split: s.commit() for split, s in shard_sets.items()}
    manifest = {
        "source": str(root.resolve()),
        "options": {k: v for k, v in dataclasses.asdict(cfg).items()
                    if k not in ("input", "output", "overwrite", "progress", "workers")},
        "size": cfg.size,
        "geometry": GEOMETRY,
        "storage": {
            "l": "uint8, L * 255/100 rounded", "ab": "int8, Lab units rounded",
            "max_error_l": round(color.L_STORE_MAX_ERROR, 4),
            "max_error_ab": color.AB_STORE_MAX_ERROR,
        },
        "counts": {
            "found": len(files),
            "train": sum(s["examples"] for s in shards["train"]),
            "val": sum(s["examples"] for s in shards["val"]),
            "gray": len(gray),
            "skipped": len(skipped),
        },
        "shards": shards,
        "skipped": skipped,
        "gray": gray,
    }
    tmp = out / (".tmp-" + MANIFEST)
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out / MANIFEST)
    manifest["seconds"] = time.monotonic() - start
    return manifest


def summary(manifest: dict, output: str) -> str:
    """A one-screen report of a finished build."""
    c = manifest["counts"]
    secs = manifest.get("seconds", 0.0)
    rate = c["found"] / secs if secs > 0 else float("nan")
    lines = [
        f"built {output} from {manifest['source']}",
        f"  found {c['found']} image files: train {c['train']}, val {c['val']}, "
        f"near-gray dropped {c['gray']}, unreadable skipped {c['skipped']}",
        f"  size {manifest['size']} px, {len(manifest['shards']['train'])} train + "
        f"{len(manifest['shards']['val'])} val shards, {secs:.1f} s ({rate:.0f} img/s)",
    ]
    for item in manifest["skipped"][:10]:
        lines.append(f"  skipped {item['path']}: {item['reason']}")
    if len(manifest["skipped"]) > 10:
        lines.append(f"  ... and {len(manifest['skipped']) - 10} more (see {MANIFEST})")
    return "\n".join(lines)
