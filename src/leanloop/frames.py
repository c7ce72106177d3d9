"""Results as data frames, for notebooks: ``to_frame()`` and a compact ``_repr_html_``.

A record that has rows to show (a measurement's drift per feature, a drift report, a
cycle) mixes in :class:`Tabular` and says what its frame is; a list of records (the
ledger, the history, the enriched test set) is a :class:`FrameList`, still a plain list
to iterate. Jupyter shows either as a short title over at most :data:`HTML_ROWS` rows.

Examples
--------
>>> rows = FrameList([{"a": 1}, {"a": 2}], row=dict, title="two rows")
>>> rows.to_frame()["a"].tolist(), rows == [{"a": 1}, {"a": 2}]
([1, 2], True)
>>> print(rows._repr_html_().splitlines()[0])
<p><b>two rows</b> (2 rows)</p>
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Tabular", "FrameList", "HTML_ROWS", "html_table"]

#: Rows a notebook shows of a result (``to_frame()`` holds them all).
HTML_ROWS = 20


def html_table(title: str, frame: pd.DataFrame) -> str:
    """``title`` in bold with the row count, over the frame's first :data:`HTML_ROWS` rows."""
    from html import escape

    shown = frame.to_html(max_rows=HTML_ROWS, max_cols=12, index=False, border=0, float_format=lambda v: f"{v:.4g}")
    return f"<p><b>{escape(title)}</b> ({len(frame)} rows)</p>\n{shown}"


class Tabular:
    """A mixin: a record with ``to_frame()`` (and ``frame_title()``) shows as a table in Jupyter."""

    def to_frame(self) -> pd.DataFrame:
        """The record's rows as a data frame."""
        raise NotImplementedError

    def frame_title(self) -> str:
        """The line shown above the table."""
        return type(self).__name__

    def _repr_html_(self) -> str:
        return html_table(self.frame_title(), self.to_frame())


class FrameList(list[Any]):
    """A list of records that also shows as a table: one row per record, by ``row``."""

    def __init__(self, items: Iterable[Any] = (), *, row: Callable[[Any], dict[str, Any]], title: str) -> None:
        super().__init__(items)
        self.row = row
        self.title = title

    def to_frame(self) -> pd.DataFrame:
        """One row per record."""
        import pandas as pd

        return pd.DataFrame([self.row(item) for item in self])

    def _repr_html_(self) -> str:
        return html_table(self.title, self.to_frame())
