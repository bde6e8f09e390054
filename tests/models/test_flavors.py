"""Flavors: found by name (built-in or entry point), chosen by model type, and each one
round-trips its models through a package with the same predictions."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import MissingDependencyError, ModelError, UnsafeModelError
from shipyard.models._flavors import flavor_for, flavor_names, get_flavor
from shipyard.models._flavors._base import require
from shipyard.models._flavors.sklearn import is_allowed
from shipyard.models._package import load_package, package, read_manifest


class Constant:
    """A model of the python flavor: it predicts one value."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, df):
        return np.full(len(df), self.value)


class Marker:
    """A transformer whose rebuilding (``__setstate__``) creates a marker file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __setstate__(self, state):
        open(state["path"], "w").close()
        self.__dict__.update(state)

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def round_trip(tmp_path, model, example, **options):
    folder = tmp_path / "package"
    package(model, example=example, **options).save(folder)
    return load_package(folder, trusted=options.get("flavor") == "python")


# --- finding flavors ------------------------------------------------------------------


def test_every_built_in_is_known_by_name():
    assert flavor_names()[:5] == ["xgboost", "lightgbm", "onnx", "sklearn", "python"]
    assert [get_flavor(name).name for name in flavor_names()[:5]] == flavor_names()[:5]
    assert [get_flavor(name).carries_code for name in flavor_names()[:5]] == [False] * 4 + [True]


def test_an_unknown_flavor_names_the_known_ones():
    with pytest.raises(ModelError) as raised:
        get_flavor("sklaern")
    assert "Did you mean 'sklearn'?" in raised.value.message
    assert "xgboost, lightgbm, onnx, sklearn, python" in raised.value.hint


def test_flavor_for_picks_the_specific_library_before_sklearn(numeric, labels):
    import lightgbm
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    linear = LogisticRegression().fit(numeric, labels)
    cases = {
        "xgboost": xgboost.XGBClassifier(n_estimators=2),
        "lightgbm": lightgbm.LGBMRegressor(),
        "onnx": to_onnx(linear, numeric.to_numpy(np.float32)[:1]),
        "sklearn": linear,
        "python": Constant(1.0),
    }
    assert {name: flavor_for(model).name for name, model in cases.items()} == {
        name: name for name in cases
    }


def test_a_third_party_flavor_is_found_through_its_entry_point(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    site = tmp_path / "site"
    info = site / "shipyard_npz_flavor-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shipyard_npz_flavor\n")
    (info / "entry_points.txt").write_text("[shipyard.flavors]\nnpz = shipyard_npz_flavor:Npz\n")
    (site / "shipyard_npz_flavor.py").write_text(
        textwrap.dedent(
            """
            class Npz:
                name = "npz"
                carries_code = False
                def handles(self, model): return False
                def save(self, model, folder): return {}
                def load(self, folder, details, *, trusted): return None
                def library_version(self): return "1.0"
                def requirements(self): return []
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    assert get_flavor("npz").name == "npz"
    assert "npz" in flavor_names()
    with pytest.raises(ModelError, match="Did you mean 'npz'"):
        get_flavor("npy")


def test_a_missing_library_names_what_to_install():
    with pytest.raises(MissingDependencyError) as raised:
        require("shipyard_no_such_library", extra="onnx")
    assert "shipyard_no_such_library" in raised.value.message
    assert raised.value.hint == 'Install it with: pip install "shipyard[onnx]"'
    with pytest.raises(MissingDependencyError) as raised:
        require("shipyard_no_such_library.sub", install="no-such-library")
    assert raised.value.hint == "Install it with: pip install no-such-library"


# --- sklearn --------------------------------------------------------------------------


def test_a_sklearn_classifier_round_trips_with_predict_proba(tmp_path, numeric, labels):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(numeric, labels)
    loaded = round_trip(tmp_path, model, numeric.head())
    assert read_manifest(tmp_path / "package").flavor_details == {"file": "model.skops"}
    np.testing.assert_array_equal(loaded.predict(numeric), model.predict(numeric))
    np.testing.assert_allclose(loaded.predict_proba(numeric), model.predict_proba(numeric))


