"""Start the page: python -m colorize.app (console script colorize-app).

    colorize-app                          # http://127.0.0.1:8000/, the shipped model
    colorize-app --port=0                 # a free port, printed
    colorize-app --saved_model=exported/wgan_l1 --max_megapixels=12
"""
from __future__ import annotations

import sys

from absl import app, flags

from colorize import settings
from colorize.app.config import AppConfig

settings.define_flags(AppConfig, module_name="colorize.app")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    cfg = AppConfig(**settings.values_from_flags(AppConfig))
    try:
        cfg.check()
        import flask  # noqa: F401 - the app extra, checked before the model loads
    except ImportError:
        print('error: colorize-app needs the web extra: pip install -e ".[app]"', file=sys.stderr)
        return 2
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from colorize.app import server

    print(f"colorize-app: loading the model ...", flush=True)
    try:
        server.serve(cfg, ready=lambda url: print(f"colorize-app: serving on {url} "
                                                  "(Ctrl+C stops)", flush=True))
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def run():
    """Console script colorize-app."""
    app.run(lambda argv: _exit(main(argv)))


def _exit(status: int):
    from colorize import shutdown
    return shutdown.exit_now(status)


if __name__ == "__main__":
    run()
