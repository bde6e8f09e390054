"""``create_project``: the template rendered into a complete, working project."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

import shipyard
from shipyard.errors import ProjectError
from shipyard.lab import NewProject, _new_project, create_project, default_package_name

GIT = shutil.which("git")
RUFF = Path(sys.executable).parent / "ruff"
SHIPYARD_SOURCE = Path(shipyard.__file__).resolve().parent.parent
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")

EXAMPLE_FILES = [
    "pyproject.toml",
    "README.md",
    "environment.yml",
    ".gitignore",
    "conf/base/catalog.yml",
    "conf/base/parameters.yml",
    "conf/base/logging.yml",
    "conf/local/credentials.yml",
    "conf/local/.gitkeep",
    "conf/prod/parameters.yml",
    *(
        f"data/{layer}/.gitkeep"
        for layer in (
            "01_raw",
            "02_intermediate",
            "03_primary",
            "04_feature",
            "05_model_input",
            "06_models",
            "07_model_output",
            "08_reporting",
        )
    ),
    "notebooks/explore.ipynb",
    "src/churn/__init__.py",
    "src/churn/pipeline_registry.py",
    "src/churn/settings.py",
    "src/churn/pipelines/__init__.py",
    *(
        f"src/churn/pipelines/{name}/{module}.py"
        for name in ("data_processing", "training")
        for module in ("__init__", "nodes", "pipeline")
    ),
    "tests/test_data_processing.py",
    "tests/test_training.py",
    "tests/test_pipelines.py",
]


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> NewProject:
    """One example project, read (never changed) by the tests that only inspect it."""
    return create_project(tmp_path_factory.mktemp("new") / "churn")


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> NewProject:
    """One project without the example."""
    return create_project(tmp_path_factory.mktemp("new") / "bare", example=False)


@pytest.fixture
def importable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[NewProject], None]]:
    """Make a generated project's package importable here, and forget it afterwards."""
    packages: list[str] = []
    monkeypatch.setattr(sys, "path", list(sys.path))  # Session.open adds src/ too

    def make_importable(project: NewProject) -> None:
        sys.path.insert(0, str(project.path / "src"))
        packages.append(project.package_name)

    yield make_importable
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            del sys.modules[name]


