"""The workflow configuration as data: read, check, complete (before any job runs).

    cfg = load_config("config/config.yaml")      # or a dict (e.g. Snakemake's `config`)

Two layers, both raising `ConfigError` whose message starts with the offending key
path (`experiments.capacity.budgets[0]: ...`):

1. the JSON-Schema (rnncap.plan.schema): types, unknown keys, enums, minimums, and
   the defaults, which it alone declares and fills, once, here;
2. the semantic checks that need the library (rnncap.plan.checks).

Importable without Snakemake: the CLI, the tests and `workflow/rules/common.smk` use it.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from .checks import check
from .schema import ConfigError, apply_schema, key_path


def _unshared_copy(o: Any) -> Any:
    """Deep copy without aliasing: YAML anchors (`search: *tiny`) share one dict between
    experiments, and filling defaults or options into one must not change the others."""
    if isinstance(o, Mapping):
        return {k: _unshared_copy(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_unshared_copy(v) for v in o]
    return copy.deepcopy(o)


def validate_config(cfg: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> dict:
    """A checked, defaults-filled deep copy of `cfg`; ConfigError naming the key otherwise.

    base_dir: where relative paths (text8.path) are resolved; default the working directory.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"<config>: expected a mapping, got {type(cfg).__name__}")
    cfg = apply_schema(_unshared_copy(cfg))
    check(cfg, Path(base_dir) if base_dir is not None else Path.cwd())
    return cfg


def load_config(path_or_dict: str | os.PathLike | Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> dict:
    """Read a YAML file (or take a dict) and return `validate_config` of it."""
    if isinstance(path_or_dict, Mapping):
        return validate_config(path_or_dict, base_dir)
    p = Path(path_or_dict)
    if not p.is_file():
        raise ConfigError(f"<config>: {p} not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"<config>: {p} is not valid YAML: {e}") from None
    return validate_config(data if data is not None else {}, base_dir)


__all__ = ["ConfigError", "key_path", "load_config", "validate_config"]
