"""Keeping a Build's process-wide hooks inside the test that made it.

A ``record.lifetime.Build`` registers an at-exit fallback; in a test process those
must neither pile up nor run at the end of the session. Import the fixture into a
test module (``from isolation import exits  # noqa: F401``): it is autouse there.
"""

from __future__ import annotations

import atexit

import pytest

from nbprod.record.lifetime import Build


class FakeAtexit:
    """Keeps the Build's at-exit callbacks (so a test can see and run them); anything
    else a library registers meanwhile goes to the real atexit."""

    def __init__(self, real_register, real_unregister):
        self.callbacks = []
        self._register, self._unregister = real_register, real_unregister

    def register(self, func, *args, **kwargs):
        if not isinstance(getattr(func, "__self__", None), Build):
            return self._register(func, *args, **kwargs)
        self.callbacks.append(func)
        return func

    def unregister(self, func):
        if not isinstance(getattr(func, "__self__", None), Build):
            return self._unregister(func)
        self.callbacks = [f for f in self.callbacks if f != func]


@pytest.fixture(autouse=True)
def exits(monkeypatch):
    fake = FakeAtexit(atexit.register, atexit.unregister)
    monkeypatch.setattr(atexit, "register", fake.register)
    monkeypatch.setattr(atexit, "unregister", fake.unregister)
    return fake
