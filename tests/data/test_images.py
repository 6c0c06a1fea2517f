import numpy as np
import pytest
from PIL import Image

from lab2.data.images import as_digit, image_files, load_digits, read_gray
from lab2.errors import InputError


def paper_with_a_stroke(height=120, width=80):
    """Dark ink on light paper: a thick vertical stroke, off centre."""
    paper = np.full((height, width), 0.9, dtype=np.float32)
    paper[20:100, 10:22] = 0.1
    return paper


def test_a_photo_becomes_a_light_digit_on_black_fitted_and_centred():
    digit = as_digit(paper_with_a_stroke())
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert digit.max() == pytest.approx(1.0)
    assert digit[0].max() == 0  # black border, as MNIST's
    rows, cols = np.nonzero(digit > 0.5)
    assert rows.max() - rows.min() + 1 == 20  # the longer side fills MNIST's 20-pixel box
    assert cols.max() - cols.min() + 1 == 3  # the aspect ratio is kept: 80 x 12 -> 20 x 3
    mass = digit / digit.sum()
    centre = (np.indices(digit.shape) * mass).sum(axis=(1, 2))  # (row, col)
    np.testing.assert_allclose(centre, [13.5, 13.5], atol=0.6)  # centred by mass


def test_either_polarity_gives_the_same_digit():
    dark_on_light = paper_with_a_stroke()
    light_on_dark = 1.0 - dark_on_light
    np.testing.assert_allclose(as_digit(dark_on_light), as_digit(light_on_dark), atol=1e-6)


def test_an_image_of_the_network_size_is_taken_as_it_is():
    rng = np.random.default_rng(0)
    digit = np.zeros((28, 28), dtype=np.float32)
    digit[6:22, 12:16] = rng.uniform(0.5, 1.0, (16, 4))
    np.testing.assert_array_equal(as_digit(digit), digit)
    np.testing.assert_allclose(as_digit(1.0 - digit), digit, atol=1e-6)  # inverted back


def test_a_blank_picture_gives_a_blank_digit():
    assert not as_digit(np.ones((50, 50), dtype=np.float32)).any()


def test_reads_png_files_and_folders(tmp_path):
    pixels = (paper_with_a_stroke() * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "b.png")
    Image.fromarray(pixels).convert("RGB").save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    np.testing.assert_allclose(read_gray(tmp_path / "b.png"), pixels / 255.0, atol=1e-6)
    files = image_files(tmp_path)
    assert [f.name for f in files] == ["a.jpg", "b.png"]  # sorted, other files left out
    batch = load_digits(files)
    assert batch.shape == (2, 1, 28, 28)


def test_transparent_background_is_paper(tmp_path):
    rgba = np.zeros((60, 40, 4), dtype=np.uint8)  # transparent black everywhere ...
    rgba[10:50, 15:25] = [0, 0, 0, 255]  # ... but an opaque black stroke
    Image.fromarray(rgba).save(tmp_path / "drawn.png")
    gray = read_gray(tmp_path / "drawn.png")
    assert gray[0, 0] == 1.0  # white paper where it is transparent
    assert gray[30, 20] == 0.0  # the ink
    assert as_digit(gray).max() == pytest.approx(1.0)


def test_not_an_image_and_missing_paths_are_named(tmp_path):
    (tmp_path / "digit.png").write_text("this is text, not a PNG")
    with pytest.raises(InputError, match=r"image: .*digit.png is not an image file Pillow can rea"):
        read_gray(tmp_path / "digit.png")
    with pytest.raises(InputError, match=r"image: no such file or folder: '.*nowhere'"):
        image_files(tmp_path / "nowhere")
    (tmp_path / "digit.png").unlink()
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(InputError, match=r"image: .* holds no image files"):
        image_files(tmp_path)
