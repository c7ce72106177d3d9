"""Freed memory handed back to the operating system between a measurement's stages.

A measurement allocates and frees many arrays of a few megabytes (one float per row of a
1M-row window is 8 MB). glibc serves blocks of that size from its heap once a larger block
was freed (its mmap threshold rises to 32 MB), and keeps what they free for reuse: the
process's resident memory grew by 200 MB across a 1M-row window's slice measurement
without any of it live. ``malloc_trim(0)`` returns the free pages (Dask's workers do the
same, for the same reason); elsewhere (macOS, Windows, musl) nothing is done.
Hand-written because neither the standard library nor NumPy exposes the call.

:func:`map_large_blocks` fixes the threshold instead (``mallopt``, at 32 MiB, the most
glibc would raise it to): larger blocks are always mapped on their own and unmapped when
freed, so they never pile up in the heap between two trims, and blocks below it (one
float per row of a 1M-row window is 8 MB) are reused from the heap. A 1M-row window's
peak was 1,083 to 946 MB with a 4 MiB threshold (one run each), but every 8 MB array was
then mapped anew and its pages cleared again by the kernel; at 32 MiB, with the
measurement's own tables made smaller, its peak is 940 to 960 MB and its system time
1.4 to 2.0 s instead of 2.3 to 3.4 s (see the README's window suite).

Examples
--------
>>> release_freed_memory() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Any

__all__ = ["map_large_blocks", "release_freed_memory"]

#: ``mallopt``'s parameter for the mmap threshold (glibc's ``M_MMAP_THRESHOLD``).
_M_MMAP_THRESHOLD = -3
#: Blocks this large or larger are mapped on their own (four million floats).
LARGE_BLOCK = 32 * 1024 * 1024


def _glibc(name: str) -> Any:
    """glibc's function ``name``, None on another system or C library."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


def release_freed_memory() -> bool:
    """Ask glibc to return the heap's free pages to the system; whether it could ask."""
    trim = _glibc("malloc_trim")
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def map_large_blocks(size: int = LARGE_BLOCK) -> bool:
    """Have glibc map every block of ``size`` bytes or more on its own, for the rest of
    the process (its threshold no longer rises as large blocks are freed); whether it did.

    >>> map_large_blocks() in (True, False)
    True
    """
    options = _glibc("mallopt")
    if options is None:
        return False
    options.argtypes, options.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(options(_M_MMAP_THRESHOLD, size))
