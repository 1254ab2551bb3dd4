"""Display geometry: which voxel axis goes where on screen, and voxel <-> world maps.

Owns: ``Plane``, ``PlaneLayout`` and ``Geometry`` (built from an image's affine).

Coordinate spaces
- ``ijk``: voxel indices into the file's array (the order the data is stored in);
- ``xyz_mm``: world coordinates, RAS+ millimetres (``affine @ [i, j, k, 1]``);
- display: per plane, ``(row, col)`` pixel indices of the oriented plane, ``col``
  growing to the screen's right and ``row`` growing *up*; display millimetres are
  ``col * col_spacing_mm`` and ``row * row_spacing_mm``.

Display is RAS-aligned by axis permutation and flips only (no resampling). For an
oblique affine each voxel axis is shown along the world axis it is closest to
(``nibabel.orientations.io_orientation``) and ``Geometry.oblique`` is True.
Radiological convention (the clinical default) puts the patient's right on the
screen's left in axial and coronal views and anterior on the left in sagittal views;
neurological is the mirror image of both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from nibabel.affines import apply_affine, obliquity
from nibabel.orientations import io_orientation

#: letters of the negative and positive direction of each world axis (x, y, z)
AXIS_LETTERS = (("L", "R"), ("P", "A"), ("I", "S"))
#: obliquity (degrees) below which an affine counts as axis-aligned
OBLIQUE_TOLERANCE_DEG = 0.01


class Plane(enum.Enum):
    """A display plane, named by the world axis it holds fixed."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


#: world axis held fixed by each plane
DEPTH_WORLD_AXIS = {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}
#: (horizontal, vertical) world axes of each plane on screen
SCREEN_WORLD_AXES = {Plane.AXIAL: (0, 1), Plane.CORONAL: (0, 2), Plane.SAGITTAL: (1, 2)}


@dataclass(frozen=True)
class PlaneLayout:
    """How one plane's voxels map to screen pixels.

    ``col_axis``/``row_axis`` are voxel axes; a ``*_flip`` means the display index
    runs against the voxel index (``display = n - 1 - voxel``).
    """

    plane: Plane
    depth_axis: int
    depth_step: int  # voxel index change that moves the slice toward +world (R/A/S)
    col_axis: int
    col_flip: bool
    row_axis: int
    row_flip: bool
    n_cols: int
    n_rows: int
    col_spacing_mm: float
    row_spacing_mm: float
    labels: tuple[str, str, str, str]  # left, right, bottom, top edge letters

    def voxel_to_display(self, v_col: float, v_row: float) -> tuple[float, float]:
        """(col, row) display indices of voxel indices along col_axis/row_axis."""
        col = self.n_cols - 1 - v_col if self.col_flip else v_col
        row = self.n_rows - 1 - v_row if self.row_flip else v_row
        return col, row

    def display_to_voxel(self, col: int, row: int) -> tuple[int, int]:
        """Voxel indices along (col_axis, row_axis) of display pixel (col, row)."""
        v_col = self.n_cols - 1 - col if self.col_flip else col
        v_row = self.n_rows - 1 - row if self.row_flip else row
        return v_col, v_row

    def orient(self, raw: np.ndarray) -> np.ndarray:
        """Turn a plane indexed [lower voxel axis, higher voxel axis] into [row, col]."""
        pixels = raw if self.row_axis < self.col_axis else raw.T
        if self.row_flip:
            pixels = pixels[::-1, :]
        if self.col_flip:
            pixels = pixels[:, ::-1]
        return pixels

    @property
    def size_mm(self) -> tuple[float, float]:
        """(width, height) of the whole plane in display millimetres."""
        return self.n_cols * self.col_spacing_mm, self.n_rows * self.row_spacing_mm


