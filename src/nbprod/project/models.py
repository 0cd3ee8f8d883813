"""``nbprod.yaml``'s ``models:`` section: each model's products and its gates, validated by line.

Why its own module: the gate syntax (``accuracy >= 0.9``, ``f1_macro: {vs: production,
margin: 0.01}``) has rules of its own; :mod:`nbprod.models.gates` decides them, this
module only says what a well-formed declaration is.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ConfigError

MODEL_KEYS = ("name", "task", "model", "card", "schema", "evaluation", "gates", "on_tie", "approval",
              "confidence", "resamples", "seed")
RULE_KEYS = ("vs", "margin", "test")
TESTS = ("non_inferiority", "superiority")
ON_TIE = ("keep", "promote")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_ABSOLUTE = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(>=|<=|>|<)\s*(\S+)\s*")
_HELP_MODELS = "see README.md, 'Models'"


@dataclass(frozen=True)
class GateRule:
    """One gate: absolute (``accuracy >= 0.9``: ``op`` and ``value``) or against an alias on the
    same rows (``f1_macro: {vs: production, margin: 0.01}``: ``vs``, ``margin``, ``test``)."""

    metric: str
    op: str | None = None
    value: float | None = None
    vs: str | None = None
    margin: float = 0.0
    test: str = "non_inferiority"

    @property
    def differential(self) -> bool:
        return self.vs is not None

    def text(self) -> str:
        """The rule as nbprod.yaml writes it (what a report and an error name)."""
        if not self.differential:
            return f"{self.metric} {self.op} {self.value:g}"
        if self.test == "superiority":
            return f"{self.metric} better than {self.vs}"
        return f"{self.metric} at most {self.margin:g} worse than {self.vs}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}


@dataclass(frozen=True)
class ModelSpec:
    """One ``models:`` entry: the products of ``task`` that make the model, and its gates."""

    name: str
    task: str
    model: str
    card: str | None = None
    schema: str | None = None
    evaluation: str | None = None  # TASK.PRODUCT holding the paired predictions
    gates: tuple[GateRule, ...] = ()
    on_tie: str = "keep"
    approval: bool = False
    confidence: float = 0.95  # of the paired intervals
    resamples: int = 2000  # bootstrap resamples
    seed: int = 0  # of the bootstrap

    def products(self) -> dict[str, str]:
        """role (model, card, schema) -> the task's product key."""
        return {role: key for role, key in (("model", self.model), ("card", self.card), ("schema", self.schema))
                if key}

    def evaluation_product(self) -> tuple[str, str] | None:
        if not self.evaluation:
            return None
        task, _, key = self.evaluation.partition(".")
        return task, key

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gates"] = [rule.to_dict() for rule in self.gates]
        return data


