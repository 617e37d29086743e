"""Every role is accounted for in the same way everywhere: /healthz, the Docker image's entry point,
the compose file, `make run` and the README's "Scaling out" (issue 15: the sniper was missing from
three of them)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from config.health import ROLES, WEB_ROLES
from config.management.commands.runbrute import PROCESSES

ROOT = Path(__file__).resolve().parents[2]
ONE_TIME = {"migrate"}
# Not roles of Brute's own: the bundled exchange of the offline demo, and the infrastructure.
NOT_ROLES = {"exchange", "redis", "sqld", "caddy"}


def docker_roles() -> set[str]:
    script = (ROOT / "scripts" / "docker-entrypoint.sh").read_text()
    roles = set(re.findall(r"^\s+([a-z]+)\)", script, re.MULTILINE))
    return roles - {"manage"}  # `manage <command>` runs any command, not a process


def compose_services() -> dict[str, dict[str, object]]:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]


def readme_roles() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z]+)` \|", section, re.MULTILINE))


def test_every_role_is_in_healthz_docker_compose_make_run_and_the_readme():
    health = set(ROLES) | set(WEB_ROLES)
    docker = docker_roles()
    compose = set(compose_services()) - NOT_ROLES
    make_run = {process.name for process in PROCESSES} - NOT_ROLES
    readme = readme_roles()
    assert "sniper" in health
    assert docker == compose == readme == health | ONE_TIME, (docker, compose, readme, health)
    assert make_run == health, make_run


def test_healthz_reports_each_running_role(client, db):
    checks = client.get("/healthz").json()["checks"]
    for role in ROLES.values():
        assert checks[role.check]["role"] == role.name


def test_the_compose_file_runs_each_role_with_a_restart_policy_after_one_migrate():
    services = compose_services()
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in docker_roles() - ONE_TIME:
        service = services[name]
        assert service["command"] == [name]
        assert service["restart"] == "unless-stopped"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["BRUTE_MIGRATE"] == "0"  # web does not migrate again
    assert services["redis"]["command"][-3:] == ["yes", "--appendfsync", "everysec"]


def test_every_container_shares_the_one_shadow_state_file():
    """settings.py reads the primary from the shadow state file: after a cut-over every container
    must read the same file, not one in its own /var/lib/brute (issue 16)."""
    document = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = document["services"]
    state = Path(services["web"]["environment"]["SHADOW_STATE_FILE"])
    mount = f"shadow:{state.parent}"
    assert "shadow" in document["volumes"]
    for name in docker_roles():  # migrate too: it migrates the primary the state file names
        service = services[name]
        assert service["environment"]["SHADOW_STATE_FILE"] == str(state), name
        assert mount in service["volumes"], (name, service["volumes"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    owned = re.search(r"chown brute:brute ([^\n]+)", dockerfile)
    assert owned is not None
    assert str(state.parent) in owned.group(1).split()  # the volume starts brute-owned from the image


def test_the_proxy_examples_pass_websockets_and_check_healthz():
    caddy = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddy
    assert "health_uri /healthz" in caddy
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx


def test_the_entrypoint_is_valid_shell_and_refuses_an_unknown_role():
    script = ROOT / "scripts" / "docker-entrypoint.sh"
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    run = subprocess.run(["sh", str(script), "nonsense"], capture_output=True, text=True, check=False)
    assert run.returncode == 64
    for role in sorted(docker_roles()):
        assert role in run.stderr


@pytest.mark.parametrize("name", ["nginx.conf", "Caddyfile"])
def test_the_proxy_examples_block_metrics(name):
    assert re.search(r"/metrics.*404", (ROOT / "deploy" / name).read_text())
