"""The conformance kit's runner: every group of checks against one endpoint, in order.

The groups run in this order because each leaves the service as it found it except
the last: the WSDL (which also tells the others the Actions it declares), the
lifecycle, the faults, WS-Addressing, owner isolation, and the restart, which restarts
the service. Every check of every group yields exactly one result.
"""

from __future__ import annotations

from collections.abc import Callable

from .checks import addressing, faults, lifecycle, owners, restart, wsdl
from .checks.base import Check, Context, Group, Recorder
from .options import Options
from .report import CheckResult

#: The groups, in running order.
GROUPS: tuple[Group, ...] = (
    wsdl.GROUP,
    wsdl.GROUP_2004,
    lifecycle.GROUP,
    faults.GROUP,
    addressing.GROUP,
    owners.GROUP,
    restart.GROUP,
)


def all_checks() -> tuple[Check, ...]:
    """Every check the kit runs, in report order."""
    return tuple(check for group in GROUPS for check in group.checks)


def run_kit(
    options: Options, *, on_result: Callable[[CheckResult], None] | None = None
) -> list[CheckResult]:
    """Run every check against ``options.url``; ``on_result`` sees each result as it comes."""
    context = Context(options)
    results: list[CheckResult] = []
    for group in GROUPS:
        recorder = Recorder(group.name, group.checks, on_result=on_result)
        try:
            group.run(context, recorder)
        except Exception as error:  # outside any one check: the rest of the group fails
            recorder.fail_remaining(f"the group stopped: {type(error).__name__}: {error}")
        results.extend(recorder.finish())
    return results
