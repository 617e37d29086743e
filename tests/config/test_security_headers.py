"""The security headers a production response carries, and a CSP in development too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "k" * 20 + "-Zq8vY3nW0pLx2rT6uJ4hB1cD9eF7gA5sK-" + "m" * 10,
    "DJANGO_ALLOWED_HOSTS": "brute.example.com",
    "BRUTE_FIELD_KEY": "x0m6wqk2mJ8yQm3r2gkq6fJmJ6Y9tq5o1c8mRkT1ZzU=",
}

# Runs in a production process: settings are read once, at start-up, from the environment.
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# Only static file names change (no collected manifest here); every header comes from production.
plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
storages = {**settings.STORAGES, "staticfiles": plain}
with override_settings(STORAGES=storages):
    response = Client().get("/accounts/login/", secure=True, HTTP_HOST="brute.example.com")
print(json.dumps({"status": response.status_code, "headers": dict(response.headers)}))
"""


def _csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture(scope="module")
def production_response(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    var = tmp_path_factory.mktemp("var")
    env = {"PATH": "/usr/bin:/bin", "BRUTE_VAR_DIR": str(var), "HOME": str(var), **PRODUCTION}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_production_page_carries_every_security_header(production_response: dict[str, object]) -> None:
    headers = production_response["headers"]
    assert isinstance(headers, dict)
    csp = _csp_directives(headers["Content-Security-Policy"])

    assert production_response["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["style-src"]
    assert "'unsafe-eval'" not in " ".join(headers["Content-Security-Policy"].split())


@pytest.mark.django_db
def test_development_sends_the_same_policy(client: Client) -> None:
    csp = _csp_directives(client.get("/accounts/login/")["Content-Security-Policy"])

    assert csp["script-src"] == ["'self'"]
    assert csp["style-src-elem"][0] == "'self'"
    assert "'unsafe-inline'" not in csp["style-src-elem"]


@pytest.mark.django_db
def test_no_template_has_an_inline_script_or_event_handler() -> None:
    import re

    inline = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>|\son[a-z]+=\"", re.I)
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "templates").rglob("*.html")
        if inline.search(path.read_text())
    ]
    assert offenders == []
