"""AbstractDataset: the public methods wrap the dataset's own code at one error boundary."""

from __future__ import annotations

import json

import pytest

from shipyard.data import AbstractDataset, CSVDataset, MemoryDataset
from shipyard.errors import DatasetError, MissingDependencyError


class Flaky(AbstractDataset):
    """A dataset whose every operation raises what it is told to."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.saved = None

    def _load(self):
        if self.error:
            raise self.error
        return self.saved

    def _save(self, data):
        if self.error:
            raise self.error
        self.saved = data

    def _exists(self):
        if self.error:
            raise self.error
        return self.saved is not None

    def _describe(self):
        return {"dtype": int, "where": "nowhere"}

    def _target(self):
        return "data/01_raw/customers.csv"


def test_load_error_names_dataset_path_and_cause():
    cause = ValueError("bad header")
    dataset = Flaky(cause)
    dataset.name = "customers"
    with pytest.raises(DatasetError) as info:
        dataset.load()
    assert info.value.message == (
        "Failed to load dataset 'customers' from data/01_raw/customers.csv: ValueError: bad header"
    )
    assert "load_args" in info.value.hint
    assert info.value.__cause__ is cause


def test_save_and_exists_errors_are_wrapped_too():
    dataset = Flaky(KeyError("city"))
    dataset.name = "customers"
    with pytest.raises(DatasetError, match=r"Failed to save dataset 'customers' to data/01_raw"):
        dataset.save([1])
    with pytest.raises(DatasetError, match=r"check whether dataset 'customers' exists"):
        dataset.exists()


def test_dataset_errors_pass_through_unchanged():
    original = DatasetError("already explained", hint="do this")
    dataset = Flaky(original)
    with pytest.raises(DatasetError) as info:
        dataset.load()
    assert info.value is original


def test_missing_dependency_passes_through_with_its_extra():
    dataset = Flaky(MissingDependencyError("openpyxl", "excel", purpose="Reading xlsx"))
    with pytest.raises(MissingDependencyError) as info:
        dataset.load()
    assert "shipyard[excel]" in info.value.hint


def test_keyboard_interrupt_is_not_swallowed():
    with pytest.raises(KeyboardInterrupt):
        Flaky(KeyboardInterrupt()).save(1)


def test_very_long_causes_are_cut_short():
    dataset = Flaky(ValueError("row " * 5000))
    with pytest.raises(DatasetError) as info:
        dataset.load()
    assert len(info.value.message) < 1200
    assert info.value.message.endswith("(cut short; --debug shows all of it)")


def test_unnamed_dataset_is_labelled_by_class():
    with pytest.raises(DatasetError, match=r"dataset <unnamed Flaky>"):
        Flaky(OSError("disk")).load()


def test_missing_file_hint_says_to_run_the_producer(root):
    dataset = CSVDataset("data/01_raw/customers.csv", project_root=root)
    dataset.name = "customers"
    with pytest.raises(DatasetError) as info:
        dataset.load()
    assert info.value.message.startswith(
        "Failed to load dataset 'customers' from data/01_raw/customers.csv: FileNotFoundError"
    )
    assert "run the node that writes this dataset" in info.value.hint


def test_describe_is_json_able():
    info = Flaky().describe()
    assert info["type"].endswith("Flaky")
    assert json.loads(json.dumps(info)) == info
    assert info["dtype"] == "<class 'int'>"


def test_a_subclass_must_implement_the_four_hooks():
    class Half(AbstractDataset):
        def _load(self):
            return 1

    with pytest.raises(TypeError, match="abstract"):
        Half()


def test_release_defaults_to_nothing_and_memory_drops_data():
    dataset = Flaky()
    dataset.save(3)
    dataset.release()
    assert dataset.load() == 3
    memory = MemoryDataset(3)
    memory.release()
    assert not memory.exists()


def test_repr_shows_name_and_target():
    dataset = Flaky()
    dataset.name = "customers"
    assert repr(dataset) == "<Flaky 'customers' at data/01_raw/customers.csv>"
