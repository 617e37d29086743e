"""Backups on shared S3-compatible storage (backups/storage.py through django-storages + boto3),
against moto's S3 server started here on loopback: create, list, verify, restore from the bucket."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from django.core.files.storage import storages
from django.test import override_settings
from moto.server import ThreadedMotoServer

from backups import services
from backups.selectors import OK, backup_list
from backups.storage import DjangoStore, backup_store
from tests.backups.conftest import Site
from tests.conftest import free_port

BUCKET = "brute-backups-test"


@pytest.fixture
def s3(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    httpx.post(f"{endpoint}/moto-api/reset", timeout=10)  # moto keeps one state per Python process
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    backend = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "location": "brute-backups",
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "default_acl": None,
            "file_overwrite": False,
        },
    }
    try:
        with override_settings(STORAGES={**_storages(), "backups": backend}, BACKUP_STORAGE="backups"):
            storages._storages = {}  # the handler caches backends built from the old setting
            yield endpoint
    finally:
        storages._storages = {}
        server.stop()


def _storages() -> dict[str, object]:
    from django.conf import settings

    return dict(settings.STORAGES)


def _keys(endpoint: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_create_list_verify_and_restore_from_the_bucket(site: Site, s3: str, tmp_path: Path) -> None:
    assert isinstance(backup_store(), DjangoStore)
    rows, files = site.rows(), site.files()

    full = services.backup_create(note="on s3")
    site.execute("UPDATE item SET name = 'changed' WHERE id = 3")
    (site.media / "late.txt").write_text("after the full backup")
    incremental = services.backup_create(incremental=True)
    later_rows, later_files = site.rows(), site.files()

    keys = _keys(s3)
    assert f"brute-backups/{full.archive}" in keys
    assert f"brute-backups/{incremental.archive}" in keys
    assert not site.backups.exists() or not any(site.backups.iterdir())  # nothing on the local disk
    listed = backup_list()
    assert {item.id for item in listed} == {full.id, incremental.id}
    assert all(item.status == OK for item in listed), listed

    outcomes = services.backup_verify(all_backups=True)
    assert len(outcomes) == 2
    assert all(outcome.ok for outcome in outcomes), outcomes

    services.backup_restore(backup_id=full.id, target=tmp_path / "at-full")
    assert site.rows(tmp_path / "at-full" / "db.sqlite3") == rows
    assert site.files(tmp_path / "at-full" / "media") == files
    services.backup_restore(backup_id=incremental.id, target=tmp_path / "at-incremental")
    assert site.rows(tmp_path / "at-incremental" / "db.sqlite3") == later_rows
    assert site.files(tmp_path / "at-incremental" / "media") == later_files


def test_another_host_sees_the_same_backups(site: Site, s3: str) -> None:
    made = services.backup_create()
    storages._storages = {}  # a fresh process elsewhere: nothing shared but the bucket
    assert [item.id for item in backup_list()] == [made.id]
    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
    stored = client.get_object(Bucket=BUCKET, Key=f"brute-backups/{made.archive}")["Body"].read()
    with backup_store().open(made.archive) as handle:
        assert handle.read() == stored


def test_a_damaged_archive_in_the_bucket_fails_verification(site: Site, s3: str) -> None:
    made = services.backup_create()
    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
    key = f"brute-backups/{made.archive}"
    body = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    outcomes = services.backup_verify(backup_id=made.id)
    assert outcomes
    assert not any(outcome.ok for outcome in outcomes)


def test_the_settings_select_the_bucket_from_the_environment(site: Site, s3: str, tmp_path: Path) -> None:
    made = services.backup_create()
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "BRUTE_VAR_DIR": str(tmp_path / "var"),
        "BACKUP_S3_BUCKET": BUCKET,
        "BACKUP_S3_ENDPOINT_URL": s3,
        "BACKUP_S3_REGION": "us-east-1",
        "BACKUP_S3_PREFIX": "brute-backups",
    }
    env.pop("BACKUP_STORAGE", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "backup", "list"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert made.id in run.stdout
