"""Batched, sharded Parquet writing of corpus rows (never holds more than one batch per split in memory)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from coit_hf.data.render import CORPUS_SCHEMA


class ShardedParquetWriter:
    """Writes rows of one config/split to ``<root>/<config>/<split>-NNNNN-of-MMMMM.parquet``.

    Rows are buffered into batches of ``batch_size`` (one Parquet row group each); a new shard starts every
    ``shard_rows`` rows. Shard names get their ``-of-MMMMM`` suffix on :meth:`close`. A split with no rows still
    gets one (empty) file so ``load_dataset`` finds the split.
    """

    def __init__(self, root: str | os.PathLike[str], config: str, split: str, *, batch_size: int = 10_000,
                 shard_rows: int = 1_000_000, schema: pa.Schema = CORPUS_SCHEMA):
        self.folder = Path(root) / config
        self.folder.mkdir(parents=True, exist_ok=True)
        self.split, self.batch_size, self.shard_rows, self.schema = split, batch_size, shard_rows, schema
        self._buffer: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None
        self._shard_paths: list[Path] = []
        self._rows_in_shard = 0
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        """Queue one row; flushes a batch when ``batch_size`` rows are queued."""
        self._buffer.append(row)
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write the queued rows (split across shards at the shard boundary)."""
        while self._buffer:
            if self._writer is None or self._rows_in_shard >= self.shard_rows:
                self._open_shard()
            room = self.shard_rows - self._rows_in_shard
            chunk, self._buffer = self._buffer[:room], self._buffer[room:]
            assert self._writer is not None
            self._writer.write_table(pa.Table.from_pylist(chunk, schema=self.schema))
            self._rows_in_shard += len(chunk)
            self.rows += len(chunk)

    def _open_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self.folder / f"{self.split}-{len(self._shard_paths):05d}.parquet.part"
        self._shard_paths.append(path)
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self._rows_in_shard = 0

    def close(self) -> list[Path]:
        """Flush, close and give the shards their final names; returns them."""
        self.flush()
        if self._writer is None:
            self._open_shard()
        assert self._writer is not None
        self._writer.close()
        total = len(self._shard_paths)
        final = []
        for index, path in enumerate(self._shard_paths):
            target = self.folder / f"{self.split}-{index:05d}-of-{total:05d}.parquet"
            path.rename(target)
            final.append(target)
        return final
