import numpy as np
import pytest
import scipy.io

from lab2.data.cells_mat import load_cell_mat, save_cell_mat
from lab2.errors import InputError


def cell_array(images):
    cells = np.empty((1, len(images)), dtype=object)
    for i, image in enumerate(images):
        cells[0, i] = image
    return cells


def write_course_file(path, fg, bg, **extra):
    fields = {"fg_patches": cell_array(fg), "bg_patches": cell_array(bg), **extra}
    scipy.io.savemat(str(path), {"cell_data": fields})
    return path


@pytest.fixture
def patches():
    rng = np.random.default_rng(0)
    return [rng.uniform(0.1, 0.75, (35, 35)) for _ in range(5)]


def test_reads_the_course_structure(tmp_path, patches):
    path = write_course_file(tmp_path / "cell_data.mat", patches[:3], patches[3:])
    x, t = load_cell_mat(path)
    assert x.shape == (5, 35, 35)
    assert t.tolist() == [1, 1, 1, 0, 0]  # fg_patches are cells
    np.testing.assert_array_equal(x[0], patches[0])
    np.testing.assert_array_equal(x[4], patches[4])


def test_save_then_load_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(6, 35, 35))
    t = np.array([1, 0, 1, 0, 0, 1])
    save_cell_mat(tmp_path / "c.mat", x, t)
    x2, t2 = load_cell_mat(tmp_path / "c.mat")
    order = np.r_[np.flatnonzero(t == 1), np.flatnonzero(t == 0)]
    np.testing.assert_array_equal(x2, x[order])
    np.testing.assert_array_equal(t2, t[order])


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"data.path: no such file: .*nothere.mat"):
        load_cell_mat(tmp_path / "nothere.mat")


def test_not_a_mat_file(tmp_path):
    path = tmp_path / "notes.mat"
    path.write_text("these are not patches")
    with pytest.raises(InputError, match=r"notes.mat: not a readable MATLAB .mat file"):
        load_cell_mat(path)


def test_matlab_v73_file_is_named(tmp_path):
    path = tmp_path / "v73.mat"
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116) + b"\0" * 8 + b"\x00\x02IM"
    path.write_bytes(header + b"\0" * 512)
    with pytest.raises(InputError, match=r"v7.3 .*-v7"):
        load_cell_mat(path)


def test_without_cell_data(tmp_path, patches):
    path = tmp_path / "other.mat"
    scipy.io.savemat(str(path), {"patches": np.zeros((2, 2))})
    with pytest.raises(InputError, match=r"expected a variable 'cell_data', found \['patches'\]"):
        load_cell_mat(path)


def test_cell_data_not_a_struct(tmp_path):
    path = tmp_path / "flat.mat"
    scipy.io.savemat(str(path), {"cell_data": np.zeros((35, 35))})
    with pytest.raises(InputError, match=r"'cell_data' must be a 1x1 struct"):
        load_cell_mat(path)


@pytest.mark.parametrize("missing", ["fg_patches", "bg_patches"])
def test_without_one_field(tmp_path, patches, missing):
    fields = {"fg_patches": cell_array(patches[:2]), "bg_patches": cell_array(patches[2:])}
    del fields[missing]
    fields["other"] = 1.0
    path = tmp_path / "field.mat"
    scipy.io.savemat(str(path), {"cell_data": fields})
    with pytest.raises(InputError, match=rf"no field '{missing}'"):
        load_cell_mat(path)


def test_patch_of_wrong_size(tmp_path, patches):
    bad = [*patches[:2], np.zeros((30, 30))]
    path = write_course_file(tmp_path / "size.mat", patches[:2], bad)
    with pytest.raises(InputError, match=r"cell_data.bg_patches\{3\} must be 35x35, found 30x30"):
        load_cell_mat(path)


def test_patches_of_unequal_sizes(tmp_path, patches):
    path = write_course_file(
        tmp_path / "mixed.mat", [np.zeros((35, 35)), np.zeros((35, 36))], patches[:2]
    )
    with pytest.raises(InputError, match=r"fg_patches\{2\} must be 35x35, found 35x36"):
        load_cell_mat(path)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path, patches, value):
    bad = [p.copy() for p in patches[:2]]
    bad[1][10, 10] = value
    path = write_course_file(tmp_path / "nan.mat", bad, patches[2:])
    with pytest.raises(InputError, match=r"fg_patches\{2\} holds NaN or infinite values"):
        load_cell_mat(path)


def test_empty_field(tmp_path, patches):
    path = tmp_path / "empty.mat"
    fields = {"fg_patches": cell_array(patches[:2]), "bg_patches": np.empty((1, 0), dtype=object)}
    scipy.io.savemat(str(path), {"cell_data": fields})
    with pytest.raises(InputError, match=r"bg_patches is empty"):
        load_cell_mat(path)
