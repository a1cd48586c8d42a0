"""docker-compose.yml is the chain the docs describe: it parses, names the services README and docs/scaling.md
name, and every app host and render worker shares one database, one render queue and one sheet cache.
(`docker compose config` is not available where the tests run; this reads the file as Compose would.)"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
RUNS_THE_APP = [name for name in SERVICES if name != "postgres"]


def test_the_chain_has_app_hosts_render_workers_and_one_postgresql():
    commands = {name: " ".join(SERVICES[name]["command"]) for name in RUNS_THE_APP}
    assert [name for name, command in commands.items() if command.startswith("gunicorn")] == ["app1", "app2"]
    assert [name for name, command in commands.items() if command.endswith("render-worker")] == ["render1", "render2"]
    assert SERVICES["postgres"]["image"].startswith("postgres:") and "healthcheck" in SERVICES["postgres"]


def test_every_host_and_worker_shares_the_database_the_queue_and_the_sheet_cache():
    settings = [SERVICES[name]["environment"] for name in RUNS_THE_APP]
    for key in ("REHAB_DATABASE_URL", "REHAB_RENDER_QUEUE", "REHAB_SHEET_CACHE_DIR", "REHAB_SECRET_KEY"):
        assert len({environment[key] for environment in settings}) == 1, key
    assert settings[0]["REHAB_RENDER_QUEUE"].startswith("postgresql://rehab:")
    assert "@postgres:5432/rehab" in settings[0]["REHAB_RENDER_QUEUE"]  # the chain's PostgreSQL is the queue
    assert all("sheet-cache:/var/lib/rehab/sheet-cache" in SERVICES[name]["volumes"] for name in RUNS_THE_APP)
    assert all(SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
               for name in ("app1", "app2", "render1", "render2"))


def test_the_docs_name_the_services_the_file_runs():
    readme = (ROOT / "README.md").read_text()
    scaling = (ROOT / "docs" / "scaling.md").read_text()
    assert "docker-compose.yml" in readme and "docker-compose.yml" in scaling
    for name in SERVICES:
        assert f"`{name}`" in scaling, f"docs/scaling.md does not name the service {name}"
