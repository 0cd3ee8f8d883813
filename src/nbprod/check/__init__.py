"""``nbprod check``: a project's notebooks and pipeline checked without starting a kernel.

Committed outputs and metadata, the parameters cell and the types of the
parameters the pipeline passes, pyflakes by cell, secrets in sources and
outputs, and whether the pipeline renders. It sits above ``engine`` because the
pipeline's parameters and tasks are what ploomber renders.
"""
