"""The ploomber hooks users name in pipeline.yaml (``nbprod.hooks.on_render`` ...).

Kept importable forever as a thin forwarding module: the hooks live in
:mod:`nbprod.engine.hooks`.
"""

from .engine.hooks import on_failure, on_finish, on_render

__all__ = ["on_render", "on_finish", "on_failure"]
