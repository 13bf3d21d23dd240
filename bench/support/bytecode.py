"""Start-up benches time greentic as it is installed: with its modules' bytecode compiled.

pip compiles bytecode when it installs a wheel (the worker image installs greentic's wheel
that way); an editable checkout run with PYTHONDONTWRITEBYTECODE=1 (as this workplace sets)
never writes any, so every `gtc` or `greentic-start` process recompiles each greentic module
it imports from source: ~45 ms of a cold boot and ~8 ms of `gtc op env show` on this machine
(docs/decisions.md, #16). That times the compiler, not greentic, and `python -c pass`, the
baseline, runs on compiled stdlib modules. `compile_greentic()` writes the package's
__pycache__ (gitignored) before a bench times anything; Python reads it whatever
PYTHONDONTWRITEBYTECODE says, and still recompiles (in memory) a module edited since.
"""

from __future__ import annotations

import compileall
from pathlib import Path

NOTE = "greentic bytecode compiled, as pip installs it"


def compile_greentic() -> Path:
    """Compile the imported greentic package's modules; returns the package directory."""
    import greentic

    package = Path(greentic.__file__).resolve().parent
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"could not compile the bytecode of {package}")
    return package
