"""Reading and writing the files of batch prediction in chunks, with pyarrow.

:class:`Reader` streams a Parquet or CSV file in chunks of exactly ``chunk_size`` rows
(CSV blocks are joined or split to get there, and the signature's columns are read with
the signature's types); :class:`Sink` writes record batches to one Parquet or CSV file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import DatasetError, ModelError

if TYPE_CHECKING:
    import pyarrow as pa

    from shipyard.models import Signature

__all__ = ["Reader", "Sink"]

_CSV_SAMPLE = 1 << 20  # bytes read to estimate a CSV's bytes per row
_MAX_CSV_BLOCK = 1 << 28


class Reader:
    """The input file's schema, its row count when known, and its rows in chunks."""

    def __init__(
        self,
        path: Path,
        schema: pa.Schema,
        total_rows: int | None,
        batches: Iterator[Any],
        chunk_size: int,
    ) -> None:
        self.path = path
        self.schema = schema
        self.total_rows = total_rows
        self._batches = batches
        self._size = chunk_size

    @classmethod
    def open(cls, path: Path, chunk_size: int, signature: Signature | None) -> Reader:
        import pyarrow as pa

        try:
            if path.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                parquet = pq.ParquetFile(path)
                batches = parquet.iter_batches(batch_size=chunk_size)
                rows = parquet.metadata.num_rows
                return cls(path, parquet.schema_arrow, rows, batches, chunk_size)
            csv = _open_csv(path, chunk_size, signature)
            return cls(path, csv.schema, None, iter(csv), chunk_size)
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(path, "", exc) from exc

    def chunks(self) -> Iterator[pa.RecordBatch]:
        """The rows in batches of exactly ``chunk_size`` (the last may be shorter)."""
        import pyarrow as pa

        pending: list[pa.RecordBatch] = []
        count = done = 0
        while True:
            try:
                batch = next(self._batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise _unreadable(self.path, f" after row {done + count:,}", exc) from exc
            if batch is None:
                break
            while batch.num_rows:
                take = min(self._size - count, batch.num_rows)
                pending.append(batch.slice(0, take))
                count += take
                batch = batch.slice(take)
                if count == self._size:
                    yield _joined(pending)
                    done, pending, count = done + count, [], 0
        if count:
            yield _joined(pending)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    import pyarrow as pa

    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _open_csv(path: Path, chunk_size: int, signature: Signature | None) -> Any:
    """A streaming CSV reader whose blocks hold about ``chunk_size`` rows, with the
    signature's columns read as their dtypes (not as inferred from the first block)."""
    import pyarrow.csv as pacsv

    with path.open("rb") as handle:
        sample = handle.read(_CSV_SAMPLE)
    bytes_per_row = len(sample) / max(1, sample.count(b"\n"))
    block = int(min(max(chunk_size * bytes_per_row * 1.1, _CSV_SAMPLE), _MAX_CSV_BLOCK))
    types: dict[str, pa.DataType] = {}
    for column in signature.inputs if signature is not None else ():
        arrow_type = _arrow_type(column.dtype)
        if arrow_type is not None:
            types[column.name] = arrow_type
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block),
        convert_options=pacsv.ConvertOptions(column_types=types),
    )


def _arrow_type(dtype: str) -> pa.DataType | None:
    """The Arrow type a CSV column of signature dtype ``dtype`` is read as, or None to let
    Arrow infer it (dates with a time zone, and anything unusual)."""
    import numpy as np
    import pyarrow as pa

    if dtype == "string":
        return pa.string()
    if dtype == "category":
        return pa.dictionary(pa.int32(), pa.string())
    if dtype == "bool" or dtype.startswith(("int", "uint", "float")):
        return pa.from_numpy_dtype(np.dtype(dtype))
    if dtype.startswith("datetime64[") and "," not in dtype:
        return pa.timestamp(dtype[len("datetime64[") : -1])
    return None


class Sink:
    """A streaming Parquet or CSV writer of one temp file, opened by the first batch."""

    def __init__(self, path: Path, *, parquet: bool) -> None:
        self.path = path
        self.parquet = parquet
        self._writer: Any = None
        self._schema: pa.Schema | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        import pyarrow as pa

        if self._schema is None:
            self._writer, self._schema = self._open(batch.schema), batch.schema
        elif batch.schema != self._schema:
            try:  # a model may return ints in one chunk and floats in the next
                batch = pa.Table.from_batches([batch]).cast(self._schema).to_batches()[0]
            except (pa.ArrowException, ValueError) as exc:
                raise ModelError(
                    f"The output columns changed type between chunks: {exc}",
                    hint="A model must return predictions of one type for every chunk.",
                ) from exc
        self._writer.write_batch(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self, schema: pa.Schema) -> Any:
        import pyarrow as pa

        if self.parquet:
            import pyarrow.parquet as pq

            # Dictionary pages only for text: on numbers they cost 7x the write time
            # and come out larger.
            text = [
                field.name
                for field in schema
                if pa.types.is_string(field.type)
                or pa.types.is_large_string(field.type)
                or pa.types.is_dictionary(field.type)
            ]
            return pq.ParquetWriter(self.path, schema, use_dictionary=text or False)
        import pyarrow.csv as pacsv

        return pacsv.CSVWriter(self.path, schema)


def _unreadable(path: Path, where: str, exc: BaseException) -> DatasetError:
    return DatasetError(
        f"{path} cannot be read{where}: {exc}",
        hint="Check that the file is a complete Parquet or CSV file; in a CSV file every "
        "value of a column must have the same type (convert it to Parquet to be sure).",
    )
