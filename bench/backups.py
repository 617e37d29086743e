"""Backup throughput on a generated ~1 GB dataset, beside `tar czf` on the same files.

Prints MB/s for full backups (gzip, zstd) and an incremental, and the size of an incremental
after changing 1% of the rows and 1% of the media bytes.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import django

MB = 1 << 20
DB_ROWS = 760_000
TEXT_FILES = 120  # x 2 MB of JSON lines
BINARY_FILES = 50  # x 4 MB of random bytes


def _generate_database(path: Path, rng: random.Random) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE fill (id INTEGER PRIMARY KEY, symbol TEXT, side TEXT, price TEXT, qty TEXT, "
        "created TEXT, raw TEXT)"
    )
    conn.execute("CREATE INDEX fill_symbol ON fill (symbol, created)")
    symbols = [f"{a}USDT" for a in ("BTC", "ETH", "SOL", "XRP", "DOGE", "ADA", "TRX", "LINK")]
    insert = "INSERT INTO fill (symbol, side, price, qty, created, raw) VALUES (?,?,?,?,?,?)"
    for start in range(0, DB_ROWS, 20_000):
        batch = []
        for i in range(start, min(start + 20_000, DB_ROWS)):
            symbol, price, qty = symbols[i % 8], f"{rng.random() * 90000:.8f}", f"{rng.random() * 500:.8f}"
            created = f"2026-{1 + i % 12:02}-{1 + i % 28:02}T{i % 24:02}:{i % 60:02}:{i * 7 % 60:02}Z"
            raw = (
                f'{{"orderId":"C02__{rng.getrandbits(64):x}","symbol":"{symbol}","price":"{price}",'
                f'"qty":"{qty}","commission":"{rng.random():.10f}","isMaker":{"true" if i % 3 else "false"},'
                f'"time":{1_780_000_000_000 + i},"tradeId":{rng.getrandbits(48)},'
                f'"clientOrderId":"{rng.getrandbits(96):024x}","status":"FILLED","type":"LIMIT"}}'
            )
            batch.append((symbol, "BUY" if i % 2 else "SELL", price, qty, created, raw + raw[::-1]))
        conn.executemany(insert, batch)
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _generate_media(root: Path, rng: random.Random) -> None:
    (root / "exports").mkdir(parents=True)
    (root / "uploads").mkdir(parents=True)
    for n in range(TEXT_FILES):
        lines = [
            f'{{"ts":{rng.getrandbits(40)},"event":"{("fill", "order", "cancel")[k % 3]}",'
            f'"value":{rng.random() * 1e6:.4f},"note":"row {k} of export {n}"}}'
            for k in range(2 * MB // 80)
        ]
        (root / "exports" / f"export-{n:03}.jsonl").write_text("\n".join(lines))
    for n in range(BINARY_FILES):
        (root / "uploads" / f"blob-{n:03}.bin").write_bytes(os.urandom(4 * MB))


def _change_one_percent(db: Path, media: Path, rng: random.Random) -> None:
    conn = sqlite3.connect(db)
    # 1% of the rows, in runs as an app appends and amends recent history, not scattered uniformly.
    for _ in range(DB_ROWS // 100 // 500):
        start = rng.randrange(1, DB_ROWS - 500)
        conn.execute("UPDATE fill SET qty = qty || '1' WHERE id BETWEEN ? AND ?", (start, start + 499))
    conn.commit()
    conn.close()
    files = sorted(p for p in media.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    changed = 0
    for path in rng.sample(files, len(files)):
        if changed >= total // 100:
            break
        path.write_bytes(os.urandom(path.stat().st_size))
        changed += path.stat().st_size


def _size_of(*paths: Path) -> int:
    total = 0
    for path in paths:
        total += (
            path.stat().st_size
            if path.is_file()
            else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        )
    return total


def _row(label: str, dataset: int, seconds: float, result: str) -> None:
    print(f"{label:26} {dataset / MB / seconds:7.1f} MB/s {seconds:6.1f} s  -> {result}")


def run() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.test import override_settings

    from backups import services

    rng = random.Random(7)
    root = Path(tempfile.mkdtemp(prefix="brute-bench-backups-"))
    try:
        db, media, store = root / "data" / "brute.db", root / "data" / "media", root / "backups"
        db.parent.mkdir(parents=True)
        started = time.perf_counter()
        _generate_database(db, rng)
        _generate_media(media, rng)
        dataset = _size_of(db, media)
        generated = time.perf_counter() - started
        db_mb, media_mb = _size_of(db) / MB, _size_of(media) / MB
        print(f"dataset: {dataset / MB:.0f} MB = {db_mb:.0f} MB SQLite + {media_mb:.0f} MB")
        print(f"media (half JSON lines, half random bytes), generated in {generated:.0f} s")

        started = time.perf_counter()
        subprocess.run(["tar", "czf", str(root / "plain.tar.gz"), "-C", str(root / "data"), "."], check=True)
        _row(
            "tar czf",
            dataset,
            time.perf_counter() - started,
            f"{_size_of(root / 'plain.tar.gz') / MB:.0f} MB",
        )
        (root / "plain.tar.gz").unlink()

        common = {
            "BACKUP_DATABASE": str(db),
            "MEDIA_ROOT": media,
            "BACKUP_STORAGE": None,
            "BACKUP_ENCRYPT": False,
        }
        for compression in ("gzip", "zstd"):
            with override_settings(BACKUP_DIR=store / compression, BACKUP_COMPRESSION=compression, **common):
                started = time.perf_counter()
                full = services.backup_create()
                _row(
                    f"backup create ({compression})",
                    dataset,
                    time.perf_counter() - started,
                    f"{full.size / MB:.0f} MB",
                )

        _change_one_percent(db, media, rng)
        for compression in ("gzip", "zstd"):
            with override_settings(BACKUP_DIR=store / compression, BACKUP_COMPRESSION=compression, **common):
                started = time.perf_counter()
                inc = services.backup_create(incremental=True)
                result = f"{inc.size / MB:.1f} MB after a 1% change"
                _row(f"incremental ({compression})", dataset, time.perf_counter() - started, result)

        with override_settings(BACKUP_DIR=store / "zstd", BACKUP_COMPRESSION="zstd", **common):
            started = time.perf_counter()
            [outcome] = services.backup_verify(backup_id=inc.id)
            result = f"ok={outcome.ok} (checksums, test restore of the chain, integrity check)"
            _row("verify full+incr (zstd)", dataset, time.perf_counter() - started, result)
    finally:
        shutil.rmtree(root, ignore_errors=True)
