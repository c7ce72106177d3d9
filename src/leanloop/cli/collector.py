"""The garbage collector's settings for the process of one command.

A command runs once and exits, and nearly every object it makes lives until then: the
modules it imports (NumPy, pandas, SciPy, scikit-learn) and the data it measures. CPython's
full collections walk every tracked object each time the old generation has grown by a
quarter: four times during a 10k-row ``leanloop measure`` (up to 190,000 objects), which
found 10 objects to free in all; and the interpreter walks them again while it shuts down
(on a loaded machine, 2.2 s from the command's end to the process's, 0.2 s with its objects
frozen). So a command runs the young collections only (reference cycles made and dropped
within a step are still freed), and its objects are frozen before it exits, where the
operating system takes its memory back whole: the 10k-row ``measure`` spent 0.7 s of CPU
less (5.2 to 4.5 s, medians of five runs at load average 2.5 to 2.9).
The commands whose work grows with time or input get the interpreter's settings back
(:func:`long_running`): ``leanloop serve``, which runs for days, ``leanloop demo``, a replay
and ten cycles in one process, ``leanloop predict`` and ``leanloop export``, chunk after chunk
of a file or a log of any size; without full collections a reference cycle that reached
the old generation would stay until the process ends.

Examples
--------
>>> import gc
>>> before = gc.get_threshold()
>>> with one_shot():
...     gc.get_threshold()[2] > 1_000_000
True
>>> gc.get_threshold() == before, gc.get_freeze_count() > 0
(True, True)
>>> gc.unfreeze()
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["one_shot", "long_running", "NO_FULL_COLLECTION"]

#: The old generation's threshold that no command reaches: the number of young
#: collections between two full ones (the interpreter's default is 10).
NO_FULL_COLLECTION = 1_000_000_000


@contextmanager
def one_shot() -> Iterator[None]:
    """Young collections only while the block runs; its objects frozen when it ends. The
    thresholds in force before are restored, but frozen objects are never collected again:
    for a block the process ends with (the CLI's entry point), not for a library call."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, NO_FULL_COLLECTION)
    try:
        yield
    finally:
        # Frozen objects are left out of every later collection, the interpreter's at exit too.
        gc.freeze()
        gc.set_threshold(young, middle, old)


def long_running(threshold: tuple[int, int, int] = (700, 10, 10)) -> None:
    """Full collections again, at ``threshold`` (CPython's defaults), for a command that
    serves for days: without them, a reference cycle that outlived two young collections
    would never be freed.

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with one_shot():
    ...     long_running()
    ...     gc.get_threshold()
    (700, 10, 10)
    >>> gc.unfreeze()
    """
    gc.set_threshold(*threshold)