def files_of(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def run(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- layout and rendering ----------------------------------------------------------------


def test_the_example_project_has_the_whole_layout(churn: NewProject) -> None:
    assert churn.name == "churn"
    assert churn.package_name == "churn"
    assert churn.path.is_absolute()
    for relative in EXAMPLE_FILES:
        assert (churn.path / relative).is_file(), relative


def test_every_placeholder_is_rendered(churn: NewProject, bare: NewProject) -> None:
    for project in (churn, bare):
        for relative, data in files_of(project.path).items():
            assert "__package_name__" not in relative
            assert not relative.endswith("-tpl"), relative
            text = data.decode("utf-8")
            assert "{{" not in text, relative
            assert "__package_name__" not in text, relative


def test_pyproject_names_the_project_package_and_shipyard_version(churn: NewProject) -> None:
    document = tomllib.loads((churn.path / "pyproject.toml").read_text(encoding="utf-8"))

    assert document["project"]["name"] == "churn"
    assert f"shipyard>={shipyard.__version__}" in document["project"]["dependencies"]
    assert {"scikit-learn", "pandas"} <= set(document["project"]["dependencies"])
    assert document["tool"]["shipyard"] == {"package_name": "churn"}
    assert document["tool"]["pytest"]["ini_options"]["pythonpath"] == ["src"]
    assert document["build-system"]["build-backend"] == "hatchling.build"


def test_every_yaml_file_parses(churn: NewProject, bare: NewProject) -> None:
    for project in (churn, bare):
        for path in (project.path / "conf").rglob("*.yml"):
            yaml.safe_load(path.read_text(encoding="utf-8"))
        environment = yaml.safe_load((project.path / "environment.yml").read_text("utf-8"))
        assert environment["name"] == project.name


def test_the_example_catalog_and_parameters_match_the_brief(churn: NewProject) -> None:
    conf = churn.path / "conf"
    catalog = yaml.safe_load((conf / "base/catalog.yml").read_text(encoding="utf-8"))
    parameters = yaml.safe_load((conf / "base/parameters.yml").read_text(encoding="utf-8"))
    prod = yaml.safe_load((conf / "prod/parameters.yml").read_text(encoding="utf-8"))

    assert catalog["model"] == {
        "type": "model",
        "filepath": "data/06_models/model",
        "versioned": True,
        "layer": "models",
    }
    assert catalog["churn_model"]["register"] == "churn"
    # Every dataset the pipelines write is versioned, so reruns can use the node cache;
    # the serving logs are written by `shipyard serve`, part file by part file.
    written = {name: entry for name, entry in catalog.items() if entry["type"] != "serving_log"}
    assert all(entry.get("versioned") for entry in written.values())
    assert catalog["prediction_log"]["filepath"] == "data/09_logs/predictions"
    assert catalog["metrics"]["type"] == "metrics"
    assert set(parameters) == {"data", "split", "model"}
    assert parameters["data"]["n_customers"] == 5000
    assert prod["model"]["C"] != parameters["model"]["C"]


def test_the_notebook_is_valid_nbformat_4(churn: NewProject, bare: NewProject) -> None:
    for project in (churn, bare):
        path = project.path / "notebooks" / "explore.ipynb"
        document = json.loads(path.read_text(encoding="utf-8"))
        assert document["nbformat"] == 4
        try:
            import nbformat
        except ImportError:
            continue
        nbformat.validate(nbformat.read(path, as_version=4))
    cells = json.loads((churn.path / "notebooks/explore.ipynb").read_text("utf-8"))["cells"]
    code = "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    # papermill's convention: `shipyard notebook run -p top_n=10` replaces this cell's values
    assert [c for c in cells if "parameters" in c["metadata"].get("tags", [])] == [cells[1]]
    for expected in (
        "top_n = 5",
        "%load_ext shipyard",
        'catalog.load("customers_raw")',
        "customers.head(top_n)",
        'shipyard.log_metric("churn_rate"',
        "customers.describe()",
        'groupby("plan")["churned"].mean()',
        ".plot.bar(",
    ):
        assert expected in code


def test_a_project_without_the_example_has_no_pipelines(bare: NewProject) -> None:
    assert (bare.path / "src/bare/pipeline_registry.py").is_file()
    assert sorted(p.name for p in (bare.path / "src/bare/pipelines").iterdir()) == ["__init__.py"]
    assert sorted(p.name for p in (bare.path / "tests").iterdir()) == ["test_pipelines.py"]
    assert yaml.safe_load((bare.path / "conf/base/catalog.yml").read_text("utf-8")) is None


@pytest.mark.skipif(not RUFF.is_file(), reason="ruff is not installed beside this Python")
def test_the_generated_code_is_ruff_clean(churn: NewProject, bare: NewProject) -> None:
    for project in (churn, bare):
        checked = run([RUFF, "check", "--no-cache", "."], project.path)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        formatted = run([RUFF, "format", "--no-cache", "--check", "."], project.path)
        assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_names_default_to_the_folder_name(tmp_path: Path) -> None:
    project = create_project(tmp_path / "Customer-Churn", init_git=False)

    assert (project.name, project.package_name) == ("Customer-Churn", "customer_churn")
    assert (project.path / "src/customer_churn/pipeline_registry.py").is_file()
    assert 'name = "Customer-Churn"' in (project.path / "pyproject.toml").read_text("utf-8")


def test_name_and_package_name_can_be_chosen(tmp_path: Path) -> None:
    project = create_project(
        tmp_path / "folder", name="retention", package_name="retain", init_git=False
    )

    assert (project.name, project.package_name) == ("retention", "retain")
    assert (project.path / "src/retain/pipelines/training/nodes.py").is_file()
    assert "from retain.pipelines" in (project.path / "tests/test_training.py").read_text("utf-8")


def test_default_package_name() -> None:
    assert default_package_name("Customer Churn-v2.1") == "customer_churn_v2_1"


def test_binary_files_are_copied_byte_for_byte(tmp_path: Path) -> None:
    binary = tmp_path / "logo.png"
    binary.write_bytes(b"\x89PNG\0{{ package_name }}\xff")
    text = tmp_path / "notes.md"
    text.write_text("# {{ package_name }} ✓\n", encoding="utf-8")
    replacements = {"{{ package_name }}": "churn"}

    _new_project._render_file(binary, tmp_path / "out/logo.png", replacements)
    _new_project._render_file(text, tmp_path / "out/notes.md", replacements)

    assert (tmp_path / "out/logo.png").read_bytes() == binary.read_bytes()
    assert (tmp_path / "out/notes.md").read_text(encoding="utf-8") == "# churn ✓\n"


# -- refusals -------------------------------------------------------------------------------


def test_a_folder_with_files_is_refused_and_left_untouched(tmp_path: Path) -> None:
    target = tmp_path / "churn"
    (target / "data").mkdir(parents=True)
    (target / "data" / "customers.csv").write_text("id\n1\n", encoding="utf-8")
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    before = files_of(target)

    with pytest.raises(ProjectError) as caught:
        create_project(target)

    assert str(target) in caught.value.message
    assert "not empty" in caught.value.message
    assert "another name" in caught.value.hint
    assert "empty" in caught.value.hint
    assert files_of(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn"]


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "churn"
    target.write_text("mine", encoding="utf-8")

    with pytest.raises(ProjectError, match="not a folder") as caught:
        create_project(target)

    assert "another name" in caught.value.hint
    assert target.read_text(encoding="utf-8") == "mine"


def test_an_empty_folder_is_filled_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "churn"
    target.mkdir()
    inode = target.stat().st_ino

    project = create_project(target, init_git=False)

    assert project.path == target
    assert target.stat().st_ino == inode
    assert (target / "src/churn/settings.py").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn"]


@pytest.mark.parametrize(
    ("package_name", "problem", "suggestion"),
    [
        ("class", "keyword", "class_project"),
        ("json", "standard library", "json_project"),
        ("shipyard", "library the project imports", "shipyard_project"),
        ("pandas", "library the project imports", "pandas_project"),
        ("2churn", "not a Python identifier", "project_2churn"),
        ("my-churn", "not a Python identifier", "my_churn"),
        ("café", "not a Python identifier", "caf"),
    ],
)
def test_an_invalid_package_name_is_refused_with_a_valid_suggestion(
    tmp_path: Path, package_name: str, problem: str, suggestion: str
) -> None:
    with pytest.raises(ProjectError) as caught:
        create_project(tmp_path / "churn", package_name=package_name, init_git=False)

    assert f"'{package_name}'" in caught.value.message
    assert problem in caught.value.message
    assert f"'{suggestion}'" in caught.value.hint
    assert list(tmp_path.iterdir()) == []
    project = create_project(tmp_path / "churn", package_name=suggestion, init_git=False)
    assert project.package_name == suggestion


def test_a_folder_name_that_makes_a_bad_package_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="'json'") as caught:
        create_project(tmp_path / "json", init_git=False)

    assert "--package-name" in caught.value.hint
    assert "'json_project'" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "suggestion"), [("my churn", "my-churn"), ("-churn", "churn"), ("churn!", "churn")]
)
def test_an_invalid_project_name_is_refused_with_a_suggestion(
    tmp_path: Path, name: str, suggestion: str
) -> None:
    with pytest.raises(ProjectError) as caught:
        create_project(tmp_path / name, init_git=False)

    assert f"'{name}'" in caught.value.message
    assert f"'{suggestion}'" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = _new_project._render_file
    written: list[Path] = []

    def fail_after_five_files(source: Path, destination: Path, replacements: dict) -> None:
        if len(written) == 5:
            raise OSError(28, "No space left on device")
        render(source, destination, replacements)
        written.append(destination)

    monkeypatch.setattr(_new_project, "_render_file", fail_after_five_files)

    with pytest.raises(ProjectError) as caught:
        create_project(tmp_path / "churn", init_git=False)

    assert "No space left on device" in caught.value.message
    assert str(tmp_path / "churn") in caught.value.message
    assert list(tmp_path.iterdir()) == []

    written.clear()
    with pytest.raises(ProjectError):
        create_project(tmp_path / "new" / "folders" / "churn", init_git=False)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_filling_an_empty_folder_leaves_it_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "churn"
    target.mkdir()
    rename = Path.rename
    moved: list[Path] = []

    def fail_on_the_third_move(self: Path, destination: Path) -> Path:
        if self.parent.name == "churn" and destination.parent == target:
            if len(moved) == 2:
                raise OSError(5, "Input/output error")
            moved.append(destination)
        return rename(self, destination)

    monkeypatch.setattr(Path, "rename", fail_on_the_third_move)

    with pytest.raises(ProjectError, match="Input/output error"):
        create_project(target, init_git=False)

    assert len(moved) == 2
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["churn"]


