"""Streamlines over slices: the public face of the slab index and segment colours.

Owns nothing itself; it gathers the API the views use:

- ``streamline_index``: ``Slab``, ``Segments``, ``StreamlineIndex`` (build in a
  background thread with progress/cancel, ``query`` on every slice change),
  ``subsample`` and ``BuildCancelled``;
- ``streamline_colours``: one RGBA per segment, by direction, solid colour, per
  streamline or per vertex value through a lookup table, or by group.

Coordinate spaces: streamline points are world RAS+ millimetres; segments come out in
continuous voxel coordinates ``ijk`` of the image the index was built for.
"""

from volview.core.streamline_colours import (
    colour_by_direction,
    colour_by_group,
    colour_by_streamline_value,
    colour_by_vertex_value,
    colour_solid,
    default_group_colours,
)
from volview.core.streamline_index import (
    BuildCancelled,
    Segments,
    Slab,
    StreamlineIndex,
    subsample,
)

__all__ = [
    "BuildCancelled",
    "Segments",
    "Slab",
    "StreamlineIndex",
    "colour_by_direction",
    "colour_by_group",
    "colour_by_streamline_value",
    "colour_by_vertex_value",
    "colour_solid",
    "default_group_colours",
    "subsample",
]
