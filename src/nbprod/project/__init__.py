"""``nbprod.yaml``: the project's configuration, one schema with sections, validated.

Why one schema: later features (models, drift, CI, schedules) each add a
section, and a typo must never be silently ignored. Every key is checked when
the file is read: an unknown section or key, a wrong type or value is a
one-line :class:`~nbprod.errors.ConfigError` naming the file and the line,
e.g. ``nbprod.yaml line 4: metrics entry 1 (accuracy) has unknown keys
['direction']: allowed: name, goal, headline, tolerance``.

Sections (each optional)::

    metrics:                  # the scraps worth comparing, and which way is better
      - name: accuracy
        goal: max             # max: higher is better; min: lower is better
        headline: true        # shown in `runs ls`, the report's index and charts
        tolerance: 0.001      # changes smaller than this are "unchanged"
    inputs:                   # input data files kept in the store, so `nbprod reproduce` can restore them
      store: true             # default true
      max_mb: 200             # files larger than this are only hashed (default 50)
    models:                   # the model registry (nbprod.models): what makes each model, its gates
      - name: penguins
        task: train           # the task whose products make the model
        model: model          # its product holding the serialized model (joblib or pickle)
        card: card            # optional: the model card (JSON)
        schema: schema        # optional: the input schema (JSON)
        evaluation: evaluate.predictions   # optional TASK.PRODUCT: paired predictions (nbprod.write_predictions)
        gates:
          - accuracy >= 0.9                # absolute, on the candidate's own evaluation
          - f1_macro: {vs: production, margin: 0.01}      # non-inferiority against production
          - accuracy: {vs: production, test: superiority}
        on_tie: keep          # keep (production stays) | promote
        approval: false       # true: a version needs `nbprod models approve` before promotion

The recorder copies the metric declarations into every run record
(``RunRecord.metrics_spec``), so ``runs diff`` and reports work from the store
alone, and an old run keeps the meaning it was recorded with.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError
from .models import GateRule, ModelSpec, parse_models

__all__ = ["FILENAME", "GateRule", "InputsSpec", "MetricSpec", "ModelSpec", "Project", "load", "parse"]

FILENAME = "nbprod.yaml"
GOALS = ("max", "min")
METRIC_KEYS = ("name", "goal", "headline", "tolerance")
INPUT_KEYS = ("store", "max_mb")
_HELP = "see README.md, 'Comparing runs'"


@dataclass(frozen=True)
class MetricSpec:
    """One declared metric."""

    name: str
    goal: str = "max"
    headline: bool = False
    tolerance: float = 0.0

    def verdict(self, old: Any, new: Any) -> str:
        """``improved``, ``regressed`` or ``unchanged`` (within ``tolerance``)."""
        delta = float(new) - float(old)
        if abs(delta) <= self.tolerance:
            return "unchanged"
        better = delta > 0 if self.goal == "max" else delta < 0
        return "improved" if better else "regressed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InputsSpec:
    """``inputs:``: whether a run keeps its input files in the store (by content), up to which size."""

    store: bool = True
    max_mb: float = 50.0

    def keeps(self, size: int) -> bool:
        return self.store and size <= self.max_mb * 1024 * 1024


@dataclass(frozen=True)
class Project:
    """A project's validated ``nbprod.yaml`` (every section empty when there is none)."""

    root: Path
    source: Path | None = None
    metrics: tuple[MetricSpec, ...] = field(default_factory=tuple)
    inputs: InputsSpec = field(default_factory=InputsSpec)
    models: tuple[ModelSpec, ...] = field(default_factory=tuple)

    def model(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if m.name == name), None)


def load(root: str | os.PathLike) -> Project:
    """The project at ``root``: ``<root>/nbprod.yaml`` validated; defaults when there is no file."""
    root = Path(root)
    path = root / FILENAME
    if not path.is_file():
        return Project(root=root)
    return parse(path.read_text(encoding="utf-8"), source=str(path), root=root)


def parse(text: str, *, source: str = FILENAME, root: str | os.PathLike = ".") -> Project:
    """Validate the text of an ``nbprod.yaml``."""
    import yaml

    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{source} is not valid YAML{at}", hint="fix the file or remove it") from None
    if data is None:
        return Project(root=Path(root), source=Path(source))
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of sections (metrics: ...)", hint=_HELP)
    where = _Lines(source)
    _no_duplicate_keys(node, where)
    sections: dict[str, Any] = {}
    for key_node, value_node in node.value:
        name = key_node.value
        if name not in SECTIONS:
            raise ConfigError(f"{where(key_node)}: unknown section {name!r}",
                              hint=f"known sections: {', '.join(SECTIONS)}")
        sections[name] = SECTIONS[name](data[name], value_node, where)
    return Project(root=Path(root), source=Path(source), **sections)


