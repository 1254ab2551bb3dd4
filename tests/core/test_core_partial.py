"""extract_partial: the part of a streamed plane read so far, placed where it lies."""

from __future__ import annotations

import dataclasses

import pytest

from tests.core.test_core_slicing import ALL_48, assert_placed, index_volume, layout_for
from volview.core.geometry import Plane
from volview.core.slicing import SliceRequest, extract_partial, full_plane_request
from volview.io.proxy import ArrayProxy

SHAPE = (9, 8, 12)


class StreamedProxy(ArrayProxy):
    """An index volume whose sagittal and coronal planes have been streamed up to
    axial index ``n_read`` (what ``CachedProxy.partial_plane`` offers mid-pass)."""

    random_access = False

    def __init__(self, array, n_read: int) -> None:
        super().__init__(array)
        self.n_read = n_read

    def partial_plane(self, axis, index, t, in_plane):
        if axis == 2:
            return None
        rows, ks = in_plane
        start, stop, step = ks.indices(self.shape[2])
        read = slice(start, min(stop, self.n_read), step)
        if not range(read.start, read.stop, step):
            return None
        return self.plane(axis, index, t, (rows, read))


def k_read(request: SliceRequest, layout, n_read: int) -> SliceRequest:
    """``request`` with its axial-index range cut at ``n_read``."""
    field = "col_range" if layout.col_axis == 2 else "row_range"
    start, stop, step = getattr(request, field).indices(SHAPE[2])
    return dataclasses.replace(request, **{field: slice(start, min(stop, n_read), step)})


@pytest.mark.parametrize("orientation", ALL_48, ids=str)
@pytest.mark.parametrize("step", [1, 2, 3])
def test_the_part_read_is_placed_where_it_lies_in_any_orientation(orientation, step):
    proxy = StreamedProxy(index_volume(SHAPE), n_read=5)
    for plane in Plane:
        for radiological in (True, False):
            layout = layout_for(*orientation, plane, radiological, shape=SHAPE)
            request = full_plane_request(layout, SHAPE[layout.depth_axis] // 2, 0, step)
            found = extract_partial(proxy, request)
            if layout.depth_axis == 2:  # axial planes arrive whole
                assert found is None
                continue
            result, fraction = found
            assert result.request_id == request.request_id
            part = k_read(request, layout, proxy.n_read)
            assert_placed(layout, part, result)
            n_all = len(range(*request.col_range.indices(layout.n_cols))) * len(
                range(*request.row_range.indices(layout.n_rows))
            )
            assert fraction == pytest.approx(result.pixels.size / n_all)
            assert 0 < fraction < 1


def test_nothing_before_the_first_index_of_a_crop_is_read():
    """A zoomed-in crop starting above the axial indices read so far has no part yet."""
    layout = layout_for((0, 1, 2), (1, 1, 1), Plane.CORONAL, shape=SHAPE)
    assert layout.row_axis == 2
    proxy = StreamedProxy(index_volume(SHAPE), n_read=4)
    request = SliceRequest(layout, 3, 0, slice(0, 9), slice(6, 12))
    assert extract_partial(proxy, request) is None
    proxy.n_read = 8
    result, fraction = extract_partial(proxy, request)
    assert result.pixels.shape == (2, 9) and fraction == pytest.approx(2 / 6)


def test_a_proxy_that_does_not_stream_has_no_part():
    layout = layout_for((0, 1, 2), (1, 1, 1), Plane.SAGITTAL, shape=SHAPE)
    request = full_plane_request(layout, 4, 0)
    assert extract_partial(ArrayProxy(index_volume(SHAPE)), request) is None
