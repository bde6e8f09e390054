"""The package surface: what it exports, and that importing it stays cheap."""

from __future__ import annotations

from tests.imports import modules_loaded_by

import shipyard.config


def test_public_api():
    assert shipyard.config.__all__ == [
        "ConfigLoader",
        "Credentials",
        "apply_params_overrides",
        "flatten_params",
        "parse_params_overrides",
    ]


def test_import_does_not_load_yaml_or_omegaconf():
    assert modules_loaded_by("import shipyard.config", {"yaml", "omegaconf"}) == []


def test_resolving_registers_no_deprecated_resolver_api(write, loader, recwarn):
    write("base/parameters.yml", "a: 1\nb: ${a}\n")
    assert loader().parameters == {"a": 1, "b": 1}
    assert not [warning for warning in recwarn if "resolver" in str(warning.message)]
