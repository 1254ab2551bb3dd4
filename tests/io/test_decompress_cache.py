"""The decompress-once cache: reuse, rebuild on change, the byte budget, clean failures."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from volview.errors import CorruptFileError, OpenCancelled
from volview.io import decompress_cache
from volview.io.decompress_cache import (
    CACHE_ENV,
    CACHED_ACCESS,
    CacheSpaceError,
    DecompressCache,
    default_folder,
    open_cached,
)
from volview.io.images import open_image

MB = 2**20


def write_gz(path: Path, shape=(64, 64, 64), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    data = rng.normal(100, 20, shape).astype(np.int16)
    img = nib.Nifti1Image(data, np.diag([1.5, 1.5, 2.0, 1.0]))
    img.header.set_slope_inter(0.5, 3.0)
    nib.save(img, path)
    return path


def uncompressed_size(path: Path) -> int:
    return open_image(path).proxy.stored_bytes


def store(cache: DecompressCache, path: Path, **kwargs) -> Path:
    return cache.store(path, uncompressed_size(path), **kwargs)


@pytest.fixture
def cache(tmp_path) -> DecompressCache:
    return DecompressCache(budget_bytes=100 * MB, folder=tmp_path / "cache")


def leftovers(cache: DecompressCache) -> list[str]:
    return sorted(p.name for p in cache.folder.iterdir()) if cache.folder.exists() else []


def test_cached_copy_opens_memory_mapped_with_the_same_planes(cache, tmp_path):
    source = write_gz(tmp_path / "scan.nii.gz")
    entry = store(cache, source)
    image = open_cached(source, entry)
    try:
        assert image.proxy.access == CACHED_ACCESS
        assert image.path == source and image.format_name == "NIfTI-1"
        want = nib.load(source).get_fdata()
        for axis in range(3):
            np.testing.assert_allclose(
                image.proxy.plane(axis, 17), np.take(want, 17, axis=axis), rtol=1e-6
            )
        assert image.scaling == (0.5, 3.0)
    finally:
        image.close()


def test_valid_entry_is_reused_without_rewriting(cache, tmp_path):
    source = write_gz(tmp_path / "scan.nii.gz")
    assert cache.lookup(source) is None
    entry = store(cache, source)
    before = entry.stat()
    assert cache.lookup(source) == entry
    after = entry.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_changed_source_is_rebuilt(cache, tmp_path):
    source = write_gz(tmp_path / "scan.nii.gz")
    old_entry = store(cache, source)
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))  # touched
    assert cache.lookup(source) is None
    write_gz(source, shape=(32, 40, 48), seed=1)  # and rewritten: a new size
    assert cache.lookup(source) is None
    new_entry = store(cache, source)
    assert new_entry != old_entry and not old_entry.exists()
    assert cache.lookup(source) == new_entry
    image = open_cached(source, new_entry)
    try:
        assert image.shape == (32, 40, 48, 1)
    finally:
        image.close()


def test_eviction_keeps_the_budget_and_drops_the_least_recently_used(tmp_path):
    sources = [write_gz(tmp_path / f"s{n}.nii.gz", seed=n) for n in range(4)]
    one = uncompressed_size(sources[0])
    cache = DecompressCache(budget_bytes=int(2.5 * one), folder=tmp_path / "cache")
    first, second = store(cache, sources[0]), store(cache, sources[1])
    os.utime(first, ns=(1, first.stat().st_mtime_ns))  # used long ago
    os.utime(second, ns=(2, second.stat().st_mtime_ns))
    assert cache.lookup(sources[0]) == first  # now the most recently used
    third = store(cache, sources[2])
    assert first.exists() and third.exists() and not second.exists()
    assert cache.total_bytes() <= cache.budget_bytes
    store(cache, sources[3])
    assert cache.total_bytes() <= cache.budget_bytes and len(cache.entries()) == 2


def test_copy_larger_than_the_budget_is_refused(tmp_path):
    source = write_gz(tmp_path / "scan.nii.gz")
    cache = DecompressCache(budget_bytes=1000, folder=tmp_path / "cache")
    with pytest.raises(CacheSpaceError, match=r"scan\.nii\.gz: .*larger than the cache budget"):
        store(cache, source)
    assert leftovers(cache) == []


def test_cancelled_write_leaves_no_entry_and_no_temp_file(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(decompress_cache, "CHUNK", 64 * 1024)
    source = write_gz(tmp_path / "scan.nii.gz")
    calls = []
    with pytest.raises(OpenCancelled, match=r"scan\.nii\.gz"):
        store(
            cache, source, progress=lambda d, n: calls.append(d), cancelled=lambda: len(calls) > 2
        )
    assert leftovers(cache) == [] and cache.lookup(source) is None


def test_corrupt_source_leaves_no_entry_and_names_the_file(cache, tmp_path):
    good = write_gz(tmp_path / "good.nii.gz")
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CorruptFileError, match=r"cut\.nii\.gz: cannot decompress"):
        cache.store(cut, uncompressed_size(good))
    assert leftovers(cache) == [] and cache.lookup(cut) is None


def test_stream_shorter_than_its_header_is_refused(cache, tmp_path):
    """A gzip stream that decodes cleanly but stops before the header's last voxel."""
    good = write_gz(tmp_path / "good.nii.gz")
    short = tmp_path / "short.nii.gz"
    whole = gzip.decompress(good.read_bytes())
    short.write_bytes(gzip.compress(whole[: len(whole) - 1000]))
    with pytest.raises(
        CorruptFileError, match=rf"short\.nii\.gz: .*ends after {len(whole) - 1000}"
    ):
        cache.store(short, uncompressed_size(good))
    assert leftovers(cache) == [] and cache.lookup(short) is None


def test_progress_counts_uncompressed_bytes_up_to_the_whole(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(decompress_cache, "CHUNK", 64 * 1024)
    source = write_gz(tmp_path / "scan.nii.gz")
    reports = []
    store(cache, source, progress=lambda done, total: reports.append((done, total)))
    expected = uncompressed_size(source)
    assert reports[0] == (0, expected) and reports[-1] == (expected, expected)
    assert len(reports) > expected // (64 * 1024)  # one report per chunk
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_failed_write_leaves_no_temp_file(cache, tmp_path, monkeypatch):
    source = write_gz(tmp_path / "scan.nii.gz")

    def disk_full(part, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(decompress_cache.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store(cache, source)
    assert leftovers(cache) == []


def test_pairs_and_plain_files_are_not_cached(cache, tmp_path):
    plain = tmp_path / "plain.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), np.eye(4)), plain)
    assert not decompress_cache.cacheable(plain)
    assert not decompress_cache.cacheable(tmp_path / "pair.img.gz")
    assert cache.lookup(plain) is None


def test_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "root"))
    assert default_folder() == tmp_path / "root" / "decompressed"
    assert DecompressCache(10).folder == tmp_path / "root" / "decompressed"
