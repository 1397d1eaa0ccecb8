"""Suite-wide test settings.

Hypothesis runs derandomized (the same examples on every run: tests have fixed seeds) and
without its example database (CI starts from a clean clone, and the database's file watcher
is a thread the suite does not need).
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("metahrl", derandomize=True, database=None)
settings.load_profile("metahrl")
