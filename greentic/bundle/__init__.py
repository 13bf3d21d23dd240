"""Bundles and packs: deterministic writers, hardened readers, signing, materialization.

Callers import modules, not names: `from greentic.bundle import materialize, reader`, then
`materialize.materialize_revision(...)` and `reader.load_revision_packs(rev_dir)`. Formats are
described in docs/bundle-format.md (SPEC §5).
"""
