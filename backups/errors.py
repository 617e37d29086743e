"""The one error type of the backups app: its message is one readable line for an operator."""

from __future__ import annotations


class BackupError(Exception):
    """A backup could not be made, read, verified or restored; the message says what and where."""


class WrongKeyError(BackupError):
    """The archive was encrypted with another key: not damage, a configuration problem."""


class UnauthenticatedError(BackupError):
    """A backup is not vouched for by the configured key: forged, made with another key, or
    unencrypted and unsigned (which an operator may still accept explicitly)."""


class ChainStepError(BackupError):
    """A backup of a chain failed while the chain was rebuilt; `backup_id` says which one."""

    def __init__(self, backup_id: str, message: str) -> None:
        super().__init__(message)
        self.backup_id = backup_id
