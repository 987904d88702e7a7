"""colorize-app's response times, through real HTTP on 127.0.0.1, side by
side with the same work called directly (what the web layer costs).

    python bench/bench_app.py [--megapixels 1 12] [--strokes 30] [--repeats 3]

Needs the app extra (pip install -e ".[app]") and requests (pulled in by
the test extra). A server thread serves the page's API exactly as
colorize-app does (werkzeug's threaded server, the shipped model); one
client uploads a photo (scikit-image's astronaut, resized to the size
asked for) and times, each the best of --repeats after a warm-up:
  upload -> result:    POST the PNG, poll the job until done (decoding, the
                       automatic colorization);
  scribbles -> result: POST --strokes strokes, poll until done (rasterising,
                       the model + scribbles method);
  show result:         GET the result PNG the page displays;
  download PNG / JPEG: GET the full-resolution downloads;
and the two methods called directly on the decoded photo (no HTTP, no
polling). Last, two clients upload at once: the time until both results
are ready against one alone (two cores: jobs share them).
"""
import argparse
import io
import os
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import requests  # noqa: E402

from colorize import imageio  # noqa: E402
from colorize.app import methods, server  # noqa: E402
from colorize.app.config import AppConfig  # noqa: E402

POLL = 0.01  # s between job polls: finer than the page's 0.1 s, so it does not pad the times


def photo_of(megapixels: float) -> np.ndarray:
    import skimage.data
    side = round((megapixels * 1e6) ** 0.5)
    return imageio.resize(skimage.data.astronaut(), side, side)


def strokes_for(height: int, width: int, count: int, seed: int = 0) -> list[dict]:
    """count short strokes of random colours over the photo, radius 0.5 %
    of its width: a user's few dozen scribbles."""
    rng = np.random.default_rng(seed)
    strokes = []
    for _ in range(count):
        x, y = rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height
        dx, dy = rng.normal(0, 0.03 * width, 2)
        points = [[x + dx * t, y + dy * t] for t in np.linspace(0, 1, 8)]
        colour = "#%02x%02x%02x" % tuple(rng.integers(0, 256, 3))
        strokes.append({"color": colour, "radius": 0.005 * width, "points": points})
    return strokes


class Client:
    def __init__(self, url: str):
        self.url, self.http = url, requests.Session()

    def wait(self, job: dict) -> dict:
        while True:
            job = self.http.get(f"{self.url}api/jobs/{job['id']}").json()
            if job["state"] == "done":
                return job
            if job["state"] == "error":
                raise RuntimeError(job["message"])
            time.sleep(POLL)

    def upload(self, png: bytes) -> str:
        answer = self.http.post(f"{self.url}api/photo", files={"photo": ("p.png", png)}).json()
        self.wait(answer["job"])
        return answer["photo"]["id"]

    def scribbles(self, photo_id: str, strokes: list) -> None:
        answer = self.http.post(f"{self.url}api/photos/{photo_id}/scribbles",
                                json={"strokes": strokes})
        answer.raise_for_status()
        self.wait(answer.json()["job"])

    def get(self, path: str) -> bytes:
        response = self.http.get(f"{self.url}{path}")
        response.raise_for_status()
        return response.content


def best(fn, repeats: int) -> float:
    fn()  # warm-up: kernels compiled for this size
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1.0])
    parser.add_argument("--strokes", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    cfg = AppConfig(port=0)
    engine = server.load_engine(cfg)
    httpd = server.http_server(cfg, engine)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/"
    print(f"model: {engine.model.name}; {os.cpu_count()} cores; best of {args.repeats}")

    for mp in args.megapixels:
        photo = photo_of(mp)
        h, w = photo.shape[:2]
        png = imageio.encode_image(photo, ".png")
        strokes = strokes_for(h, w, args.strokes)
        client = Client(url)
        photo_id = client.upload(png)
        rows = [("upload -> result", best(lambda: client.upload(png), args.repeats)),
                ("  automatic, called directly",
                 best(lambda: methods.automatic(photo, engine.model, lambda *_: None),
                      args.repeats))]
        photo_id = client.upload(png)
        parsed = methods.parse_strokes(strokes, w, h)
        rows += [
            (f"{args.strokes} scribbles -> result",
             best(lambda: client.scribbles(photo_id, strokes), args.repeats)),
            ("  rasterise + method, called directly",
             best(lambda: methods.scribbles(photo, methods.rasterize(parsed, h, w),
                                            engine.model, lambda *_: None), args.repeats))]
        rows += [("show result (PNG)",
                  best(lambda: client.get(f"api/photos/{photo_id}/result.png"), args.repeats)),
                 ("download PNG", best(lambda: client.get(
                     f"api/photos/{photo_id}/download.png"), args.repeats)),
                 ("download JPEG", best(lambda: client.get(
                     f"api/photos/{photo_id}/download.jpg"), args.repeats))]
        two = [Client(url), Client(url)]

        def both():
            threads = [threading.Thread(target=c.upload, args=(png,)) for c in two]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        rows.append(("two users upload at once -> both results", best(both, args.repeats)))
        print(f"\n{w}x{h} px ({w * h / 1e6:.2f} MP), PNG {len(png) / 1e6:.1f} MB")
        for name, seconds in rows:
            print(f"  {name:<45} {seconds:7.3f} s")
    httpd.shutdown()


if __name__ == "__main__":
    main()
