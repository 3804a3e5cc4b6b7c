"""How a check ends other than passing: it fails, or it cannot be judged and is skipped."""

from __future__ import annotations


class CheckFailed(Exception):
    """The service did not do what the clause asks; ``reason`` says what it did instead.

    ``details`` may add lines (every lint finding, say) for the JUnit report.
    """

    def __init__(self, reason: str, *, details: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class CheckSkipped(Exception):
    """The check cannot be judged here (no job to judge, an option not given)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def require(condition: object, reason: str) -> None:
    """Fail the check with ``reason`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(reason)
