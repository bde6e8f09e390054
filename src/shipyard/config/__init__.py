"""Layered YAML configuration: ``conf/base`` first, then ``conf/<env>`` merged over it.

The public API is exactly ``__all__``::

    from shipyard.config import ConfigLoader, parse_params_overrides

    loader = ConfigLoader(Path("conf"), env="local",
                          runtime_params=parse_params_overrides("model.C=0.5"))
    loader.catalog                    # catalog entries, "${...}" resolved
    loader.parameters["model"]["C"]   # 0.5
    loader.credentials                # Credentials(db=***): values never print

PyYAML and OmegaConf are imported when a file is first read, not on import.
See docs/config.md for the file layout, interpolation and the errors you can hit.
"""

from __future__ import annotations

from shipyard.config._credentials import Credentials
from shipyard.config._loader import ConfigLoader
from shipyard.config._params import (
    apply_params_overrides,
    flatten_params,
    parse_params_overrides,
)

__all__ = [
    "ConfigLoader",
    "Credentials",
    "apply_params_overrides",
    "flatten_params",
    "parse_params_overrides",
]
