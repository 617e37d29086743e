"""`manage.py backup create|list|verify|restore|prune`: a thin face over backups.services."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backups import selectors, services
from backups.errors import BackupError

Progress = Callable[[str, int, int], None]


class Command(BaseCommand):
    help = "Create, list, verify, restore and prune Brute's backups (database snapshot plus media files)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, parser_class=_sub_parser_class(parser))
        create = sub.add_parser("create", help="a full backup, or an incremental one on top of the newest")
        create.add_argument(
            "--incremental", action="store_true", help="store only what changed since the newest"
        )
        create.add_argument("--encrypt", action="store_true", help="encrypt even if BACKUP_ENCRYPT is off")
        create.add_argument("--note", default="", help="a note kept in the manifest")
        sub.add_parser(
            "list",
            help="every backup in the backup storage, oldest first; STATUS is what is wrong, or else "
            "the last verification's result (verified, verify-failed) or unverified",
        )
        verify = sub.add_parser(
            "verify",
            help="recompute every checksum, walk the chain, test-restore (recorded for the backups page)",
        )
        verify.add_argument("backup_id", nargs="?", metavar="ID")
        verify.add_argument("--all", action="store_true", dest="all_backups", help="verify every backup")
        restore = sub.add_parser(
            "restore",
            help="restore a backup and its chain (in place: stop Brute first)",
            description=(
                "Restore a backup and its chain. In place (no --target) the database file is swapped, "
                "so stop Brute first (make run, gunicorn, the worker, beat, the sniper ...): while "
                "any of its processes runs, the restore refuses, since they would keep showing the "
                "old data and lose what they write. --target DIR restores beside a running Brute."
            ),
        )
        restore.add_argument("backup_id", metavar="ID")
        restore.add_argument("--target", type=Path, help="restore into this directory instead of in place")
        restore.add_argument("--yes", action="store_true", help="overwrite the existing database and media")
        for each in (verify, restore):
            each.add_argument(
                "--allow-unauthenticated",
                action="store_true",
                help="accept unencrypted backups that are not signed with the configured key",
            )
        prune = sub.add_parser("prune", help="apply BACKUP_KEEP_LAST/DAILY/WEEKLY/MONTHLY")
        prune.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
        for each in (create, sub.choices["list"], verify, restore, prune):
            each.add_argument("--json", action="store_true", help="print JSON for scripts")

    def handle(self, *args: Any, **options: Any) -> None:
        action = getattr(self, f"_{options['subcommand']}")
        try:
            with self._progress(enabled=not options["json"]) as progress:
                result = action(options, progress)
        except (BackupError, OSError) as exc:
            message = str(exc) if isinstance(exc, BackupError) else _os_error(exc)
            if options["json"]:
                self.stdout.write(json.dumps({"ok": False, "error": message}))
            raise CommandError(message, returncode=1) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))

    def _create(self, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
        summary = services.backup_create(
            incremental=options["incremental"],
            encrypt=True if options["encrypt"] else None,
            note=options["note"],
            progress=progress,
        )
        if not options["json"]:
            self.stdout.write(f"created {summary.kind} backup {summary.id} ({_size(summary.size)})")
        return {"ok": True, **summary.__dict__}

    def _list(self, options: dict[str, Any], progress: Progress) -> list[dict[str, Any]]:
        # Listing reads sidecars and sizes, not archives: a sound-looking backup shows what its last
        # verification found (verified / verify-failed), or "unverified".
        rows = [
            {**item.as_dict(), "status": status, "verified_at": verification["at"] if verification else None}
            for item, verification, status in reversed(selectors.backup_rows())
        ]
        if not options["json"]:
            self.stdout.write(
                f"{'ID':24} {'KIND':12} {'PARENT':24} {'CREATED':26} {'SIZE':>10} {'FILES':>6} STATUS"
            )
            for r in rows:
                files = "-" if r["file_count"] is None else r["file_count"]
                self.stdout.write(
                    f"{r['id']:24} {r['kind'] or '-':12} {r['parent'] or '-':24} {r['created'] or '-':26} "
                    f"{_size(r['size']):>10} {files:>6} {r['status']}"
                )
        return rows

    def _verify(self, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
        outcomes = services.backup_verify_recorded(
            backup_id=options["backup_id"],
            all_backups=options["all_backups"],
            allow_unauthenticated=options["allow_unauthenticated"],
            progress=progress,
        )
        if not options["json"]:
            for o in outcomes:
                self.stdout.write(f"{o.backup_id}: {'ok' if o.ok else 'FAILED: ' + o.problem}")
        failed = [o for o in outcomes if not o.ok]
        if failed:
            # Exit 2: the command ran and found damage (1 is for a command that could not run).
            if options["json"]:
                self.stdout.write(
                    json.dumps({"ok": False, "backups": [o.as_dict() for o in outcomes]}, indent=2)
                )
            summary = f"{len(failed)} of {len(outcomes)} backups failed verification: {failed[0].problem}"
            raise CommandError(summary, returncode=2)
        return {"ok": True, "backups": [o.as_dict() for o in outcomes]}

    def _restore(self, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
        outcome = services.backup_restore(
            backup_id=options["backup_id"],
            target=options["target"],
            overwrite=options["yes"],
            allow_unauthenticated=options["allow_unauthenticated"],
            progress=progress,
        )
        if not options["json"]:
            self.stdout.write(f"restored {outcome.backup_id} into {outcome.database} and {outcome.media}")
            for kept in outcome.kept:
                self.stdout.write(f"the previous data is kept at {kept}")
        return {"ok": True, **outcome.as_dict()}

    def _prune(self, options: dict[str, Any], progress: Progress) -> dict[str, Any]:
        outcome = services.backup_prune(dry_run=options["dry_run"])
        if not options["json"]:
            verb = "would delete" if options["dry_run"] else "deleted"
            deleted = f": {' '.join(outcome.deleted)}" if outcome.deleted else ""
            self.stdout.write(f"kept {len(outcome.kept)}, {verb} {len(outcome.deleted)}{deleted}")
        return {"ok": True, **outcome.as_dict()}

    @contextmanager
    def _progress(self, *, enabled: bool) -> Iterator[Progress]:
        if not (enabled and sys.stderr.isatty()):
            yield lambda phase, done, total: None
            return
        # Only a terminal gets a progress bar, so only then is rich loaded.
        from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

        columns = (TextColumn("{task.description:20}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, transient=True) as bar:
            tasks: dict[str, TaskID] = {}

            def report(phase: str, done: int, total: int) -> None:
                if phase not in tasks:  # one bar per phase; a phase without a size shows a pulse
                    for previous in tasks.values():
                        bar.update(previous, visible=False)
                    tasks[phase] = bar.add_task(phase, total=total if total > 1 else None)
                bar.update(tasks[phase], completed=done)

            yield report


def _sub_parser_class(parser: ArgumentParser) -> Any:
    # Subcommand parsers must be CommandParser so a usage error exits through CommandError cleanly.
    base = type(parser)

    class Sub(base):  # type: ignore[valid-type, misc]
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("called_from_command_line", getattr(parser, "called_from_command_line", None))
            super().__init__(**kwargs)

    return Sub


def _os_error(exc: OSError) -> str:
    """One line for a file system failure the services did not foresee: what, and where."""
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)
