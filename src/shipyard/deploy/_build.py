"""Running the Docker CLI, and a wheel of Shipyard to put in an image.

Everything here starts processes with a list of arguments, never through a shell: a
model name, a tag or a folder that holds ``;``, ``$(...)`` or spaces reaches ``docker``
as one argument and nothing else runs it.

The image must run the Shipyard that wrote its context, which may be a development tree
that is on no index yet: :func:`shipyard_wheel` builds a wheel from the source tree this
Shipyard was installed from (``pip install -e .`` or ``pip install /path``), and
downloads the released wheel only when it came from an index. A built wheel is cached
under ``$XDG_CACHE_HOME/shipyard/wheels`` by the state of the tree, so writing several
contexts builds it once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlparse

from shipyard.__about__ import __version__
from shipyard._entry_points import cache_folder
from shipyard.errors import ConfigError, DeployError
from shipyard.objects import hash_bytes

__all__ = [
    "BuildContext",
    "build",
    "check_tag",
    "docker_available",
    "shipyard_wheel",
]

#: How many of the last output lines a failed build or pip call shows.
TAIL_LINES = 25
DOCKER_TIMEOUT_S = 15.0
PIP_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class BuildContext:
    """A folder Docker can build, and the exact command that builds it.

    ``build_command`` is the ``docker build`` argv (a tuple, run without a shell);
    ``labels`` are the OCI and Shipyard labels the Dockerfile sets; ``image_tag`` is None
    when no valid default tag could be made (then name the image with ``--tag``).
    """

    folder: Path
    dockerfile: Path
    image_tag: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    build_command: tuple[str, ...] = ()


# --- image references ---------------------------------------------------------------
# The grammar of github.com/distribution/reference:
#   reference := name [":" tag] ["@" digest]
#   name      := [domain "/"] path-component ["/" path-component]*
#   domain    := host [":" port]; the first component is one only when it holds "." or ":",
#                is "localhost", or has a capital letter (a path component never does)

_REFERENCE_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/@+[]"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?")
_IPV6 = re.compile(r"\[[0-9a-fA-F:.]+\]")
_TAG = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_NAME_MAX = 255


def check_tag(tag: str) -> str:
    """``tag`` when it is a valid image reference, ``[registry[:port]/]name[:tag][@digest]``
    (``churn:4``, ``registry.example.com:5000/ml/churn:4``); else ConfigError naming the
    part that is wrong.

    >>> check_tag("registry.example.com/ml/churn:4")
    'registry.example.com/ml/churn:4'
    """
    problem = _reference_problem(tag)
    if problem is not None:
        raise ConfigError(
            f"{tag!r} is not a valid image name: {problem}.",
            hint="Name the image like churn:4 or registry.example.com/ml/churn:4: lower-case "
            "letters, digits and '.', '_', '-' separators, then an optional ':' and a tag of "
            "letters, digits, '_', '.' and '-'.",
        )
    return tag


def _reference_problem(reference: str) -> str | None:
    if not reference:
        return "it is empty"
    bad = sorted({char for char in reference if char not in _REFERENCE_CHARACTERS})
    if bad:
        shown = ", ".join(repr(char) for char in bad)
        return f"it holds {shown}, which no image reference may contain"
    name, _, digest = reference.partition("@")
    if digest and ("@" in digest or not _DIGEST.fullmatch(digest)):
        return f"the digest {digest!r} is not ALGORITHM:HEX (sha256: and 64 hex digits)"
    tag = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, _, tag = name.rpartition(":")
    return _tag_problem(name, tag) or _name_problem(name)


def _tag_problem(name: str, tag: str | None) -> str | None:
    if tag is None or _TAG.fullmatch(tag):
        return None
    if not tag:
        return f"it ends with ':' after {name!r} but gives no tag"
    return (
        f"the tag {tag!r} is not 1 to 128 letters, digits, '_', '.' and '-' that start with a "
        "letter, digit or '_'"
    )


def _name_problem(name: str) -> str | None:
    if len(name) > _NAME_MAX:
        return f"the name is longer than {_NAME_MAX} characters"
    components = name.split("/")
    first = components[0]
    if len(components) > 1 and (
        "." in first or ":" in first or first == "localhost" or first != first.lower()
    ):
        problem = _domain_problem(first)
        if problem is not None:
            return problem
        components = components[1:]
    for component in components:
        if not component:
            return "it has an empty name component (a leading, trailing or doubled '/')"
        if _PATH_COMPONENT.fullmatch(component):
            continue
        if component != component.lower():
            return (
                f"the name {component!r} has capital letters; image names are lower-case "
                f"({component.lower()!r})"
            )
        return (
            f"the name {component!r} is not lower-case letters and digits joined by '.', '_', "
            "'__' or '-'"
        )
    return None


def _domain_problem(domain: str) -> str | None:
    host, colon, port = domain.rpartition(":") if not domain.endswith("]") else (domain, "", "")
    if not colon:
        host = domain
    elif not port.isdigit() or not 0 < int(port) < 65536:
        return f"the registry port {port!r} is not a number from 1 to 65535"
    if _IPV6.fullmatch(host) or all(_DOMAIN_COMPONENT.fullmatch(c) for c in host.split(".")):
        return None
    return f"the registry host {host!r} is not a host name"


def docker_available() -> str | None:
    """None when a Docker engine answers here, else why not: no ``docker`` command on
    PATH, or a daemon that cannot be reached (with what the CLI said)."""
    executable = shutil.which("docker")
    if executable is None:
        return "no `docker` command on PATH"
    try:
        done = subprocess.run(
            [executable, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=DOCKER_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the Docker daemon did not answer within {DOCKER_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return f"`docker` cannot be started: {exc.strerror or exc}"
    if done.returncode == 0 and done.stdout.strip():
        return None
    said = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    detail = said[-1] if said else f"`docker version` exited with {done.returncode}"
    return f"the Docker daemon is not reachable: {detail}"


def build(context: BuildContext, *, stream: Callable[[str], None]) -> None:
    """Run ``context.build_command``, handing every output line to ``stream`` as it comes.

    Raises DeployError with the last lines when the command fails or cannot start.
    BuildKit is asked for (``DOCKER_BUILDKIT=1``): the Dockerfiles mount the builder
    stage's wheels instead of copying them into a layer.
    """
    command = list(context.build_command)
    if not command:
        raise DeployError("The build context has no build command.")
    executable = shutil.which(command[0])
    if executable is None:
        raise DeployError(
            f"Cannot build the image: no `{command[0]}` command on PATH.",
            hint=f"Install Docker, or build the context in {context.folder} where Docker "
            f"runs: {_shown(command)}",
        )
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    environment = {**os.environ, "DOCKER_BUILDKIT": "1"}
    try:
        with subprocess.Popen(
            [executable, *command[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=environment,
        ) as process:
            assert process.stdout is not None  # piped above
            for raw in process.stdout:
                line = raw.rstrip("\r\n")
                tail.append(line)
                stream(line)
            code = process.wait()
    except OSError as exc:
        raise DeployError(
            f"Cannot start `{command[0]}`: {exc.strerror or exc}.",
            hint=f"Check the Docker installation, then run: {_shown(command)}",
        ) from exc
    if code != 0:
        raise DeployError(
            f"`{_shown(command[:2])}` failed (exit code {code}). Its last lines:\n"
            + "\n".join(tail),
            hint=_build_hint(list(tail), command),
        )


def _build_hint(tail: list[str], command: list[str]) -> str:
    text = "\n".join(tail)
    if "Cannot connect to the Docker daemon" in text or "permission denied" in text.lower():
        return (
            "Start the Docker engine (or get access to its socket, e.g. the docker group), "
            f"then run: {_shown(command)}"
        )
    if "No matching distribution" in text or "Could not find a version" in text:
        return (
            "pip found no wheel or source for a pinned requirement on the image's Python and "
            "platform: check requirements.txt in the context (the versions the model was "
            "packaged with) against the base image's Python."
        )
    return f"Fix what the last lines say, then run: {_shown(command)}"


def _shown(command: list[str]) -> str:
    import shlex

    return shlex.join(command)


# --- the Shipyard wheel -----------------------------------------------------------------


def shipyard_wheel(folder: Path) -> Path:
    """A wheel of the Shipyard running this code, written into ``folder``.

    Built with ``pip wheel --no-deps`` from the source tree Shipyard was installed from
    (``direct_url.json`` names it: an editable or a local-folder install) or runs from;
    copied when it was installed from a local wheel file; else the installed version is
    downloaded from the package index (``pip download``). DeployError when none works.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = _installed_from()
    if source is not None and source.suffix == ".whl":
        return Path(shutil.copy2(source, folder / source.name))
    if source is not None:
        return _wheel_from_tree(source, folder)
    _pip(
        [
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(folder),
            f"shipyard=={__version__}",
        ],
        what=f"download the Shipyard {__version__} wheel from the package index",
        hint="Check that the index is reachable (pip's configuration applies), or install "
        "Shipyard from its source tree so that the wheel can be built from it.",
    )
    return _the_wheel(folder)


