"""Batch scoring: a file of rows (CSV or Parquet, larger than memory too) scored by the
champion, with the same rules for a row as ``POST /predict`` and the rows logged as
predictions (``source = "batch"``, with the project's ids and event times), so feedback,
measurement and the loop work on nightly jobs exactly as on online traffic.

- :mod:`~leanloop.batch.validate`: the API's rules for a row, over a chunk's columns;
- :mod:`~leanloop.row_keys`: the id and time columns a logged row carries (one reader for every door);
- :mod:`~leanloop.batch.records`: the log records of a chunk, column by column;
- :mod:`~leanloop.batch.score`: one chunk judged, scored and turned into output rows and
  log records (what an engine calls per partition);
- :mod:`~leanloop.batch.files`: chunked reading, and output renamed into place when done;
- :mod:`~leanloop.batch.run`: a file end to end (``leanloop predict``) and a frame in
  memory (``Project.predict``).
"""

from leanloop.batch.run import BatchOptions, BatchResult, predict_file, predict_frame
from leanloop.batch.score import ChunkScorer, ScoredChunk

__all__ = ["BatchOptions", "BatchResult", "ChunkScorer", "ScoredChunk", "predict_file", "predict_frame"]
