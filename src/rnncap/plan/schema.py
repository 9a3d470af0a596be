"""The configuration's shape: workflow/schemas/config.schema.yaml, the one home of its defaults.

`apply_schema` checks types, unknown keys, enums and minimums and fills the defaults the
schema declares, in one pass; every error is a `ConfigError` whose message starts with
the key path of the offending value (`experiments.capacity.budgets[0]: ...`). The lowest
layer of rnncap.plan: the semantic checks and the job table raise the same error.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A bad configuration; the message starts with the key path of the offending value."""


def key_path(parts: Any) -> str:
    """('experiments', 'x', 'budgets', 0) -> 'experiments.x.budgets[0]'."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<config>"


def load_schema() -> dict:
    if not SCHEMA_PATH.is_file():
        raise ConfigError(f"<schema>: {SCHEMA_PATH} not found (rnncap must run from its repository checkout)")
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    # the names of cells and tasks have one home each, the library: a new cell or task is valid
    # config the moment its CellSpec or task module exists
    from ..model.cells import CELLS
    from ..tasks import TASKS

    schema["$defs"]["cell"]["enum"] = list(CELLS)
    schema["$defs"]["task"]["enum"] = list(TASKS)
    return schema


def _filling_validator(schema: dict) -> Any:
    """A Draft 2020-12 validator that also writes each absent property's `default`: plain
    JSON-Schema only checks, and the defaults must live in the schema alone."""
    props = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, sch):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from props(validator, properties, instance, sch)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)


def _message(err: Any) -> str:
    """A jsonschema error as `key.path: what is wrong`."""
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        if extra:
            hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
            return f"{key_path(path + [extra[0]])}: unknown key{hint}"
    if err.validator == "propertyNames":
        return f"{key_path(path)}: bad name {err.instance!r} (letters, digits, '_', '.', '-'; no '/')"
    if err.validator == "oneOf" and path and path[0] == "roles":
        return f"{key_path(path)}: expected an experiment name or a list of names, got {err.instance!r}"
    return f"{key_path(path)}: {err.message}"


def apply_schema(cfg: dict) -> dict:
    """Validate `cfg` against the schema, filling its defaults in place."""
    err = best_match(_filling_validator(load_schema()).iter_errors(cfg))
    if err is not None:
        raise ConfigError(_message(err))
    return cfg
