"""Provenance: where a run came from (git commit and dirty state, Python, packages, user, host),
the kernel each notebook ran in, and what each task's source was.

Gathered once per recorded build and never fatal: a run outside a git repository
is recorded without a commit, a kernel that cannot be asked is recorded with the
reason.

Why kernels: nbprod lists its own packages, but papermill runs each notebook in
the kernel its kernelspec names, and a user-level ``python3`` kernelspec pointing
at another virtualenv is common. So the kernelspec is resolved as papermill
resolved it (jupyter_client's KernelSpecManager, in this process), its
interpreter is asked once per build for its version and distributions (a
subprocess; the answers are kept in the build's session), and a task records
only the packages whose versions differ from nbprod's.

Why source hashes: ``git`` says nothing outside a repository or about uncommitted
edits between two runs of one commit; a hash per task (code cells without
outputs, a script's bytes, a function's definition) makes a code change visible
to ``runs diff`` from the records alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from ..files import sha256_file
from ..vcs import git as _git

def git_info(root: str | os.PathLike) -> dict[str, Any] | None:
    """Commit, branch and dirty state of the repository holding ``root``.

    ``None`` when ``root`` is not in a git work tree (or git is missing): a run
    from an exported folder is still recorded, just without a commit. When the
    tree is dirty, ``diff_sha256`` hashes the diff against HEAD plus the names
    and contents of untracked files, so two runs with the same dirty state can
    be told apart from two with different uncommitted edits.
    """
    root = Path(root)
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    commit = (_git(root, "rev-parse", "HEAD") or "").strip() or None
    branch = (_git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    status = _git(root, "status", "--porcelain", "--untracked-files=all") or ""
    dirty = bool(status.strip())
    diff_sha = None
    if dirty:
        digest = hashlib.sha256((_git(root, "diff", "HEAD", "--binary") or "").encode())
        toplevel = Path(top.strip())
        untracked = _git(toplevel, "ls-files", "--others", "--exclude-standard", "-z") or ""
        for name in sorted(filter(None, untracked.split("\0"))):
            digest.update(name.encode())
            path = toplevel / name
            if path.is_file():
                digest.update(bytes.fromhex(sha256_file(path)))
        diff_sha = digest.hexdigest()
    return {
        "commit": commit,
        "branch": branch,
        "dirty": dirty,
        "diff_sha256": diff_sha,
        "root": top.strip(),
    }


def package_versions() -> dict[str, str]:
    """Every installed distribution and its version, sorted by name."""
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            found.setdefault(name.lower(), dist.version)
    return dict(sorted(found.items()))


def python_info() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
    }




# -- the kernel each notebook ran in ---------------------------------------------------

#: asked of a kernel's interpreter (``python -c``): its version and installed distributions,
#: the way :func:`package_versions` lists the builder's
_PROBE = (
    "import json, platform, sys\n"
    "from importlib import metadata\n"
    "found = {}\n"
    "for dist in metadata.distributions():\n"
    "    name = dist.metadata.get('Name')\n"
    "    if name:\n"
    "        found.setdefault(name.lower(), dist.version)\n"
    "print(json.dumps({'version': platform.python_version(), 'executable': sys.executable,\n"
    "                  'packages': dict(sorted(found.items()))}))\n"
)
PROBE_TIMEOUT_S = 20  # seconds; an interrupted build records at exit and must not hang here


def kernel_name(nb: dict[str, Any] | None) -> str | None:
    """The kernelspec name an (executed) notebook's metadata gives."""
    spec = ((nb or {}).get("metadata") or {}).get("kernelspec") or {}
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else None


def source_kernel_name(source: str | None, root: Path) -> str | None:
    """The kernelspec a source ``.ipynb`` names (``None`` for other sources or unreadable ones)."""
    if not source or not source.endswith(".ipynb"):
        return None
    try:
        return kernel_name(json.loads(_path(source, root).read_bytes()))
    except (OSError, ValueError):
        return None


def kernel_info(name: str, cache: dict[str, dict[str, Any]], builder_packages: dict[str, str]) -> dict[str, Any]:
    """The kernel named ``name`` as this machine resolves it now (papermill resolved it the
    same way, in this process, moments ago): ``{name, display_name, language, executable,
    python, packages, same_env}``, where ``packages`` holds only the distributions whose
    version differs from the builder's (``None``: not installed in the kernel's environment).

    The kernel's interpreter is asked once per distinct executable: ``cache`` (the build's
    :attr:`Session.kernels`) keeps the answers. Never fatal: what could not be found out
    is said in ``error``.
    """
    if name not in cache:
        cache[name] = _resolve_kernel(name)
    info = dict(cache[name])
    executable = info.get("executable")
    if executable and info.get("language") == "python":
        env = info.pop("env", None) or {}
        # one interpreter with the kernelspec's own env (PYTHONPATH...) is one environment
        key = f"exe:{executable}" + (f" env:{json.dumps(env, sort_keys=True)}" if env else "")
        if key not in cache:
            cache[key] = _probe(executable, env)
        probe = cache[key]
        if "error" in probe:
            info.setdefault("error", probe["error"])
        else:
            info["python"] = probe["version"]
            info["packages"] = _differences(builder_packages, probe["packages"]) if not probe.get("builder") else {}
    info.pop("env", None)
    info["same_env"] = bool(info.get("executable") == _builder_executable() and not info.get("packages")
                            and "error" not in info)
    return info


