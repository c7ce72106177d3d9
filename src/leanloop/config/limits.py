"""Upper bounds of the count and size settings, derived from what fits in memory.

A setting past these bounds is refused when the config loads (naming the key and the
allowed range) instead of failing later with an allocation error after minutes of work:
``gate_resamples = 1000000000000`` asked numpy for 35.5 PiB, and
``calibration_rounds = 1000000000`` made ``measure`` run for ever.

Examples
--------
>>> MAX_ROWS * 8 * 50 / 2**30 < 16   # a window of MAX_ROWS rows, 50 numeric features
True
"""

from __future__ import annotations

__all__ = ["MAX_ROWS", "MAX_RESAMPLES", "MAX_ROUNDS", "MAX_BINS", "MAX_SEGMENTS", "MAX_CYCLES", "MAX_QUEUE_ROWS",
           "MAX_BODY_BYTES", "MAX_ITER"]

#: Rows held as one frame (a window, the reference, a training set, a test set): 10
#: million rows of 50 float64 features is 4 GB, about what a frame may take on a
#: laptop-sized machine beside the copies pandas and scikit-learn make.
MAX_ROWS = 10_000_000
#: Bootstrap resamples: resamples are drawn in blocks, but each keeps one value per
#: resample and segment (``resamples x segments`` floats) and costs a pass over the
#: rows; 100,000 passes over a 20,000-row window already take minutes.
MAX_RESAMPLES = 100_000
#: Calibration rounds (each draws reference chunks and runs the drift method once per
#: feature): 10,000 rounds is hours on a wide schema, not for ever.
MAX_ROUNDS = 10_000
#: Histogram bins and quantile bins per feature.
MAX_BINS = 10_000
#: Segments, pairs, top-k lists, features reported: each is a mask over the window's rows
#: (``rows x segments`` bytes); 100,000 masks of a 20,000-row sample are 2 GB.
MAX_SEGMENTS = 100_000
#: Counts of cycles (cool-down, confirmation, retrains before a pivot): a thousand
#: cycles is years of a daily loop.
MAX_CYCLES = 1_000
#: Rows waiting in the server's queues (each row is a few hundred bytes of features).
MAX_QUEUE_ROWS = 10_000_000
#: One request body: it is held in memory while parsed (JSON takes several times its size).
MAX_BODY_BYTES = 1024 * 1024 * 1024
#: Boosting iterations of the minimal pipeline (one tree each).
MAX_ITER = 100_000
