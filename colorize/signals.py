"""SIGINT (Ctrl-C) and SIGTERM (what a preemptible cloud machine or a job
scheduler sends before it stops a process), for every command.

Python runs a signal handler only between bytecodes of the main thread:
while a compiled TensorFlow call or an OpenCV decode runs, a signal waits
for it to return. Both mechanisms below are built on that:
- stop_on_signals (the folder tools: a Python loop per photo): the signal
  raises Stopped at once, between photos;
- StopRequest (training, whose compiled calls may run for minutes): the
  first signal only sets a flag, so the loop checkpoints after the call in
  flight; it also gives both signals back their default action, so a
  second one ends the process at once, even inside a compiled call (the
  last checkpoint is kept: TensorFlow writes a checkpoint's files under
  temporary names).
Outside the main thread signals cannot be caught: then nothing changes."""
from __future__ import annotations

import contextlib
import signal
import threading

from absl import logging

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a command. A KeyboardInterrupt, so that
    per-file `except Exception` handlers do not take it for one bad file."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # the shell's code for death by that signal


@contextlib.contextmanager
def handled(handler):
    """handler(signum, frame) for SIGINT and SIGTERM while inside; the
    previous handlers afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def stop_on_signals():
    """Either signal raises Stopped in the main thread, so that a tool cleans
    up the same way for both and exits with 128 + the signal's number."""
    def handler(signum, frame):
        raise Stopped(signum)

    with handled(handler):
        yield


class StopRequest:
    """While active, the first SIGINT or SIGTERM sets `signum` (and logs
    what happens next); a second ends the process at once (see above)."""

    def __init__(self):
        self.signum = None
        self._scope = None

    def _handle(self, signum, frame):
        self.signum = signum
        for s in SIGNALS:
            signal.signal(s, signal.SIG_DFL)
        logging.warning("%s: stopping at the end of the compiled call in flight to save a "
                        "checkpoint (send it again to stop at once, without one)",
                        signal.Signals(signum).name)

    def __enter__(self):
        self._scope = handled(self._handle)
        self._scope.__enter__()
        return self

    def __exit__(self, *exc):
        return self._scope.__exit__(*exc)