# -- git ------------------------------------------------------------------------------------


@needs_git
def test_git_is_initialised_with_one_commit_of_everything_but_data_and_secrets(
    churn: NewProject,
) -> None:
    assert churn.git_initialised
    assert churn.git_note is None
    log = run(["git", "log", "--format=%s"], churn.path)
    assert log.stdout.splitlines() == ["Create the project from the template"]
    tracked = set(run(["git", "ls-files"], churn.path).stdout.splitlines())
    assert "data/01_raw/.gitkeep" in tracked
    assert "conf/local/.gitkeep" in tracked
    assert "conf/local/credentials.yml" not in tracked
    assert "src/churn/pipelines/training/nodes.py" in tracked
    assert run(["git", "status", "--porcelain"], churn.path).stdout == ""


@needs_git
def test_data_and_local_conf_stay_out_of_git(tmp_path: Path) -> None:
    project = create_project(tmp_path / "churn")
    (project.path / "data/01_raw/customers.csv").write_text("id\n", encoding="utf-8")
    (project.path / "data/06_models/model").mkdir()
    (project.path / "conf/local/parameters.yml").write_text("model: {C: 2}\n", "utf-8")
    (project.path / ".shipyard").mkdir()
    (project.path / ".shipyard/shipyard.db").write_bytes(b"")

    assert run(["git", "status", "--porcelain"], project.path).stdout == ""


