"""The one error type of the backups app: its message is one readable line for an operator."""

from __future__ import annotations


class BackupError(Exception):
    """A backup could not be made, read, verified or restored; the message says what and where."""


class WrongKeyError(BackupError):
    """The archive was encrypted with another key: not damage, a configuration problem."""
