"""Freed memory handed back to the operating system between a measurement's stages.

A measurement allocates and frees many arrays of a few megabytes (one float per row of a
1M-row window is 8 MB). glibc serves blocks of that size from its heap once a larger block
was freed (its mmap threshold rises to 32 MB), and keeps what they free for reuse: the
process's resident memory grew by 200 MB across a 1M-row window's slice measurement
without any of it live. ``malloc_trim(0)`` returns the free pages (Dask's workers do the
same, for the same reason); elsewhere (macOS, Windows, musl) nothing is done.
Hand-written because neither the standard library nor NumPy exposes the call.

Examples
--------
>>> release_freed_memory() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["release_freed_memory"]


def release_freed_memory() -> bool:
    """Ask glibc to return the heap's free pages to the system; whether it could ask."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
