"""Exit codes and the user-facing error type (restic/sqlfluff style: one table, named codes)."""

from __future__ import annotations

OK = 0
ERROR = 1
USAGE = 2
WARNINGS = 3
PLAN_HAS_CHANGES = 4
INTERRUPTED = 130

EXIT_CODES = {
    OK: "success",
    ERROR: "error (nothing half-written: see the message)",
    USAGE: "usage error (bad flag or argument)",
    WARNINGS: "finished with warnings",
    PLAN_HAS_CHANGES: "plan has changes (with --detailed-exitcode); differences found (diff/verify --exit-code)",
    INTERRUPTED: "interrupted",
}


class MbportError(Exception):
    """A problem the user can fix: printed as one line (plus an optional hint), never as a traceback."""

    exit_code = ERROR

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(MbportError):
    exit_code = USAGE
