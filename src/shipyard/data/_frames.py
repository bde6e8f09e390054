"""pandas DataFrames in files: csv, parquet, excel and JSON.

pandas is imported when data is first loaded or saved, never when the catalog is built.
``load_args`` go to ``pandas.read_*`` and ``save_args`` to ``DataFrame.to_*``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from shipyard._imports import require
from shipyard.data._files import FileDataset

_FRAME = "a pandas DataFrame"


class CSVDataset(FileDataset):
    """A DataFrame in a CSV file (``type: csv``; Kedro: ``pandas.CSVDataset``).

    The index is not written unless ``save_args: {index: true}``.

    >>> customers = CSVDataset("data/01_raw/customers.csv", load_args={"sep": ";"})
    """

    _type_name = "csv"
    _default_save_args: ClassVar[Mapping[str, Any]] = {"index": False}

    def _load(self) -> Any:
        import pandas as pd

        with self.location.open_read() as handle:
            return pd.read_csv(handle, **self._load_args)

    def _save(self, data: Any) -> None:
        _require_frame(self, data, instead="a json or pickle dataset")
        with self.location.open_write() as handle:
            data.to_csv(handle, **self._save_args)


class ParquetDataset(FileDataset):
    """A DataFrame in a Parquet file, through pyarrow (``type: parquet``)."""

    _type_name = "parquet"

    def _load(self) -> Any:
        import pandas as pd

        with self.location.open_read() as handle:
            return pd.read_parquet(handle, **self._load_args)

    def _save(self, data: Any) -> None:
        _require_frame(self, data, instead="a json or pickle dataset")
        with self.location.open_write() as handle:
            data.to_parquet(handle, **self._save_args)


class ExcelDataset(FileDataset):
    """A DataFrame in an .xlsx sheet, through openpyxl (``type: excel``; extra ``excel``).

    Saving a mapping of sheet name -> DataFrame writes one sheet each; loading with
    ``load_args: {sheet_name: null}`` returns every sheet as such a mapping. As in Kedro,
    ``save_args.writer`` holds options for ``pandas.ExcelWriter``.
    """

    _type_name = "excel"
    _default_load_args: ClassVar[Mapping[str, Any]] = {"engine": "openpyxl"}
    _default_save_args: ClassVar[Mapping[str, Any]] = {"index": False}

    def _load(self) -> Any:
        import pandas as pd

        self._require_openpyxl()
        with self.location.open_read() as handle:
            return pd.read_excel(handle, **self._load_args)

    def _save(self, data: Any) -> None:
        import pandas as pd

        self._require_openpyxl()
        save_args = dict(self._save_args)
        writer_args = {"engine": "openpyxl", **save_args.pop("writer", {})}
        sheet_name = save_args.pop("sheet_name", "Sheet1")
        sheets = data if isinstance(data, Mapping) else {sheet_name: data}
        for frame in sheets.values():
            _require_frame(self, frame, instead="a csv or parquet dataset per table")
        with (
            self.location.open_write() as handle,
            pd.ExcelWriter(handle, **writer_args) as writer,
        ):
            for sheet, frame in sheets.items():
                frame.to_excel(writer, sheet_name=str(sheet), **save_args)

    def _require_openpyxl(self) -> None:
        require("openpyxl", purpose=f"Dataset {self._label()} (excel)", extra="excel")


class PandasJSONDataset(FileDataset):
    """A DataFrame in a JSON file (``type: pandas_json``; Kedro: ``pandas.JSONDataset``).

    For plain Python objects (dicts, lists) use ``type: json`` instead.
    """

    _type_name = "pandas_json"

    def _load(self) -> Any:
        import pandas as pd

        with self.location.open_read() as handle:
            return pd.read_json(handle, **self._load_args)

    def _save(self, data: Any) -> None:
        _require_frame(self, data, instead="a json dataset for plain Python objects")
        with self.location.open_write() as handle:
            data.to_json(handle, **self._save_args)


def _require_frame(dataset: FileDataset, data: Any, *, instead: str) -> None:
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise dataset._refuse(data, _FRAME, instead)
