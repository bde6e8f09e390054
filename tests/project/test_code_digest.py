"""Code digests: what in a function's code changes its fingerprint, and what does not."""

from __future__ import annotations

import functools
import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from shipyard.project._code import CodeDigests


@pytest.fixture
def load(tmp_path, monkeypatch):
    """Write modules into a fresh folder on sys.path and import them anew each call."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: set[str] = set()

    def load(name: str, source: str, **others: str):
        for module_name, text in {name: source, **others}.items():
            path = tmp_path / f"{module_name}.py"
            path.write_text(textwrap.dedent(text).lstrip())
            written.add(module_name)
        for module_name in written:
            sys.modules.pop(module_name, None)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    yield load
    for module_name in written:
        sys.modules.pop(module_name, None)


def digest(func) -> str:
    return CodeDigests().of(func)


BASE = """
import math

from cd_helpers import clean

LIMIT = 3


def helper(x):
    return x + 1


def node(x, scale=2):
    return clean(helper(x) * scale * math.pi)[:LIMIT]
"""
HELPERS = "def clean(x):\n    return [x]\n"


def test_the_same_code_gives_the_same_digest_across_imports(load):
    first = digest(load("cd_nodes", BASE, cd_helpers=HELPERS).node)
    again = digest(load("cd_nodes", BASE, cd_helpers=HELPERS).node)
    assert first == again
    assert first.startswith("blake3:")


@pytest.mark.parametrize(
    "edit",
    [
        ("* scale * math.pi", "* scale * math.e"),  # the function's own body
        ("return x + 1", "return x + 2"),  # a function it calls in its module
        ("LIMIT = 3", "LIMIT = 4"),  # a module-level constant it reads
        ("scale=2", "scale=3"),  # a default argument
    ],
    ids=["body", "called-function", "constant", "default"],
)
def test_edits_that_change_behaviour_change_the_digest(load, edit):
    before = digest(load("cd_nodes", BASE, cd_helpers=HELPERS).node)
    after = digest(load("cd_nodes", BASE.replace(*edit), cd_helpers=HELPERS).node)
    assert before != after


def test_an_edit_in_another_project_module_changes_the_digest(load):
    before = digest(load("cd_nodes", BASE, cd_helpers=HELPERS).node)
    after = digest(load("cd_nodes", BASE, cd_helpers=HELPERS.replace("[x]", "[x, x]")).node)
    assert before != after


def test_functions_used_through_a_project_module_are_followed(load):
    source = "import cd_helpers\n\n\ndef node(x):\n    return cd_helpers.clean(x)\n"
    before = digest(load("cd_nodes", source, cd_helpers=HELPERS).node)
    after = digest(load("cd_nodes", source, cd_helpers=HELPERS.replace("[x]", "(x,)")).node)
    assert before != after


def test_code_the_function_does_not_use_leaves_the_digest_alone(load):
    before = digest(load("cd_nodes", BASE, cd_helpers=HELPERS).node)
    unrelated = BASE + "\n\ndef other():\n    return 'changed'\n\n# a comment\nOTHER = 5\n"
    assert digest(load("cd_nodes", unrelated, cd_helpers=HELPERS).node) == before


def test_library_code_counts_by_name_and_version_not_by_source():
    import json

    def uses_library(x):
        return json.dumps(x)

    tokens = list(CodeDigests()._walk(uses_library))
    assert not any(token.startswith("library:json.dumps") for token in tokens)  # module attr
    assert any(token.startswith("function:") for token in tokens)


def test_classes_and_methods_of_the_project_are_followed(load):
    source = """
    class Scaler:
        factor = 2

        def apply(self, x):
            return x * self.factor


    def node(x):
        return Scaler().apply(x)
    """
    before = digest(load("cd_nodes", source).node)
    after = digest(load("cd_nodes", source.replace("x * self.factor", "x + self.factor")).node)
    assert before != after


def test_recursion_and_mutual_references_terminate(load):
    source = """
    def even(n):
        return True if n == 0 else odd(n - 1)


    def odd(n):
        return False if n == 0 else even(n - 1)
    """
    module = load("cd_nodes", source)
    assert digest(module.even) != digest(module.odd)


def test_closures_and_partials_count_their_values(load):
    module = load("cd_nodes", "def scale(x, factor):\n    return x * factor\n")
    assert digest(functools.partial(module.scale, factor=2)) != digest(
        functools.partial(module.scale, factor=3)
    )

    def make(limit):
        def node(x):
            return x[:limit]

        return node

    assert digest(make(2)) != digest(make(3))
    assert digest(make(2)) == digest(make(2))


def test_a_function_without_source_is_digested_from_its_bytecode():
    namespace: dict = {}
    exec(compile("def node(x):\n    return x * 2\n", "<notebook cell>", "exec"), namespace)
    other: dict = {}
    exec(compile("def node(x):\n    return x * 3\n", "<notebook cell>", "exec"), other)
    assert digest(namespace["node"]) != digest(other["node"])


def test_digests_are_computed_once_per_function(load, monkeypatch):
    module = load("cd_nodes", BASE, cd_helpers=HELPERS)
    digests = CodeDigests()
    first = digests.of(module.node)
    monkeypatch.setattr("inspect.getsource", lambda obj: pytest.fail("source read twice"))
    assert digests.of(module.node) == first


def test_shipyard_itself_counts_as_its_version():
    from shipyard import __version__
    from shipyard.pipeline import node

    tokens = list(CodeDigests()._walk(node))
    assert tokens == [f"library:shipyard.pipeline._node.node@{__version__}"]


def test_project_root_modules_are_project_code(load, tmp_path):
    module = load("cd_nodes", BASE, cd_helpers=HELPERS)
    assert Path(module.__file__).parent == tmp_path
    assert any(
        token.startswith("function:cd_helpers.clean") for token in CodeDigests()._walk(module.node)
    )
