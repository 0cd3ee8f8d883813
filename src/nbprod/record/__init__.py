"""Recording a build: its lifetime, the recorder, provenance, executed notebooks, scraps.

Nothing here knows ploomber: the engine describes tasks as
:class:`~nbprod.record.taskview.TaskView` and drives a
:class:`~nbprod.record.lifetime.Build`. scrapbook is imported by
:mod:`nbprod.record.scraps` only.
"""
