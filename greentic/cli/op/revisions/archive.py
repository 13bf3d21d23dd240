"""`op revisions archive [<revision>]` (or revision_id=… / --answers)."""

from __future__ import annotations

from greentic.cli.op.revisions.lifecycle import lifecycle_command

command = lifecycle_command("archive", "Lifecycle: → archived (not while routed).")
