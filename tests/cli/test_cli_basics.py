from __future__ import annotations

import subprocess
import sys

import pytest
from tests.conftest import run_cli

COMMANDS = [
    [],
    ["new"],
    ["run"],
    ["info"],
    ["quickstart"],
    ["serve"],
    ["predict"],
    ["pipeline"],
    ["pipeline", "list"],
    ["pipeline", "show"],
    ["catalog"],
    ["catalog", "list"],
    ["catalog", "describe"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(tmp_path, command):
    result = run_cli(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert len(result.stdout.strip().splitlines()) > 3


def test_the_whole_command_tree_builds_and_every_command_says_what_it_does():
    import typer
    from typer.core import TyperGroup

    from shipyard.cli._app import GROUPS, VERBS, app

    def walk(command, ctx: typer.Context, path: tuple[str, ...]):
        yield path, command
        if isinstance(command, TyperGroup):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                yield from walk(sub, typer.Context(sub, parent=ctx, info_name=name), (*path, name))

    root = typer.main.get_command(app)
    tree = dict(walk(root, typer.Context(root, info_name="shipyard"), ()))
    assert len(tree) > 50
    assert not [path for path, command in tree.items() if not (command.help or "").strip()]
    for name in GROUPS:  # built on first use, as a group even when it has one command
        group = tree[(name,)]
        assert isinstance(group, TyperGroup) and group.name == name and group.commands
    for name in VERBS:  # built on first use too, each a command of its own name
        assert not isinstance(tree[(name,)], TyperGroup) and tree[(name,)].name == name
    assert ("notebook", "run") in tree and ("runs", "reproduce") in tree


def test_version(tmp_path):
    from shipyard import __version__

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"shipyard {__version__}"


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["run", "--help"]])
def test_help_and_version_import_nothing_heavy(tmp_path, args):
    code = (
        "import sys\n"
        "from shipyard.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'pandas', 'sklearn', 'sqlalchemy', 'numpy', 'omegaconf', 'pyarrow'}\n"
        "print('HEAVY', sorted(heavy & set(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert "HEAVY []" in result.stderr


def test_json_output_has_nothing_else_on_stdout(tmp_path):
    import json

    result = run_cli("info", "--json", cwd=tmp_path)
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert list(document) == ["info"]