def _no_duplicate_keys(node, where: "_Lines") -> None:
    """YAML keeps the last of two equal keys silently; here a repeated key is an error."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.value in seen:
                raise ConfigError(f"{where(key_node)}: {key_node.value!r} appears twice "
                                  f"(first at line {seen[key_node.value].start_mark.line + 1})",
                                  hint="keep one")
            seen[key_node.value] = key_node
            _no_duplicate_keys(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_duplicate_keys(item, where)


class _Lines:
    """``nbprod.yaml line N`` for a YAML node (what a one-line error names)."""

    def __init__(self, source: str):
        self.source = source

    def __call__(self, node) -> str:
        return f"{self.source} line {node.start_mark.line + 1}"


def _metrics(items: Any, node, where: _Lines) -> tuple[MetricSpec, ...]:
    """The ``metrics:`` list; a bad entry is a one-line ConfigError naming its line."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ConfigError(f"{where(node)}: `metrics` must be a list of {{name, goal}} entries, "
                          f"got {type(items).__name__}", hint=_HELP)
    specs, seen = [], set()
    for number, (item, item_node) in enumerate(zip(items, node.value), 1):
        at = f"{where(item_node)}: metrics entry {number}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise ConfigError(f"{at} needs a `name`", hint="e.g. `- {name: accuracy, goal: max}`")
        unknown = [k for k in item if k not in METRIC_KEYS]
        if unknown:
            key_node = next((k for k, _ in item_node.value if str(k.value) == str(unknown[0])), item_node)
            raise ConfigError(f"{where(key_node)}: metrics entry {number} ({item['name']}) has unknown keys "
                              f"{sorted(map(str, unknown))}", hint=f"allowed: {', '.join(METRIC_KEYS)}")
        goal = str(item.get("goal", "max")).lower()
        if goal not in GOALS:
            raise ConfigError(f"{at} ({item['name']}) has goal {item.get('goal')!r}",
                              hint="use `max` (higher is better) or `min` (lower is better)")
        if not isinstance(item.get("headline", False), bool):
            raise ConfigError(f"{at} ({item['name']}) has headline {item['headline']!r}", hint="use true or false")
        tolerance = item.get("tolerance", 0.0)
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
            raise ConfigError(f"{at} ({item['name']}) has tolerance {tolerance!r}", hint="use a number >= 0")
        if item["name"] in seen:
            raise ConfigError(f"{at}: {item['name']} is declared twice", hint="keep one entry per metric")
        seen.add(item["name"])
        specs.append(MetricSpec(item["name"], goal, bool(item.get("headline", False)), float(tolerance)))
    return tuple(specs)


def _inputs(value: Any, node, where: _Lines) -> InputsSpec:
    """The ``inputs:`` mapping (``store: bool``, ``max_mb: number``); a bad key or value names its line."""
    if value is None:
        return InputsSpec()
    if not isinstance(value, dict):
        raise ConfigError(f"{where(node)}: `inputs` must be a mapping such as {{store: true, max_mb: 200}}, "
                          f"got {type(value).__name__}", hint=_HELP_INPUTS)
    nodes = {str(k.value): (k, v) for k, v in node.value}
    for key in value:
        if key not in INPUT_KEYS:
            raise ConfigError(f"{where(nodes[str(key)][0])}: inputs has unknown key {str(key)!r}",
                              hint=f"allowed: {', '.join(INPUT_KEYS)}")
    store = value.get("store", True)
    if not isinstance(store, bool):
        raise ConfigError(f"{where(nodes['store'][1])}: inputs.store is {store!r}", hint="use true or false")
    max_mb = value.get("max_mb", InputsSpec.max_mb)
    if isinstance(max_mb, bool) or not isinstance(max_mb, (int, float)) or max_mb < 0:
        raise ConfigError(f"{where(nodes['max_mb'][1])}: inputs.max_mb is {max_mb!r}",
                          hint="use a number of megabytes >= 0")
    return InputsSpec(store=store, max_mb=float(max_mb))


_HELP_INPUTS = "see README.md, 'Reproducing a run'"


#: section name -> validator(value, yaml node, line namer); later issues add drift, ci, schedule
SECTIONS: dict[str, Callable[..., Any]] = {"metrics": _metrics, "inputs": _inputs, "models": parse_models}
