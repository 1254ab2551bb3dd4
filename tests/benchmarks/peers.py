"""What shared/reference/peers-results.md measured for the workloads we repeat.

All peer figures are warm page cache, on this machine (2 cores, llvmpipe). mrview's
wall time is a whole process (open + paint at 900x900 + exit) under Xvfb;
OrthoSlicer3D's latency is ``set_position`` (slice + set_data + blit) and, separately,
that plus a full ``canvas.draw()``, over 50 seeded positions.
"""

from __future__ import annotations

MIB = 2**20

#: whole-process open + first paint, warm: (tool, median seconds, peak anon bytes or None)
OPEN = {
    "huge": [
        ("mrview", 0.96, 111 * MIB),
        ("nibabel OrthoSlicer3D", None, None),  # did not finish in 600 s
    ],
    "big": [("mrview", 0.41, 56 * MIB), ("nibabel OrthoSlicer3D", 4.63, 561 * MIB)],
    "t1": [("mrview", 0.49, 55 * MIB), ("nibabel OrthoSlicer3D", 1.22, 81 * MIB)],
}

#: whole-process open + first paint after drop_caches (libraries cold too), median s
OPEN_COLD = {"huge": ("mrview", 28.03), "big": ("mrview", 1.56), "t1": ("mrview", 0.92)}

#: per-update latency, ms: (set_position median, p95, + full canvas.draw median, p95)
CURSOR = {
    "big": (34.7, 36.3, 73.6, 76.8),
    "t1": (25.0, 26.0, 55.8, 60.8),
}

#: raw np.memmap plane reads, warm, ms (i-fixed, j-fixed, k-fixed medians)
MEMMAP_PLANES = {
    "big": (1.403, 0.080, 0.044),
    "t1": (0.201, 0.013, 0.006),
    "huge": (40.891, 1.964, 1.448),
}
