"""colorize-app in a real browser: the Debian package's headless Chromium
driven by Playwright (never a browser of Playwright's own download)
through mouse events and file choosers, against `python -m colorize.app`
started on a free port. A screenshot of the page is kept in the test
output (COLORIZE_TEST_OUTPUT, else pytest's temporary folder)."""
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flask", reason='colorize-app needs its extra: pip install -e ".[app]"')
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright (the test extra)")

from colorize import imageio, metrics  # noqa: E402

from tests.conftest import REPO_ROOT  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="no Chromium: apt-get install chromium chromium-driver (.ci/run does, as root)")
# Offline, quiet, throw-away: no sandbox (CI runs as root), no GPU, no
# calls home, a fresh profile per launch (Playwright makes one).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
START_TIMEOUT = 180  # s: TF import and the model's first compile on a busy 2-core machine
JOB_TIMEOUT = 60_000  # ms


def sample_photo(seed: int = 0, size=(96, 144)) -> np.ndarray:
    """A real colour photo, small (the tests stay fast): scikit-image's cat
    or coffee, shrunk."""
    import skimage.data
    photo = (skimage.data.chelsea, skimage.data.coffee)[seed]()
    return imageio.resize(photo, *size)


def save(path: Path, rgb: np.ndarray) -> Path:
    """rgb written as path's name in a folder of its own (eval.py's --input)."""
    path = path.parent / path.stem / path.name
    imageio.write_image(path, rgb)
    return path


