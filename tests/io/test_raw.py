"""Raw volumes: planes equal the numpy array written, and wrong geometries are refused."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from volview.errors import CorruptFileError, FileAccessError
from volview.io.raw import (
    ORIENTATION_NOTE,
    RAW_DTYPES,
    RawSpec,
    RawSpecError,
    expected_size,
    open_raw,
)

CROPS = [
    (slice(None), slice(None)),
    (slice(1, None, 2), slice(None, None, 3)),
    (slice(2, 3), slice(0, 4, 2)),
]


def write_raw(path, array: np.ndarray, spec: RawSpec, header: bytes = b"") -> str:
    """Write ``array`` (shape ``spec.shape``) as ``spec`` says, after ``header``."""
    assert len(header) == spec.offset
    stored = np.asarray(array, dtype=spec.numpy_dtype)
    path.write_bytes(header + stored.tobytes(order=spec.order))
    return str(path)


def ramp(shape, dtype="int16") -> np.ndarray:
    """Distinct values that encode their index (within the dtype's range)."""
    values = np.arange(int(np.prod(shape)), dtype=np.int64) % 30000 - 1000 * (
        np.dtype(dtype).kind == "i"
    )
    return values.reshape(shape).astype(dtype)


def assert_planes_equal(image, array: np.ndarray) -> None:
    """Every plane along i, j and k of every volume, with strided crops, equals numpy's."""
    data4 = array.reshape(image.shape)
    for t in range(image.shape[3]):
        for axis in range(3):
            for index in range(image.shape[axis]):
                for crop in CROPS:
                    where = [*crop]
                    where.insert(axis, index)
                    expected = data4[(*where, t)].astype(np.float32)
                    got = image.proxy.plane(axis, index, t, crop)
                    np.testing.assert_array_equal(got, expected, err_msg=f"{axis=} {index=} {t=}")


@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("byte_order", ["little", "big"])
@pytest.mark.parametrize("offset", [0, 37])
def test_planes_equal_numpy(tmp_path, order, byte_order, offset):
    spec = RawSpec((6, 5, 4), "int16", byte_order, offset, order, (0.5, 1.0, 2.0))
    array = ramp(spec.shape)
    path = write_raw(tmp_path / "v.raw", array, spec, b"h" * offset)
    image = open_raw(path, spec)
    try:
        assert image.shape == (6, 5, 4, 1)
        assert image.proxy.access == "memory-mapped"
        assert_planes_equal(image, array)
        assert image.proxy.value((5, 4, 3)) == array[5, 4, 3]
    finally:
        image.close()


@pytest.mark.parametrize("order", ["F", "C"])
def test_four_d_planes_values_and_time_courses(tmp_path, order):
    spec = RawSpec((4, 3, 5, 6), "float32", "big", 16, order)
    array = np.random.default_rng(1).normal(size=spec.shape).astype(np.float32)
    image = open_raw(write_raw(tmp_path / "v.bin", array, spec, bytes(16)), spec)
    try:
        assert image.shape == (4, 3, 5, 6)
        assert_planes_equal(image, array)
        np.testing.assert_array_equal(image.proxy.series((3, 1, 4)), array[3, 1, 4, :])
        assert image.proxy.value((1, 2, 3), t=5) == array[1, 2, 3, 5]
    finally:
        image.close()


def test_image_geometry_and_notes(tmp_path):
    spec = RawSpec((4, 4, 4), "uint8", voxel_size=(0.5, 0.75, 2.0))
    image = open_raw(write_raw(tmp_path / "v.raw", ramp(spec.shape, "uint8"), spec), spec)
    try:
        np.testing.assert_array_equal(image.affine, np.diag([0.5, 0.75, 2.0, 1.0]))
        assert image.voxel_sizes == (0.5, 0.75, 2.0)
        assert image.format_name == "raw"
        assert not image.orientation_known
        assert ORIENTATION_NOTE in image.notes
        assert image.stored_kind == "u"
    finally:
        image.close()


def test_expected_size():
    assert expected_size(RawSpec((10, 20, 30), "uint16", offset=352)) == 352 + 10 * 20 * 30 * 2
    assert expected_size(RawSpec((2, 3, 4, 5), "float64")) == 2 * 3 * 4 * 5 * 8


def test_wrong_size_is_refused_naming_file_and_sizes(tmp_path):
    spec = RawSpec((8, 8, 8), "int16")
    path = write_raw(tmp_path / "scan.raw", ramp(spec.shape), spec)
    with pytest.raises(CorruptFileError) as err:
        open_raw(path, RawSpec((8, 8, 9), "int16"))
    message = str(err.value)
    assert "scan.raw" in message
    assert "1,024 bytes" in message and "1,152 bytes" in message


def test_a_header_offset_is_suggested(tmp_path):
    spec = RawSpec((8, 8, 8), "int16", offset=348)
    path = write_raw(tmp_path / "scan.img", ramp(spec.shape), spec, bytes(348))
    with pytest.raises(CorruptFileError, match="a header offset of 348 bytes would match"):
        open_raw(path, RawSpec((8, 8, 8), "int16"))


def test_a_shape_and_a_data_type_are_suggested(tmp_path):
    spec = RawSpec((8, 8, 8), "int16")
    path = write_raw(tmp_path / "scan.raw", ramp(spec.shape), spec)
    with pytest.raises(CorruptFileError, match="shape 8 x 8 x 8 would match"):
        open_raw(path, RawSpec((8, 8, 12), "int16"))
    with pytest.raises(CorruptFileError, match=r"2-byte data type \(.*int16.*\)"):
        open_raw(path, RawSpec((8, 8, 8), "float32"))


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(FileAccessError, match=r"nothing\.raw: file not found"):
        open_raw(tmp_path / "nothing.raw", RawSpec((2, 2, 2)))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"shape": (4, 4)}, "3 or 4 sizes"),
        ({"shape": (4, 0, 4)}, "at least 1"),
        ({"shape": (4, 2.5, 4)}, "whole numbers"),
        ({"shape": (4, 4, 4), "dtype": "complex64"}, "data type must be one of"),
        ({"shape": (4, 4, 4), "dtype": "rgb"}, "data type must be one of"),
        ({"shape": (4, 4, 4), "byte_order": "middle"}, "byte order"),
        ({"shape": (4, 4, 4), "order": "A"}, "memory order"),
        ({"shape": (4, 4, 4), "offset": -1}, "0 or more bytes"),
        ({"shape": (4, 4, 4), "voxel_size": (1, 0, 1)}, "3 positive numbers"),
        ({"shape": (4, 4, 4), "voxel_size": (1, 1)}, "3 positive numbers"),
    ],
)
def test_impossible_specs_are_refused_with_a_reason(kwargs, words):
    with pytest.raises(RawSpecError, match=words):
        RawSpec(**kwargs)


def test_spec_normalises_dtype_names():
    assert RawSpec((2, 2, 2), np.float32).dtype == "float32"
    assert RawSpec((2, 2, 2), "i2").dtype == "int16"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shape=st.lists(st.integers(1, 5), min_size=3, max_size=4).map(tuple),
    dtype=st.sampled_from(RAW_DTYPES),
    byte_order=st.sampled_from(["little", "big"]),
    order=st.sampled_from(["F", "C"]),
    offset=st.integers(0, 9),
    seed=st.integers(0, 2**16),
)
def test_random_geometries_equal_numpy(tmp_path, shape, dtype, byte_order, order, offset, seed):
    spec = RawSpec(shape, dtype, byte_order, offset, order)
    array = np.random.default_rng(seed).integers(0, 100, shape).astype(spec.numpy_dtype)
    path = write_raw(tmp_path / "r.raw", array, spec, bytes(offset))
    image = open_raw(path, spec)
    try:
        assert_planes_equal(image, array)
    finally:
        image.close()
