"""``nbprod.load_model("penguins@production")``: a registered model, its card and schema, verified.

Why through the registry: the reference names what a version *is* (its products by
sha256), so the bytes loaded are checked against that hash, from the store or from
the local cache (``NBPROD_CACHE``, by sha256: a second load downloads nothing); a
corrupt object is refused (moved to ``quarantine/`` in the store), never deserialized.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelNotFoundError
from . import registry

PICKLES = (".joblib", ".pkl", ".pickle", ".jbl")


@dataclass
class LoadedModel:
    """A model version as loaded: the deserialized model, its card and schema (dicts), its files."""

    name: str
    version: int
    model: Any
    card: dict[str, Any] | None
    schema: dict[str, Any] | None
    manifest: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    alias: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    def __repr__(self) -> str:
        via = f" ({self.alias})" if self.alias else ""
        return f"LoadedModel({self.ref!r}{via}, run={self.manifest.get('run_id')!r})"


def load_model(ref: str, *, store, cache: str | Path, missing_ok: bool = False, raw: bool = False) -> LoadedModel | None:
    """The model ``ref`` names (``NAME``, ``NAME@ALIAS``, ``NAME:VERSION``).

    ``missing_ok``: None instead of an error when the model, or the alias, has nothing yet
    (an evaluation step that compares with production before there is one). ``raw``: the files
    only (``model`` is None), for a model format nbprod does not deserialize."""
    name, alias, number = registry.parse_ref(ref)
    try:
        found = registry.known(store, name)
        number = found.resolve(ref) if number is None else found.version(number)["version"]
    except ModelNotFoundError:
        if missing_ok and number is None:
            return None
        raise
    manifest = found.version(number)
    files = {role: fetch(store, entry, Path(cache)) for role, entry in manifest["products"].items()}
    return LoadedModel(name=name, version=number, model=None if raw else deserialize(files["model"]),
                       card=_json(files.get("card")), schema=_json(files.get("schema")), manifest=manifest,
                       files=files, alias=alias or (None if ":" in ref else registry.PRODUCTION))


def fetch(store, entry: dict[str, Any], cache: Path) -> Path:
    """A product of a version as a local file, verified (kept in the cache by its sha256)."""
    from ..store import safe_part

    sha = entry["sha256"]
    dest = cache / sha[:2] / sha / safe_part(Path(str(entry.get("path") or entry.get("name"))).name)
    store.get_file(sha, dest)  # verified; a file there with these bytes is kept
    return dest


def deserialize(path: Path) -> Any:
    """A model file: joblib (and pickle) files by suffix; anything else is refused, not guessed."""
    if path.suffix.lower() in PICKLES:
        try:
            import joblib
        except ImportError:
            raise ConfigError(f"model file {path.name}: loading it needs joblib",
                              hint="pip install 'nbprod[models]'") from None

        return joblib.load(path)
    raise ConfigError(f"model file {path.name}: nbprod loads {', '.join(PICKLES)} files",
                      hint="save the model with joblib.dump, or load the file yourself from "
                           "LoadedModel.files['model'] (load_model(..., raw=True))")


def _json(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path.name} is not JSON ({err})", hint="model cards and schemas are JSON files") from None
