"""colorize-app without a browser: the methods its buttons call (strokes ->
hints image, the palette), and its HTTP API through Flask's test client
(bad input, sessions, limits). The browser tests are in
test_app_browser.py."""
import io
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flask", reason='colorize-app needs its extra: pip install -e ".[app]"')

from colorize import imageio  # noqa: E402
from colorize.app import methods, server, store as store_lib  # noqa: E402
from colorize.app.config import AppConfig  # noqa: E402

from tests.conftest import COLORS, colour_image  # noqa: E402


def png_bytes(rgb: np.ndarray) -> bytes:
    return imageio.encode_image(rgb, ".png")


# --- strokes -> hints ------------------------------------------------------

def test_a_dot_is_a_disc_of_the_brush_radius_in_the_exact_colour():
    """A click at the centre of pixel (10, 8): the pixels whose centres are
    within 3 px of it."""
    hints = methods.rasterize([methods.Stroke((200, 10, 20), 3.0, ((10.5, 8.5),))], 20, 30)
    drawn = hints[..., 3] == 255
    yy, xx = np.mgrid[0:20, 0:30]
    np.testing.assert_array_equal(drawn, (xx - 10) ** 2 + (yy - 8) ** 2 <= 3 ** 2)
    assert drawn.sum() == 29  # the lattice points of a disc of radius 3
    assert (hints[drawn][:, :3] == (200, 10, 20)).all()  # no anti-aliased edge
    assert (hints[~drawn] == 0).all()  # transparent elsewhere


@pytest.mark.parametrize("points", [
    ((0.5, 0.5), (599.5, 599.5)),  # one long segment (drawn in short boxes)
    tuple((x + 0.5, x + 0.5) for x in np.arange(0.0, 600.0, 1.5)),  # 400 points
])
def test_a_long_stroke_is_a_band_of_the_brush_width(points):
    """A diagonal: the pixels whose centres are within the radius of the
    line (the closed form |x - y| / sqrt(2) <= r), up to half a pixel."""
    hints = methods.rasterize([methods.Stroke((1, 2, 3), 4.0, points)], 600, 600)
    drawn = hints[..., 3] == 255
    yy, xx = np.mgrid[0:600, 0:600]
    distance = np.abs(xx - yy) / np.sqrt(2)
    inner = (distance <= 3.5) & (np.minimum(xx, yy) >= 4) & (np.maximum(xx, yy) < 596)
    assert drawn[inner].all() and not drawn[distance > 4.5].any()


def test_a_stroke_covers_its_path_and_later_strokes_paint_over():
    red = methods.Stroke((255, 0, 0), 1.0, ((2.5, 5.5), (17.5, 5.5)))
    blue = methods.Stroke((0, 0, 255), 1.0, ((10.5, 0.5), (10.5, 9.5)))
    hints = methods.rasterize([red, blue], 10, 20)
    # Row 5: red from 1 to 18 (the ends' round caps), blue where the
    # blue band (columns 9-11) crossed it.
    red_cols = np.flatnonzero((hints[5] == (255, 0, 0, 255)).all(-1))
    assert red_cols.tolist() == [*range(1, 9), *range(12, 19)]
    assert (hints[:, 9:12] == (0, 0, 255, 255)).all()  # the blue band, top to bottom
    assert (hints[[3, 7], 2:9, 3] == 0).all()  # red is 3 rows thick (radius 1)
    assert hints[0, 0, 3] == 0 and hints[9, 19, 3] == 0


