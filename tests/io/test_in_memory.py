"""In-memory images: numpy arrays and nibabel images, read lazily, never loaded whole."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.arrayproxy import ArrayProxy as NibabelArrayProxy

from tests.factories import assert_planes_match, fdata4, random_data, write_nifti
from volview.errors import UnsupportedFormatError
from volview.io.in_memory import LAZY_ACCESS, image_from_array, image_from_nibabel
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.proxy import ArrayProxy, MemmapProxy

AFFINE = np.array(
    [[-2.0, 0, 0, 40.0], [0, 1.5, 0, -30.0], [0, 0, 3.0, 12.0], [0, 0, 0, 1]], dtype=np.float64
)


def forbid_whole_reads(monkeypatch) -> list[int]:
    """Make loading a whole nibabel image fail; return the sizes of the reads made."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the whole image was loaded")

    sizes: list[int] = []
    getitem = NibabelArrayProxy.__getitem__

    def counted(self, slicer):
        out = getitem(self, slicer)
        sizes.append(int(np.size(out)))
        return out

    monkeypatch.setattr(nib.dataobj_images.DataobjImage, "get_fdata", refuse)
    monkeypatch.setattr(NibabelArrayProxy, "__array__", refuse)
    monkeypatch.setattr(NibabelArrayProxy, "get_unscaled", refuse)
    monkeypatch.setattr(NibabelArrayProxy, "__getitem__", counted)
    return sizes


def largest_plane(shape) -> int:
    ni, nj, nk = shape[:3]
    return max(ni * nj, ni * nk, nj * nk)


# -- numpy arrays ---------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 5, 4), (6, 5, 4, 3), (6, 5, 4, 3, 1)])
def test_array_planes_and_default_geometry(shape):
    data = random_data(shape, "int16")
    image = image_from_array(data)
    data4 = data.reshape(image.shape).astype(np.float64)
    assert image.shape == (6, 5, 4, 3 if len(shape) > 3 else 1)
    assert isinstance(image.proxy, ArrayProxy)
    assert assert_planes_match(image.proxy, data4) > 0
    np.testing.assert_array_equal(image.affine, np.eye(4))
    assert image.voxel_sizes == (1.0, 1.0, 1.0)
    assert not image.orientation_known  # no affine: voxel axes, labelled "?"
    assert image.path == Path("array") and image.format_name == "numpy array"
    assert image.scaling == (1.0, 0.0) and image.cal_range is None and image.notes == ()


def test_array_is_not_copied():
    data = np.zeros((4, 4, 4), np.float32)
    image = image_from_array(data)
    data[1, 2, 3] = 7.0
    assert image.proxy.value((1, 2, 3)) == 7.0


def test_array_with_affine_and_name():
    image = image_from_array(np.zeros((4, 5, 6), np.uint8), AFFINE, name="mask")
    np.testing.assert_array_equal(image.affine, AFFINE)
    assert image.voxel_sizes == (2.0, 1.5, 3.0)
    assert image.orientation_known
    assert image.path.name == "mask"


def test_two_dimensional_array_is_one_slice():
    data = random_data((7, 5), "float32")
    image = image_from_array(data)
    assert image.shape == (7, 5, 1, 1)
    np.testing.assert_array_equal(image.proxy.plane(2, 0), data)


def test_unusable_affine_falls_back_to_voxel_axes_with_a_note():
    image = image_from_array(np.zeros((3, 3, 3)), np.zeros((4, 4)))
    np.testing.assert_array_equal(image.affine, np.eye(4))
    assert not image.orientation_known
    assert "invalid" in image.notes[0]


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        (np.bool_, r"^array: boolean data is not supported; .*astype\(np.uint8\)"),
        (np.complex64, r"^array: complex data \(complex64\) is not supported; .*np.abs"),
        (np.dtype("U3"), r"^array: data of type <U3 is not supported; .*integer and floating"),
        (np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")]), r"^array: data of type .* is not"),
    ],
)
def test_unsupported_dtypes_are_refused_by_name(dtype, message):
    with pytest.raises(UnsupportedFormatError, match=message):
        image_from_array(np.zeros((3, 3, 3), dtype=dtype))


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((5,), r"^array: has 1 dimensions \(5,\); volview shows 2-D, 3-D and 4-D data"),
        ((2, 2, 2, 2, 2), r"has 5 dimensions \(2, 2, 2, 2, 2\)"),
        ((0, 3, 3), r"^array: is empty \(shape \(0, 3, 3\)\)"),
    ],
)
def test_unsupported_shapes_are_refused(shape, message):
    with pytest.raises(UnsupportedFormatError, match=message):
        image_from_array(np.zeros(shape, np.float32))


