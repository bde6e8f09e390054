"""What importing or running a piece of Shipyard costs in modules, seen in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable


def modules_loaded_by(code: str, modules: Iterable[str]) -> list[str]:
    """Which of ``modules`` are in ``sys.modules`` after ``code`` runs in a new
    interpreter (this test process has imported everything already), sorted."""
    script = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(set({sorted(modules)!r}) & set(sys.modules))))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