@pytest.mark.parametrize("items,reason", [
    ("x", "must be a list"),
    ([{"color": "red", "radius": 2, "points": [[1, 1]]}], "#rrggbb"),
    ([{"color": "#ff0000", "radius": 0, "points": [[1, 1]]}], "radius"),
    ([{"color": "#ff0000", "radius": 2, "points": [[1, float("nan")]]}], "not numbers"),
    ([{"color": "#ff0000", "radius": 2, "points": []}], "no points"),
    ([{"color": "#ff0000", "radius": 2}], "is not {color"),
    ([{"color": "#ff0000", "radius": 2, "points": [[-3, -3]]}], "touches the photo"),
    ([{"color": "#ff0000", "radius": 2, "points": [[1, 1], [1e6, 1]]}], "far outside"),
])
def test_bad_strokes_say_what_is_wrong(items, reason):
    with pytest.raises(methods.BadInput, match=reason):
        methods.parse_strokes(items, 40, 30)


def test_strokes_parse_to_photo_coordinates_and_colours():
    strokes = methods.parse_strokes(
        [{"color": "#FF8000", "radius": 2.5, "points": [[1.5, 2], [3, 4]]}], 40, 30)
    assert strokes == [methods.Stroke((255, 128, 0), 2.5, ((1.5, 2.0), (3.0, 4.0)))]


def test_palette_lists_the_main_colours_most_common_first():
    img = np.empty((40, 50, 3), np.uint8)
    img[:, :30] = COLORS["red"]  # 60 %
    img[:, 30:] = COLORS["blue"]  # 40 %
    colours = methods.palette(img)
    assert colours == ["#%02x%02x%02x" % COLORS["red"], "#%02x%02x%02x" % COLORS["blue"]]


def test_samples_are_named_not_opened_by_path():
    name, data = methods.sample_photo("coffee")
    assert name == "coffee.png" and imageio.decode_image(data).shape == (400, 600, 3)
    with pytest.raises(methods.BadInput, match="no sample called"):
        methods.sample_photo("../../../etc/passwd")


# --- the HTTP API ------------------------------------------------------------

@pytest.fixture(scope="module")
def engine():
    from colorize import inference
    return server.Engine(inference.shipped_model())


def make_client(engine, **overrides):
    app = server.create_app(AppConfig(**overrides), engine)
    return app, app.test_client()


@pytest.fixture
def client(engine):
    return make_client(engine)[1]


