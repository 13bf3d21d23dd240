"""The one error type the harness raises, so callers catch harness failures in one place.

Subclasses (StartFailed, WaitTimeout, RegistryError, …) live next to the code that raises
them. The message names the thing that failed and the fix; it never carries secrets.
"""

from __future__ import annotations


class HarnessError(RuntimeError):
    """A harness step failed (image build, process start, wait); the message says the fix."""
