"""nbprod: parameterized notebooks run as recorded, reproducible pipelines.

The public Python API (:mod:`nbprod.api`) is imported lazily, on first use of
one of its names, so ``import nbprod`` (and ``nbprod --help``) stays instant::

    import nbprod
    nbprod.runs(status="succeeded", since="7d")   # a DataFrame, one row per run
    nbprod.run("latest").metrics
    nbprod.diff("latest~1", "latest")
    nbprod.upstream("train")                      # in JupyterLab: upstream product paths
    nbprod.load_model("penguins@production")      # a registered model, verified by hash
"""

__version__ = "0.1.0"

_API = ("runs", "run", "diff", "upstream", "Run", "load_model", "write_predictions")

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'nbprod' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