def wait(client, job_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").get_json()
        if job["state"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def upload(client, data: bytes, name="photo.png"):
    return client.post("/api/photo", data={"photo": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def result_of(client, photo_id) -> np.ndarray:
    response = client.get(f"/api/photos/{photo_id}/download.png")
    assert response.status_code == 200, response.get_json()
    return imageio.decode_image(response.data, keep_depth=True)


def test_upload_gives_the_automatic_result_at_full_size(client):
    photo = colour_image(30, 45, COLORS["green"])
    answer = upload(client, png_bytes(photo), "leaf.png").get_json()
    assert answer["photo"]["width"] == 45 and answer["photo"]["height"] == 30
    assert wait(client, answer["job"]["id"])["state"] == "done"
    got = result_of(client, answer["photo"]["id"])
    from colorize import inference
    expected = inference.colorize_batch([photo], inference.shipped_model())[0]
    np.testing.assert_array_equal(got, expected)  # what eval.py writes
    response = client.get(f"/api/photos/{answer['photo']['id']}/download.jpg")
    assert response.headers["Content-Disposition"] == 'attachment; filename="leaf_colorized.jpg"'
    assert imageio.decode_image(response.data).shape == (30, 45, 3)


def test_truncated_jpeg(client):
    jpeg = imageio.encode_image(colour_image(64, 64, COLORS["red"]), ".jpg")
    message = upload(client, jpeg[:len(jpeg) // 3], "cut.jpg").get_json()["error"]
    assert message.startswith("cut.jpg: ") and "truncated" in message


@pytest.mark.parametrize("data,reason", [
    (b"", "empty file"),
    (b"%PDF-1.4 not a photo", "not a decodable image"),
])
def test_bad_files_get_a_message_and_the_server_goes_on(client, data, reason):
    response = upload(client, data, "notes.pdf")
    assert response.status_code == 400 and reason in response.get_json()["error"]
    good = upload(client, png_bytes(colour_image(16, 16, COLORS["blue"])))
    assert wait(client, good.get_json()["job"]["id"])["state"] == "done"


def test_pixel_and_upload_limits(engine):
    _, client = make_client(engine, max_megapixels=0.001, max_upload_mb=0.05)
    message = upload(client, png_bytes(colour_image(40, 30, COLORS["red"]))).get_json()["error"]
    assert "30x40 px" in message and "limit of 0.001 MP" in message
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)  # 120 kB PNG
    response = upload(client, png_bytes(noise))
    assert response.status_code == 413 and "limit of 0.05 MB" in response.get_json()["error"]


def test_users_never_see_each_others_photos(engine):
    app, alice = make_client(engine)
    bob = app.test_client()
    a = upload(alice, png_bytes(colour_image(20, 20, COLORS["red"]))).get_json()
    b = upload(bob, png_bytes(colour_image(24, 24, COLORS["blue"]))).get_json()
    wait(alice, a["job"]["id"]), wait(bob, b["job"]["id"])
    assert result_of(alice, a["photo"]["id"]).shape == (20, 20, 3)
    assert result_of(bob, b["photo"]["id"]).shape == (24, 24, 3)
    for path in (f"/api/photos/{a['photo']['id']}/download.png", f"/api/jobs/{a['job']['id']}"):
        assert bob.get(path).status_code == 404


def test_a_replaced_photo_says_so(client):
    first = upload(client, png_bytes(colour_image(20, 20, COLORS["red"]))).get_json()
    second = upload(client, png_bytes(colour_image(20, 20, COLORS["blue"]))).get_json()
    wait(client, second["job"]["id"])
    strokes = {"strokes": [{"color": "#ff0000", "radius": 2, "points": [[5, 5]]}]}
    response = client.post(f"/api/photos/{first['photo']['id']}/scribbles", json=strokes)
    assert response.status_code == 409 and "replaced" in response.get_json()["error"]


def test_requests_for_another_host_are_refused(client):
    assert client.get("/api/config", headers={"Host": "attacker.example:8000"}).status_code == 403
    assert client.get("/api/config", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/static/../server.py").status_code == 404


def test_download_names_are_safe_for_a_header(client):
    answer = upload(client, png_bytes(colour_image(8, 8, COLORS["red"])), 'Résumé 2024.png')
    wait(client, answer.get_json()["job"]["id"])
    response = client.get(f"/api/photos/{answer.get_json()['photo']['id']}/download.png")
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="R_sum__2024_colorized.png"'


def test_sessions_are_bounded(monkeypatch):
    monkeypatch.setattr(store_lib, "MAX_SESSIONS", 3)
    store = store_lib.Store(memory_bytes=1 << 20, jobs=1)
    first = store.session(None)
    for _ in range(3):
        store.session(None)
    assert store.session(first.id) is not first  # forgotten: a new session


def test_photos_beyond_the_memory_budget_are_dropped_least_recent_first():
    store = store_lib.Store(memory_bytes=2 * 10 * 10 * 3, jobs=1)
    sessions = [store.session(None) for _ in range(3)]
    for s in sessions:
        store.set_photo(s, store_lib.Photo("p.png", np.zeros((10, 10, 3), np.uint8), True))
    assert sessions[0].photo is None and sessions[1].photo and sessions[2].photo
    with pytest.raises(store_lib.NotFound, match="upload it again"):
        store.photo(sessions[0], "any")


def test_reference_photos_give_eval_reference_result(client, tmp_path):
    """The page's reference colorization is eval.py --reference's (with its
    default prior, the same shipped model), pixel for pixel."""
    from colorize import evaluate
    rng = np.random.default_rng(3)
    photo = colour_image(48, 64, COLORS["yellow"], seed=1)
    ref = np.clip(colour_image(60, 60, COLORS["magenta"], seed=2)
                  + rng.normal(0, 20, (60, 60, 1)), 0, 255).astype(np.uint8)
    imageio.write_image(tmp_path / "in" / "p.png", photo)
    imageio.write_image(tmp_path / "ref.png", ref)
    evaluate.run(evaluate.EvalConfig(input=str(tmp_path / "in"), output=str(tmp_path / "out"),
                                     reference=str(tmp_path / "ref.png"), progress=False))
    expected = imageio.read_image(tmp_path / "out" / "p.png", keep_depth=True)

    answer = upload(client, png_bytes(photo)).get_json()
    wait(client, answer["job"]["id"])
    pid = answer["photo"]["id"]
    gray_ref = {"reference": (io.BytesIO(png_bytes(ref.mean(-1, keepdims=True).repeat(3, -1)
                                                   .astype(np.uint8))), "gray.png")}
    response = client.post(f"/api/photos/{pid}/reference", data=gray_ref,
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "gray.png" in response.get_json()["error"]
    response = client.post(f"/api/photos/{pid}/reference",
                           data={"reference": (io.BytesIO(png_bytes(ref)), "ref.png")},
                           content_type="multipart/form-data")
    assert wait(client, response.get_json()["job"]["id"])["state"] == "done"
    assert client.get(f"/api/photos/{pid}").get_json()["method"] == "reference photos"
    np.testing.assert_array_equal(result_of(client, pid), expected)


def test_docs_flag_table_is_the_generated_one():
    from colorize import settings
    text = (Path(__file__).resolve().parents[1] / "docs" / "app.md").read_text(encoding="utf-8")
    assert settings.markdown_table(AppConfig) in text, \
        "docs/app.md's flag table is stale: paste settings.markdown_table(AppConfig)"


class SlowForWidePhotos(server.Engine):
    """The real engine, except that photos 50 px wide or more take 3 s more."""

    def automatic(self, photo, progress):
        if photo.width >= 50:
            time.sleep(3.0)
        return super().automatic(photo, progress)


def test_a_slow_job_does_not_hold_up_another_user(engine):
    app = server.create_app(AppConfig(), SlowForWidePhotos(engine.model))
    slow_user, quick_user = app.test_client(), app.test_client()
    slow = upload(slow_user, png_bytes(colour_image(20, 60, COLORS["red"]))).get_json()
    start = time.monotonic()
    quick = upload(quick_user, png_bytes(colour_image(20, 20, COLORS["blue"]))).get_json()
    assert wait(quick_user, quick["job"]["id"])["state"] == "done"
    assert time.monotonic() - start < 2.5  # while the slow job still runs
    assert slow_user.get(f"/api/jobs/{slow['job']['id']}").get_json()["state"] == "running"
    assert wait(slow_user, slow["job"]["id"])["state"] == "done"


def test_the_page_shows_a_screen_sized_copy_and_downloads_full_size(client):
    answer = upload(client, png_bytes(colour_image(12, server.VIEW_SIDE + 100,
                                                   COLORS["green"]))).get_json()
    wait(client, answer["job"]["id"])
    pid = answer["photo"]["id"]
    for view in ("original.png", "result.png"):
        shown = imageio.decode_image(client.get(f"/api/photos/{pid}/{view}").data)
        assert shown.shape[:2] == (12 * server.VIEW_SIDE // (server.VIEW_SIDE + 100),
                                   server.VIEW_SIDE)
    assert result_of(client, pid).shape == (12, server.VIEW_SIDE + 100, 3)


def test_a_gray_photo_is_colorized_and_said_to_be_gray(client):
    gray = colour_image(24, 32, COLORS["red"]).mean(-1, keepdims=True).astype(np.uint8)
    answer = upload(client, png_bytes(np.repeat(gray, 3, -1))).get_json()
    assert answer["photo"]["gray"] is True
    assert wait(client, answer["job"]["id"])["state"] == "done"
    assert result_of(client, answer["photo"]["id"]).shape == (24, 32, 3)
