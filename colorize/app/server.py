"""The page's HTTP side: static files and a small JSON API over the store.

Every answer to bad input is a JSON {"error": reason} with a 4xx status,
which the page shows; nothing a user sends can stop the server. Photos
are decoded from the request's bytes (never from a path a user names),
with eval's pixel limit or a smaller one; uploads are capped by Flask's
MAX_CONTENT_LENGTH. Requests whose Host header is not this machine are
refused while the server listens on a loopback address, so that a web
page elsewhere cannot reach it through DNS rebinding.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path

import cv2
import numpy as np
from flask import Flask, Response, abort, g, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from colorize import imageio
from colorize.app import methods
from colorize.app.config import AppConfig
from colorize.app.store import NotFound, Photo, Replaced, Store

STATIC = Path(__file__).parent / "static"
COOKIE = "colorize_session"
# What the page shows is at most this many px a side (a screen's worth;
# the downloads are full resolution): a 12 MP result took 0.8 s to encode
# and 10 MB to send at full size.
VIEW_SIDE = 2048
# Reference photos per request: learning samples a fixed number of pixels
# over all of them, so more add little but decoding time.
MAX_REFERENCES = 20
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _host_name(host_header: str) -> str:
    """"127.0.0.1:8000" -> 127.0.0.1, "[::1]:8000" -> ::1, "localhost" -> localhost."""
    if host_header.startswith("["):
        return host_header[1:host_header.find("]")]
    return host_header.rsplit(":", 1)[0]


def _encode(rgb: np.ndarray, suffix: str) -> bytes:
    """RGB as eval.py writes its outputs (imageio.encode_image: OpenCV's
    defaults, JPEG quality 95); RGBA (the marks) as PNG with alpha."""
    if rgb.shape[-1] == 3:
        return imageio.encode_image(rgb, suffix)
    ok, data = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise OSError(f"OpenCV cannot encode {suffix}")
    return data.tobytes()


def _image(rgb: np.ndarray, suffix: str, download: str | None = None) -> Response:
    mime = "image/png" if suffix == ".png" else "image/jpeg"
    response = Response(_encode(rgb, suffix), mimetype=mime)
    response.headers["Cache-Control"] = "private, max-age=3600"
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return response


def _view(rgb: np.ndarray) -> np.ndarray:
    """rgb shrunk (area) to at most VIEW_SIDE px a side, aspect kept."""
    h, w = rgb.shape[:2]
    factor = VIEW_SIDE / max(h, w)
    if factor >= 1:
        return rgb
    return imageio.resize(rgb, max(1, round(h * factor)), max(1, round(w * factor)))


def _error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


def _safe_stem(name: str) -> str:
    """A download name from the uploaded file's name: its stem, with only
    harmless characters (it goes into a header)."""
    stem = Path(name or "photo").stem
    stem = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_"
                   for c in stem).strip("._")
    return stem[:80] or "photo"


class Engine:
    """The model and the methods the page offers, loaded once."""

    def __init__(self, model):
        self.model = model

    def automatic(self, photo: Photo, progress):
        return methods.automatic(photo.pixels, self.model, progress), "automatic", None

    def scribbles(self, strokes):
        def work(photo: Photo, progress):
            if not strokes:  # all undone: back to the automatic result
                return self.automatic(photo, progress)
            hints = methods.rasterize(strokes, photo.height, photo.width)
            return (methods.scribbles(photo.pixels, hints, self.model, progress),
                    "guided model + scribbles" if self.model.guided else "model + scribbles",
                    hints)
        return work

    def reference(self, references, names):
        def work(photo: Photo, progress):
            return (methods.reference(photo.pixels, references, names, self.model, progress),
                    "reference photos", None)
        return work


def create_app(cfg: AppConfig, engine: Engine) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = cfg.max_upload_bytes
    store = Store(memory_bytes=round(cfg.memory_gb * 2**30), jobs=cfg.jobs)
    app.extensions["colorize_store"] = store
    loopback = _loopback(cfg.host)

    def session():
        if "session" not in g:  # one per request, whoever asks first
            g.session = store.session(request.cookies.get(COOKIE))
        return g.session

    def current_photo(photo_id: str) -> Photo:
        return store.photo(session(), photo_id)

    def decoded(data: bytes, what: str) -> np.ndarray:
        try:
            return imageio.decode_image(data, keep_depth=True, max_pixels=cfg.max_pixels)
        except imageio.UnreadableImage as e:
            raise methods.BadInput(f"{what}: {e}") from None

    def new_photo(name: str, data: bytes) -> Response:
        pixels = decoded(data, name or "the file")
        photo = Photo(name=name or "photo", pixels=pixels, gray=methods.is_gray(pixels))
        s = session()
        store.set_photo(s, photo)
        job = store.start(s, photo, engine.automatic)
        return jsonify(photo=photo.describe(), job=job.describe())

    @app.before_request
    def check_host():
        if loopback and not _loopback(_host_name(request.host)):
            abort(Response("this server answers requests to localhost only", 403))

    @app.after_request
    def headers(response: Response):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.path.startswith("/api/") and request.cookies.get(COOKIE) != session().id:
            response.set_cookie(COOKIE, session().id, httponly=True, samesite="Strict")
        return response

    @app.errorhandler(methods.BadInput)
    def bad_input(e):
        return _error(str(e), 400)

    @app.errorhandler(Replaced)
    def replaced(e):
        return _error(str(e), 409)

    @app.errorhandler(NotFound)
    def not_found(e):
        return _error(str(e), 404)

    @app.errorhandler(HTTPException)
    def http_error(e):
        if e.code == 413:
            return _error(f"the upload is larger than this server's limit of "
                          f"{cfg.max_upload_mb:g} MB (--max_upload_mb)", 413)
        return _error(e.description or e.name, e.code or 500)

    @app.get("/")
    def index():
        return send_from_directory(STATIC, "index.html")

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)  # none: browsers ask anyway

    @app.get("/static/<name>")
    def static_file(name):
        return send_from_directory(STATIC, name)  # refuses paths outside STATIC

    @app.get("/api/config")
    def config():
        return jsonify(max_upload_bytes=cfg.max_upload_bytes, max_pixels=cfg.max_pixels,
                       samples=list(methods.SAMPLES), model=engine.model.name)

    @app.post("/api/photo")
    def upload():
        file = request.files.get("photo")
        if file is None:
            raise methods.BadInput("no file in the upload (form field 'photo')")
        return new_photo(file.filename or "photo", file.read())

    @app.post("/api/sample")
    def sample():
        name, data = methods.sample_photo(str((request.get_json(silent=True) or {}).get("name")))
        return new_photo(name, data)

    @app.get("/api/jobs/<job_id>")
    def job(job_id):
        s = session()
        described = store.job(s, job_id).describe()
        if s.photo is not None and s.photo.id == described["photo"]:
            described["version"] = s.photo.version
        return jsonify(described)

    @app.get("/api/photos/<photo_id>")
    def photo_info(photo_id):
        return jsonify(current_photo(photo_id).describe())

    @app.get("/api/photos/<photo_id>/original.png")
    def original(photo_id):
        return _image(_view(current_photo(photo_id).pixels), ".png")

    @app.get("/api/photos/<photo_id>/result.png")
    def result(photo_id):
        photo = current_photo(photo_id)
        if photo.result is None:
            raise NotFound("this photo has no result yet")
        return _image(_view(photo.result), ".png")

    @app.get("/api/photos/<photo_id>/palette")
    def palette(photo_id):
        photo = current_photo(photo_id)
        if photo.result is None:
            raise NotFound("this photo has no result yet")
        return jsonify(colours=methods.palette(photo.result))

    @app.get("/api/photos/<photo_id>/download.<kind>")
    def download(photo_id, kind):
        photo = current_photo(photo_id)
        if kind not in ("png", "jpg"):
            raise NotFound("download.png or download.jpg")
        if photo.result is None:
            raise NotFound("this photo has no result yet")
        return _image(photo.result, f".{kind}", f"{_safe_stem(photo.name)}_colorized.{kind}")

    @app.get("/api/photos/<photo_id>/marks.png")
    def marks(photo_id):
        photo = current_photo(photo_id)
        if photo.hints is None:
            raise NotFound("no scribbles applied to this result")
        # Named as the photo, so that it goes into a --marks folder as it is.
        return _image(photo.hints, ".png", f"{_safe_stem(photo.name)}.png")

    def photo_job(photo_id: str, work_for) -> Response:
        """Start work_for(photo) on the caller's photo; a replaced or
        unknown photo, or bad input, answers before any work starts."""
        s = session()
        photo = store.photo(s, photo_id)
        return jsonify(job=store.start(s, photo, work_for(photo)).describe())

    @app.post("/api/photos/<photo_id>/scribbles")
    def scribbles(photo_id):
        body = request.get_json(silent=True)

        def work_for(photo):
            if not isinstance(body, dict):
                raise methods.BadInput("expected JSON {strokes: [...]}")
            return engine.scribbles(
                methods.parse_strokes(body.get("strokes"), photo.width, photo.height))

        return photo_job(photo_id, work_for)

    @app.post("/api/photos/<photo_id>/reference")
    def reference(photo_id):
        files = request.files.getlist("reference")

        def work_for(photo):
            if not files:
                raise methods.BadInput("no reference photo in the upload (form field "
                                       "'reference')")
            if len(files) > MAX_REFERENCES:
                raise methods.BadInput(f"{len(files)} reference photos; at most "
                                       f"{MAX_REFERENCES}")
            return engine.reference(*methods.read_references(
                [(f.filename or f"reference {i + 1}", f.read()) for i, f in enumerate(files)],
                cfg.max_pixels))

        return photo_job(photo_id, work_for)

    return app


def load_engine(cfg: AppConfig) -> Engine:
    from colorize import evaluate  # TF and the model: only when serving
    try:  # eval.py's choice of model, same flags
        model = evaluate.load_model(evaluate.EvalConfig(
            input="", output="", model_dir=cfg.model_dir, step=cfg.step,
            saved_model=cfg.saved_model))
    except evaluate.EvalError as e:
        raise ValueError(str(e)) from None
    return Engine(model)


# Photo sizes colorized at start: the full-resolution kernels compile once
# per strip size (colorize.inference.STRIP_SIZES), the smallest and the
# largest here; the largest serves every photo of a megapixel or more.
WARM_UP_SIZES = ((8, 8), (1024, 1024))


def warm_up(engine: Engine) -> None:
    """The first colorization of a size class (and the first scribbles)
    compile kernels and import solvers: done at start, not for the first
    users."""
    for height, width in WARM_UP_SIZES:
        methods.automatic(np.full((height, width, 3), 128, np.uint8), engine.model,
                          lambda *_: None)
    photo = np.full((8, 8, 3), 128, np.uint8)
    hints = methods.rasterize([methods.Stroke((255, 0, 0), 1.0, ((4.0, 4.0),))], 8, 8)
    methods.scribbles(photo, hints, engine.model, lambda *_: None)


def http_server(cfg: AppConfig, engine: Engine):
    """werkzeug's threaded server (a thread per request) on cfg.host and
    cfg.port, quiet: the page polls its jobs several times a second, and
    a line per request would bury anything worth reading."""
    import logging

    from werkzeug.serving import make_server
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return make_server(cfg.host, cfg.port, create_app(cfg, engine), threaded=True)


def serve(cfg: AppConfig, ready=print) -> None:
    """Load the model, then serve until interrupted. ready(url) is called
    once the port is open (colorize-app prints it; tests read it)."""
    engine = load_engine(cfg)
    server = http_server(cfg, engine)  # a port in use fails here, before the warm-up
    warm_up(engine)
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    ready(f"http://{host}:{server.server_port}/")
    server.serve_forever()
