from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import Env

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_typed_values():
    env = Env({"FLAG": "yes", "COUNT": " 12 ", "HOSTS": "a.example, b.example,"})
    assert env.boolean("FLAG", False) is True
    assert env.integer("COUNT", 0) == 12
    assert env.csv("HOSTS") == ["a.example", "b.example"]
    assert env.integer("MISSING", 7) == 7


@pytest.mark.parametrize(
    ("source", "call", "expected"),
    [
        (
            {"DJANGO_DEBUG": "maybe"},
            lambda e: e.boolean("DJANGO_DEBUG", False),
            "DJANGO_DEBUG must be true or false",
        ),
        ({"PORT": "eighty"}, lambda e: e.integer("PORT", 1), "PORT must be a whole number"),
        ({"PORT": "0"}, lambda e: e.integer("PORT", 1, minimum=1), "PORT must be at least 1"),
        ({"MODE": "chaos"}, lambda e: e.choice("MODE", "a", ("a", "b")), "MODE must be one of a, b"),
        (
            {"REDIS_URL": "http://x"},
            lambda e: e.url("REDIS_URL", schemes=("redis",)),
            "REDIS_URL must start with",
        ),
    ],
)
def test_it_names_the_variable_of_a_malformed_value(source, call, expected):
    with pytest.raises(ImproperlyConfigured, match=expected):
        call(Env(source))


def _manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "BRUTE_VAR_DIR": str(tmp_path), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_malformed_variable_stops_start_up_with_its_name(tmp_path):
    result = _manage("check", env={"DJANGO_DEBUG": "perhaps"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be true or false" in result.stderr


def test_notification_destinations_are_public_only_and_slack_by_default(tmp_path):
    code = "from django.conf import settings as s; print(s.NOTIFY_ALLOW_PRIVATE_URLS, s.SLACK_WEBHOOK_BASE)"
    development = {"DJANGO_ENV": "development"}
    result = _manage("shell", "--no-imports", "-c", code, env=development, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "https://hooks.slack.com/"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NOTIFY_ALLOW_PRIVATE_URLS", "sometimes", "NOTIFY_ALLOW_PRIVATE_URLS must be true or false"),
        ("SLACK_WEBHOOK_BASE", "ftp://hooks.slack.com/", "SLACK_WEBHOOK_BASE must start with one of http:"),
        ("SLACK_WEBHOOK_BASE", "https://hooks.slack.com", "SLACK_WEBHOOK_BASE must be a URL with a host"),
        ("SLACK_WEBHOOK_BASE", "https:///services/", "SLACK_WEBHOOK_BASE must be a URL with a host"),
    ],
)
def test_a_malformed_notification_setting_stops_start_up(tmp_path, name, value, expected):
    result = _manage("check", env={name: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert expected in result.stderr


def test_production_requires_a_secret_key(tmp_path):
    result = _manage("check", env={"DJANGO_ENV": "production"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_production_settings_pass_the_deployment_check_without_warnings(tmp_path):
    env = {
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": "k" * 20 + "-Zq8vY3nW0pLx2rT6uJ4hB1cD9eF7gA5sK-" + "m" * 10,
        "DJANGO_ALLOWED_HOSTS": "brute.example.com",
        "BRUTE_FIELD_KEY": "x0m6wqk2mJ8yQm3r2gkq6fJmJ6Y9tq5o1c8mRkT1ZzU=",
    }
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
