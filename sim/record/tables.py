"""Tables streamed to Parquet as a run goes, so that memory does not grow with blocks and an
interrupted run keeps every row recorded so far."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FLUSH_ROWS = 4_096  # rows per Parquet row group (about 1,000 blocks of four assets)


class TableWriter:
    """Collects rows with the declared ``columns`` and writes them to ``path`` in row groups.

    ``path`` None keeps every row in memory instead (a model run without outputs). ``prepare``
    turns each chunk's frame into what is written (derived columns); ``empty`` is the table
    written when no row was ever recorded."""

    def __init__(
        self,
        path: Path | None,
        columns: Sequence[str],
        prepare: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame,
        empty: Callable[[], pd.DataFrame] | None = None,
        flush_rows: int = FLUSH_ROWS,
    ):
        self.path = path
        self.columns = list(columns)
        self.prepare = prepare
        self.empty = empty or (lambda: pd.DataFrame([], columns=self.columns))
        self.flush_rows = flush_rows
        self.count = 0  # rows recorded, written or not
        self._rows: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None
        self._table: pd.DataFrame | None = None  # the finished table

    def append(self, row: dict[str, Any]) -> None:
        self._rows.append(row)
        self.count += 1
        if self.path is not None and len(self._rows) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Write the rows held so far as one row group."""
        if self.path is None or not self._rows:
            return
        table = pa.Table.from_pandas(self.prepare(pd.DataFrame(self._rows, columns=self.columns)), preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)
        self._rows.clear()

    def finish(self) -> pd.DataFrame:
        """Close the file and return the whole table (read back from it when streamed); later
        calls return the same table."""
        if self._table is None:
            self._table = self._finish()
        return self._table

    def _finish(self) -> pd.DataFrame:
        if self.path is None:
            return self.prepare(pd.DataFrame(self._rows, columns=self.columns)) if self._rows else self.empty()
        self.flush()
        if self._writer is None:
            frame = self.empty()
            frame.to_parquet(self.path, index=False)
            return frame
        self._writer.close()
        self._writer = None
        return pd.read_parquet(self.path)
