"""``python -m nbprod.cli``: the same as the ``nbprod`` command."""

from . import main

main()
