"""A 4 GiB image (a sparse file) opens and shows its centre planes in little memory."""

from __future__ import annotations

import numpy as np
import pytest

from tests.factories import rss_anon_bytes, write_sparse_nifti
from volview.core.geometry import Plane
from volview.core.slicing import extract_slice, full_plane_request
from volview.core.state import ViewerState
from volview.core.volume import auto_window, sample_values
from volview.io.images import open_image
from volview.session import Session

BIG_SHAPE = (2048, 2048, 512)
FULL_BYTES = 352 + 2048 * 2048 * 512 * 2
ANON_LIMIT = 100 * 2**20


@pytest.fixture
def big_nii(tmp_path):
    path = write_sparse_nifti(tmp_path / "big.nii", BIG_SHAPE, "uint16")
    assert path.stat().st_size == FULL_BYTES
    if path.stat().st_blocks * 512 > 2**20:
        pytest.skip("the file system does not keep the file sparse")
    yield path
    path.unlink()


def test_big_file_opens_and_reads_in_little_memory(big_nii):
    before = rss_anon_bytes()

    image = open_image(big_nii)
    assert image.shape == (*BIG_SHAPE, 1)
    assert image.proxy.access == "memory-mapped"
    image.close()

    state = ViewerState()
    assert Session(state).open_paths([big_nii]) == []
    volume = state.volume
    assert volume.shape == BIG_SHAPE
    assert state.window == (0.0, 1.0)  # all zeros: a unit window, not a crash
    assert state.cursor_ijk == (1024, 1024, 256)

    planes = []
    for plane in Plane:
        layout = volume.geometry.layout(plane)
        result = extract_slice(volume.image.proxy, full_plane_request(layout, 256, 0))
        assert result.pixels.shape == (layout.n_rows, layout.n_cols)
        assert not result.pixels.any()
        planes.append(result)
    assert auto_window(volume) == (0.0, 1.0)
    assert sample_values(volume).size <= 8 * 128 * 128

    grown = rss_anon_bytes() - before
    assert grown < ANON_LIMIT, f"anonymous memory grew by {grown / 2**20:.0f} MiB"
    assert sum(p.pixels.nbytes for p in planes) == 4 * (2048 * 2048 + 2 * 2048 * 512)

    state.set_volume(None)  # closes the map
    assert big_nii.stat().st_blocks * 512 <= 2**20  # nothing was written into the hole
    np.testing.assert_equal(big_nii.stat().st_size, FULL_BYTES)
