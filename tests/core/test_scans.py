"""Whole-image scans equal numpy on the whole array, read one plane at a time, and stop
when cancelled."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from volview.core.scans import (
    ScanCancelled,
    data_range,
    format_bbox,
    histogram,
    nonzero_bbox,
)
from volview.io.images import open_image
from volview.io.proxy import ArrayProxy


class CountingProxy(ArrayProxy):
    """Records each plane read and the largest number of values one read returned."""

    def __init__(self, array):
        super().__init__(array)
        self.reads = 0
        self.largest = 0

    def plane(self, axis, index, t=0, in_plane=(slice(None), slice(None))):
        out = super().plane(axis, index, t, in_plane)
        self.reads += 1
        self.largest = max(self.largest, out.size)
        return out


def with_nans(shape=(9, 7, 6, 3), seed=0) -> np.ndarray:
    data = np.random.default_rng(seed).normal(10, 5, size=shape).astype(np.float32)
    data[1, 2, 3, 0] = np.nan
    data[4, :, 2, 1] = np.nan
    data[0, 0, 0, 2] = np.inf
    return data


def test_data_range_matches_numpy_and_skips_non_finite():
    data = with_nans()
    proxy = CountingProxy(data)
    finite = data[np.isfinite(data)]
    assert data_range(proxy) == (float(finite.min()), float(finite.max()))
    # one plane at a time: never more than a plane's values in one read
    assert proxy.reads == data.shape[2] * data.shape[3]
    assert proxy.largest == data.shape[0] * data.shape[1]


def test_data_range_of_one_volume_and_of_nothing_finite():
    data = with_nans()
    assert data_range(ArrayProxy(data), volumes=[1]) == (
        float(np.nanmin(data[..., 1])),
        float(np.nanmax(data[..., 1])),
    )
    assert data_range(ArrayProxy(np.full((3, 3, 3), np.nan, np.float32))) is None


def test_scaled_integers_through_the_file(tmp_path):
    raw = np.random.default_rng(1).integers(-300, 300, (10, 8, 7, 2)).astype(np.int16)
    img = nib.Nifti1Image(raw, np.eye(4))
    img.header.set_slope_inter(0.25, -7.0)
    path = tmp_path / "scaled.nii"
    img.to_filename(str(path))
    expected = nib.load(path).get_fdata()
    image = open_image(path)
    try:
        assert data_range(image.proxy) == pytest.approx((expected.min(), expected.max()))
        counts, edges = histogram(image.proxy, bins=32)
        ref_counts, ref_edges = np.histogram(expected.astype(np.float32), bins=32)
        np.testing.assert_allclose(edges, ref_edges, rtol=1e-6)
        np.testing.assert_array_equal(counts, ref_counts)
    finally:
        image.close()


def test_bounding_box_matches_numpy_over_all_volumes():
    data = np.zeros((12, 10, 8, 2), np.float32)
    data[3:6, 2:4, 5, 0] = 1.0
    data[7, 8, 1, 1] = -2.0
    data[0, 0, 7, 0] = np.nan  # not a value: outside the box
    nonzero = np.argwhere((data != 0) & ~np.isnan(data))[:, :3]
    expected = (tuple(nonzero.min(axis=0)), tuple(nonzero.max(axis=0)))
    assert nonzero_bbox(ArrayProxy(data)) == expected == ((3, 2, 1), (7, 8, 5))
    assert nonzero_bbox(ArrayProxy(data), volumes=[0]) == ((3, 2, 5), (5, 3, 5))
    assert "i 3\u20137" in format_bbox(expected)


def test_bounding_box_of_an_empty_image_is_none():
    assert nonzero_bbox(ArrayProxy(np.zeros((4, 4, 4), np.float32))) is None
    assert "zero" in format_bbox(None)


def test_histogram_matches_numpy_with_and_without_a_range():
    data = with_nans(seed=4)
    finite = data[np.isfinite(data)]
    proxy = CountingProxy(data)
    counts, edges = histogram(proxy, bins=50)
    ref_counts, ref_edges = np.histogram(finite, bins=50)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(edges, ref_edges)
    assert proxy.reads == 2 * data.shape[2] * data.shape[3]  # range pass + counting pass
    counts, edges = histogram(ArrayProxy(data), bins=10, value_range=(5.0, 15.0))
    ref_counts, ref_edges = np.histogram(finite, bins=10, range=(5.0, 15.0))
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(edges, ref_edges)


def test_histogram_of_a_constant_image_is_one_full_bin():
    counts, edges = histogram(ArrayProxy(np.full((4, 4, 4), 3.0, np.float32)), bins=5)
    ref_counts, ref_edges = np.histogram(np.full(64, 3.0, np.float32), bins=5)
    np.testing.assert_array_equal(counts, ref_counts)
    np.testing.assert_array_equal(edges, ref_edges)


def test_progress_goes_to_the_total_once():
    data = with_nans()
    calls = []
    histogram(ArrayProxy(data), progress=lambda done, total: calls.append((done, total)))
    total = 2 * data.shape[2] * data.shape[3]
    assert calls == [(n, total) for n in range(1, total + 1)]


@pytest.mark.parametrize("scan", [data_range, nonzero_bbox, histogram])
def test_cancel_stops_early(scan):
    data = with_nans()
    proxy = CountingProxy(data)
    with pytest.raises(ScanCancelled):
        scan(proxy, cancelled=lambda: proxy.reads >= 3)
    assert proxy.reads == 3
