"""Everything that knows ploomber: loading and building DAGs, the hooks, task views,
failed-task repair, and the shared-products File client.

ploomber (last release 2024) is imported inside this package only, so it can be
replaced in one place. Nothing is imported at package import time.
"""
