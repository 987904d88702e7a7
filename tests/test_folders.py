"""colorize.folders: what a folder walk opens, skips and ignores; output
names; display names."""
import os
import socket

from colorize import folders, imageio
from tests.conftest import colour_image, write_rgb

NON_UTF8 = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not valid UTF-8


def awkward_folder(root):
    """Regular photos, a symlink to one, and every kind of entry that must
    not be opened: a named pipe, a socket, a broken link, a folder with an
    image name; plus side files."""
    write_rgb(root / "a.png", colour_image(8, 8, (200, 30, 30)))
    write_rgb(root / "sub" / "b.jpg", colour_image(8, 8, (30, 200, 30)))
    # (not cv2.imwrite: OpenCV crashes on a path that is not valid UTF-8)
    imageio.write_image(root / NON_UTF8, colour_image(8, 8, (30, 30, 200)))
    os.symlink(root / "a.png", root / "link.png")
    os.mkfifo(root / "pipe.jpg")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock.png"))
    os.symlink(root / "gone.png", root / "dangling.jpg")
    (root / "folder.jpg").mkdir()
    write_rgb(root / "folder.jpg" / "c.png", colour_image(8, 8, (90, 90, 30)))
    (root / "notes.txt").write_text("side file")
    return server


def test_scan_opens_regular_files_only_and_says_why_for_the_rest(tmp_path):
    server = awkward_folder(tmp_path)
    try:
        found = folders.scan(tmp_path)
    finally:
        server.close()
    assert found.images == sorted(["a.png", "sub/b.jpg", NON_UTF8, "link.png", "folder.jpg/c.png"])
    reasons = {s["path"]: s["reason"] for s in found.skipped}
    assert reasons == {
        "pipe.jpg": "not a regular file: a named pipe",
        "sock.png": "not a regular file: a socket",
        "dangling.jpg": reasons["dangling.jpg"],
    }
    assert reasons["dangling.jpg"].startswith("broken symbolic link")
    assert found.ignored == ["notes.txt"]
    assert folders.list_images(tmp_path) == found.images


def test_list_images_recursive_sorted_filtered(tmp_path):
    names = ["b.jpg", "a.PNG", "sub/z.webp", "sub/deeper/c.tiff", "sub/a.bmp", "A2/x.jpeg",
             "notes.txt", "sub/meta.json", "Thumbs.db", "sub/deeper/readme", "noext"]
    for n in names:
        p = tmp_path / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    expected = sorted(["b.jpg", "a.PNG", "sub/z.webp", "sub/deeper/c.tiff", "sub/a.bmp", "A2/x.jpeg"])
    assert folders.list_images(tmp_path) == expected
    assert folders.list_images(str(tmp_path / "sub")) == ["a.bmp", "deeper/c.tiff", "z.webp"]
    assert folders.list_images(tmp_path / "empty-does-not-exist") == []


def test_display_name_escapes_bytes_that_are_not_utf8():
    assert folders.display_name(NON_UTF8) == "caf\\xe9.jpg"
    assert folders.display_name("café/ü.png") == "café/ü.png"  # valid UTF-8 is kept
    "x".join([folders.display_name(NON_UTF8)]).encode("utf-8")  # printable, encodable


def test_output_names_never_collide():
    names = folders.output_names(["x.png", "x.pgm", "x.pgm.png", "y.pbm", "z.gif", "w.JPG",
                                  "d/x.pgm"])
    assert names == {
        "x.png": "x.png",
        "x.pgm.png": "x.pgm.png",  # keeps its own name
        "x.pgm": "x.pgm-2.png",    # gray-only format: PNG, and the name is taken
        "y.pbm": "y.pbm.png",
        "z.gif": "z.gif.png",
        "w.JPG": "w.JPG",
        "d/x.pgm": "d/x.pgm.png",
    }
    assert len(set(names.values())) == len(names)


def test_inside():
    assert folders.inside("/a/b/c", "/a/b")
    assert folders.inside("/a/b", "/a/b")
    assert not folders.inside("/a/bc", "/a/b")
    assert not folders.inside("/a", "/a/b")


def test_a_folder_that_cannot_be_listed_is_skipped_with_the_reason(tmp_path, monkeypatch):
    # chmod 000 does not stop root (the tests may run as root): the denial
    # is simulated where os.walk lists folders.
    write_rgb(tmp_path / "ok" / "a.png", colour_image(8, 8, (200, 30, 30)))
    write_rgb(tmp_path / "locked" / "b.png", colour_image(8, 8, (200, 30, 30)))
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = folders.scan(tmp_path)
    assert found.images == ["ok/a.png"]
    assert found.skipped == [{"path": "locked", "reason": "cannot list folder: Permission denied"}]
