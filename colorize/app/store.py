"""Users' photos, results and jobs, held in memory only (the server writes
no file): one Session per browser (a random cookie), holding its current
photo. Everything a request names is looked up inside the caller's own
session, so one user can never see or change another's photo, and ids
are random (not guessable from each other).

Jobs run in threads of their own, at most `jobs` at once over all users
(a semaphore): a request never waits for a job, and a job waits only for
the jobs ahead of it. A session's jobs run one after the other (its photo
lock), so results arrive in the order they were asked for.
"""
from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

import numpy as np

from colorize.app import methods

JOBS_KEPT = 20  # finished jobs remembered per session (their status stays readable)
# Sessions remembered, at most (the least recently used go first): every
# cookie-less request makes one, so their number must be bounded too.
MAX_SESSIONS = 1000


def new_id() -> str:
    return secrets.token_urlsafe(16)


class NotFound(LookupError):
    """A photo or job that is not (or no longer) in the caller's session."""


class Replaced(LookupError):
    """A photo of this session that a later upload has replaced."""


@dataclasses.dataclass
class Photo:
    name: str  # the uploaded file's name (shown, and used for downloads)
    pixels: np.ndarray  # uint8 or uint16 RGB, as eval reads photos
    gray: bool
    id: str = dataclasses.field(default_factory=new_id)
    result: np.ndarray | None = None  # uint8 RGB
    version: int = 0  # bumped with every new result (the page's cache key)
    method: str = ""  # what made the result
    hints: np.ndarray | None = None  # the applied scribbles' RGBA, if any
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.pixels, self.result, self.hints) if a is not None)

    def describe(self) -> dict:
        return {"id": self.id, "name": self.name, "width": self.width, "height": self.height,
                "gray": self.gray, "version": self.version, "method": self.method}


@dataclasses.dataclass
class Job:
    photo_id: str
    id: str = dataclasses.field(default_factory=new_id)
    state: str = "queued"  # queued, running, done or error
    stage: str = "waiting for a free worker"
    progress: float = 0.0
    message: str = ""
    created: float = dataclasses.field(default_factory=time.monotonic)
    seconds: float | None = None  # run time, once finished

    def report(self, stage: str, fraction: float) -> None:
        self.stage, self.progress = stage, float(fraction)

    def describe(self) -> dict:
        return {"id": self.id, "photo": self.photo_id, "state": self.state,
                "stage": self.stage, "progress": self.progress, "message": self.message,
                "elapsed": round(time.monotonic() - self.created, 2), "seconds": self.seconds}


@dataclasses.dataclass
class Session:
    id: str
    photo: Photo | None = None
    former: set = dataclasses.field(default_factory=set)  # ids of replaced photos
    jobs: OrderedDict = dataclasses.field(default_factory=OrderedDict)
    last_used: float = dataclasses.field(default_factory=time.monotonic)


class Store:
    """All sessions, under one lock; photos beyond memory_bytes (all
    sessions together) are dropped least recently used first."""

    def __init__(self, memory_bytes: int, jobs: int):
        self.memory_bytes = memory_bytes
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._workers = threading.BoundedSemaphore(jobs)

    def session(self, session_id: str | None) -> Session:
        """The session with this cookie value, or a new one."""
        with self._lock:
            found = self._sessions.get(session_id or "")
            if found is None:
                found = Session(new_id())
                self._sessions[found.id] = found
                if len(self._sessions) > MAX_SESSIONS:
                    oldest = min(self._sessions.values(), key=lambda s: s.last_used)
                    del self._sessions[oldest.id]
            found.last_used = time.monotonic()
            return found

    def set_photo(self, session: Session, photo: Photo) -> None:
        with self._lock:
            if session.photo is not None:
                session.former.add(session.photo.id)
            session.photo = photo
        self.trim(keep=session)

    def photo(self, session: Session, photo_id: str) -> Photo:
        photo = session.photo
        if photo is not None and secrets.compare_digest(photo.id, photo_id):
            return photo
        if photo_id in session.former:
            raise Replaced("this photo has since been replaced by another upload (in this "
                           "or another tab): its scribbles and results are gone; work on "
                           "the current photo")
        raise NotFound("no such photo here (the server dropped it to free memory, or was "
                       "restarted): upload it again")

    def job(self, session: Session, job_id: str) -> Job:
        job = session.jobs.get(job_id)
        if job is None:
            raise NotFound("no such job in this session")
        return job

    def held_bytes(self) -> int:
        with self._lock:
            return sum(s.photo.nbytes for s in self._sessions.values() if s.photo)

    def trim(self, keep: Session | None = None) -> None:
        """Drop the least recently used sessions' photos until the photos
        held fit memory_bytes (never keep's: its user is waiting for it)."""
        with self._lock:
            held = sum(s.photo.nbytes for s in self._sessions.values() if s.photo)
            for s in sorted(self._sessions.values(), key=lambda s: s.last_used):
                if held <= self.memory_bytes:
                    break
                if s is keep or s.photo is None:
                    continue
                held -= s.photo.nbytes
                s.photo = None

    def start(self, session: Session, photo: Photo,
              work: Callable[[Photo, methods.Progress], tuple[np.ndarray, str, object]]) -> Job:
        """Run work(photo, progress) -> (result, method name, hints or None)
        in a thread; the photo takes the result when it finishes, unless
        it was replaced meanwhile."""
        job = Job(photo.id)
        with self._lock:
            session.jobs[job.id] = job
            while len(session.jobs) > JOBS_KEPT:
                session.jobs.popitem(last=False)
        threading.Thread(target=self._run, args=(session, photo, job, work),
                         name=f"job-{job.id[:6]}", daemon=True).start()
        return job

    def _run(self, session: Session, photo: Photo, job: Job, work) -> None:
        with photo.lock, self._workers:
            job.state, start = "running", time.monotonic()
            job.report("starting", 0.0)
            try:
                result, method, hints = work(photo, job.report)
            except methods.BadInput as e:
                job.state, job.message = "error", str(e)
            except Exception as e:  # noqa: BLE001 - shown on the page; the server goes on
                job.state, job.message = "error", f"{type(e).__name__}: {e}"
            else:
                photo.result, photo.method, photo.hints = result, method, hints
                photo.version += 1
                job.state = "done"
                job.report("done", 1.0)
            job.seconds = round(time.monotonic() - start, 3)
        self.trim(keep=session)
