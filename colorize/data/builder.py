"""Image folder -> sharded TFRecords of (L, ab) and a JSON manifest.

Decoding and colour conversion run in worker processes (forked from a
clean fork server) that use OpenCV and NumPy only; the parent serializes and writes. Results come back
in input order, so the same folder gives the same split and the same bytes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path
from typing import Iterator

import cv2
import tensorflow as tf
from tqdm import tqdm

from colorize import color, files, folders, imageio
from colorize.data import records
from colorize.settings import REQUIRED, setting

MANIFEST = "manifest.json"
SPLITS = ("train", "val")


class BuildError(Exception):
    """A problem with the build's arguments or folders (not with one image)."""


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """python -m colorize.data's settings: each field with setting() is a
    flag of the same name (colorize.settings)."""
    input: str = setting(REQUIRED, "Folder of photos, walked recursively.")
    output: str = setting(REQUIRED, "Folder for the shards and manifest.json.")
    size: int = setting(64, "Stored image size in px: each photo is stored whole, squashed to "
                        "size x size, as inference sees it.")
    shards: int = setting(8, "Number of train shards (val gets shards * val_fraction, at "
                          "least 1).")
    val_fraction: float = setting(0.05, "Fraction of files for val, split by a hash of the "
                                  "relative path.")
    skip_gray: bool = setting(True, "Drop near-grayscale photos (they teach desaturation).")
    gray_threshold: float = setting(3.0, "Mean chroma (Lab units) below which a photo counts "
                                    "as gray.")
    workers: int = setting(0, "Decoding processes; 0 means one per core.")
    max_pixels: int = setting(
        imageio.MAX_PIXELS, "Skip photos that would decode to more pixels than this (JPEGs are "
        "decoded at 1/2 to 1/8 size first when --size allows): bounds each worker's memory.",
        flag="max_megapixels", unit=1e6)
    overwrite: bool = setting(False, "Replace shards already in --output.")
    progress: bool = True  # a progress bar on stderr (off in tests)

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
        if self.max_pixels < 1:
            raise BuildError(f"--max_megapixels must be > 0, got {self.max_pixels / 1e6:g}")


def split_of(relpath: str, val_fraction: float) -> str:
    """Deterministic split from a hash of the relative path: a file keeps its
    split when other files are added or removed."""
    h = int.from_bytes(hashlib.sha1(os.fsencode(relpath)).digest()[:8], "big")
    return "val" if h / 2.0**64 < val_fraction else "train"


# Every photo is stored whole, squashed to a square, because that is how
# inference feeds a photo to the network (colorize.inference): the model
# must meet at inference the geometry it was trained on. A centre crop
# would train on a zoomed, cut view and colorize whole, squashed photos.
GEOMETRY = "squash"


def prepare_lab(rgb, size: int):
    """RGB [H, W, 3] (float in [0, 1], uint8 or uint16) -> Lab float32
    [size, size, 3]: what the network sees of the photo (imageio.network_rgb,
    the route inference takes too), the whole photo squashed (see GEOMETRY)."""
    return color.rgb_to_lab_np(imageio.network_rgb(rgb, size))


def read_photo(path: str, size: int, max_pixels: int | None = imageio.MAX_PIXELS):
    """A file as the builder reads it: its own samples, decoded at reduced
    size where imageio.SHRINK_MARGIN allows."""
    return imageio.read_image(path, keep_depth=True, min_side=imageio.SHRINK_MARGIN * size,
                              max_pixels=max_pixels)


# --- worker side (no TF) ----------------------------------------------------

_WORKER_ARGS: dict = {}


def _init_worker(args: dict) -> None:
    _WORKER_ARGS.update(args)
    cv2.setNumThreads(1)  # one process per core already
    # Ctrl-C reaches the whole process group: the parent handles it and
    # ends the pool; workers that raised too would each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _process(relpath: str) -> tuple:
    try:
        return _convert(relpath)
    except Exception as e:  # noqa: BLE001 - any failure is this file's skip reason
        return ("skipped", relpath, folders.skip_reason(e))


def _convert(relpath: str) -> tuple:
    a = _WORKER_ARGS
    rgb = read_photo(os.path.join(a["root"], relpath), a["size"], a["max_pixels"])
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
    # forkserver, not a plain fork of this process: a child forked from a
    # process with other threads (OpenCV's and TensorFlow's pools, a web
    # server's) can deadlock on a lock one of them held at the fork; the
    # test suite's first build hung so, twice, after other tests had run in
    # the same process. The server starts clean, imports this module once
    # and forks each worker from itself, so workers still start without
    # importing TF again.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__])
    with ctx.Pool(workers, initializer=_init_worker, initargs=(worker_args,)) as pool:
        yield from pool.imap(_process, files, chunksize=8)


# --- parent side ------------------------------------------------------------

# The output folder is written through tf.io.gfile: it may be any URI that
# TensorFlow's file systems know (gs://, s3:// ...). Renames there are
# copies, so "complete before it replaces" holds, but not atomicity.

