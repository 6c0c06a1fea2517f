import pytest
import torch

from lab2.data.augment import add_rotations
from lab2.errors import InputError


def test_keeps_the_originals_and_adds_m_copies_of_each():
    x = torch.rand(320, 35, 35)
    t = torch.randint(0, 2, (320,))
    xa, ta = add_rotations(x, t, copies=3, seed=0)
    assert xa.shape == (1280, 35, 35)  # 320 * (3 + 1), not 960 or 961
    assert torch.equal(xa[:320], x)
    assert torch.equal(ta, t.repeat(4))


def test_zero_copies_is_the_identity():
    x, t = torch.rand(4, 35, 35), torch.tensor([0, 1, 0, 1])
    xa, ta = add_rotations(x, t, 0, seed=0)
    assert xa is x
    assert ta is t


def test_no_black_corners():
    # A uniform patch stays uniform: the corners are filled from the patch, not with zeros.
    x = torch.full((2, 35, 35), 0.6)
    xa, _ = add_rotations(x, torch.tensor([0, 1]), copies=5, seed=0)
    torch.testing.assert_close(xa, torch.full_like(xa, 0.6))


def test_angles_are_not_only_right_angles():
    # A patch with a bar along one row: after rotation by an arbitrary angle the bar is no longer
    # a full row or column.
    x = torch.zeros(1, 35, 35)
    x[0, 17, :] = 1.0
    xa, _ = add_rotations(x, torch.tensor([1]), copies=20, seed=0)
    rotated = xa[1:]
    straight = (rotated.amax(dim=2) > 0.99).sum(dim=1) + (rotated.amax(dim=1) > 0.99).sum(dim=1)
    assert (rotated.amax(dim=(1, 2)) > 0).all()
    assert (straight.float() < 35).any()


def test_rotation_keeps_the_cell_size():
    # A centred disc keeps its area (rotation about the centre, no shrinking onto a canvas).
    rows, cols = torch.meshgrid(torch.arange(35.0), torch.arange(35.0), indexing="ij")
    disc = (((rows - 17) ** 2 + (cols - 17) ** 2) <= 10**2).float()[None]
    xa, _ = add_rotations(disc, torch.tensor([1]), copies=4, seed=1)
    areas = xa.sum(dim=(1, 2))
    torch.testing.assert_close(areas, torch.full_like(areas, float(disc.sum())), rtol=0.03, atol=0)


@pytest.mark.parametrize("copies", [-1, 1.5])
def test_bad_number_of_copies(copies):
    with pytest.raises(InputError, match=r"data.rotations must be a whole number >= 0"):
        add_rotations(torch.rand(2, 35, 35), torch.tensor([0, 1]), copies, seed=0)
