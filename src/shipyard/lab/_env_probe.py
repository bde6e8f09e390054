"""What an interpreter has installed: run in-process, or as a script by another interpreter.

``shipyard env export --python PATH`` and ``env check --python PATH`` must read the
packages of an interpreter that is not the one running Shipyard (and that may not have
Shipyard installed). This module is that reader: it imports nothing but the standard
library, so its source can be handed to any Python >= 3.8 as ``python -c SOURCE``, and
prints one JSON document. In the running interpreter, :func:`probe` is called directly.

For each distribution it reports the version and, from PEP 610's ``direct_url.json``,
whether it was installed from a local folder (editable or not): such a package cannot
be pinned as ``name==version``, because no index has that build of it.
"""

from __future__ import annotations

import json
import platform
import sys


def probe() -> dict:
    """The interpreter's version, platform, prefix and packages (first on sys.path wins,
    as import does): ``{"packages": {name: {"version": ..., "local": url-or-None,
    "editable": bool}}, ...}``."""
    from importlib.metadata import distributions

    packages: dict = {}
    for dist in distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if not name or name in packages:
            continue
        local, editable = _local_origin(dist)
        packages[name] = {"version": dist.version, "local": local, "editable": editable}
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "packages": dict(sorted(packages.items(), key=lambda item: item[0].lower())),
    }


def _local_origin(dist) -> tuple:  # dist: an importlib.metadata.Distribution
    """(url, editable) when ``dist`` was installed from a local folder, else (None, False).

    A wheel or archive from an index or a URL is reproducible by name and version, so only
    ``dir_info`` (a folder: ``pip install ./x`` or ``pip install -e ./x``) counts."""
    try:
        text = dist.read_text("direct_url.json")
    except OSError:
        return None, False
    if not text:
        return None, False
    try:
        document = json.loads(text)
    except ValueError:
        return None, False
    if not isinstance(document, dict) or "dir_info" not in document:
        return None, False
    editable = bool((document.get("dir_info") or {}).get("editable", False))
    return str(document.get("url", "")), editable


if __name__ == "__main__":
    # Run as ``python -c SOURCE``: the current folder (sys.path[0] == "") is not part of
    # the interpreter's environment, and a *.dist-info folder in it must not count.
    if sys.path and sys.path[0] == "":
        del sys.path[0]
    sys.stdout.write(json.dumps(probe(), ensure_ascii=True))
