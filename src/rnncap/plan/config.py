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


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the
    last silently, so a preset with a repeated experiment would lose the first unseen)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (lines {seen[key]} and {line})", key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | os.PathLike) -> Any:
    """A YAML file's content; ConfigError naming the file and line of a syntax error or repeated key."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"<config>: {p} not found")
    try:
        return yaml.load(p.read_text(), Loader=_StrictLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{p}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(p)
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"<config>: {where}: {what}") from None


def load_config(path_or_dict: str | os.PathLike | Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> dict:
    """Read a YAML file (or take a dict) and return `validate_config` of it."""
    if isinstance(path_or_dict, Mapping):
        return validate_config(path_or_dict, base_dir)
    data = read_yaml(path_or_dict)
    return validate_config(data if data is not None else {}, base_dir)


__all__ = ["ConfigError", "key_path", "load_config", "read_yaml", "validate_config"]
