"""Development mode on a shared database warns that each host makes its own secrets (config/checks.py)."""

from __future__ import annotations

from django.core.management import call_command

from config.checks import shared_database_warnings


def _shared(settings, name: str, options: dict[str, object] | None = None) -> None:
    settings.DATABASES = {**settings.DATABASES, "default": {**settings.DATABASES["default"], "NAME": name}}
    settings.DATABASES["default"]["OPTIONS"] = options or {}
    settings.DATABASE_URL = name


def test_it_warns_when_a_remote_database_has_no_shared_secrets(settings, monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.delenv("BRUTE_FIELD_KEY", raising=False)
    settings.PRODUCTION = False
    _shared(settings, "http://sqld.internal:8080")
    (warning,) = shared_database_warnings()
    assert "DJANGO_SECRET_KEY and BRUTE_FIELD_KEY are not set" in warning
    assert "http://sqld.internal:8080" in warning


def test_an_embedded_replica_counts_as_shared(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 60)
    monkeypatch.delenv("BRUTE_FIELD_KEY", raising=False)
    settings.PRODUCTION = False
    _shared(settings, str(tmp_path / "replica.db"), {"sync_url": "http://sqld:8080"})
    (warning,) = shared_database_warnings()
    assert "BRUTE_FIELD_KEY is not set" in warning


def test_no_warning_for_a_local_file_or_with_both_keys(settings, monkeypatch, tmp_path):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    settings.PRODUCTION = False
    _shared(settings, str(tmp_path / "brute.db"))
    assert shared_database_warnings() == []
    _shared(settings, "http://sqld.internal:8080")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 60)
    monkeypatch.setenv("BRUTE_FIELD_KEY", "k")
    assert shared_database_warnings() == []


def test_manage_py_check_shows_it(settings, monkeypatch, capsys):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    settings.PRODUCTION = False
    _shared(settings, "http://sqld.internal:8080")
    call_command("check")
    assert "brute.W001" in capsys.readouterr().err
