import math

import pytest
import torch

from lab2.data.warp import check_augment, random_affine
from lab2.errors import InputError


def centre_of_mass(images):
    """(N, 2): (row, col) of each (N, 1, H, W) image's intensity centre."""
    _, _, h, w = images.shape
    rows = torch.arange(h, dtype=images.dtype)[:, None]
    cols = torch.arange(w, dtype=images.dtype)[None, :]
    mass = images[:, 0].sum((1, 2))
    return torch.stack(
        [(images[:, 0] * rows).sum((1, 2)) / mass, (images[:, 0] * cols).sum((1, 2)) / mass], 1
    )


def orientation(images):
    """(N,) the angle of each image's main axis from the horizontal, in degrees."""
    _, _, h, w = images.shape
    centre = centre_of_mass(images)
    rows = torch.arange(h, dtype=images.dtype)[None, :, None] - centre[:, 0, None, None]
    cols = torch.arange(w, dtype=images.dtype)[None, None, :] - centre[:, 1, None, None]
    x = images[:, 0]
    mu_rr, mu_cc, mu_rc = (
        (x * rows**2).sum((1, 2)),
        (x * cols**2).sum((1, 2)),
        (x * rows * cols).sum((1, 2)),
    )
    return torch.rad2deg(0.5 * torch.atan2(2 * mu_rc, mu_cc - mu_rr))


def spread(images):
    """(N,) each image's mean squared distance of intensity from its centre, in pixels."""
    _, _, h, w = images.shape
    centre = centre_of_mass(images)
    rows = torch.arange(h, dtype=images.dtype)[None, :, None] - centre[:, 0, None, None]
    cols = torch.arange(w, dtype=images.dtype)[None, None, :] - centre[:, 1, None, None]
    x = images[:, 0]
    return (x * (rows**2 + cols**2)).sum((1, 2)) / x.sum((1, 2))


def blob(n, h=28, w=28, row=None, col=None):
    """A Gaussian spot of radius ~2 px."""
    row = (h - 1) / 2 if row is None else row
    col = (w - 1) / 2 if col is None else col
    r = torch.arange(h, dtype=torch.float32)[:, None]
    c = torch.arange(w, dtype=torch.float32)[None, :]
    spot = torch.exp(-((r - row) ** 2 + (c - col) ** 2) / (2 * 2.0**2))
    return spot.expand(n, 1, h, w).clone()


def bar(n, h=28, w=28):
    """A horizontal bar through the centre."""
    images = torch.zeros(n, 1, h, w)
    images[:, 0, h // 2 - 1 : h // 2 + 1, w // 2 - 8 : w // 2 + 8] = 1.0
    return images


def test_nothing_to_do_returns_the_images():
    x = torch.rand(4, 1, 28, 28)
    assert random_affine(x) is x


@pytest.mark.parametrize(("h", "w"), [(28, 28), (20, 40)])
def test_shifts_stay_within_the_range_in_pixels(h, w):
    generator = torch.Generator().manual_seed(0)
    x = blob(200, h, w)
    moved = random_affine(x, shift=3, generator=generator)
    delta = centre_of_mass(moved) - centre_of_mass(x)  # (N, 2) pixels
    assert delta.abs().max() <= 3.05
    assert (delta.abs().max(dim=0).values > 2.7).all()  # the whole range is used on both axes
    torch.testing.assert_close(moved.sum((1, 2, 3)), x.sum((1, 2, 3)), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(("h", "w"), [(28, 28), (20, 40)])
def test_rotations_stay_within_the_range_and_keep_shape(h, w):
    generator = torch.Generator().manual_seed(0)
    x = bar(200, h, w)
    turned = random_affine(x, rotation=20, generator=generator)
    angles = orientation(turned)
    assert angles.abs().max() <= 21
    assert angles.abs().max() > 17
    # A rotation keeps the bar's length, so its spread about its centre stays the same; a
    # rotation in normalised coordinates without the aspect correction would stretch it.
    torch.testing.assert_close(spread(turned), spread(x), rtol=0.05, atol=0)


def test_scale_changes_the_size_within_the_range():
    generator = torch.Generator().manual_seed(0)
    x = blob(200)
    zoomed = random_affine(x, scale=0.2, generator=generator)
    ratio = zoomed.sum((1, 2, 3)) / x.sum((1, 2, 3))  # area grows with the zoom squared
    assert ratio.min() >= 0.8**2 - 0.02
    assert ratio.max() <= 1.2**2 + 0.02
    assert ratio.max() - ratio.min() > 0.6


def test_same_generator_seed_same_images_and_shape_dtype_kept():
    x = torch.rand(16, 1, 28, 28, dtype=torch.float64)
    settings = {"rotation": 10, "scale": 0.1, "shift": 2}
    a = random_affine(x, **settings, generator=torch.Generator().manual_seed(5))
    b = random_affine(x, **settings, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert a.shape == x.shape
    assert a.dtype == torch.float64
    assert not torch.equal(a, x)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"rotate": 10},
            r"model.augment: unknown setting\(s\) \['rotate'\]; it takes \['rotation'",
        ),
        (
            {"shift": -1},
            r"model.augment.shift \(the largest shift.*\) must be in \[0, 14.0\], got -1",
        ),
        ({"scale": "big"}, r"model.augment.scale \(.*\) must be a number, got 'big'"),
        ({"rotation": 200}, r"model.augment.rotation .* must be in \[0, 180.0\], got 200"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(InputError, match=message):
        check_augment(settings)


def test_no_settings_means_no_augmentation():
    assert check_augment(None) == {}
    assert check_augment({"rotation": 10}) == {"rotation": 10}
    assert math.isclose(check_augment({"scale": 0.1})["scale"], 0.1)