class _ShardSet:
    """N shard writers for one split, round-robin, under temporary names."""

    def __init__(self, out: str, split: str, n: int):
        self.out = out
        self.names = [f"{split}-{i:05d}{records.SHARD_SUFFIX}" for i in range(n)]
        self.tmp = [files.join(out, ".tmp-" + name) for name in self.names]
        self.writers = [tf.io.TFRecordWriter(p) for p in self.tmp]
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

    def listing(self) -> list[dict]:
        """The shards commit() will put in place (empty ones are dropped)."""
        return [{"file": name, "examples": count}
                for name, count in zip(self.names, self.counts) if count]

    def commit(self) -> None:
        """Rename complete shards to their final names; drop empty ones."""
        for tmp, name, count in zip(self.tmp, self.names, self.counts):
            if count:
                tf.io.gfile.rename(tmp, files.join(self.out, name), overwrite=True)
            else:
                tf.io.gfile.remove(tmp)

    def discard(self) -> None:
        for tmp in self.tmp:
            if tf.io.gfile.exists(tmp):
                tf.io.gfile.remove(tmp)


def _check_folders(cfg: BuildConfig) -> tuple[Path, str, folders.Scan]:
    root = Path(cfg.input)
    if not root.is_dir():
        raise BuildError(f"input folder does not exist: {root}")
    out = cfg.output
    if "://" not in out and folders.inside(out, root):
        raise BuildError(f"--output must not lie inside --input: {out}")
    found = folders.scan(root)
    if not found.images:
        raise BuildError(
            f"input folder holds no image files ({', '.join(sorted(imageio.IMAGE_EXTENSIONS))}): "
            f"{root}")
    if _existing(out) and not cfg.overwrite:
        raise BuildError(f"{out} already holds shards or a manifest; pass --overwrite to replace them")
    tf.io.gfile.makedirs(out)
    return root, out, found


def _existing(out: str) -> set[str]:
    """Names of the shards and manifest in out (temporary files aside)."""
    if not tf.io.gfile.isdir(out):
        return set()
    return {name for name in tf.io.gfile.listdir(out)
            if not name.startswith(".tmp-")
            and (name.endswith(records.SHARD_SUFFIX) or name == MANIFEST)}


def _replace_old_build(out: str, shard_sets: dict, manifest: dict) -> None:
    """Put the complete new build in place of the old one: the new shards
    (each renamed over its old namesake), then the manifest, then old
    shards the new build does not have are removed. Until this point the
    old build is untouched, so a failed or interrupted build loses
    nothing."""
    old = _existing(out)
    for shard_set in shard_sets.values():
        shard_set.commit()
    files.write_atomic(files.join(out, MANIFEST), json.dumps(manifest, indent=2) + "\n")
    kept = {s["file"] for split in manifest["shards"].values() for s in split} | {MANIFEST}
    for name in old - kept:
        tf.io.gfile.remove(files.join(out, name))


def build(cfg: BuildConfig) -> dict:
    """Build the shards and the manifest; returns the manifest."""
    cfg.validate()
    root, out, found = _check_folders(cfg)
    files = found.images
    workers = cfg.workers or os.cpu_count() or 1
    n_val_shards = max(1, round(cfg.shards * cfg.val_fraction))
    shard_sets = {"train": _ShardSet(out, "train", cfg.shards),
                  "val": _ShardSet(out, "val", n_val_shards)}
    skipped, gray = list(found.skipped), []
    worker_args = {"root": str(root), "size": cfg.size, "max_pixels": cfg.max_pixels,
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
                gray.append({"path": folders.display_name(relpath), "mean_chroma": result[2]})
            else:
                skipped.append({"path": folders.display_name(relpath), "reason": result[2]})
            bar.update(1)
        bar.close()
        for s in shard_sets.values():
            s.close()
    except BaseException:
        for s in shard_sets.values():
            s.close()
            s.discard()
        raise
    shards = {split: s.listing() for split, s in shard_sets.items()}
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
            "found": len(files) + len(found.skipped),
            "train": sum(s["examples"] for s in shards["train"]),
            "val": sum(s["examples"] for s in shards["val"]),
            "gray": len(gray),
            "skipped": len(skipped),
            "ignored": len(found.ignored),
        },
        "shards": shards,
        "skipped": skipped,
        "gray": gray,
        "ignored": found.ignored,
    }
    _replace_old_build(out, shard_sets, manifest)
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
        f"near-gray dropped {c['gray']}, unreadable skipped {c['skipped']}"
        + (f"; {c['ignored']} other files ignored" if c.get("ignored") else ""),
        f"  size {manifest['size']} px, {len(manifest['shards']['train'])} train + "
        f"{len(manifest['shards']['val'])} val shards, {secs:.1f} s ({rate:.0f} img/s)",
    ]
    for item in manifest["skipped"][:10]:
        lines.append(f"  skipped {item['path']}: {item['reason']}")
    if len(manifest["skipped"]) > 10:
        lines.append(f"  ... and {len(manifest['skipped']) - 10} more (see {MANIFEST})")
    return "\n".join(lines)