def kernel_warning(kernels: dict[str, dict[str, Any]]) -> str | None:
    """One line naming every kernel (by task) that is not the builder's environment."""
    other = {}
    for task, info in kernels.items():
        if not info.get("same_env"):
            other.setdefault(info.get("name"), (info, []))[1].append(task)
    if not other:
        return None
    parts = []
    for name, (info, tasks) in other.items():
        what = f"kernel '{name}' ({info.get('executable') or 'executable unknown'}"
        what += f", Python {info['python']})" if info.get("python") else ")"
        if info.get("packages"):
            what += f", {len(info['packages'])} package(s) differ"
        if info.get("error"):
            what += f" ({info['error']})"
        parts.append(f"{what} for task(s) {', '.join(tasks)}")
    return (f"nbprod: warning: notebooks ran in another environment than nbprod's "
            f"({_builder_executable()}, Python {platform.python_version()}): "
            + "; ".join(parts) + " (recorded per task under `kernel`)")


def _builder_executable() -> str:
    return os.path.abspath(sys.executable)


def _resolve_kernel(name: str) -> dict[str, Any]:
    import shutil

    info: dict[str, Any] = {"name": name}
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(name)
    except Exception as err:  # NoSuchKernel, a broken kernel.json, no jupyter_client
        info["error"] = f"kernelspec {name!r} not found here: {type(err).__name__}"
        return info
    info.update(display_name=spec.display_name, language=spec.language)
    argv0 = spec.argv[0] if spec.argv else None
    # jupyter_client starts `python`, `python3` or `python3.X` as the builder's own interpreter
    major, minor = sys.version_info[:2]
    if argv0 in ("python", f"python{major}", f"python{major}.{minor}"):
        info["executable"] = _builder_executable()
    elif argv0:
        found = argv0 if os.path.isabs(argv0) else shutil.which(argv0, path=(spec.env or {}).get("PATH"))
        info["executable"] = os.path.abspath(found) if found else argv0
    info["env"] = dict(spec.env or {})
    return info


def _probe(executable: str, env: dict[str, str]) -> dict[str, Any]:
    """What the kernel's interpreter says about itself (the builder's own: no subprocess)."""
    import subprocess

    if executable == _builder_executable() and not env:
        return {"version": platform.python_version(), "packages": {}, "builder": True}
    try:
        done = subprocess.run([executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, env={**os.environ, **env})
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return {"error": f"its interpreter could not be asked (exit {done.returncode}: {last[:200]})"}
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        return {"version": str(answer["version"]), "packages": dict(answer["packages"])}
    except (OSError, ValueError, KeyError, IndexError, subprocess.TimeoutExpired) as err:
        return {"error": f"its interpreter could not be asked ({type(err).__name__})"}


def _differences(builder: dict[str, str], kernel: dict[str, str]) -> dict[str, str | None]:
    return {name: kernel.get(name) for name in sorted(set(builder) | set(kernel))
            if builder.get(name) != kernel.get(name)}


# -- each task's source --------------------------------------------------------------------


def source_digest(kind: str, source: str | None, root: Path) -> tuple[str | None, str | None]:
    """(sha256 of a task's source, the source text when it is a function's).

    A notebook: its code cells (sources only, as a JSON list), without outputs, metadata,
    markdown or a cell tagged ``injected-parameters``, so re-running it or editing prose
    changes nothing; a notebook in a ``.py`` file, a script: the file's bytes; a function
    (``path/to/module.py:LINE``, as the engine locates it): the text of its definition,
    decorators included, which the recorder also stores. ``(None, None)`` when the source
    cannot be read (never fatal).
    """
    if not source:
        return None, None
    try:
        if kind == "function":
            text = _function_text(source, root)
            return (hashlib.sha256(text.encode()).hexdigest(), text) if text is not None else (None, None)
        path = _path(source, root)
        if not path.is_file():
            return None, None
        if path.suffix == ".ipynb":
            return _code_cells_sha256(path.read_bytes()), None
        return sha256_file(path), None
    except (OSError, ValueError, SyntaxError, UnicodeDecodeError):
        return None, None


def _path(text: str, root: Path) -> Path:
    path = Path(text)
    return path if path.is_absolute() else root / path


def _code_cells_sha256(data: bytes) -> str:
    nb = json.loads(data)
    cells = []
    for cell in nb.get("cells") or []:
        if cell.get("cell_type") != "code":
            continue
        if "injected-parameters" in ((cell.get("metadata") or {}).get("tags") or []):
            continue
        source = cell.get("source") or ""
        cells.append("".join(source) if isinstance(source, list) else str(source))
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def _function_text(loc: str, root: Path) -> str | None:
    """The definition starting at ``file.py:LINE`` (its ``def`` or first decorator line)."""
    import ast

    file, sep, line = loc.rpartition(":")
    if not sep or not line.isdigit():
        return None
    path = _path(file, root)
    text = path.read_text(encoding="utf-8")
    wanted = int(line)
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if wanted in (first, node.lineno):
                return "\n".join(text.splitlines()[first - 1 : node.end_lineno]) + "\n"
    return None
