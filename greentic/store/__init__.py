"""The local file-system store: one directory per environment (SPEC §2).

`layout` knows paths, `atomic` writes files so readers never see a partial one, `lock` holds
the per-env flock, and `envstore` loads/saves environment.json + runtime-config.json.
"""
