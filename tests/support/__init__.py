"""Helpers shared by unit and integration tests, imported as `tests.support.<module>`.

`stores` builds stores with routed revisions and snapshots file trees; `seeds` is seeds/000's
env-manifest pair; `psa` checks pod specs against the Restricted Pod Security Standard.
pyproject's `pythonpath = ["."]` makes `tests` importable from any test.
"""