def test_bad_arguments():
    with pytest.raises(
        TypeError, match="expected a numpy array or a nibabel array proxy, not list"
    ):
        image_from_array([[[1.0]]])
    with pytest.raises(ValueError, match=r"affine must be a 4x4 matrix, not .* shape \(3, 3\)"):
        image_from_array(np.zeros((3, 3, 3)), np.eye(3))
    with pytest.raises(TypeError, match="expected a nibabel image, not ndarray"):
        image_from_nibabel(np.zeros((3, 3, 3)))


# -- nibabel images built in memory ---------------------------------------------------
def test_nibabel_image_built_from_an_array():
    data = random_data((6, 5, 4, 2), "float32")
    img = nib.Nifti1Image(data, AFFINE)
    img.header["cal_min"], img.header["cal_max"] = 10.0, 90.0
    image = image_from_nibabel(img)
    assert isinstance(image.proxy, ArrayProxy)
    assert image.shape == (6, 5, 4, 2)
    assert_planes_match(image.proxy, data.astype(np.float64))
    np.testing.assert_array_equal(image.affine, AFFINE)
    assert image.orientation_known  # nibabel sets the sform code for a given affine
    assert image.cal_range == (10.0, 90.0)
    assert image.path == Path("image") and image.format_name == "nibabel Nifti1Image"


def test_nibabel_image_without_affine_uses_its_header_and_is_unoriented():
    img = nib.Nifti1Image(np.zeros((4, 6, 8), np.int16), None)
    image = image_from_nibabel(img, name="scratch")
    np.testing.assert_array_equal(image.affine, img.header.get_best_affine())
    assert not image.orientation_known
    assert image.path.name == "scratch"


def test_nibabel_image_of_complex_data_is_refused():
    img = nib.Nifti1Image(np.zeros((3, 3, 3), np.complex64), np.eye(4))
    with pytest.raises(UnsupportedFormatError, match=r"^image: complex data \(complex64\)"):
        image_from_nibabel(img)


def test_saved_in_memory_image_keeps_its_array(tmp_path):
    """to_filename() points the image at a file but its voxels stay in RAM."""
    data = random_data((5, 4, 3), "float32")
    img = nib.Nifti1Image(data, AFFINE)
    img.to_filename(tmp_path / "saved.nii")
    image = image_from_nibabel(img)
    assert isinstance(image.proxy, ArrayProxy)
    assert image.path.name == "saved.nii"


# -- nibabel images of files ------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "proxy_type"),
    [("plain.nii", MemmapProxy), ("pair.img", MemmapProxy), ("packed.nii.gz", NibabelProxy)],
)
def test_unmodified_file_image_is_opened_from_its_file(tmp_path, monkeypatch, name, proxy_type):
    data = random_data((9, 7, 5, 2), "int16")
    cls = nib.Nifti1Pair if name.endswith(".img") else nib.Nifti1Image
    path = write_nifti(tmp_path / name, data, AFFINE, slope_inter=(0.5, 3.0), image_class=cls)
    expected = fdata4(nib.load(path))
    img = nib.load(path)
    forbid_whole_reads(monkeypatch)
    image = image_from_nibabel(img, name="ignored")
    assert image.path == path  # the file itself: the header editor works on it
    assert isinstance(image.proxy, proxy_type)
    assert image.format_name.startswith("NIfTI-1")
    np.testing.assert_array_equal(image.affine, AFFINE)
    assert image.scaling == (0.5, 3.0)
    assert_planes_match(image.proxy, expected)
    image.close()


