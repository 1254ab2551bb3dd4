"""volview: a lazy, memory-mapped desktop viewer for volumetric images.

Owns the version string and the lazy ``volview.orthoview`` (``volview.api``);
importing volview must stay cheap (no numpy, no Qt): ``orthoview`` is imported from
``volview.api`` the first time it is looked up.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "orthoview"]


def __getattr__(name: str):
    if name == "orthoview":
        from volview.api import orthoview

        return orthoview
    raise AttributeError(f"module 'volview' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "orthoview"})
