"""Voxel time courses against nibabel's ``get_fdata()[i, j, k, :]``, and the time step.

Covers every proxy's ``series`` (memory map, nibabel for .nii.gz/.mgz, in RAM,
rescaled), ``Volume.time_course``, ``ImageFile.time_step`` from pixdim[4] and the
xyzt_units time code, and the pure x-axis helpers of ``core.timecourse``. No Qt.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.testing import data_path

from tests.factories import fdata4, random_data, write_nifti
from volview.core.timecourse import describe_volume, nearest_volume, time_axis
from volview.core.volume import Volume
from volview.errors import VolviewError
from volview.io.images import open_image, with_header
from volview.io.nibabel_proxy import NibabelProxy
from volview.io.proxy import ArrayProxy, MemmapProxy, RescaledProxy

DATA = Path(data_path)
SHAPE4 = (6, 5, 4, 11)


def nibabel_4d_files() -> list[Path]:
    """Every file of nibabel's test data that volview opens as a 4-D image."""
    found = []
    for path in sorted(p for p in DATA.iterdir() if p.is_file()):
        try:
            image = open_image(path)
        except VolviewError:
            continue
        if image.shape[3] > 1:
            found.append(path)
        image.close()
    return found


FOUR_D = nibabel_4d_files()


def sample_voxels(shape: tuple[int, ...], n_random: int = 12) -> list[tuple[int, int, int]]:
    """The eight corners, the centre and seeded random voxels of a 3-D grid."""
    ni, nj, nk = shape[:3]
    corners = [(i, j, k) for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)]
    rng = np.random.default_rng(5)
    random = [tuple(int(rng.integers(n)) for n in (ni, nj, nk)) for _ in range(n_random)]
    return [*corners, (ni // 2, nj // 2, nk // 2), *random]


def assert_series_match(path: Path, proxy_type: type | None = None) -> None:
    oracle = fdata4(nib.load(path))
    image = open_image(path)
    try:
        if proxy_type is not None:
            assert isinstance(image.proxy, proxy_type)
        volume = Volume.from_image(image)
        for ijk in sample_voxels(image.shape):
            series = volume.time_course(ijk)
            assert series.dtype == np.float64
            assert series.shape == (image.shape[3],)
            np.testing.assert_array_equal(series, oracle[ijk])
    finally:
        image.close()


def test_nibabel_data_has_4d_files():
    names = {p.name for p in FOUR_D}
    assert {"example4d.nii.gz", "example_nifti2.nii.gz", "functional.nii"} <= names


@pytest.mark.parametrize("path", FOUR_D, ids=lambda p: p.name)
def test_time_course_of_nibabel_data_equals_get_fdata(path):
    assert_series_match(path)


@pytest.mark.parametrize(
    ("name", "dtype", "options", "proxy_type"),
    [
        ("int16.nii", "int16", {}, MemmapProxy),
        ("float32.nii", "float32", {}, MemmapProxy),
        ("uint8.nii.gz", "uint8", {}, NibabelProxy),
        ("scaled.nii", "int16", {"slope_inter": (0.37, -12.5)}, MemmapProxy),
        ("scaled.nii.gz", "int16", {"slope_inter": (0.37, -12.5)}, NibabelProxy),
        ("big_endian.nii", "int16", {"endianness": ">"}, MemmapProxy),
        ("big_endian_scaled.nii", "int32", {"endianness": ">", "slope_inter": (2.5, 3)}, None),
        ("big_endian.nii.gz", "float64", {"endianness": ">"}, NibabelProxy),
        ("nifti2.nii", "int16", {"image_class": nib.Nifti2Image}, MemmapProxy),
        ("pair.img", "uint16", {"image_class": nib.Nifti1Pair}, MemmapProxy),
    ],
)
def test_time_course_of_generated_files_equals_get_fdata(
    tmp_path, name, dtype, options, proxy_type
):
    path = write_nifti(tmp_path / name, random_data(SHAPE4, dtype, seed=3), **options)
    assert_series_match(path, proxy_type)


@pytest.mark.parametrize("dtype", ["int16", "float64"])
def test_time_course_with_volumes_larger_than_a_page(tmp_path, dtype):
    """Each value on its own page: the memory map asks for those pages one by one."""
    data = random_data((33, 29, 7, 6), dtype, seed=8)
    path = write_nifti(tmp_path / "large.nii", data, slope_inter=(1.5, 2.0))
    assert_series_match(path, MemmapProxy)


def test_time_course_of_a_3d_image_has_one_value(tmp_path):
    data = random_data((4, 5, 6), "int16")
    image = open_image(write_nifti(tmp_path / "3d.nii", data))
    try:
        np.testing.assert_array_equal(image.proxy.series((1, 2, 3)), [data[1, 2, 3]])
    finally:
        image.close()


def test_in_ram_and_rescaled_proxies():
    data = random_data(SHAPE4, "int16", seed=9)
    proxy = ArrayProxy(data)
    np.testing.assert_array_equal(proxy.series((5, 4, 3)), data[5, 4, 3].astype(np.float64))
    rescaled = RescaledProxy(proxy, (1.0, 0.0), (2.0, -1.0))
    np.testing.assert_allclose(rescaled.series((1, 2, 3)), data[1, 2, 3] * 2.0 - 1.0)


def test_time_course_follows_an_edited_scaling(tmp_path):
    data = random_data(SHAPE4, "int16", seed=4)
    image = open_image(write_nifti(tmp_path / "s.nii", data, slope_inter=(2.0, 1.0)))
    try:
        header = nib.load(image.path).header
        edited = with_header(image, header, (0.5, -3.0))
        np.testing.assert_allclose(edited.proxy.series((2, 1, 0)), data[2, 1, 0] * 0.5 - 3.0)
    finally:
        image.close()


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("ijk", [(-1, 0, 0), (6, 0, 0), (0, 5, 0), (0, 0, 4)])
def test_voxels_outside_the_image_are_refused(tmp_path, suffix, ijk):
    image = open_image(write_nifti(tmp_path / f"v{suffix}", random_data(SHAPE4, "int16")))
    try:
        with pytest.raises(IndexError, match="outside the image"):
            image.proxy.series(ijk)
    finally:
        image.close()


# -- time step --------------------------------------------------------------------------
def write_timed(path: Path, step: float, unit: str, shape=(3, 3, 3, 4)) -> Path:
    img = nib.Nifti1Image(np.zeros(shape, dtype=np.int16), np.eye(4))
    img.header.set_xyzt_units("mm", unit)
    img.header["pixdim"][4] = step
    img.to_filename(path)
    return path


@pytest.mark.parametrize(
    ("step", "unit", "expected"),
    [
        (2.0, "sec", (2.0, "sec")),
        (720.0, "msec", (0.72, "msec")),
        (1500.0, "usec", (0.0015, "usec")),
        (2.0, "unknown", None),
        (2.0, "hz", None),
        (2.0, "ppm", None),
        (2.0, "rads", None),
        (0.0, "sec", None),
        (-2.0, "sec", None),
        (float("nan"), "sec", None),
        (float("inf"), "msec", None),
    ],
)
def test_time_step_from_pixdim_and_units(tmp_path, step, unit, expected):
    image = open_image(write_timed(tmp_path / "t.nii", step, unit))
    try:
        if expected is None:
            assert image.time_step is None
        else:
            assert image.time_step[1] == expected[1]
            assert image.time_step[0] == pytest.approx(expected[0], rel=1e-6)
    finally:
        image.close()


def test_time_step_of_an_invalid_time_code_is_unknown(tmp_path):
    img = nib.Nifti1Image(np.zeros((3, 3, 3, 4), np.int16), np.eye(4))
    img.header["pixdim"][4] = 2.0
    img.header["xyzt_units"] = 2 | 56  # mm + a time code NIfTI does not define
    img.to_filename(tmp_path / "t.nii")
    assert nib.load(tmp_path / "t.nii").header["xyzt_units"] == 58
    image = open_image(tmp_path / "t.nii")
    try:
        assert image.time_step is None
    finally:
        image.close()


def test_time_step_of_mgh_and_analyze(tmp_path):
    tr_ms = float(nib.load(DATA / "test.mgz").header["tr"])
    mgz = open_image(DATA / "test.mgz")
    try:
        assert tr_ms > 0
        assert mgz.time_step[0] == pytest.approx(tr_ms / 1e3)
        assert mgz.time_step[1] == "msec"
    finally:
        mgz.close()
    analyze = nib.AnalyzeImage(np.zeros((3, 3, 3, 4), np.int16), np.eye(4))
    analyze.to_filename(tmp_path / "a.img")
    image = open_image(tmp_path / "a.hdr")
    try:
        assert image.time_step is None
    finally:
        image.close()


def test_time_step_follows_an_edited_header(tmp_path):
    image = open_image(write_timed(tmp_path / "t.nii", 2.0, "sec"))
    try:
        header = nib.load(image.path).header
        header.set_xyzt_units("mm", "msec")
        header["pixdim"][4] = 800
        step, unit = with_header(image, header, image.scaling).time_step
        assert step == pytest.approx(0.8)
        assert unit == "msec"
    finally:
        image.close()


# -- x axis -----------------------------------------------------------------------------
def test_time_axis_in_seconds_when_the_step_is_known():
    values, label = time_axis(4, (2.5, "sec"))
    np.testing.assert_array_equal(values, [0.0, 2.5, 5.0, 7.5])
    assert label == "time (s)"


def test_time_axis_counts_volumes_from_one_otherwise():
    values, label = time_axis(3, None)
    np.testing.assert_array_equal(values, [1.0, 2.0, 3.0])
    assert label == "volume"


def test_time_axis_needs_a_volume():
    with pytest.raises(ValueError, match="at least one volume"):
        time_axis(0, None)


@pytest.mark.parametrize(("x", "t"), [(-5.0, 0), (0.0, 0), (1.2, 0), (1.3, 1), (2.5, 1), (99, 3)])
def test_nearest_volume(x, t):
    values, _ = time_axis(4, (2.5, "sec"))
    assert nearest_volume(values, x) == t


def test_nearest_volume_refuses_nan_and_empty_axes():
    with pytest.raises(ValueError, match="finite"):
        nearest_volume(np.arange(3.0), float("nan"))
    with pytest.raises(ValueError, match="no volumes"):
        nearest_volume(np.zeros(0), 1.0)


def test_describe_volume():
    assert describe_volume(2, 20, (2.0, "sec")) == "volume 3 / 20 (4 s)"
    assert describe_volume(0, 5, None) == "volume 1 / 5"
