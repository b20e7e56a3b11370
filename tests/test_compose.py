"""The container files: compose validates, every variable is documented, the image is pinned
and unprivileged."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = (ROOT / "docker-compose.yml").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def compose_command() -> list[str] | None:
    """`docker compose` (the plugin) or the standalone `docker-compose`, if installed."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def run_config(env_file: Path | None) -> subprocess.CompletedProcess[str]:
    command = compose_command()
    if command is None:
        pytest.skip("no docker compose client installed")
    args = [*command, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    if env_file is not None:
        args += ["--env-file", str(env_file)]
    clean_env = {k: v for k, v in os.environ.items()
                 if not k.startswith(("POSTGRES_", "EVIDENCEDB_", "COMPOSE_"))}
    return subprocess.run([*args, "config"], capture_output=True, text=True, timeout=60,
                          env=clean_env, cwd=ROOT)


def env_example_keys() -> set[str]:
    return {line.split("=", 1)[0] for line in ENV_EXAMPLE.splitlines()
            if line and not line.startswith("#")}


def test_compose_config_validates_with_the_example_env():
    result = run_config(ROOT / ".env.example")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "postgresql+psycopg://evidencedb:change-me@db:5432/evidencedb" in out
    assert "service_completed_successfully" in out and "service_healthy" in out
    assert "--factory" in out and "--workers" in out


def test_compose_refuses_to_start_without_a_database_password(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_config(empty)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def test_every_compose_variable_is_documented_in_the_example_env():
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", COMPOSE))
    assert used, "the compose file uses no variables?"
    assert used <= env_example_keys()


def test_every_service_setting_in_compose_is_a_setting_the_service_reads():
    fields = set(Settings.model_fields)
    named = set(re.findall(r"\b(EVIDENCEDB_[A-Z0-9_]+)\s*:", COMPOSE))
    named |= {k for k in env_example_keys() if k.startswith("EVIDENCEDB_")}
    container_only = {"EVIDENCEDB_IMAGE", "EVIDENCEDB_PORT", "EVIDENCEDB_WORKERS",
                      "EVIDENCEDB_GRACEFUL_TIMEOUT_S"}
    unknown = {n for n in named - container_only
               if n.removeprefix("EVIDENCEDB_").lower() not in fields}
    assert unknown == set()


def test_the_api_runs_the_factory_after_the_migrate_job():
    assert "evidencedb migrate && evidencedb seed" in COMPOSE
    assert "app.main:create_app" in COMPOSE and "/readyz" in COMPOSE
    assert re.search(r"^volumes:\n  pgdata:", COMPOSE, re.M)


def test_the_image_is_multi_stage_slim_and_unprivileged():
    stages = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, re.M)
    assert len(stages) >= 2
    assert "slim" in re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE).group(1)
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "requirements.lock" in DOCKERFILE


def test_the_image_dependencies_are_pinned():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, pinned = line.partition("==")
            assert sep and pinned, f"not pinned: {line}"
            lock[re.sub(r"[-_.]+", "-", name).lower()] = pinned
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0]
        assert re.sub(r"[-_.]+", "-", name).lower() in lock, name
