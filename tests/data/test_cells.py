import numpy as np
import pytest

from lab2.data.cells import PATCH_SIZE, _background_centres, draw_smear, make_cell_patches
from lab2.errors import InputError


def test_same_seed_same_patches_bit_for_bit():
    a, la = make_cell_patches(20, 20, seed=3)
    b, lb = make_cell_patches(20, 20, seed=3)
    assert a.tobytes() == b.tobytes()
    assert la.tobytes() == lb.tobytes()


def test_other_seed_other_patches():
    a, _ = make_cell_patches(5, 5, seed=0)
    b, _ = make_cell_patches(5, 5, seed=1)
    assert not np.array_equal(a, b)


def test_default_matches_the_course_file_layout():
    patches, labels = make_cell_patches()
    assert patches.shape == (400, PATCH_SIZE, PATCH_SIZE)
    assert patches.dtype == np.float64
    assert labels.tolist() == [1] * 200 + [0] * 200
    low, high = np.percentile(patches, [1, 99])
    assert 0.08 < low < 0.25
    assert 0.6 < high < 0.85


def test_cells_are_dark_discs_with_a_paler_centre():
    patches, labels = make_cell_patches(100, 100, seed=0)
    cells = patches[labels == 1].mean(axis=0)  # (35, 35)
    centre = cells[15:20, 15:20].mean()
    rim = np.r_[cells[17, [11, 23]], cells[[11, 23], 17]].mean()  # 6 px around the centre
    corners = cells[[0, 0, -1, -1], [0, -1, 0, -1]].mean()
    assert rim < centre < corners  # dark rim, paler centre, light background


def test_background_centres_keep_a_radius_from_every_cell():
    rng = np.random.default_rng(0)
    smear = draw_smear(rng)
    centres = _background_centres(smear, rng, 30, near_fraction=0.8)
    assert len(centres) == 30
    for centre in centres:
        distance = np.linalg.norm(smear.centres - centre, axis=1)
        assert np.all(distance >= smear.radii)


@pytest.mark.parametrize("name", ["n_foreground", "n_background"])
def test_rejects_non_positive_counts(name):
    with pytest.raises(InputError, match=name):
        make_cell_patches(**{name: 0})