@pytest.fixture(scope="module")
def output_dir(tmp_path_factory) -> Path:
    out = os.environ.get("COLORIZE_TEST_OUTPUT")
    path = Path(out) if out else tmp_path_factory.mktemp("app_output")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """colorize-app on a free port, in an empty working folder (which must
    stay empty: the server writes no file). Yields (url, working folder)."""
    cwd = tmp_path_factory.mktemp("app_cwd")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    # The console script where this interpreter's install has it (CI's
    # fresh venv), else the same program as a module.
    script = shutil.which("colorize-app", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "colorize.app"]
    proc = subprocess.Popen(
        command + ["--port=0", "--max_megapixels=1", "--max_upload_mb=1"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, url = [], []

    def read():
        for line in proc.stdout:
            lines.append(line)
            if "serving on " in line and not url:
                url.append(line.split("serving on ")[1].split()[0])

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while not url and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not url:
        proc.kill()
        pytest.fail("colorize-app did not start:\n" + "".join(lines))
    yield url[0], cwd
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """One user's tab on the app (its own browser context: own cookies)."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1100, "height": 800},
                                           accept_downloads=True)
        self.page = self.context.new_page()
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']")

    def upload(self, path: Path) -> None:
        self.page.set_input_files("#upload", str(path))

    def wait_for_result(self, version: int) -> None:
        """Until the result of this version is shown and the page is idle."""
        self.page.wait_for_selector(f"#result[data-version='{version}']", state="attached",
                                    timeout=JOB_TIMEOUT)
        self.page.wait_for_selector("body[data-busy='0']", state="attached",
                                    timeout=JOB_TIMEOUT)

    def download(self, selector: str, folder: Path) -> Path:
        with self.page.expect_download() as info:
            self.page.click(selector)
        target = folder / info.value.suggested_filename
        info.value.save_as(target)
        return target

    def error(self) -> str:
        self.page.wait_for_selector("#error:not([hidden])", timeout=JOB_TIMEOUT)
        return self.page.inner_text("#error")

    def draw(self, points, width: int, height: int) -> None:
        """A stroke with the mouse through points given in photo pixels."""
        box = self.page.locator("#marks").bounding_box()

        def screen(x, y):
            return box["x"] + x * box["width"] / width, box["y"] + y * box["height"] / height

        self.page.mouse.move(*screen(*points[0]))
        self.page.mouse.down()
        for point in points[1:]:
            self.page.mouse.move(*screen(*point), steps=4)
        self.page.mouse.up()

    def close(self):
        self.context.close()


def eval_result(tmp: Path, photo_file: Path, marks: Path | None = None) -> np.ndarray:
    """What eval.py writes for this photo (and marks): its run() in this
    process (eval.py's main builds the same config from its flags; a
    process per call would cost a TensorFlow start-up each)."""
    from colorize import evaluate
    out = tmp / f"eval_{photo_file.stem}"
    shutil.rmtree(out, ignore_errors=True)
    extra = {}
    if marks is not None:
        marks_dir = tmp / f"marks_{photo_file.stem}"
        shutil.rmtree(marks_dir, ignore_errors=True)
        marks_dir.mkdir()
        shutil.copy(marks, marks_dir / (photo_file.stem + ".png"))
        extra["marks"] = str(marks_dir)
    summary = evaluate.run(evaluate.EvalConfig(input=str(photo_file), output=str(out),
                                               progress=False, **extra))
    assert not summary["skipped"], summary["skipped"]
    return imageio.read_image(out / photo_file.with_suffix(".png").name, keep_depth=True)


def upload_and_download(tab: Page, photo: np.ndarray, tmp_path: Path):
    """Upload photo, wait for the automatic result, download it: (the
    photo's file, the result)."""
    photo_file = save(tmp_path / "cat.png", photo)
    tab.upload(photo_file)
    tab.wait_for_result(1)
    return photo_file, imageio.read_image(tab.download("#download-png", tmp_path),
                                          keep_depth=True)


def test_upload_gives_the_eval_result(server, browser, tmp_path, output_dir):
    photo = sample_photo()
    tab = Page(browser, server[0])
    photo_file, automatic = upload_and_download(tab, photo, tmp_path)
    assert automatic.shape == photo.shape
    assert metrics.mean_chroma(automatic) > 1.0  # not gray
    np.testing.assert_allclose(automatic, eval_result(tmp_path, photo_file), atol=1)
    tab.page.screenshot(path=str(output_dir / "app_page.png"))
    # The before/after slider: the original over the result, cut at the slider.
    tab.page.check("input[name=view][value=slider]")
    assert tab.page.is_hidden("#original-pane") and tab.page.is_visible("#before")
    tab.page.fill("#slider", "30")
    assert tab.page.eval_on_selector("#before", "e => e.style.clipPath") == "inset(0px 70% 0px 0px)"
    # The palette: swatches of the result's colours set the brush colour.
    swatch = tab.page.locator("#palette button").first
    colour = swatch.get_attribute("data-colour")
    swatch.click()
    assert tab.page.input_value("#colour") == colour
    tab.close()


def test_a_gray_sample(server, browser):
    tab = Page(browser, server[0])
    tab.page.select_option("#sample", "camera (gray)")
    tab.wait_for_result(1)
    assert tab.page.inner_text("#original-pane figcaption") == "Original (gray)"
    assert tab.page.eval_on_selector("#result", "e => e.naturalWidth") == 512
    tab.close()


def test_red_scribble_undo_apply_download_clear(server, browser, tmp_path, output_dir):
    photo = sample_photo()
    tab = Page(browser, server[0])
    photo_file, automatic = upload_and_download(tab, photo, tmp_path)
    # A red stroke across a region of the photo, by mouse.
    h, w = photo.shape[:2]
    tab.page.fill("#colour", "#ff0000")
    tab.page.fill("#brush", "12")
    stroke = [(w * 0.2, h * 0.3), (w * 0.35, h * 0.35), (w * 0.45, h * 0.3)]
    tab.draw(stroke, w, h)
    tab.page.fill("#colour", "#0000ff")  # a second stroke, undone before applying
    tab.draw([(w * 0.6, h * 0.6), (w * 0.7, h * 0.7)], w, h)
    tab.page.click("#undo")
    tab.page.click("#apply")
    tab.wait_for_result(2)
    tab.page.screenshot(path=str(output_dir / "app_page_scribbles.png"))
    corrected = imageio.read_image(tab.download("#download-png", tmp_path), keep_depth=True)
    marks = tab.download("#download-marks", tmp_path)
    marked = _rgba(marks)[..., 3] == 255
    assert marked.any()
    red = np.array([255, 0, 0], np.float64)
    before = np.linalg.norm(automatic[marked] - red, axis=-1).mean()
    after = np.linalg.norm(corrected[marked].astype(np.float64) - red, axis=-1).mean()
    assert after < before - 30, (before, after)  # moved towards red where drawn
    far = np.zeros(marked.shape, bool)
    far[int(h * 0.75):, int(w * 0.75):] = True  # the corner away from the stroke
    assert np.abs(corrected[far].astype(int) - automatic[far]).max() <= 2
    assert not (_rgba(marks)[..., 2] > 128).any(), "the undone blue stroke is in the marks"
    np.testing.assert_allclose(corrected, eval_result(tmp_path, photo_file, marks), atol=1)
    tab.page.click("#clear")  # no strokes left: the automatic result again
    tab.page.click("#apply")
    tab.wait_for_result(3)
    cleared = imageio.read_image(tab.download("#download-png", tmp_path), keep_depth=True)
    np.testing.assert_array_equal(cleared, automatic)
    tab.close()


def _rgba(path: Path) -> np.ndarray:
    import cv2
    bgra = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert bgra is not None and bgra.shape[2] == 4, "the marks are a PNG with alpha"
    return bgra[..., [2, 1, 0, 3]]


def test_bad_files_get_a_message_and_the_page_goes_on(server, browser, tmp_path):
    url, cwd = server
    tab = Page(browser, url)
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    tab.upload(text)
    assert "not a decodable image" in tab.error()
    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(np.random.default_rng(0).bytes(1_500_000))
    tab.upload(heavy)
    tab.page.locator("#error", has_text="over this server's limit of 1.0 MB").wait_for()
    big = save(tmp_path / "big.png", np.zeros((1200, 1000, 3), np.uint8))
    tab.upload(big)
    tab.page.locator("#error", has_text="1000x1200 px").wait_for(timeout=JOB_TIMEOUT)
    assert "over the limit of 1 MP" in tab.page.inner_text("#error")
    photo_file = save(tmp_path / "ok.png", sample_photo(1))
    tab.upload(photo_file)  # the server still serves
    tab.wait_for_result(1)
    assert tab.page.is_hidden("#error")
    tab.close()
    assert not any(cwd.iterdir()), "the server wrote into its working folder"


def test_scribbles_on_a_replaced_photo_say_so(server, browser, tmp_path):
    """Two tabs of one browser (one session): the second uploads another
    photo, then the first applies scribbles drawn on the first photo."""
    url, _ = server
    first = Page(browser, url)
    second = first.context.new_page()
    second.goto(url)
    first.upload(save(tmp_path / "a.png", sample_photo(0, (60, 90))))
    first.wait_for_result(1)
    second.set_input_files("#upload", str(save(tmp_path / "b.png", sample_photo(1, (60, 90)))))
    second.wait_for_selector("#result[data-version='1']", state="attached", timeout=JOB_TIMEOUT)
    first.draw([(10, 10), (40, 20)], 90, 60)
    first.page.click("#apply")
    assert "replaced" in first.error()
    first.close()


def test_two_users_at_once(server, browser, tmp_path):
    """Two browser sessions upload at the same moment: each gets its own
    photo's result, at its size."""
    url, _ = server
    photos = [sample_photo(0, (80, 120)), sample_photo(1, (100, 90))]
    tabs = [Page(browser, url) for _ in photos]
    files = [save(tmp_path / f"p{i}.png", photo) for i, photo in enumerate(photos)]
    for tab, f in zip(tabs, files):
        tab.upload(f)
    for tab in tabs:
        tab.wait_for_result(1)
    for i, (tab, f) in enumerate(zip(tabs, files)):
        folder = tmp_path / f"user{i}"
        folder.mkdir()
        got = imageio.read_image(tab.download("#download-png", folder), keep_depth=True)
        np.testing.assert_allclose(got, eval_result(folder, f), atol=1)
        tab.close()