@pytest.mark.parametrize("name", ["edited.nii", "edited.nii.gz"])
def test_edited_image_keeps_its_edits_and_reads_planes_lazily(tmp_path, monkeypatch, name):
    data = random_data((9, 7, 5, 3), "int16")
    path = write_nifti(tmp_path / name, data, np.eye(4), slope_inter=(2.0, -1.0))
    expected = fdata4(nib.load(path))
    img = nib.load(path)
    img.set_sform(AFFINE, code=1)
    img.header["cal_min"], img.header["cal_max"] = -5.0, 5.0
    sizes = forbid_whole_reads(monkeypatch)
    image = image_from_nibabel(img)
    assert image.path == Path(name)  # a name, not the file: its header differs on disk
    assert image.format_name == "nibabel Nifti1Image"
    assert isinstance(image.proxy, NibabelProxy) and image.proxy.access == LAZY_ACCESS
    np.testing.assert_array_equal(image.affine, AFFINE)
    assert image.cal_range == (-5.0, 5.0)
    assert image.scaling == (2.0, -1.0)
    assert image.shape == (9, 7, 5, 3)
    assert_planes_match(image.proxy, expected)
    assert image.proxy.value((8, 6, 4), 2) == pytest.approx(expected[8, 6, 4, 2])
    assert sizes and max(sizes) <= largest_plane(data.shape)


def test_header_only_edit_is_not_reopened_from_disk(tmp_path):
    path = write_nifti(tmp_path / "descrip.nii", random_data((4, 4, 4), "uint8"))
    img = nib.load(path)
    img.header["descrip"] = b"edited in memory"
    assert isinstance(image_from_nibabel(img).proxy, NibabelProxy)


def test_image_whose_file_changed_since_loading_is_not_reopened(tmp_path):
    path = write_nifti(tmp_path / "moving.nii", random_data((4, 4, 4), "float32"))
    img = nib.load(path)
    write_nifti(path, random_data((4, 4, 4), "float32"), AFFINE)
    assert isinstance(image_from_nibabel(img).proxy, NibabelProxy)


def test_renamed_image_reads_its_original_file(tmp_path):
    """set_filename() points the image elsewhere, but its voxels still come from the old file."""
    data = random_data((5, 4, 3), "float32")
    path = write_nifti(tmp_path / "old.nii", data)
    img = nib.load(path)
    img.set_filename(str(tmp_path / "new.nii"))
    image = image_from_nibabel(img)
    assert image.path == Path("new.nii")
    assert_planes_match(image.proxy, data.reshape(image.shape).astype(np.float64))


def test_closing_the_viewers_copy_leaves_the_callers_image_usable(tmp_path):
    data = random_data((6, 5, 4), "float32")
    path = write_nifti(tmp_path / "shared.nii.gz", data)
    img = nib.load(path, keep_file_open=True)
    img.header["descrip"] = b"edited"
    image = image_from_nibabel(img)
    image.proxy.plane(2, 1)
    image.close()
    np.testing.assert_array_equal(np.asarray(img.dataobj[:, :, 1]), data[:, :, 1])


def test_nibabel_proxy_given_as_an_array(tmp_path, monkeypatch):
    data = random_data((6, 5, 4), "uint16")
    path = write_nifti(tmp_path / "proxy.nii", data)
    dataobj = nib.load(path).dataobj
    sizes = forbid_whole_reads(monkeypatch)
    image = image_from_array(dataobj, AFFINE)
    assert image.format_name == "nibabel array proxy"
    assert image.orientation_known
    assert_planes_match(image.proxy, data.reshape(image.shape).astype(np.float64))
    assert max(sizes) <= largest_plane(data.shape)


@pytest.mark.parametrize("edit", [False, True])
def test_mgh_images(tmp_path, edit):
    data = random_data((6, 5, 4), "float32")
    path = tmp_path / "brain.mgz"
    nib.MGHImage(data, AFFINE).to_filename(path)
    img = nib.load(path)
    if edit:
        img.header["tr"] = 2000.0
    image = image_from_nibabel(img)
    assert image.orientation_known
    assert (image.format_name == "nibabel MGHImage") is edit
    np.testing.assert_allclose(image.affine, AFFINE, atol=1e-5)
    assert_planes_match(image.proxy, data.reshape(image.shape).astype(np.float64))
