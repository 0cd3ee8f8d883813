"""The `browser` marker: tests that drive a real Chromium (headless) over the report site.

Registered here rather than in pyproject.toml so that this folder is self-contained.
This folder is a package (``__init__.py``) so that this file is imported as
``browser.conftest`` and never shadows ``tests/conftest.py``, whose helpers the
other test folders import as ``conftest``.
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: drives a real headless Chromium over a report site built from real runs "
        "(needs /usr/bin/chromium; NBPROD_SKIP_BROWSER=1 skips)",
    )