@needs_git
def test_git_commits_without_a_configured_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for variable in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "EMAIL"):
        monkeypatch.delenv(variable, raising=False)

    project = create_project(tmp_path / "churn")

    assert project.git_initialised, project.git_note
    author = run(["git", "log", "--format=%an <%ae>"], project.path).stdout.strip()
    assert author == "Shipyard <shipyard@localhost>"
    # The fallback identity was for that one commit, not written into the repository.
    assert run(["git", "config", "--local", "user.name"], project.path).stdout == ""
    assert run(["git", "branch", "--show-current"], project.path).stdout.strip() == "main"


def test_a_missing_git_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))

    project = create_project(tmp_path / "churn")

    assert not project.git_initialised
    assert project.git_note is not None
    assert "git is not installed" in project.git_note
    assert not (project.path / ".git").exists()
    assert (project.path / "src/churn/pipeline_registry.py").is_file()


def test_git_can_be_left_out(tmp_path: Path) -> None:
    project = create_project(tmp_path / "churn", init_git=False)

    assert (project.git_initialised, project.git_note) == (False, None)
    assert not (project.path / ".git").exists()


@needs_git
def test_no_repository_is_nested_inside_another(tmp_path: Path) -> None:
    run(["git", "init", "--quiet"], tmp_path)

    project = create_project(tmp_path / "projects" / "churn")

    assert not project.git_initialised
    assert project.git_note is not None
    assert str(tmp_path) in project.git_note
    assert not (project.path / ".git").exists()
    assert (project.path / "pyproject.toml").is_file()


# -- the example runs -------------------------------------------------------------------------


def test_the_example_nodes_run_end_to_end(
    tmp_path: Path, importable: Callable[[NewProject], None]
) -> None:
    project = create_project(tmp_path / "churn-nodes", init_git=False)
    importable(project)
    from churn_nodes.pipelines.data_processing import nodes as processing
    from churn_nodes.pipelines.training import nodes as training

    raw = processing.generate_customers({"n_customers": 1500, "seed": 11})
    clean = processing.clean_customers(raw)
    features = processing.build_features(clean)
    split = {"test_size": 0.2, "random_state": 0, "stratify": True}
    X_train, X_test, y_train, y_test = processing.split_data(features, split)
    model = training.train_model(X_train, y_train, {"C": 1.0, "max_iter": 1000})
    metrics, predictions = training.evaluate_model(model, X_test, y_test)

    assert len(raw) > len(clean) == 1500
    assert set(raw.columns) == {
        "customer_id",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "plan",
        "contract",
        "support_calls",
        "region",
        "churned",
    }
    assert metrics["roc_auc"] > 0.75
    assert metrics["n_test"] == len(predictions) == 300
    json.dumps(metrics, allow_nan=False)


@pytest.mark.slow
def test_the_generated_projects_own_tests_pass(churn: NewProject, bare: NewProject) -> None:
    for project in (churn, bare):
        result = run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            project.path,
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(SHIPYARD_SOURCE), os.environ.get("PYTHONPATH")])
            ),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert " passed" in result.stdout


