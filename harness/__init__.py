"""The test harness: processes, distributors, registries, waits, artifacts, track backends.

Scenarios (`scenarios/*.py`) and `demo.py` are its only callers; it imports `greentic` only
for pure helpers (digests, paths) and drives the product through its real CLIs.
Callers import modules, not names: `from harness import waits` then `waits.until_http(url)`.
"""
