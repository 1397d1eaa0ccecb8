"""Scenario files: tasks as data.

A scenario YAML file names its DUs' tasks. Each task is a *partial override* of the paper-default
task (:func:`e2sim.config.default_task`), deep-merged, so a file only says what differs::

    name: stadium
    n_du: 7
    tasks:
      default: {}
      stadium:
        embb: {n_ues: 20, rate_mbps: [6, 10], placement: {kind: hotspot, radius_m: 80}}
    assignment: {default: default, dus: {0: stadium}}
    radio: {fading: scheduled}
    events:
      - {at_ms: 5000, kind: traffic_scale, dus: all, factor: 1.5}

A task may start from a named task of the bundled library (``e2sim/tasks/library.yaml``:
stadium, conference, airport, residential, industrial, dense-urban, large-scale) with
``base: NAME``; its own fields then override the library's.

``assignment`` is either a list with one task name per DU, or ``{default: NAME, dus: {i: NAME}}``.
Scenarios are loaded by path or by the name of a bundled file (``metahrl sim --scenario paper``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from e2sim.config import ScenarioConfig, default_task
from e2sim.yamlfile import bundled_names, format_validation_error, read_named_yaml

__all__ = ["ScenarioError", "bundled_scenarios", "load_scenario", "scenario_from_dict", "task_library"]


class ScenarioError(ValueError):
    """A scenario file could not be loaded; the message names the file, the field and the reason."""


def bundled_scenarios() -> list[str]:
    """Names of the scenario files shipped in ``e2sim/scenarios/``."""
    return bundled_names("e2sim", "scenarios")


def task_library() -> dict[str, dict[str, Any]]:
    """The bundled named tasks (partial overrides of the paper-default task)."""
    text = (resources.files("e2sim") / "tasks" / "library.yaml").read_text(encoding="utf-8")
    lib = yaml.safe_load(text)
    return {str(k): dict(v or {}) for k, v in lib.items()}


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _expand_assignment(raw: Any, n_du: int, source: str) -> list[str]:
    if isinstance(raw, list):
        return [str(x) for x in raw]
    if isinstance(raw, Mapping):
        extra = set(raw) - {"default", "dus"}
        if extra or "default" not in raw:
            raise ScenarioError(
                f"{source}: field 'assignment': expected a list of task names or "
                f"{{default: NAME, dus: {{index: NAME}}}}, got keys {sorted(map(str, raw))}"
            )
        out = [str(raw["default"])] * n_du
        for key, name in (raw.get("dus") or {}).items():
            try:
                du = int(key)
            except (TypeError, ValueError):
                raise ScenarioError(
                    f"{source}: field 'assignment.dus': key {key!r} is not a DU index"
                ) from None
            if not 0 <= du < n_du:
                raise ScenarioError(f"{source}: field 'assignment.dus': DU {du} is outside 0..{n_du - 1}")
            out[du] = str(name)
        return out
    raise ScenarioError(
        f"{source}: field 'assignment': expected a list or a mapping, got {type(raw).__name__}"
    )


def scenario_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> ScenarioConfig:
    """Build and validate a scenario from parsed YAML (tasks deep-merged over the paper default)."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    data = dict(data)
    base = default_task().model_dump()
    tasks_raw = data.get("tasks") or {"default": {}}
    if not isinstance(tasks_raw, Mapping):
        raise ScenarioError(f"{source}: field 'tasks': expected a mapping of task name → overrides")
    tasks: dict[str, Any] = {}
    for name, override in tasks_raw.items():
        if override is None:
            override = {}
        if not isinstance(override, Mapping):
            raise ScenarioError(f"{source}: field 'tasks.{name}': expected a mapping of overrides")
        override = dict(override)
        start = base
        if "base" in override:
            lib = task_library()
            ref = str(override.pop("base"))
            if ref not in lib:
                raise ScenarioError(
                    f"{source}: field 'tasks.{name}.base': unknown library task {ref!r}; known: {sorted(lib)}"
                )
            start = _deep_merge(base, lib[ref])
        merged = _deep_merge(start, override)
        if "name" not in override:
            merged["name"] = str(name)
        tasks[str(name)] = merged
    data["tasks"] = tasks
    n_du = data.get("n_du", 7)
    if not isinstance(n_du, int) or isinstance(n_du, bool):
        raise ScenarioError(f"{source}: field 'n_du': expected an integer, got {n_du!r}")
    data["assignment"] = _expand_assignment(
        data.get("assignment", {"default": next(iter(tasks))}), n_du, source
    )
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(format_validation_error(err, source)) from None


def load_scenario(name_or_path: str | Path) -> ScenarioConfig:
    """Load a scenario by file path, or by the name of a bundled scenario (see :func:`bundled_scenarios`)."""
    data, source = read_named_yaml(name_or_path, "e2sim", "scenarios", "scenario", ScenarioError)
    return scenario_from_dict(data, source)
