"""Files a backup or a restore writes are the operator's alone: 0600, and folders 0700.

A backup and a restored database hold password hashes and encrypted API keys, so nothing the app
writes here may depend on the process umask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_mkdir(path: Path) -> None:
    """Creates `path` and any missing parents as 0700 folders (existing ones are left alone)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)


def private_create(path: Path) -> BinaryIO:
    """Opens `path` for writing, created (or truncated) as a 0600 file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb")


def make_private(tree: Path) -> None:
    """Makes `tree` (a file, or a folder and everything under it) 0600 / 0700."""
    if tree.is_symlink():
        return
    if not tree.is_dir():
        tree.chmod(FILE_MODE)
        return
    tree.chmod(DIR_MODE)
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            if not (Path(root) / name).is_symlink():
                (Path(root) / name).chmod(DIR_MODE)
        for name in files:
            if not (Path(root) / name).is_symlink():
                (Path(root) / name).chmod(FILE_MODE)
