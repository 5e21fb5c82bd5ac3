"""Errors a user can act on: shown as one line, without a traceback."""


class UserError(Exception):
    """Bad input or a missing prerequisite, with a message that says what to do."""
