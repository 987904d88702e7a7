"""Start the page: python -m colorize.app (console script colorize-app).

    colorize-app                          # http://127.0.0.1:8000/, the shipped model
    colorize-app --port=0                 # a free port, printed
    colorize-app --saved_model=exported/wgan_l1 --max_megapixels=12
"""
from __future__ import annotations

import sys

from absl import app, flags

from colorize import quiet

quiet.setup_process()  # before TensorFlow loads (the server's modules)

from colorize import settings  # noqa: E402
from colorize.app.config import AppConfig  # noqa: E402

# module_name: the program being run, so that --helpshort lists these flags.
settings.define_flags(AppConfig, module_name=sys.argv[0])
FLAGS = flags.FLAGS


def main(argv) -> int:
    del argv
    try:
        cfg = AppConfig(**settings.values_from_flags(AppConfig))
        cfg.check()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        from colorize.app import server  # Flask: the app extra
    except ImportError as e:
        print(f'error: colorize-app needs the app extra (pip install -e ".[app]"): {e}',
              file=sys.stderr)
        return 2
    print("colorize-app: loading the model ...", flush=True)
    try:
        server.serve(cfg, ready=lambda url: print(f"colorize-app: serving on {url} "
                                                  "(Ctrl+C stops)", flush=True))
    except (FileNotFoundError, ValueError, OSError) as e:  # the model, or the port
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
