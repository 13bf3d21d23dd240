"""Helpers shared by unit and integration tests, imported as `tests.support.<module>`.

`stores` builds stores with routed revisions and snapshots file trees; `seeds` is seeds/000's
env-manifest pair. pyproject's `pythonpath = ["."]` makes `tests` importable from any test.
"""
