"""Reading users' tables (CSV or Parquet) with errors that say what to fix.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
>>> fingerprint(frame) == fingerprint(frame.copy())
True
>>> fingerprint(frame) == fingerprint(frame.iloc[::-1])
False
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from leanloop.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_table", "require_columns", "fingerprint"]

_PARQUET = {".parquet", ".pq"}
_CSV = {".csv", ".txt", ".tsv"}


def read_table(path: str | Path, *, text_columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file into a frame (``text_columns`` of a CSV as text, as
    written: ids such as ``007`` keep their zeros).

    Raises :class:`DataError` when the file is missing, of an unknown type, empty or
    malformed, saying which and how to fix it.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; check the path")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            frame = pd.read_parquet(path)
        elif suffix in _CSV:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",",
                                dtype=dict.fromkeys(text_columns, str) if text_columns else None)
        else:
            raise DataError(
                f"cannot read {path.name!r}: expected a .csv or .parquet file, got {suffix or 'no extension'!r}"
            )
    except DataError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path.name} is empty; it needs a header row and data rows") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path.name} is not a readable {suffix[1:]} file: {first_line}") from exc
    if frame.empty:
        raise DataError(f"{path.name} has a header but no data rows")
    return frame


def require_columns(frame: pd.DataFrame, columns: list[str], source: str, role: str = "column") -> None:
    """Raise :class:`DataError` listing the frame's columns when any of ``columns`` is absent.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"a": [1]}), ["churn"], "loans.csv", "target column")
    Traceback (most recent call last):
    ...
    leanloop.errors.DataError: target column 'churn' not found in loans.csv; columns are: ['a']
    """
    for column in columns:
        if column not in frame.columns:
            raise DataError(
                f"{role} {column!r} not found in {source}; columns are: {list(frame.columns)}"
            )


def fingerprint(frame: pd.DataFrame) -> str:
    """A sha256 of a frame's content, column names and order, for lineage."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