def test_a_pipeline_over_mixed_dtypes_round_trips(tmp_path, mixed, labels):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())])
    columns = ColumnTransformer(
        [
            ("numbers", numbers, ["age", "income"]),
            ("text", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ],
        remainder="passthrough",
    )
    model = Pipeline([("columns", columns), ("boost", HistGradientBoostingClassifier())])
    model.fit(mixed, labels)
    loaded = round_trip(tmp_path, model, mixed.head(25))
    assert [c.dtype for c in loaded.signature.inputs] == [
        "int64",
        "float64",
        "string",
        "category",
        "bool",
    ]
    np.testing.assert_allclose(loaded.predict_proba(mixed), model.predict_proba(mixed))
    example = loaded.input_example()
    assert len(example) == 20
    np.testing.assert_array_equal(loaded.predict(example), model.predict(mixed.head(20)))


def _common_models():
    from sklearn import ensemble, linear_model, tree

    return [
        linear_model.LinearRegression(),
        linear_model.Ridge(),
        tree.DecisionTreeClassifier(max_depth=3),
        tree.DecisionTreeRegressor(max_depth=3),
        ensemble.RandomForestClassifier(n_estimators=3),
        ensemble.RandomForestRegressor(n_estimators=3),
        ensemble.GradientBoostingClassifier(n_estimators=3),
        ensemble.GradientBoostingRegressor(n_estimators=3),
        ensemble.HistGradientBoostingClassifier(max_iter=3),
        ensemble.HistGradientBoostingRegressor(max_iter=3),
    ]


@pytest.mark.parametrize("model", _common_models(), ids=lambda m: type(m).__name__)
def test_common_models_load_through_the_allow_list_without_trust(tmp_path, numeric, labels, model):
    model.fit(numeric, labels)
    loaded = round_trip(tmp_path, model, numeric.head())
    np.testing.assert_allclose(loaded.predict(numeric), model.predict(numeric))


def test_the_allow_list_is_kept_in_code_and_covers_the_usual_estimators():
    for name in (
        "sklearn.pipeline.Pipeline",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.tree._tree.Tree",
    ):
        assert is_allowed(name)
    for name in (
        "builtins.eval",
        "os.system",
        "posix.system",
        "sklearn.base.BaseEstimator",  # not a concrete estimator
        "sklearn.utils._mocking.CheckingClassifier",  # a test helper, not exported
        "sklearn.linear_model._logistic._logistic_regression_path",  # a function
        "sklearn.linear_model._base.LinearModel",  # abstract
        "sklearn.pipeline.Pipeline.__init__",
        "sklearn..pipeline.Pipeline",
        "sklearnx.Pipeline",
        "sklearn.externals.array_api_compat.numpy.asarray",
    ):
        assert not is_allowed(name), name


@pytest.fixture
def forged_skops(tmp_path, numeric, labels, forge):
    """A sklearn package whose skops file was replaced by one asking for other types."""

    def make(model):
        from sklearn.linear_model import LogisticRegression
        from skops.io import dumps

        folder = tmp_path / "forged"
        package(LogisticRegression().fit(numeric, labels), example=numeric.head()).save(folder)
        forge(folder, "model/model.skops", dumps(model))
        return folder

    return make


def test_a_skops_file_asking_for_a_custom_class_is_refused_before_it_is_built(
    forged_skops, numeric, labels, marker
):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = Pipeline([("mark", Marker(str(marker))), ("model", LogisticRegression())])
    folder = forged_skops(model.fit(numeric, labels))
    with pytest.raises(UnsafeModelError) as raised:
        load_package(folder)
    assert f"{__name__}.Marker" in raised.value.message
    assert "allow-list" in raised.value.message
    assert "trusted=True" in raised.value.hint
    assert not marker.exists()
    load_package(folder, trusted=True)  # the owner can still load it
    assert marker.exists()


@pytest.mark.parametrize(("function", "name"), [(eval, "builtins.eval"), (print, "builtins.print")])
def test_a_skops_file_asking_for_a_function_is_refused(forged_skops, function, name):
    from sklearn.preprocessing import FunctionTransformer

    folder = forged_skops(FunctionTransformer(func=function))
    with pytest.raises(UnsafeModelError, match=name.replace(".", r"\.")):
        load_package(folder)


def test_packaging_a_pipeline_with_a_custom_step_points_to_the_python_flavor(
    tmp_path, numeric, labels, marker
):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = Pipeline([("mark", Marker(str(marker))), ("model", LogisticRegression())])
    model.fit(numeric, labels)
    with pytest.raises(ModelError) as raised:
        package(model, example=numeric.head()).save(tmp_path / "package")
    assert f"{__name__}.Marker" in raised.value.message
    assert 'flavor="python"' in raised.value.hint
    assert not (tmp_path / "package").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind either


# --- xgboost, lightgbm, onnx, python --------------------------------------------------


def test_xgboost_models_round_trip_in_native_json(tmp_path, numeric, labels):
    import xgboost

    classifier = xgboost.XGBClassifier(n_estimators=5).fit(numeric, labels)
    loaded = round_trip(tmp_path / "c", classifier, numeric.head())
    assert read_manifest(tmp_path / "c" / "package").flavor_details["kind"] == "XGBClassifier"
    assert (tmp_path / "c" / "package" / "model" / "model.json").read_bytes().startswith(b"{")
    np.testing.assert_allclose(loaded.predict_proba(numeric), classifier.predict_proba(numeric))

    regressor = xgboost.XGBRegressor(n_estimators=5).fit(numeric, numeric["income"])
    loaded = round_trip(tmp_path / "r", regressor, numeric.head())
    np.testing.assert_allclose(loaded.predict(numeric), regressor.predict(numeric))
    assert not hasattr(loaded, "predict_proba")

    data = xgboost.DMatrix(numeric, label=labels)
    booster = xgboost.train({"objective": "binary:logistic"}, data, num_boost_round=3)
    loaded = round_trip(tmp_path / "b", booster, numeric.head())
    np.testing.assert_allclose(loaded.predict(numeric), booster.predict(data))


def test_lightgbm_models_round_trip_in_native_text(tmp_path, numeric, labels):
    import lightgbm

    words = np.where(labels == 1, "churn", "stay")
    classifier = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(numeric, words)
    loaded = round_trip(tmp_path / "c", classifier, numeric.head())
    assert isinstance(loaded.raw, lightgbm.LGBMClassifier)
    assert loaded.signature.outputs[0].dtype == "string"
    np.testing.assert_array_equal(loaded.predict(numeric), classifier.predict(numeric))
    np.testing.assert_allclose(loaded.predict_proba(numeric), classifier.predict_proba(numeric))
    assert list(loaded.raw.classes_) == ["churn", "stay"]

    regressor = lightgbm.LGBMRegressor(n_estimators=5, verbose=-1)
    regressor.fit(numeric, numeric["income"])
    loaded = round_trip(tmp_path / "r", regressor, numeric.head())
    np.testing.assert_allclose(loaded.predict(numeric), regressor.predict(numeric))

    booster = classifier.booster_
    loaded = round_trip(tmp_path / "b", booster, numeric.head())
    np.testing.assert_allclose(loaded.predict(numeric), booster.predict(numeric))


def test_an_onnx_graph_converted_from_sklearn_round_trips(tmp_path, numeric, labels):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(numeric, labels)
    example = numeric.astype("float32")
    graph = to_onnx(model, example.to_numpy()[:1])
    loaded = round_trip(tmp_path / "proto", graph, example.head())
    assert loaded.manifest.has_predict_proba
    np.testing.assert_array_equal(loaded.predict(example), model.predict(numeric))
    np.testing.assert_allclose(
        loaded.predict_proba(example), model.predict_proba(numeric), rtol=1e-4, atol=1e-5
    )
    from_bytes = round_trip(tmp_path / "bytes", graph.SerializeToString(), example.head())
    np.testing.assert_array_equal(from_bytes.predict(example), model.predict(numeric))


def test_an_onnx_graph_with_one_input_per_column_takes_a_mixed_frame(tmp_path, mixed, labels):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = mixed[["income", "plan"]].assign(income=mixed["income"].fillna(0).astype("float32"))
    columns = ColumnTransformer(
        [("n", StandardScaler(), ["income"]), ("t", OneHotEncoder(), ["plan"])]
    )
    model = Pipeline([("columns", columns), ("model", LogisticRegression())]).fit(frame, labels)
    inputs = [("income", FloatTensorType([None, 1])), ("plan", StringTensorType([None, 1]))]
    loaded = round_trip(tmp_path, convert_sklearn(model, initial_types=inputs), frame.head())
    np.testing.assert_array_equal(loaded.predict(frame[["plan", "income"]]), model.predict(frame))


def test_the_python_flavor_round_trips_when_trusted(tmp_path, numeric):
    loaded = round_trip(tmp_path, Constant(2.5), numeric.head(), flavor="python")
    assert isinstance(loaded.raw, Constant)
    np.testing.assert_array_equal(loaded.predict(numeric), np.full(len(numeric), 2.5))
    assert read_manifest(tmp_path / "package").requirements[0].startswith("cloudpickle==")


def test_a_flavor_that_does_not_handle_the_model_is_refused(tmp_path, numeric):
    with pytest.raises(ModelError, match="xgboost flavor does not handle a Constant"):
        package(Constant(1.0), example=numeric.head(), flavor="xgboost")
    with pytest.raises(ModelError, match=r"onnx flavor saves an onnx\.ModelProto"):
        get_flavor("onnx").save(pd.DataFrame(), tmp_path)


def test_the_allow_list_accepts_every_estimator_scikit_learn_lists():
    from sklearn.utils import all_estimators

    names = [f"{cls.__module__}.{cls.__qualname__}" for _, cls in all_estimators()]
    assert len(names) > 150
    assert [name for name in names if not is_allowed(name)] == []


def test_loading_a_model_imports_only_its_own_part_of_scikit_learn(tmp_path):
    script = f"""
import sys
from shipyard.models import load_package
model = load_package({str(tmp_path / "package")!r})
# skops itself imports a few packages (tree, ensemble, cluster); these it does not
unused = ("gaussian_process", "neural_network", "semi_supervised", "cross_decomposition")
print(sorted(name for name in unused if "sklearn." + name in sys.modules))
"""
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    package(LogisticRegression().fit(X, [0, 0, 1, 1]), example=X).save(tmp_path / "package")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
