"""The worker runtime behind `greentic-start start --env <id>` (SPEC §7).

`boot` loads the env store, pulls routed revisions when runtime-config is empty, and
`activation` projects runtime-config + loaded packs into a routing table; `routing` picks the
deployment and revision of a request; `ingress` and `invoke` shape activities and replies;
`app` is the ASGI surface; `server` binds listeners and serves until SIGTERM; `process` runs the
whole sequence for the CLI. Callers import modules, not names.
"""
