"""Flows: compile a `.ygtc` source into a `Flow` and run it with the built-in ops (SPEC §5).

Pure: no I/O, no clock, no randomness. The worker compiles each pack's flows at activation
(`compile.flow_from_source`) and runs one per request (`engine.run`). Callers import modules:
`from greentic.flow import compile, engine, template`.
"""
