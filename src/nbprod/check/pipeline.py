"""The project's spec files: the pipeline renders, its kernels exist, env and nbprod.yaml are valid.

Why without a kernel: whether pipeline.yaml renders (unknown keys, a cycle, a
missing source, two tasks writing one product) is ploomber's answer, asked by
:func:`nbprod.engine.inspect.inspect_pipeline`, which starts nothing. Whether
a task's kernel exists is jupyter_client's (the kernelspecs installed on this
machine), asked once for every task, so a pipeline with two notebooks on a
missing kernel names both. ``env*.yaml`` must be YAML mappings (ploomber reads
them as the parameters' defaults); ``nbprod.yaml`` is validated by
:mod:`nbprod.project`, the same reader the build uses, and keeps its line.
Every YAML file is also searched for credentials (:mod:`nbprod.check.secrets`).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..engine.inspect import PipelineInfo
from .documents import shown
from .problems import ERROR, Problem
from .secrets import check_text

CHECK = "pipeline"


def spec_problems(pipeline: PipelineInfo) -> list[Problem]:
    """Why the pipeline does not render, and the kernels its tasks need that are not installed."""
    path = shown(pipeline.entry_point)
    problems = [Problem(path, ERROR, CHECK, p.message, line=p.line) for p in pipeline.problems]
    wanted = {task.kernelspec for task in pipeline.tasks if task.kernelspec}
    if not wanted:
        return problems
    installed = _installed_kernels()
    for task in pipeline.tasks:
        if task.kernelspec and task.kernelspec not in installed:
            problems.append(Problem(shown(task.source), ERROR, CHECK,
                                    f"kernelspec {task.kernelspec!r} (task {task.name!r}) is not installed on "
                                    f"this machine (installed: {', '.join(sorted(installed)) or 'none'}): "
                                    "install it, or pick an installed kernel in the notebook"))
    return problems


def _installed_kernels() -> set[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return set(KernelSpecManager().find_kernel_specs())


def yaml_problems(path: Path, *, spec: bool = False) -> list[Problem]:
    """A YAML file of the project: parses (env files: as a mapping; nbprod.yaml: as nbprod reads
    it) and holds no credential. The pipeline's own ``spec`` is only searched for credentials:
    :func:`spec_problems` says why it does not load."""
    import yaml

    name = shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return [Problem(name, ERROR, "yaml", f"cannot be read ({err})")]
    problems = check_text(name, text)
    if spec:
        return problems
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return [Problem(name, ERROR, "yaml", f"not valid YAML: {getattr(err, 'problem', None) or err}",
                        line=mark.line + 1 if mark else None), *problems]
    if path.name.startswith("env") and data is not None and not isinstance(data, dict):
        problems.insert(0, Problem(name, ERROR, "yaml", "must be a mapping of parameter names to their defaults, "
                                   f"not a {type(data).__name__}"))
    if path.name == "nbprod.yaml":
        problems[:0] = _project_problems(name, text)
    return problems


def _project_problems(name: str, text: str) -> list[Problem]:
    from .. import project
    from ..errors import ConfigError

    try:
        project.parse(text, source=name)
    except ConfigError as err:
        message = str(err)
        at = re.match(rf"{re.escape(name)} line (\d+): (.*)$", message)
        if at:
            return [Problem(name, ERROR, "yaml", at.group(2), line=int(at.group(1)))]
        line = re.search(r"\(line (\d+)\)", message)
        return [Problem(name, ERROR, "yaml", message.removeprefix(f"{name} ").removeprefix(f"{name}: "),
                        line=int(line.group(1)) if line else None)]
    return []