def _installed_from() -> Path | None:
    """The source tree or wheel file Shipyard was installed from, or None for an index
    install. A Shipyard imported from a source tree without being installed counts too."""
    try:
        dist = distribution("shipyard")
    except PackageNotFoundError:
        return _running_tree()
    text = dist.read_text("direct_url.json")
    try:
        document = json.loads(text) if text else {}
    except ValueError:
        document = {}
    url = urlparse(str(document.get("url", "")))
    if url.scheme != "file":
        return None  # an index, a VCS or a remote archive: the index has the release
    path = Path(unquote(url.path))
    from_tree = "dir_info" in document and (path / "pyproject.toml").is_file()
    from_wheel = path.suffix == ".whl" and path.is_file()
    return path if from_tree or from_wheel else None


def _running_tree() -> Path | None:
    root = Path(__file__).resolve().parents[3]  # src/shipyard/deploy/_build.py
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "shipyard"' in pyproject.read_text("utf-8"):
        return root
    return None


def _wheel_from_tree(tree: Path, folder: Path) -> Path:
    key = _tree_key(tree)
    cache = cache_folder()
    cached = cache / "wheels" / key if cache is not None else None
    if cached is not None:
        wheels = sorted(cached.glob("shipyard-*.whl"))
        if len(wheels) == 1:
            return Path(shutil.copy2(wheels[0], folder / wheels[0].name))
    _pip(
        ["wheel", "--no-deps", "--wheel-dir", str(folder), str(tree)],
        what=f"build a wheel of Shipyard from its source tree {tree}",
        hint=f"Check that `{sys.executable} -m pip wheel --no-deps {tree}` works here (it "
        "fetches the build backend, hatchling, from the package index).",
    )
    wheel = _the_wheel(folder)
    if cached is not None:
        try:
            cached.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, cached / wheel.name)
        except OSError:
            pass  # a cache that cannot be written only costs the next build
    return wheel


