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