@dataclass(frozen=True)
class Geometry:
    """Voxel grid + affine, and the layout of each display plane."""

    shape: tuple[int, int, int]
    affine: np.ndarray
    voxel_sizes: tuple[float, float, float]
    orientation_known: bool
    radiological: bool
    #: for each world axis (x, y, z): the voxel axis closest to it, and its sign
    world_to_voxel_axis: tuple[int, int, int]
    voxel_axis_sign: tuple[int, int, int]
    oblique: bool

    @classmethod
    def from_affine(
        cls,
        affine: np.ndarray,
        shape: tuple[int, ...],
        voxel_sizes: tuple[float, float, float] | None = None,
        orientation_known: bool = True,
        radiological: bool = True,
    ) -> Geometry:
        affine = np.asarray(affine, dtype=np.float64)
        ornt = io_orientation(affine)
        world_to_voxel = [0, 0, 0]
        sign = [1, 1, 1]
        for v_axis, (w_axis, flip) in enumerate(ornt):
            world_to_voxel[int(w_axis)] = v_axis
            sign[int(w_axis)] = int(flip)
        if voxel_sizes is None:
            voxel_sizes = tuple(float(s) for s in np.sqrt((affine[:3, :3] ** 2).sum(axis=0)))
        oblique = bool(np.degrees(np.max(np.abs(obliquity(affine)))) > OBLIQUE_TOLERANCE_DEG)
        return cls(
            shape=tuple(int(n) for n in shape[:3]),
            affine=affine,
            voxel_sizes=voxel_sizes,
            orientation_known=orientation_known,
            radiological=radiological,
            world_to_voxel_axis=tuple(world_to_voxel),
            voxel_axis_sign=tuple(sign),
            oblique=oblique,
        )

    def layout(self, plane: Plane) -> PlaneLayout:
        h_world, v_world = SCREEN_WORLD_AXES[plane]
        # world direction that grows to the screen's right: radiological mirrors it
        h_dir = -1 if self.radiological else 1
        v_dir = 1
        col_axis = self.world_to_voxel_axis[h_world]
        row_axis = self.world_to_voxel_axis[v_world]
        depth_world = DEPTH_WORLD_AXIS[plane]
        depth_axis = self.world_to_voxel_axis[depth_world]
        return PlaneLayout(
            plane=plane,
            depth_axis=depth_axis,
            depth_step=self.voxel_axis_sign[depth_world],
            col_axis=col_axis,
            col_flip=self.voxel_axis_sign[h_world] != h_dir,
            row_axis=row_axis,
            row_flip=self.voxel_axis_sign[v_world] != v_dir,
            n_cols=self.shape[col_axis],
            n_rows=self.shape[row_axis],
            col_spacing_mm=self.voxel_sizes[col_axis],
            row_spacing_mm=self.voxel_sizes[row_axis],
            labels=self._edge_labels(h_world, h_dir, v_world, v_dir),
        )

    def _edge_labels(self, h_world: int, h_dir: int, v_world: int, v_dir: int):
        if not self.orientation_known:
            return ("?", "?", "?", "?")
        right = AXIS_LETTERS[h_world][h_dir > 0]
        left = AXIS_LETTERS[h_world][h_dir < 0]
        top = AXIS_LETTERS[v_world][v_dir > 0]
        bottom = AXIS_LETTERS[v_world][v_dir < 0]
        return (left, right, bottom, top)

    def voxel_to_world(self, ijk) -> np.ndarray:
        """World coordinates (RAS+ mm) of voxel indices (fractional allowed)."""
        return apply_affine(self.affine, np.asarray(ijk, dtype=np.float64))

    def world_to_voxel(self, xyz_mm) -> np.ndarray:
        """Fractional voxel indices of a world position (RAS+ mm)."""
        return apply_affine(np.linalg.inv(self.affine), np.asarray(xyz_mm, dtype=np.float64))

    def clamp_ijk(self, ijk) -> tuple[int, int, int]:
        """Round to the nearest voxel and clamp into the grid."""
        rounded = np.rint(np.asarray(ijk, dtype=np.float64)).astype(np.int64)
        return tuple(int(min(max(v, 0), n - 1)) for v, n in zip(rounded, self.shape, strict=True))

    def orientation_code(self) -> str:
        """Three letters saying where each voxel axis points, e.g. "RAS" or "LPI"."""
        letters = ["?", "?", "?"]
        for w_axis, v_axis in enumerate(self.world_to_voxel_axis):
            letters[v_axis] = AXIS_LETTERS[w_axis][self.voxel_axis_sign[w_axis] > 0]
        return "".join(letters)