def _tree_key(tree: Path) -> str:
    """A digest of what goes into the wheel: pyproject.toml, README.md and every file
    under src/, by path, size and modification time."""
    parts = []
    for name in ("pyproject.toml", "README.md"):
        path = tree / name
        if path.is_file():
            parts.append(f"{name}|{hash_bytes(path.read_bytes())}")
    for current, folders, names in os.walk(tree / "src"):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        for name in sorted(names):
            path = Path(current) / name
            stat = path.stat()
            parts.append(f"{path.relative_to(tree).as_posix()}|{stat.st_size}|{stat.st_mtime_ns}")
    return str(hash_bytes("\n".join(parts).encode()))[:32]


def _pip(arguments: list[str], *, what: str, hint: str) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pip", *arguments],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PIP_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise DeployError(f"Cannot {what}: pip could not run ({exc}).", hint=hint) from exc
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()[-TAIL_LINES:]
        raise DeployError(
            f"Cannot {what}: pip exited with {done.returncode}. Its last lines:\n"
            + "\n".join(lines),
            hint=hint,
        )


def _the_wheel(folder: Path) -> Path:
    wheels = sorted(folder.glob("shipyard-*.whl"))
    if len(wheels) != 1:
        raise DeployError(
            f"Expected one Shipyard wheel in {folder}, found {len(wheels)}.",
            hint="Remove the folder's other wheels and write the context again.",
        )
    return wheels[0]
