"""volview: a lazy, memory-mapped desktop viewer for volumetric images.

Owns only the version string; importing it must stay cheap (no numpy, no Qt).
"""

__version__ = "0.1.0"
