"""The pieces of a Dockerfile, written as text from data: exec-form JSON arrays for every
command, quoted labels, the builder and install stages both images share."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

__all__ = [
    "USER_ID",
    "base_comment",
    "build_command",
    "builder_stage",
    "comment_lines",
    "dockerignore",
    "environment_lines",
    "exec_form",
    "install_stage",
    "label_lines",
]

#: The non-root user (and group) the images run as.
USER_ID = 10001
#: Never in a context, whatever the Dockerfile copies (a second line of defence).
_IGNORED = (
    "**/__pycache__",
    "**/*.py[cod]",
    ".git",
    ".venv",
    ".shipyard",
    "data",
    "logs",
    "conf/local",
    "README.md",
)


def base_comment(base: str, what: str) -> list[str]:
    if "@sha256:" in base:
        return comment_lines(f"The base image is {base}, pinned by digest.")
    return comment_lines(
        f"The base image is {base}: the official image of {what}, pinned by version. It is "
        "not pinned by digest: Shipyard writes contexts offline and cannot look digests up "
        "(--pin-digest is not available offline). For byte-identical rebuilds, replace it "
        f"with {base}@sha256:<digest> (`docker buildx imagetools inspect {base}` prints "
        "the digest)."
    )


def comment_lines(text: str) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text, 86, break_on_hyphens=False)]


def builder_stage(base: str, wheel: str) -> list[str]:
    return [
        "# --- builder: every requirement as a wheel (compiled here if it must be) ------------",
        f"FROM {base} AS builder",
        "WORKDIR /build",
        "COPY requirements.txt ./",
        "COPY wheels/ ./wheels/",
        "RUN "
        + exec_form(
            [
                "python",
                "-m",
                "pip",
                "wheel",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--wheel-dir",
                "/wheels",
                "--requirement",
                "requirements.txt",
                f"wheels/{wheel}",
            ]
        ),
    ]


def install_stage(wheel: str) -> list[str]:
    return [
        f"RUN {exec_form(['groupadd', '--gid', str(USER_ID), 'shipyard'])}",
        "RUN "
        + exec_form(
            [
                "useradd",
                "--uid",
                str(USER_ID),
                "--gid",
                str(USER_ID),
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "shipyard",
            ]
        ),
        "# The builder's wheels are mounted, not copied: they leave no layer behind.",
        "RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \\",
        "    --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\",
        "    "
        + exec_form(
            [
                "python",
                "-m",
                "pip",
                "install",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--no-index",
                "--find-links",
                "/wheels",
                "--requirement",
                "/tmp/requirements.txt",
                f"/wheels/{wheel}",
            ]
        ),
    ]


def environment_lines(*extra: tuple[str, str, str]) -> list[str]:
    variables = [
        ("PYTHONDONTWRITEBYTECODE", "1", "no .pyc files written beside the code at run time"),
        ("PYTHONUNBUFFERED", "1", "log lines reach `docker logs` as they are written"),
        (
            "XDG_CACHE_HOME",
            "/tmp/shipyard-cache",
            "Shipyard's caches, in a writable place (also with a read-only root filesystem)",
        ),
        *extra,
    ]
    lines = []
    for name, value, why in variables:
        lines += [*comment_lines(f"{name}: {why}"), f"ENV {name}={value}"]
    return lines


def label_lines(labels: Mapping[str, str]) -> list[str]:
    """One LABEL instruction, each value double-quoted with Dockerfile escapes (``\\``,
    ``"`` and ``$``, which LABEL would expand), control characters replaced by spaces."""
    items = [f"{key}={_quoted(value)}" for key, value in labels.items()]
    return ["LABEL " + " \\\n      ".join(items)]


def _quoted(value: str) -> str:
    cleaned = "".join(" " if ord(char) < 32 or ord(char) == 127 else char for char in value)
    escaped = cleaned.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def exec_form(argv: list[str]) -> str:
    """The exec (JSON) form of an instruction: no shell ever parses it."""
    return json.dumps(argv, ensure_ascii=False)


def dockerignore() -> str:
    return (
        "# Only what the Dockerfile copies is sent to the engine; never secrets or data.\n"
        + "".join(f"{pattern}\n" for pattern in _IGNORED)
    )


def build_command(folder: Path, tag: str | None, platform: str | None) -> tuple[str, ...]:
    command = ["docker", "build", "--progress=plain", "--file", str(folder / "Dockerfile")]
    if tag is not None:
        command += ["--tag", tag]
    if platform is not None:
        command += ["--platform", platform]
    return (*command, str(folder))
