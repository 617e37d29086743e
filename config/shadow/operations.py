# ruff: noqa: S608 (identifiers come from sqlite_master and are quoted by q(); values are bound)
"""Shadow mode's operator moves (`manage.py shadow start/status/cutover/rollback/stop`): the state
file, the snapshot, the cut-over and the roll-back. Capture and shipping are in config/shadow/core.py,
verification in config/shadow/verify.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import metrics
from config.shadow import state as state_file
from config.shadow.core import (
    BATCH,
    IN_SYNC_COMMITS,
    IN_SYNC_SECONDS,
    LAG_EVERY,
    LOG,
    OWN_TABLES,
    PACE,
    PRUNE_EVERY,
    PositionMoved,
    ShadowError,
    Shipper,
    _position,
    app_tables,
    drop_triggers,
    install_capture,
    install_fence,
    lag,
    now_iso,
    prune,
    ship_once,
    sync_schema,
)
from config.shadow.db import Db, ShadowDbError, open_db
from config.shadow.verify import verify

logger = logging.getLogger(__name__)


@dataclass
class Shadow:
    """The shadow of one installation: its state file, and the token for the remote side."""

    state_path: Path
    token: str = ""
    timeout: float = 30.0

    def state(self) -> dict[str, Any] | None:
        return state_file.load(self.state_path)

    def _require(self) -> dict[str, Any]:
        current = self.state()
        if current is None:
            raise ShadowError("shadow mode is off; start it with `manage.py shadow start --to URL`")
        return current

    def open(self, url: str) -> Db:
        return open_db(url, token=self.token, timeout=self.timeout)

    def databases(self) -> tuple[Db, Db]:
        current = self._require()
        return self.open(current["primary"]), self.open(current["shadow"])

    def start(self, primary_url: str, target_url: str) -> dict[str, Any]:
        """Captures, snapshots and loads; afterwards `ship` keeps the target up to date."""
        if self.state() is not None:
            raise ShadowError(f"shadow mode is already on ({self.state_path}); see `manage.py shadow status`")
        if primary_url == target_url:
            raise ShadowError("the target is the current database")
        primary, target = self.open(primary_url), self.open(target_url)
        try:
            existing = [t.name for t in app_tables(target)]
            if existing:
                raise ShadowError(
                    f"the target already has tables ({', '.join(existing[:3])}...); give an empty database"
                )
            sync_schema(primary, target, first=True)  # every table and row, from one snapshot
            current = {
                "mode": state_file.SHADOWING,
                "primary": primary_url,
                "shadow": target_url,
                "original": primary_url,
                "started_at": now_iso(),
                "cutover_at": None,
                "last_verification": None,
            }
            state_file.save(self.state_path, current)
            return current
        finally:
            primary.close()
            target.close()

    def resync(self) -> list[str]:
        """After `migrate`: capture triggers reinstalled, schema and changed tables to the shadow."""
        primary, shadow = self.databases()
        try:
            return sync_schema(primary, shadow)
        finally:
            primary.close()
            shadow.close()

    def ship(self, *, until: Callable[[], bool], idle: float = PACE, retry: float = 1.0) -> int:
        """Ships until `until()` is true; an unreachable side is waited for, never given up on.

        `idle`: seconds between batches unless the last one was full (catching up goes on at once).
        The writes of that interval go as one batch, so the shipper (and the shadow's server) wake
        a few times a second rather than once per commit: lag grows by at most `idle`, and the CPU
        they take from the primary's writers shrinks (`bench shadow` prints both)."""
        shipped, since_prune, pruned_at = 0, 0, time.monotonic()
        measured_at = 0.0
        shipper: Shipper | None = None
        pair: tuple[str, str] | None = None
        while not until():
            try:
                current = self._require()
                if pair != (current["primary"], current["shadow"]):  # a cut-over or roll-back happened
                    _close(shipper)
                    shipper = None
                    pair = (current["primary"], current["shadow"])
                if shipper is None:
                    shipper = Shipper(*self.databases())
                count = shipper.ship()
                shipped += count
                since_prune += count
                if count:
                    metrics.shadow_applied(count)
                if time.monotonic() - measured_at >= LAG_EVERY:
                    metrics.shadow_lag(
                        *lag(shipper.primary, shipper.shadow, position=shipper.known_position())
                    )
                    measured_at = time.monotonic()
                # Pruning takes the primary's write lock: seldom, so writers rarely wait behind it.
                if since_prune and time.monotonic() - pruned_at >= PRUNE_EVERY:
                    prune(shipper.primary, shipper.shadow, position=shipper.known_position())
                    since_prune, pruned_at = 0, time.monotonic()
                if count < BATCH:
                    time.sleep(idle)
            except ShadowDbError as exc:
                logger.warning("shadow shipping paused: %s", exc)
                metrics.shadow_replay_error(
                    "position_moved" if isinstance(exc, PositionMoved) else "database"
                )
                _close(shipper)
                shipper = None
                time.sleep(retry)
        _close(shipper)
        return shipped

    def status(self, *, check: bool = False) -> dict[str, Any]:
        """state (off, catching_up, in_sync, cut_over), lag, and the last (or a fresh) verification.
        Also recorded in the metrics (brute_shadow_state, brute_shadow_lag_*)."""
        report = self._status(check=check)
        metrics.shadow_state(report["state"])
        if "lag_commits" in report:
            metrics.shadow_lag(report["lag_commits"], report["lag_seconds"])
        return report

    def _status(self, *, check: bool) -> dict[str, Any]:
        current = self.state()
        if current is None:
            return {"state": "off"}
        report: dict[str, Any] = {
            "primary": _safe(current["primary"]),
            "shadow": _safe(current["shadow"]),
            "started_at": current.get("started_at"),
            "cutover_at": current.get("cutover_at"),
        }
        try:
            primary, shadow = self.databases()
        except ShadowDbError as exc:  # the shadow (or the primary) is away: the writes wait in the log
            report["error"] = str(exc)
            report["state"] = "cut_over" if current["mode"] == state_file.CUT_OVER else "catching_up"
            report["last_verification"] = current.get("last_verification")
            return report
        try:
            try:
                commits, seconds = lag(primary, shadow)
                report["lag_commits"], report["lag_seconds"] = commits, round(seconds, 3)
                reachable = True
            except ShadowDbError as exc:
                report["error"] = str(exc)
                reachable = False
            if current["mode"] == state_file.CUT_OVER:
                report["state"] = "cut_over"
            elif reachable and commits <= IN_SYNC_COMMITS and seconds <= IN_SYNC_SECONDS:
                report["state"] = "in_sync"
            else:
                report["state"] = "catching_up"
            if check and reachable:
                verification = verify(primary, shadow).as_dict()
                current["last_verification"] = verification
                state_file.save(self.state_path, current)
        finally:
            primary.close()
            shadow.close()
        report["last_verification"] = current.get("last_verification")
        return report

    def cutover(self, *, max_pause: float = 10.0) -> dict[str, Any]:
        """Makes the shadow the primary; the old primary becomes the shadow (roll-back possible)."""
        current = self._require()
        if current["mode"] != state_file.SHADOWING:
            raise ShadowError("already cut over; `manage.py shadow rollback` goes back")
        return self._swap(current, mode=state_file.CUT_OVER, max_pause=max_pause)

    def rollback(self, *, max_pause: float = 4.0) -> dict[str, Any]:
        """Returns to the original database with every write made since the cut-over."""
        current = self._require()
        if current["mode"] != state_file.CUT_OVER:
            raise ShadowError("not cut over; nothing to roll back")
        return self._swap(current, mode=state_file.SHADOWING, max_pause=max_pause)

    def _swap(self, current: dict[str, Any], *, mode: str, max_pause: float) -> dict[str, Any]:
        old, new = self.databases()
        try:
            # Catch up first without pausing anybody, so the pause only covers the last few commits.
            deadline = time.monotonic() + 60
            while _ship_racing(old, new) > 100:
                if time.monotonic() > deadline:
                    raise ShadowError("the shadow does not catch up; cut over when `status` says in_sync")
            old.begin(immediate=True)  # writers wait from here (their busy timeout covers the pause)
            paused = time.monotonic()
            try:
                while _ship_racing(old, new, locked=True):
                    if time.monotonic() - paused > max_pause:
                        raise ShadowError(f"draining took over {max_pause}s; writes resumed, nothing changed")
                check = verify(old, new, locked=True)
                if not check.ok:
                    raise ShadowError(
                        "verification failed, nothing changed: "
                        + "; ".join(d.line() for d in check.divergences)
                    )
                drained = _position(new)
                sequences = old.execute("SELECT name, seq FROM sqlite_sequence WHERE name <> ?", [LOG])
                with new.transaction():
                    drop_triggers(new, "shadow_fence_")
                    drop_triggers(new, "shadow_log_")
                    for own in OWN_TABLES:
                        new.execute(f"DROP TABLE IF EXISTS {own}")
                    install_capture(new)
                    for name, seq in sequences:
                        new.execute(
                            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", [seq, name]
                        )
                        new.execute(
                            "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? "
                            "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)",
                            [name, seq, name],
                        )
                try:
                    drop_triggers(old, "shadow_log_")
                    old.execute(f"DELETE FROM {LOG}")
                    install_fence(old, applied=0)
                    if time.monotonic() - paused > max_pause:
                        raise ShadowError(f"the pause passed {max_pause}s; writes resumed, nothing changed")
                    swapped = {
                        **current,
                        "mode": mode,
                        "primary": current["shadow"],
                        "shadow": current["primary"],
                        "cutover_at": now_iso() if mode == state_file.CUT_OVER else None,
                        "last_verification": check.as_dict(),
                    }
                    state_file.save(self.state_path, swapped)
                    old.commit()
                except BaseException:
                    state_file.save(self.state_path, current)
                    with new.transaction():  # undo: the new side is a fenced shadow again
                        drop_triggers(new, "shadow_log_")
                        install_fence(new, applied=drained)
                    raise
            except BaseException:
                old.rollback()
                raise
            swapped["pause_s"] = round(time.monotonic() - paused, 3)
            return swapped
        finally:
            old.close()
            new.close()

    def stop(self) -> None:
        """Shadow mode off: capture triggers and log removed from the primary; the shadow is left as is."""
        current = self._require()
        primary = self.open(current["primary"])
        try:
            with primary.transaction():
                drop_triggers(primary, "shadow_log_")
                primary.execute(f"DROP TABLE IF EXISTS {LOG}")
        finally:
            primary.close()
        state_file.remove(self.state_path)


def _close(shipper: Shipper | None) -> None:
    if shipper is not None:
        shipper.primary.close()
        shipper.shadow.close()


def _ship_racing(primary: Db, shadow: Db, *, locked: bool = False) -> int:
    """`ship_once`, beside a running shipper (`manage.py shadow run`): a lost race is tried again."""
    for _ in range(20):
        try:
            return ship_once(primary, shadow, locked=locked)
        except PositionMoved:
            continue
    raise ShadowError("the position keeps moving under the cut-over; stop the other shippers and retry")


def _safe(url: str) -> str:
    """A URL for display: never anything after an @ or a query (tokens are not in URLs, but be sure)."""
    return url.split("?")[0].split("@")[-1]
