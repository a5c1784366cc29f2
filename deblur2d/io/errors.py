"""Errors meant for the user: the CLI prints them as one line and exits non-zero, no stack trace."""


class UserError(Exception):
    """Bad input or configuration. The message names the file or flag and says what to do."""

    exit_code = 2
