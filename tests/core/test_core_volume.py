"""Volume statistics: a bounded sample of the data and the automatic display window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import write_nifti
from volview.core.volume import (
    SAMPLE_PLANES,
    SAMPLE_SIDE,
    Volume,
    auto_window,
    robust_range,
    sample_values,
)
from volview.io.images import ImageFile, open_image
from volview.io.proxy import ArrayProxy

SAMPLE_BOUND = SAMPLE_PLANES * SAMPLE_SIDE**2


class CountingProxy(ArrayProxy):
    """An in-RAM proxy that records every plane read and how many values it returned."""

    def __init__(self, array, random_access: bool = True):
        super().__init__(array)
        self.random_access = random_access
        self.reads: list[tuple[int, int, int]] = []
        self.values_read = 0

    def plane(self, axis, index, t=0, in_plane=(slice(None), slice(None))):
        out = super().plane(axis, index, t, in_plane)
        self.reads.append((axis, index, t))
        self.values_read += out.size
        return out


def volume_of(array, cal_range=None, random_access=True) -> Volume:
    """A Volume around an in-RAM array (RAS, 1 mm voxels)."""
    proxy = CountingProxy(array, random_access)
    image = ImageFile(
        path=Path("mem.nii"),
        format_name="NIfTI-1",
        shape=proxy.shape,
        affine=np.eye(4),
        voxel_sizes=(1.0, 1.0, 1.0),
        orientation_known=True,
        proxy=proxy,
        cal_range=cal_range,
    )
    return Volume.from_image(image)


def background_and_tissue(zero_fraction: float, shape=(64, 64, 64), seed=0) -> np.ndarray:
    """Zeros (background) in ``zero_fraction`` of voxels, uniform 100..200 elsewhere."""
    rng = np.random.default_rng(seed)
    data = rng.uniform(100.0, 200.0, shape).astype(np.float32)
    data[rng.random(shape) < zero_fraction] = 0
    return data


@pytest.mark.parametrize(
    "shape",
    [(255, 255, 40), (383, 300, 20), (1000, 129, 9), (128, 128, 128), (5, 4, 3), (1, 1, 1)],
)
def test_sample_values_reads_a_bounded_number_of_values(shape):
    volume = volume_of(np.zeros(shape, np.float32))
    values = sample_values(volume)
    proxy = volume.image.proxy
    assert values.size == proxy.values_read
    assert proxy.values_read <= SAMPLE_BOUND
    assert 1 <= len(proxy.reads) <= min(SAMPLE_PLANES, shape[2])
    assert len(set(proxy.reads)) == len(proxy.reads)  # no plane read twice
    assert all(axis == 2 for axis, _, _ in proxy.reads)


@settings(max_examples=40, deadline=None, database=None)
@given(shape=st.tuples(st.integers(1, 700), st.integers(1, 700), st.integers(1, 30)))
def test_sample_bound_holds_for_any_shape(shape):
    array = np.broadcast_to(np.float32(1.0), shape)  # no memory for the voxels
    volume = volume_of(array)
    values = sample_values(volume)
    assert 0 < values.size <= SAMPLE_BOUND
    # and it still samples both in-plane axes reasonably densely
    assert values.size >= min(shape[0], SAMPLE_SIDE // 2) * min(shape[1], SAMPLE_SIDE // 2)


def test_sample_without_random_access_reads_only_the_middle_plane():
    volume = volume_of(np.zeros((20, 20, 31), np.float32), random_access=False)
    sample_values(volume, t=0)
    assert volume.image.proxy.reads == [(2, 15, 0)]


def test_sample_reads_the_requested_volume():
    data = np.stack([np.full((8, 8, 8), t, np.float32) for t in range(3)], axis=-1)
    volume = volume_of(data)
    assert set(sample_values(volume, t=2)) == {2.0}
    assert {t for _, _, t in volume.image.proxy.reads} == {2}


def test_auto_window_prefers_plausible_calibration():
    volume = volume_of(background_and_tissue(0.1), cal_range=(100.0, 400.0))
    assert auto_window(volume) == (100.0, 400.0)
    assert volume.image.proxy.reads == []  # no data read at all


def test_auto_window_from_calibration_in_a_file(tmp_path):
    path = write_nifti(tmp_path / "cal.nii", background_and_tissue(0.1), cal=(-50.0, 75.0))
    volume = Volume.from_image(open_image(path))
    assert auto_window(volume) == (-50.0, 75.0)
    volume.image.close()


@pytest.mark.parametrize("cal", [(0.0, 0.0), (10.0, -10.0), (float("nan"), 1.0)])
def test_auto_window_ignores_implausible_calibration(tmp_path, cal):
    path = write_nifti(tmp_path / "cal.nii", background_and_tissue(0.8), cal=cal)
    volume = Volume.from_image(open_image(path))
    lo, hi = auto_window(volume)
    assert lo == pytest.approx(102, abs=1.5) and hi == pytest.approx(198, abs=1.5)
    volume.image.close()


def test_auto_window_ignores_dominant_zeros():
    lo, hi = auto_window(volume_of(background_and_tissue(0.8)))
    assert lo == pytest.approx(102, abs=1.5)
    assert hi == pytest.approx(198, abs=1.5)


def test_auto_window_keeps_zeros_that_do_not_dominate():
    lo, hi = auto_window(volume_of(background_and_tissue(0.3)))
    assert lo == 0.0
    assert hi == pytest.approx(100 + 100 * (0.98 - 0.3) / 0.7, abs=1.5)


def test_auto_window_is_robust_to_outliers_and_non_finite_values():
    data = background_and_tissue(0.0)
    data[::10, ::10, ::10] = 1e9
    data[1::10, ::10, ::10] = -1e9
    data[2::10, ::10, ::10] = np.nan
    data[3::10, ::10, ::10] = np.inf
    lo, hi = auto_window(volume_of(data))
    assert lo == pytest.approx(102, abs=1.5)
    assert hi == pytest.approx(198, abs=1.5)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], (0.0, 1.0)),
        ([np.nan, np.inf], (0.0, 1.0)),
        ([0.0] * 10, (0.0, 1.0)),
        ([7.0] * 10, (7.0, 8.0)),
        ([0.0] * 9 + [5.0], (5.0, 6.0)),  # zeros dominate: only 5 is left
        (list(range(101)), (2.0, 98.0)),
    ],
)
def test_robust_range(values, expected):
    assert robust_range(np.array(values, dtype=np.float32)) == pytest.approx(expected)


def test_robust_range_window_is_never_empty():
    lo, hi = robust_range(np.array([0.0] * 50 + [1.0] * 50 + [2.0], dtype=np.float32))
    assert hi > lo


def test_volume_basics(tmp_path):
    data = background_and_tissue(0.5, shape=(6, 5, 4))
    path = write_nifti(tmp_path / "v.nii", np.stack([data, data + 1], axis=-1))
    volume = Volume.from_image(open_image(path))
    assert volume.shape == (6, 5, 4)
    assert volume.n_volumes == 2
    assert volume.name == "v.nii"
    assert volume.centre_ijk() == (3, 2, 2)
    assert volume.value((1, 2, 3), 1) == pytest.approx(float(data[1, 2, 3]) + 1)
    mirrored = volume.with_convention(radiological=False)
    assert mirrored.image is volume.image
    assert not mirrored.geometry.radiological and volume.geometry.radiological
    volume.image.close()
