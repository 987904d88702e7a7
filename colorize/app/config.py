"""colorize-app's settings: each field is a flag of the same name."""
from __future__ import annotations

import dataclasses
from typing import Optional

from colorize import imageio
from colorize.settings import setting


@dataclasses.dataclass(frozen=True)
class AppConfig:
    host: str = setting("127.0.0.1", "Address to listen on. The default answers this "
                        "machine only; 0.0.0.0 opens the page to the network.")
    port: int = setting(8000, "Port to listen on; 0 picks a free one (printed at start).")
    model_dir: Optional[str] = setting(None, "Training run (config.json + checkpoints) "
                                       "instead of the shipped model.")
    step: Optional[int] = setting(None, "Checkpoint step of --model_dir (default: the latest).")
    saved_model: Optional[str] = setting(None, "An exported SavedModel instead of the "
                                         "shipped model.")
    max_megapixels: float = setting(imageio.MAX_PIXELS / 1e6,
                                    "Refuse photos that decode to more pixels than this "
                                    "(eval.py's limit by default; lower it on a small "
                                    "server: a job on a photo takes about 20 bytes a "
                                    "pixel while it runs).")
    max_upload_mb: float = setting(100.0, "Refuse uploads larger than this many megabytes "
                                   "(a request's whole body).")
    jobs: int = setting(2, "Colorizations run at once, over all users; more wait their turn "
                        "(each job uses every core, so more than the core count gains "
                        "nothing).")
    memory_gb: float = setting(4.0, "Photos, results and marks held for all users (10 "
                               "bytes a pixel), at most; the least recently used are dropped "
                               "beyond it (their page asks for the photo again).")

    @property
    def max_pixels(self) -> int:
        return round(self.max_megapixels * 1e6)

    @property
    def max_upload_bytes(self) -> int:
        return round(self.max_upload_mb * 1e6)

    def check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port={self.port} is not a port number (0-65535)")
        for name in ("max_megapixels", "max_upload_mb", "memory_gb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be positive, got {getattr(self, name)}")
        if self.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {self.jobs}")
        if self.model_dir and self.saved_model:
            raise ValueError("pass --model_dir or --saved_model, not both")
        if self.step is not None and not self.model_dir:
            raise ValueError("--step needs --model_dir")
