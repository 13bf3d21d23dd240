"""The worker runtime behind `greentic-start start --env <id>` (SPEC §7).

`boot` (env store, pull, activation) → `activation` (routing table) → `routing`, `ingress`,
`invoke` (requests and replies) → `app` (ASGI) → `server` (listeners, signals). `process` runs
the sequence for the CLI. Callers import modules, not names.
"""
