"""Plain Python data in text files: JSON, YAML and raw text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from shipyard.data._files import FileDataset


class JSONDataset(FileDataset):
    """Dicts, lists, numbers and strings in a JSON file (``type: json``).

    ``load_args`` go to ``json.loads``; ``save_args`` to ``json.dumps`` (default
    ``indent: 2``). For a DataFrame use ``type: pandas_json``.

    >>> JSONDataset("data/08_reporting/summary.json").describe()["type"]
    'json'
    """

    _type_name = "json"
    _default_save_args: ClassVar[Mapping[str, Any]] = {"indent": 2}

    def _load(self) -> Any:
        return json.loads(self._read_text(), **self._load_args)

    def _save(self, data: Any) -> None:
        self._write_text(json.dumps(data, **self._save_args))


class YAMLDataset(FileDataset):
    """Plain Python data in a YAML file, read and written with PyYAML's safe functions.

    ``save_args`` go to ``yaml.safe_dump`` (defaults: block style, keys in the order given).
    """

    _type_name = "yaml"
    _default_save_args: ClassVar[Mapping[str, Any]] = {
        "default_flow_style": False,
        "sort_keys": False,
        "allow_unicode": True,
    }

    def __init__(
        self,
        filepath: str,
        *,
        save_args: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        allow_outside_project: bool = False,
        project_root: str | Path | None = None,
    ) -> None:
        super().__init__(
            filepath,
            save_args=save_args,
            credentials=credentials,
            fs_args=fs_args,
            allow_outside_project=allow_outside_project,
            project_root=project_root,
        )

    def _load(self) -> Any:
        import yaml

        return yaml.safe_load(self._read_text())

    def _save(self, data: Any) -> None:
        import yaml

        self._write_text(yaml.safe_dump(data, **self._save_args))


class TextDataset(FileDataset):
    """A string in a text file (``type: text``), UTF-8 unless
    ``fs_args: {open_args_load: {encoding: ...}}`` says otherwise."""

    _type_name = "text"

    def __init__(
        self,
        filepath: str,
        *,
        credentials: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        allow_outside_project: bool = False,
        project_root: str | Path | None = None,
    ) -> None:
        super().__init__(
            filepath,
            credentials=credentials,
            fs_args=fs_args,
            allow_outside_project=allow_outside_project,
            project_root=project_root,
        )

    def _load(self) -> str:
        return self._read_text()

    def _save(self, data: Any) -> None:
        if not isinstance(data, str):
            raise self._refuse(data, "a str", "a json or yaml dataset for structured data")
        self._write_text(data)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath}
