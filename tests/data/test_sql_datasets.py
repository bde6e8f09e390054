"""SQL datasets against a real SQLite file."""

from __future__ import annotations

import pandas as pd
import pytest

from shipyard.errors import CredentialsError, DatasetError

CREDENTIALS = {"shop_db": {"con": "sqlite:///data/shop.sqlite"}}


@pytest.fixture
def catalog(make_catalog, root):
    (root / "queries").mkdir()
    (root / "queries/big.sql").write_text("SELECT city FROM customers WHERE score > 1")
    return make_catalog(
        {
            "customers": {
                "type": "pandas.SQLTableDataset",
                "table_name": "customers",
                "credentials": "shop_db",
            },
            "count": {
                "type": "sql_query",
                "sql": "SELECT COUNT(*) AS n FROM customers",
                "credentials": "shop_db",
            },
            "big": {
                "type": "pandas.SQLQueryDataSet",
                "filepath": "queries/big.sql",
                "credentials": "shop_db",
            },
        },
        credentials=CREDENTIALS,
        origins={"customers": "conf/base/catalog.yml"},
    )


def test_table_round_trip_in_a_project_relative_sqlite_file(catalog, root, frame):
    assert not catalog.exists("customers")
    catalog.save("customers", frame)
    assert (root / "data/shop.sqlite").is_file()
    assert catalog.exists("customers")
    pd.testing.assert_frame_equal(catalog.load("customers"), frame)
    catalog.save("customers", frame.head(1))  # replaces, like writing a file
    assert len(catalog.load("customers")) == 1


def test_queries_inline_and_from_a_file(catalog, frame):
    catalog.save("customers", frame)
    assert catalog.load("count")["n"].tolist() == [3]
    assert catalog.load("big")["city"].tolist() == ["Lima", "Pune"]
    assert catalog.exists("big")
    assert catalog.describe("big")["filepath"] == "queries/big.sql"


def test_failed_save_keeps_the_old_table(catalog, frame):
    catalog.save("customers", frame)
    broken = pd.DataFrame({"id": [1, 2], "city": ["x", {"not": "bindable"}]})
    with pytest.raises(DatasetError) as info:
        catalog.save("customers", broken)
    assert info.value.message.startswith(
        "Failed to save dataset 'customers' to table 'customers': "
    )
    pd.testing.assert_frame_equal(catalog.load("customers"), frame)


def test_queries_are_read_only(catalog, frame):
    with pytest.raises(DatasetError) as info:
        catalog.save("count", frame)
    assert info.value.message == (
        "Dataset 'count' is a sql_query dataset, which can only be loaded."
    )
    assert "sql_table" in info.value.hint


def test_missing_table_error_names_the_dataset(catalog):
    with pytest.raises(DatasetError) as info:
        catalog.load("customers")
    assert info.value.message.startswith(
        "Failed to load dataset 'customers' from table 'customers': "
    )


def test_credentials_without_con(make_catalog):
    with pytest.raises(DatasetError) as info:
        make_catalog(
            {"t": {"type": "sql_table", "table_name": "t", "credentials": "db"}},
            credentials={"db": {"user": "ann"}},
            origins={"t": "conf/base/catalog.yml"},
        )
    assert info.value.message == (
        "Could not create dataset 't' in conf/base/catalog.yml: "
        "The credentials of a SQL dataset need a `con` connection string."
    )
    assert "conf/local/credentials.yml" in info.value.hint


def test_missing_credentials_entry_suggests_the_closest_name(make_catalog):
    with pytest.raises(CredentialsError) as info:
        make_catalog(
            {"t": {"type": "sql_table", "table_name": "t", "credentials": "shop_bd"}},
            credentials={"shop_db": {"con": "postgresql://ann:hunter2-secret@db/shop"}},
            origins={"t": "conf/base/catalog.yml"},
        )
    assert info.value.message == (
        "Dataset 't' in conf/base/catalog.yml uses credentials 'shop_bd', which are not "
        "defined. Did you mean 'shop_db'?"
    )
    assert "credentials.yml" in info.value.hint
    assert "hunter2" not in info.value.describe()


def test_query_needs_exactly_one_source(make_catalog):
    with pytest.raises(DatasetError, match="needs exactly one of `sql` and `filepath`"):
        make_catalog(
            {"q": {"type": "sql_query", "credentials": "db"}},
            credentials={"db": {"con": "sqlite://"}},
        )


def test_release_closes_the_connection_pool(catalog, frame):
    catalog.save("customers", frame)
    catalog.release("customers")  # disposes the engine; the next use opens a new one
    pd.testing.assert_frame_equal(catalog.load("customers"), frame)
