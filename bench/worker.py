"""Measuring in a child process: each benchmark mode runs in a fresh
Python (its own start-up, compile caches and peak memory), which prints
its figures as one JSON line last."""
from __future__ import annotations

import json
import subprocess


def run_json(cmd: list[str], label: str) -> dict:
    """Run cmd; its last stdout line parsed as JSON. A failure raises with
    the end of the child's stderr."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_resident_bytes() -> int:
    """This process's peak resident memory (VmHWM, Linux). Not ru_maxrss:
    that survives exec, so a child started by a large parent reports the
    parent's size at the fork when its own peak is smaller."""
    with open("/proc/self/status") as status:
        line = next(l for l in status if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024  # kB