def parse_models(items: Any, node, where) -> tuple[ModelSpec, ...]:
    """The ``models:`` list; a bad entry, key, rule or value names its line."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ConfigError(f"{where(node)}: `models` must be a list of {{name, task, model}} entries, "
                          f"got {type(items).__name__}", hint=_HELP_MODELS)
    specs, seen = [], set()
    for number, (item, item_node) in enumerate(zip(items, node.value), 1):
        at = f"{where(item_node)}: models entry {number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{at} must be a mapping", hint="e.g. `- {name: penguins, task: train, model: model}`")
        keys = {str(k.value): (k, v) for k, v in item_node.value}
        unknown = [k for k in item if k not in MODEL_KEYS]
        if unknown:
            raise ConfigError(f"{where(keys[str(unknown[0])][0])}: models entry {number} has unknown key "
                              f"{str(unknown[0])!r}", hint=f"allowed: {', '.join(MODEL_KEYS)}")
        for key in ("name", "task", "model"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ConfigError(f"{at} needs `{key}`", hint="e.g. `- {name: penguins, task: train, model: model}`")
        name = item["name"]
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where(keys['name'][1])}: model name {name!r} is not a name",
                              hint="use lower-case letters, digits and . _ - (up to 64, starting with a letter or digit)")
        if name in seen:
            raise ConfigError(f"{at}: model {name} is declared twice", hint="keep one entry per model")
        seen.add(name)
        for key in ("card", "schema", "evaluation"):
            if key in item and (not isinstance(item[key], str) or not item[key].strip()):
                raise ConfigError(f"{where(keys[key][1])}: models.{name}.{key} must be a product name",
                                  hint="e.g. `card: card`")
        if "evaluation" in item and "." not in item["evaluation"].strip(".")[1:]:
            raise ConfigError(f"{where(keys['evaluation'][1])}: models.{name}.evaluation is {item['evaluation']!r}",
                              hint="name the task and its product: `evaluation: evaluate.predictions`")
        on_tie = item.get("on_tie", "keep")
        if on_tie not in ON_TIE:
            raise ConfigError(f"{where(keys['on_tie'][1])}: models.{name}.on_tie is {on_tie!r}",
                              hint="use keep (production stays when the gate cannot tell) or promote")
        if not isinstance(item.get("approval", False), bool):
            raise ConfigError(f"{where(keys['approval'][1])}: models.{name}.approval is {item['approval']!r}",
                              hint="use true or false")
        confidence = item.get("confidence", 0.95)
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.5 <= confidence < 1:
            raise ConfigError(f"{where(keys['confidence'][1])}: models.{name}.confidence is {confidence!r}",
                              hint="use a level between 0.5 and 1, e.g. 0.95")
        numbers = {}
        for key, low in (("resamples", 100), ("seed", 0)):
            value = item.get(key, ModelSpec.resamples if key == "resamples" else ModelSpec.seed)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{where(keys[key][1])}: models.{name}.{key} is {value!r}",
                                  hint=f"use a whole number >= {low}")
            numbers[key] = value
        gates = _gates(item.get("gates"), keys["gates"][1] if "gates" in keys else item_node, where, name)
        specs.append(ModelSpec(name=name, task=item["task"], model=item["model"], card=item.get("card"),
                               schema=item.get("schema"), evaluation=item.get("evaluation"), gates=gates,
                               on_tie=on_tie, approval=bool(item.get("approval", False)),
                               confidence=float(confidence), **numbers))
    return tuple(specs)


def _gates(items: Any, node, where, model: str) -> tuple[GateRule, ...]:
    """``gates:``: ``- accuracy >= 0.9`` or ``- f1_macro: {vs: production, margin: 0.01}``."""
    if items is None:
        return ()
    example = "e.g. `- accuracy >= 0.9` or `- f1_macro: {vs: production, margin: 0.01}`"
    if not isinstance(items, list):
        raise ConfigError(f"{where(node)}: models.{model}.gates must be a list of rules", hint=example)
    rules = []
    for item, item_node in zip(items, node.value):
        at = f"{where(item_node)}: models.{model} gate"
        if isinstance(item, str):
            found = _ABSOLUTE.fullmatch(item)
            try:
                value = float(found.group(3)) if found else None
            except ValueError:
                value = None
            if value is None or not math.isfinite(value):
                raise ConfigError(f"{at} {item!r} is not a rule", hint=example)
            rules.append(GateRule(metric=found.group(1), op=found.group(2), value=value))
            continue
        if not isinstance(item, dict) or len(item) != 1 or not isinstance(next(iter(item.values())), dict):
            raise ConfigError(f"{at} {item!r} is not a rule", hint=example)
        metric, options = next(iter(item.items()))
        unknown = [k for k in options if k not in RULE_KEYS]
        if unknown:
            raise ConfigError(f"{at} {metric} has unknown key {str(unknown[0])!r}", hint=f"allowed: {', '.join(RULE_KEYS)}")
        vs = options.get("vs")
        if vs != "production":  # the predictions file scores the candidate and production only
            raise ConfigError(f"{at} {metric} has vs {vs!r}", hint="use `vs: production` (the model the "
                              "evaluation step scored beside the candidate)")
        test = options.get("test", "non_inferiority")
        if test not in TESTS:
            raise ConfigError(f"{at} {metric} has test {test!r}", hint="use non_inferiority (with a margin) or superiority")
        margin = options.get("margin", 0.0)
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or margin < 0:
            raise ConfigError(f"{at} {metric} has margin {margin!r}", hint="use a number >= 0, in the metric's units")
        if test == "superiority" and margin:
            raise ConfigError(f"{at} {metric}: a superiority test takes no margin", hint="remove `margin` or use non_inferiority")
        rules.append(GateRule(metric=str(metric), vs=vs, margin=float(margin), test=test))
    return tuple(rules)
