"""Loading a batch of raw penguin observations.

A "batch" is the rows of one CSV for a set of survey years; it is the unit
the pipeline ingests, so the source and the years are the pipeline's
parameters. The default source is the CSV shipped inside the
``palmerpenguins`` package, so the project runs offline.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import numbers
import os
import re
from pathlib import Path

import pandas as pd

from penguins import paths

#: Value of ``source`` meaning "the CSV bundled with palmerpenguins".
BUNDLED = "palmerpenguins"


def _as_year(value, original) -> int:
    if isinstance(value, bool):
        raise ValueError(f"invalid years {original!r}: {value!r} is not a year")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    raise ValueError(
        f"invalid years {original!r}: expected an int, a list of ints or a "
        f"string like '2008', '2007,2008' or '[2007, 2008]'"
    )


def parse_years(years) -> list[int]:
    """Normalise a years parameter to a sorted list of unique ints.

    Parameters arrive in many shapes: ints from ``papermill -p years 2008``
    or ``ploomber build --env--years 2008``, lists from pipeline.yaml (ploomber
    literal_evals "2007,2008,2009" from env.yaml), strings from the notebook
    defaults and Python callers. Accepting all of them keeps notebooks simple.
    """
    original = years
    if isinstance(years, str):
        text = years.strip()
        # brackets from "[2007, 2008]"; parentheses from a tuple that went
        # through str() (papermill injects tuples that way)
        if text[:1] + text[-1:] in ("[]", "()"):
            text = text[1:-1]
        items = [item for item in text.split(",") if item.strip()]
    elif isinstance(years, (list, tuple)):
        items = list(years)
    else:
        items = [years]
    if not items:
        raise ValueError(f"invalid years {original!r}: no year given")
    return sorted({_as_year(item, original) for item in items})


def source_path(source: str | os.PathLike | None) -> Path:
    """Return the CSV file a ``source`` parameter designates.

    ``"palmerpenguins"`` (or an empty value) is the bundled CSV, located via
    importlib.resources so no network is needed; anything else is a CSV path
    resolved against the project root.
    """
    if source is None or str(source).strip() in ("", BUNDLED):
        bundled = importlib.resources.files(BUNDLED).joinpath("data", "penguins.csv")
        path = Path(os.fspath(bundled))
        if not path.is_file():
            raise FileNotFoundError(f"bundled palmerpenguins CSV not found at {path}")
        return path
    path = paths.resolve(source)
    if not path.is_file():
        raise FileNotFoundError(f"source CSV {path} not found")
    return path


def load_batch(source, years) -> pd.DataFrame:
    """Read the source CSV and keep the rows observed in ``years``.

    An empty batch is an error (naming the years that do exist) rather than
    an empty table, because every downstream step would fail more obscurely.
    """
    path = source_path(source)
    wanted = parse_years(years)
    df = pd.read_csv(path)
    if "year" not in df.columns:
        raise ValueError(f"source CSV {path} has no 'year' column")
    batch = df[df["year"].isin(wanted)].reset_index(drop=True)
    if batch.empty:
        available = sorted(int(y) for y in df["year"].dropna().unique())
        raise ValueError(
            f"no rows for years {wanted} in {path}; years available: {available}"
        )
    return batch


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks so large files are fine."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
