"""Console entry points: `gtc`, `greentic-deployer` (and the `op` verbs under them).

Everything here is argument parsing and the one JSON envelope; the domain logic lives in
`greentic.deployer` (and friends). Imports stay lazy so `gtc --help` never loads pydantic.
"""
