"""Image I/O keeps what a phone or a folder gives: bit depth, grey, alpha, EXIF orientation; bad files fail clearly."""

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from deblur2d.io.errors import UserError
from deblur2d.io.images import read_image, write_image


def _rng_img(h, w, c, dtype):
    info = np.iinfo(dtype)
    return np.random.default_rng(0).integers(0, info.max + 1, size=(h, w, c), dtype=dtype).squeeze()


@pytest.mark.parametrize("dtype, depth", [(np.uint8, 8), (np.uint16, 16)])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_round_trip_keeps_depth_channels_alpha(tmp_path, dtype, depth, channels):
    raw = _rng_img(21, 34, channels, dtype)
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), raw)
    rgb, info = read_image(src)
    assert rgb.dtype == np.float32 and rgb.shape == (21, 34, 3) and 0 <= rgb.min() and rgb.max() <= 1
    assert info.bit_depth == depth and info.channels == channels
    if channels == 4:
        np.testing.assert_array_equal(info.alpha, raw[..., 3])
        np.testing.assert_allclose(rgb[..., 0], raw[..., 2] / float(np.iinfo(dtype).max), atol=1e-6)  # BGR on disk
    dst = tmp_path / "out.png"
    write_image(dst, rgb, info)
    back = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, raw)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation_applied(tmp_path, orientation):
    yy, xx = np.mgrid[0:40, 0:64]
    base = np.stack([xx * 4, yy * 6, (xx + yy) * 2], -1).astype(np.uint8)
    base[:8, :8] = 255  # a marked corner
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.fromarray(base).save(path, quality=98, exif=exif)
    rgb, info = read_image(path)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.float32) / 255
    assert info.orientation == orientation
    assert rgb.shape == expected.shape
    assert np.abs(rgb - expected).mean() < 2 / 255


def test_bad_files_give_one_line_errors_naming_the_file(tmp_path):
    cases = {
        "missing.png": None,
        "empty.png": b"",
        "corrupt.png": b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
        "notes.txt": b"hello",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(UserError) as e:
            read_image(path)
        assert name in str(e.value) and "\n" not in str(e.value)


def test_write_is_atomic_and_leaves_no_partial_files(tmp_path):
    dst = tmp_path / "x.png"
    write_image(dst, np.zeros((4, 4, 3), np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    from deblur2d.io.atomic import atomic_dir

    target = tmp_path / "sparse" / "0"
    target.mkdir(parents=True)
    (target / "old.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "new.bin").write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["old.bin"]  # untouched
    with atomic_dir(target) as tmp:
        (tmp / "new.bin").write_bytes(b"new")
    assert sorted(p.name for p in target.iterdir()) == ["new.bin"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["0"]  # no temporary folder left
