"""`op revisions warm [<revision>]` (or revision_id=… / --answers)."""

from __future__ import annotations

from greentic.cli.op.revisions.lifecycle import lifecycle_command

command = lifecycle_command("warm", "Lifecycle: staged → ready.")
