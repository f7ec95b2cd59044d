"""The one CSV writer: rows of dicts (or tuples under given columns) -> CSV text with a header."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def csv_text(rows: Iterable[Mapping[str, Any]], *, columns: Sequence[str] | None = None,
             lineterminator: str = "\r\n") -> str:
    """CSV text: a header row, then one line per row. The columns are `columns`, or every key of
    the rows in first-seen order; a row without a column leaves its cell empty. The line ends
    are the csv module's ("\\r\\n", RFC 4180) unless `lineterminator` says otherwise."""
    rows = list(rows)
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator=lineterminator)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
