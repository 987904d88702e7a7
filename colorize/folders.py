"""The rules every tool that walks a folder of photos follows (the shard
builder and eval.py):

- Only regular files with an image extension are opened (symbolic links to
  them count). Pipes, sockets, devices and broken links are listed as
  skipped with the reason, never opened, so nothing blocks. Other files
  (.txt, .json, ...) are listed as ignored.
- Any exception while reading or converting one file is that file's skip
  reason; the run goes on.
- Any name the file system allows is processed. Names that are not valid
  UTF-8 are shown and stored with the odd bytes escaped (display_name).
- The exit status says what happened (EXIT_* below).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from colorize import imageio

# Exit statuses of the folder tools (colorize.data, eval.py).
EXIT_OK = 0        # every image file gave its output (or was already there)
EXIT_SKIPPED = 1   # the run finished, but some files were skipped (listed, with reasons)
EXIT_USAGE = 2     # nothing was done: bad flags or folders (the message says which)
# Stopped by SIGINT or SIGTERM: 128 + the signal's number (130, 143);
# complete outputs are kept, partial ones removed.


def display_name(relpath: str) -> str:
    """relpath for messages, CSV and JSON: names that are not valid UTF-8
    (Python keeps their bytes as surrogates, which cannot be printed or
    encoded) get those bytes as \\xNN escapes."""
    return os.fsencode(relpath).decode("utf-8", "backslashreplace")


def skip_reason(error: Exception) -> str:
    """A file's skip reason from the exception it raised: an unreadable
    image's own message, else the exception's type and message."""
    if isinstance(error, imageio.UnreadableImage):
        return str(error)
    return f"{type(error).__name__}: {str(error).strip() or 'no message'}"


@dataclass
class Scan:
    """What a folder holds: images to process (relative paths, POSIX
    separators, sorted), and what is skipped or ignored (display names)."""
    images: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}
    ignored: list[str] = field(default_factory=list)


def scan(root: str | os.PathLike) -> Scan:
    """Walk root recursively, in sorted order (every run sees the same
    order). Folders that cannot be listed are skipped with the reason;
    symbolic links to folders are not followed (they can loop)."""
    root = Path(root)
    found = Scan()

    def unlistable(error: OSError) -> None:
        rel = os.path.relpath(error.filename, root) if error.filename else "."
        found.skipped.append({"path": display_name(Path(rel).as_posix()),
                              "reason": f"cannot list folder: {error.strerror or error}"})

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlistable):
        dirnames.sort()
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if not imageio.is_image_name(name):
                found.ignored.append(display_name(rel))
                continue
            reason = _not_regular(path)
            if reason:
                found.skipped.append({"path": display_name(rel), "reason": reason})
            else:
                found.images.append(rel)
    found.images.sort()
    found.ignored.sort()
    return found


def _not_regular(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode  # follows symbolic links
    except OSError as e:
        kind = "broken symbolic link" if path.is_symlink() else "cannot read file"
        return f"{kind}: {e.strerror or e}"
    return None if stat.S_ISREG(mode) else f"not a regular file: {imageio.file_kind(mode)}"


def list_images(root: str | os.PathLike) -> list[str]:
    """The image files scan() would process."""
    return scan(root).images


def output_names(relpaths: list[str]) -> dict[str, str]:
    """Input relpath -> output relpath for colour results. A name keeps its
    extension when OpenCV writes colour in it; otherwise ".png" is appended
    (x.pgm -> x.pgm.png, so that it cannot meet a sibling x.png's output).
    A name that is still taken gets "-2", "-3" ... before its extension,
    in sorted order: no two inputs ever share an output."""
    wanted = {}
    for rel in relpaths:
        keeps = Path(rel).suffix.lower() in imageio.COLOUR_WRITE_EXTENSIONS
        wanted[rel] = rel if keeps else rel + ".png"
    taken = {out for rel, out in wanted.items() if out == rel}  # own names first
    names = {}
    for rel in sorted(relpaths):
        out = wanted[rel]
        if out != rel:
            stem, suffix = os.path.splitext(out)
            n = 1
            while out in taken:
                n += 1
                out = f"{stem}-{n}{suffix}"
            taken.add(out)
        names[rel] = out
    return names


def inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether path is folder or lies below it (after resolving links)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents
