"""The ploomber File client users name in pipeline.yaml (``nbprod.products.client``).

Kept importable forever as a thin forwarding module: the client lives in
:mod:`nbprod.engine.products`.
"""

from .engine.products import ProductClient, client

__all__ = ["client", "ProductClient"]
