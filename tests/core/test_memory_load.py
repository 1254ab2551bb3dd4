"""Load into memory: the copy equals nibabel's get_fdata, it is refused when it would not
fit, cancelling stops it, and releasing goes back to the file."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from volview.core.memory_load import (
    MARGIN_BYTES,
    LoadedProxy,
    NotEnoughMemory,
    bytes_needed,
    copy_in_ram,
    load_all,
    loaded_proxy,
    released,
    with_image,
)
from volview.core.scans import ScanCancelled
from volview.core.volume import Volume
from volview.errors import ImageReadError
from volview.io.images import open_image
from volview.io.plane_cache import CachedProxy, with_plane_cache

PLENTY = 2**40


@pytest.fixture(params=["scaled.nii", "scaled.nii.gz"])
def scaled_path(tmp_path, request):
    raw = np.random.default_rng(2).integers(-500, 500, (11, 9, 7, 3)).astype(np.int16)
    img = nib.Nifti1Image(raw, np.diag([2.0, 2.0, 3.0, 1.0]))
    img.header.set_slope_inter(0.5, 10.0)
    path = tmp_path / request.param
    img.to_filename(str(path))
    return path


def test_loaded_copy_equals_get_fdata(scaled_path):
    expected = nib.load(scaled_path).get_fdata()
    image = with_plane_cache(open_image(scaled_path), 2**20)
    calls = []
    loaded = load_all(image, progress=lambda d, t: calls.append((d, t)), available=PLENTY)
    assert loaded.proxy.access == "in RAM"
    assert isinstance(loaded.proxy, LoadedProxy)
    assert calls[-1] == (7 * 3, 7 * 3) and len(calls) == 7 * 3  # one plane at a time
    for axis in range(3):
        for index in range(expected.shape[axis]):
            for t in range(3):
                want = np.take(expected[..., t], index, axis=axis)
                np.testing.assert_allclose(loaded.proxy.plane(axis, index, t), want, rtol=1e-6)
    assert loaded.proxy.value((3, 4, 5), 2) == pytest.approx(expected[3, 4, 5, 2])
    np.testing.assert_allclose(loaded.proxy.series((1, 2, 3)), expected[1, 2, 3], rtol=1e-6)
    assert loaded.scaling == image.scaling and loaded.path == image.path
    assert isinstance(image.proxy, CachedProxy) and image.proxy.cached_bytes == 0
    assert load_all(loaded, available=PLENTY) is loaded  # already in RAM
    loaded.close()


def test_release_returns_to_the_original_proxy(scaled_path):
    image = open_image(scaled_path)
    volume = Volume.from_image(image)
    sample = volume.intensity_sample
    loaded = load_all(image, available=PLENTY)
    in_ram = with_image(volume, loaded)
    assert in_ram.intensity_sample is sample and in_ram.geometry is volume.geometry
    back = released(loaded)
    assert back.proxy is image.proxy
    assert released(back) is back
    loaded_proxy(loaded).drop()
    plane = back.proxy.plane(2, 3, 1)  # the file is still open and readable
    np.testing.assert_allclose(plane, nib.load(scaled_path).get_fdata()[:, :, 3, 1], rtol=1e-6)
    back.close()


def test_refused_when_it_would_not_fit(scaled_path):
    image = open_image(scaled_path)
    needed = bytes_needed(image)
    assert needed == 11 * 9 * 7 * 3 * 4
    reads = []
    image.proxy.plane = lambda *a, **k: reads.append(a)
    with pytest.raises(NotEnoughMemory) as info:
        load_all(image, available=MARGIN_BYTES + needed - 1)
    text = str(info.value)
    assert scaled_path.name in text
    assert "8.1 KiB" in text  # what it needs (8,316 bytes)
    assert "512.0 MiB" in text  # what is available
    assert reads == []  # nothing was read
    image.close()


def test_fits_exactly_with_the_margin(scaled_path):
    image = open_image(scaled_path)
    loaded = load_all(image, available=MARGIN_BYTES + bytes_needed(image))
    assert loaded.proxy.access == "in RAM"
    loaded.close()


def test_cancel_stops_loading(scaled_path):
    image = open_image(scaled_path)
    done = []
    with pytest.raises(ScanCancelled) as info:
        load_all(
            image,
            progress=lambda d, t: done.append(d),
            cancelled=lambda: len(done) >= 2,
            available=PLENTY,
        )
    assert done == [1, 2]
    assert scaled_path.name in str(info.value)
    image.close()


def test_copy_in_ram_reads_a_second_opening_and_leaves_the_image_alone(scaled_path):
    expected = nib.load(scaled_path).get_fdata()
    image = open_image(scaled_path)
    read = image.proxy.plane
    image.proxy.plane = lambda *args: pytest.fail("the image's own proxy was read")
    calls = []
    copy = copy_in_ram(image, progress=lambda d, t: calls.append(d), available=PLENTY)
    assert copy.proxy.access == "in RAM" and copy.proxy.random_access
    assert calls == list(range(1, 7 * 3 + 1))
    assert (copy.path, copy.scaling, copy.shape) == (image.path, image.scaling, image.shape)
    np.testing.assert_array_equal(copy.affine, image.affine)
    for axis in range(3):
        for t in range(3):
            want = np.take(expected[..., t], 4, axis=axis)
            np.testing.assert_allclose(copy.proxy.plane(axis, 4, t), want, rtol=1e-6)
    image.proxy.plane = read
    np.testing.assert_allclose(image.proxy.plane(2, 3, 1), expected[:, :, 3, 1], rtol=1e-6)
    copy.close()
    image.close()


def test_copy_in_ram_is_refused_cancelled_or_stopped_by_a_changed_file(scaled_path):
    image = open_image(scaled_path)
    with pytest.raises(NotEnoughMemory, match="cannot be loaded into memory"):
        copy_in_ram(image, available=bytes_needed(image) + MARGIN_BYTES - 1)
    with pytest.raises(ScanCancelled, match=scaled_path.name):
        copy_in_ram(image, cancelled=lambda: True, available=PLENTY)
    smaller = np.zeros((5, 5, 5), np.int16)
    nib.Nifti1Image(smaller, np.eye(4)).to_filename(str(scaled_path))
    with pytest.raises(ImageReadError) as info:
        copy_in_ram(image, available=PLENTY)
    assert str(info.value) == (
        f"{scaled_path.name}: changed on disk since it was opened: it now holds "
        f"5 \u00d7 5 \u00d7 5 \u00d7 1 values, not 11 \u00d7 9 \u00d7 7 \u00d7 3 ({scaled_path})"
    )
    image.close()
