"""The prediction log's Parquet archive: export, retention, and reading it back.

``leanloop export`` copies the log (predictions with their joined labels) into a folder
of Parquet files in plain hive partitions, ``day=YYYY-MM-DD/model_version=V/part-*.parquet``
(the day of ``created_at`` in UTC), readable by pandas, pyarrow or Dask without leanloop.
Each file keeps the log's columns by name with their types: the store's scalar columns
(``seq``, ``prediction_id``, ``created_at``, ...), one typed column per feature
(``features.NAME``: float64, string or bool by the schema's kind), ``prediction`` and
``label`` in the type of the target, one float64 column per class probability
(``probabilities.CLASS``) and ``received_at``. The partition keys live in the path only.

``_manifest.json`` (:mod:`leanloop.archive.manifest`) is the archive's truth: the
high-water mark of ``seq`` (every logged row up to it was exported, or skipped by
``--since``), the high-water mark of the label history, and the files. An export writes
only rows past the mark, each file to a temporary name first and renamed into place,
and the manifest last, atomically; files a crashed run left outside the manifest are
removed by the next run. Running it twice writes nothing new.

Labels arrive late: a label recorded after its row was exported is not lost. Each run
also reads the label history past its own mark and rewrites, in place and atomically,
the files holding those rows with the label in force (rows still in the store or
already deleted by retention alike), so the archive always carries joined labels.

``[store] retention_days`` bounds the store (:mod:`leanloop.archive.retention`): after
an export, rows older than that are deleted, but only rows whose ``seq`` is read back
from the archive's files. Measurement and the loop read the store and the archive
together (:func:`leanloop.archive.read.read_log`) when a window reaches back past the
store.
"""

from leanloop.archive.archiving import Archived, archive_log
from leanloop.archive.export import ExportResult, export_log
from leanloop.archive.manifest import ArchiveFile, Manifest, load_manifest
from leanloop.archive.read import read_archive, read_log
from leanloop.archive.retention import RetentionResult, apply_retention

__all__ = ["ArchiveFile", "Archived", "ExportResult", "Manifest", "RetentionResult", "apply_retention", "archive_log",
           "export_log", "load_manifest", "read_archive", "read_log"]