def _uncomment_the_hook_example(settings: str) -> str:
    """settings.py with its commented example hook made real, in place of HOOKS = ()."""
    lines = settings.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# An example"))
    code = [line.removeprefix("#").removeprefix(" ") for line in lines[start + 2 :]]
    return "\n".join([*lines[:start], *code[: code.index("HOOKS: tuple[object, ...] = ()")]])


def test_the_example_runs_in_a_session_with_the_example_hook(
    tmp_path: Path, importable: Callable[[NewProject], None], caplog: pytest.LogCaptureFixture
) -> None:
    from shipyard.project import Session

    project = create_project(tmp_path / "churn-run", init_git=False)
    settings = project.path / "src/churn_run/settings.py"
    settings.write_text(_uncomment_the_hook_example(settings.read_text("utf-8")), "utf-8")
    assert "HOOKS = (SlowNodeWarning(seconds=10.0),)" in settings.read_text("utf-8")
    if RUFF.is_file():
        checked = run([RUFF, "check", "--no-cache", settings], project.path)
        assert checked.returncode == 0, checked.stdout
    settings.write_text(settings.read_text("utf-8").replace("seconds=10.0", "seconds=0.0"))
    importable(project)

    session = Session.open(project.path, params={"data": {"n_customers": 1000}})
    with caplog.at_level(logging.WARNING):
        result = session.run()

    assert result.completed == (
        "generate_customers",
        "clean_customers",
        "build_features",
        "split_data",
        "train_model",
        "evaluate_model",
        "package_model",
    )
    metrics = json.loads((project.path / "data/08_reporting/metrics.json").read_text("utf-8"))
    assert metrics["roc_auc"] > 0.75
    assert metrics["n_test"] == 200
    for written in ("01_raw/customers.csv", "06_models/model", "07_model_output"):
        assert (project.path / "data" / written).exists()
    warned = {record.getMessage().split()[1] for record in caplog.records if "took" in record.msg}
    assert warned == set(result.completed)


def test_the_notebook_code_runs_once_the_pipelines_have(
    tmp_path: Path, importable: Callable[[NewProject], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cell by cell in an IPython shell, as in Jupyter: `%load_ext shipyard` included."""
    from IPython.testing import globalipapp

    from shipyard.project import Session

    project = create_project(tmp_path / "churn-notebook", init_git=False)
    importable(project)
    Session.open(project.path, params={"data": {"n_customers": 500}}).run()
    notebook = json.loads((project.path / "notebooks/explore.ipynb").read_text("utf-8"))
    monkeypatch.chdir(project.path / "notebooks")
    monkeypatch.setenv("MPLBACKEND", "agg")
    globalipapp.start_ipython()  # once per process; later calls return None
    shell = globalipapp.get_ipython()
    try:
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                result = shell.run_cell("".join(cell["source"]), store_history=False)
                assert result.success, result.error_in_exec or result.error_before_exec
        namespace = shell.user_ns
        assert len(namespace["customers"]) > 500  # the raw table, duplicates included
        assert set(namespace["churn_by_plan"].index) == {"basic", "standard", "premium"}
        assert "customers_raw" in namespace["catalog"].list()
    finally:
        shell.run_line_magic("unload_ext", "shipyard")  # ends the notebook's run


def test_generated_configuration_loads_in_every_environment(
    churn: NewProject, bare: NewProject, importable: Callable[[NewProject], None]
) -> None:
    from shipyard.project import Session

    importable(churn)
    base, prod = Session.open(churn.path), Session.open(churn.path, env="prod")
    assert base.params["data"] == {"n_customers": 5000, "seed": 42, "price_rise": 0.0}
    assert prod.params["data"] == {"n_customers": 50000, "seed": 42, "price_rise": 0.0}
    assert prod.params["model"] == {"C": 0.5, "max_iter": 1000}
    persisted = {name for name in base.pipeline().datasets() if not name.startswith("params:")}
    assert persisted <= set(base.catalog.list())

    importable(bare)
    session = Session.open(bare.path)
    assert session.params == {}
    assert session.config.catalog == {}
    assert [node.name for node in session.pipeline().nodes] == []
    assert session.config.logging_config()["loggers"]["bare"] == {"level": "INFO"}
