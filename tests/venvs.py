"""Tiny wheels written by hand and venvs without pip: environments tested offline, fast."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

BIN = "Scripts" if sys.platform == "win32" else "bin"


# --- tiny wheels and venvs ----------------------------------------------------------------


def write_wheel(folder: Path, name: str, version: str) -> Path:
    """A pure-Python wheel written by hand: the package, METADATA, WHEEL and RECORD."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def offline(wheels: Path) -> list[str]:
    return ["--no-index", "--find-links", str(wheels)]


def pip_into(venv: Path, wheels: Path, *requirements: str) -> None:
    """Install into ``venv`` with this interpreter's pip (``--python``: no pip in it)."""
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(venv / BIN / "python"), "install"),
            *("-q", "--disable-pip-version-check", *offline(wheels), *requirements),
        ],
        check=True,
        capture_output=True,
    )


def bare_venv(path: Path, wheels: Path, *requirements: str) -> Path:
    """A venv without pip (fast), with ``requirements`` installed from ``wheels``."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True
    )
    if requirements:
        pip_into(path, wheels, *requirements)
    return path
