"""Deployment artefacts (SPEC X-04, X-05), checked without a Docker engine.

- docker-compose.yml against the Compose Specification and the platform's
  wiring (one database per service, health-gated start-up, no literal secrets);
- each service's Dockerfile (python:3.11, non-root, HEALTHCHECK, run command);
- Prometheus config and alert rules with promtool (from Debian's `prometheus`
  package), including the rule unit tests in deploy/prometheus/alerts.test.yml;
- the Grafana dashboard and the alerts use only metrics the code defines.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "manager-overview.json"
METRICS_PY = ROOT / "shared" / "src" / "manager_shared" / "metrics.py"

SERVICES = ("identity", "organizations", "billing", "domains", "notifications")
HOST_PORTS = {"identity": 8001, "organizations": 8002, "billing": 8003, "domains": 8004, "notifications": 8005}

# Agreed with the notifications service, which defines them in its own package.
NOTIFICATIONS_METRICS = {"notifications_messages_total": "counter", "notifications_delivery_seconds": "histogram"}
# Produced by Prometheus itself (up, ALERTS) or by the blackbox exporter the
# compose stack runs for readiness (probe_success).
STANDARD_METRICS = {"up", "ALERTS", "probe_success"}


def load_yaml(path: Path):
    return YAML(typ="safe", pure=True).load(path.read_text())


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, (
        f"`{' '.join(result.args)}` exited {result.returncode}\n{result.stdout}\n{result.stderr}")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: it comes with Debian's `prometheus` package "
                    "(apt-get install -y prometheus); .ci/run installs it.")
    return path


# ---------------------------------------------------------------- compose


def compose_services() -> dict:
    return load_yaml(COMPOSE)["services"]


def dockerfile_of(service: dict) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    return ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")


def has_healthcheck(service: dict) -> bool:
    check = service.get("healthcheck")
    if check is not None:
        return not check.get("disable", False) and check.get("test") not in (None, ["NONE"], "NONE")
    dockerfile = dockerfile_of(service)
    return dockerfile is not None and dockerfile.exists() and any(
        instr == "HEALTHCHECK" and not args.startswith("NONE") for instr, args in instructions(dockerfile))


def test_x_05_compose_file_matches_compose_spec():
    assert_ok(run(sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                  str(COMPOSE)))

    services = compose_services()
    missing = {*SERVICES, "kafka", "postgres"} - services.keys()
    assert not missing, f"docker-compose.yml lacks {sorted(missing)}"

    for name in (*SERVICES, "kafka", "postgres"):
        assert has_healthcheck(services[name]), f"{name} has no healthcheck (in compose or its Dockerfile)"
    for name, service in services.items():
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, f"{name}: no restart policy"
        for dep, cond in (service.get("depends_on") or {}).items():
            if cond.get("condition") == "service_healthy":
                assert has_healthcheck(services[dep]), f"{name} waits for {dep} to be healthy, which it never is"

    for name in SERVICES:
        service, prefix = services[name], f"{name.upper()}_"
        assert dockerfile_of(service) == ROOT / "services" / name / "Dockerfile", f"{name}: builds the wrong image"
        for dep in ("postgres", "kafka"):
            assert service["depends_on"][dep]["condition"] == "service_healthy", f"{name} must wait for {dep}"
        env = service["environment"]
        assert isinstance(env, dict), f"{name}: write environment as a mapping"
        strays = [key for key in env if not key.startswith(prefix)]
        assert not strays, f"{name}: variables without its {prefix} prefix are ignored: {strays}"
        url = env[f"{prefix}DATABASE_URL"]
        match = re.fullmatch(r"postgresql\+asyncpg://[^@/]+@postgres:5432/(\w+)", url)
        assert match and match.group(1) == name, f"{name} must use its own database, not {url!r}"
        assert env[f"{prefix}KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert str(env.get(f"{prefix}KAFKA_IDEMPOTENCE", "true")).lower() == "true", "real Kafka: keep idempotence"
        assert env[f"{prefix}JWKS_URL"] == "http://identity:8000/.well-known/jwks.json"
        assert f"{HOST_PORTS[name]}:8000" in [str(p) for p in service.get("ports", [])], f"{name}: host port"

    created = re.findall(r"CREATE DATABASE (\w+)", (DEPLOY / "postgres" / "init-databases.sql").read_text())
    assert sorted(created) == sorted(SERVICES)


def test_x_05_compose_has_no_literal_secrets_and_its_files_exist():
    compose = load_yaml(COMPOSE)
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert str(value).startswith("${"), f"{name}.{key}: take secrets from the environment"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
            elif source and "/" not in source:
                assert source in (compose.get("volumes") or {}), f"{name}: volume {source} is not declared"


# ---------------------------------------------------------------- Dockerfiles


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(parts[0].upper(), parts[1].strip() if len(parts) > 1 else "")
            for line in joined.splitlines() if (parts := line.strip().split(None, 1))]


@pytest.mark.parametrize("name", SERVICES)
def test_x_05_service_dockerfile(name):
    path = ROOT / "services" / name / "Dockerfile"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing"
    steps = instructions(path)
    args_of = lambda instr: [args for i, args in steps if i == instr]  # noqa: E731

    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(@sha256:[0-9a-f]+)?", args_of("FROM")[-1]), "base image"
    users = args_of("USER")
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "the service must not run as root"

    healthchecks = args_of("HEALTHCHECK")
    assert healthchecks and "127.0.0.1:8000/healthz" in healthchecks[-1] and "urllib" in healthchecks[-1]
    assert "8000" in args_of("EXPOSE")
    assert json.loads(args_of("CMD")[-1]) == ["python", "-m", name, "serve", "--host", "0.0.0.0", "--port", "8000"]

    # Editable install: the service finds its migrations next to its source.
    installs = " ".join(args_of("RUN"))
    assert f"-e /src/services/{name}" in installs and "-e /src/shared" in installs
    # Exactly the pinned versions: every pip install is constrained by constraints.txt.
    copies = [args.split() for args in args_of("COPY")]
    [pins] = [dest for *srcs, dest in copies if srcs == ["constraints.txt"]] or [None]
    assert pins, "constraints.txt is not copied into the image"
    pip_runs = [args for args in args_of("RUN") if "pip install" in args]
    assert pip_runs and all(re.search(rf"pip install (.* )?(-c|--constraint)[ =]{re.escape(pins)}( |$)", args)
                            for args in pip_runs), f"a pip install without -c {pins}: {pip_runs}"
    # Its own image: nothing from the other services.
    sources = {src for args in args_of("COPY") for src in args.split()[:-1] if not src.startswith("--")}
    assert sources <= {"shared/", f"services/{name}/", "constraints.txt"}, f"copies {sources}"
    secretish = [args for instr in ("ENV", "ARG") for args in args_of(instr)
                 if re.search(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY", args, re.I)]
    assert not secretish, f"secrets do not belong in the image: {secretish}"


# ---------------------------------------------------------------- Prometheus


def test_x_04_alert_rules_are_valid():
    tool = promtool()
    assert_ok(run(tool, "check", "config", "deploy/prometheus/prometheus.yml"))  # also checks alerts.yml
    assert_ok(run(tool, "check", "rules", "deploy/prometheus/alerts.yml"))
    assert_ok(run(tool, "test", "rules", "deploy/prometheus/alerts.test.yml"))


def test_x_04_prometheus_scrapes_every_service():
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    targets = {target for job in config["scrape_configs"] for group in job.get("static_configs", [])
               for target in group["targets"]}
    for name in SERVICES:
        assert f"{name}:8000" in targets, f"{name}'s /metrics is not scraped"
        assert f"http://{name}:8000/readyz" in targets, f"{name}'s /readyz is not probed"


# ---------------------------------------------------------------- metric names

_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
             "offset", "bool", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (also with Grafana variables)."""
    e = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)   # string literals
    e = re.sub(r"\{[^}]*\}", " ", e)                # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)               # ranges and subqueries
    e = _LABEL_LISTS.sub(" ", e)                    # grouping label lists
    e = re.sub(r"\$\{[^}]*\}|\$\w+", " ", e)        # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)\s*(\()?", e):
        name, call = match.groups()
        if not call and name.lower() not in _KEYWORDS:  # followed by "(": a function
            names.add(name)
    return names


def test_metric_name_extraction():
    expr = ('sum by (service, le) (rate(http_request_duration_seconds_bucket{route!~"/a|/b", x="y(z)"}'
            '[$__rate_interval])) / on (service) group_left up offset 15m > 1e-3 and probe_success == bool 0')
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "up", "probe_success"}


def exposed_names(kind: str, name: str) -> set[str]:
    """The series names prometheus_client exposes for one metric."""
    if kind == "counter":
        return {name if name.endswith("_total") else f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    if kind == "summary":
        return {name, f"{name}_count", f"{name}_sum"}
    return {name}


def known_metrics() -> set[str]:
    kinds = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}
    known = set(STANDARD_METRICS)
    for node in ast.walk(ast.parse(METRICS_PY.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in kinds
                and node.args and isinstance(node.args[0], ast.Constant)):
            known |= exposed_names(kinds[node.func.id], node.args[0].value)
    for name, kind in NOTIFICATIONS_METRICS.items():
        known |= exposed_names(kind, name)
    return known


def dashboard_exprs(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        query = node.get("definition") or ""
        found += re.findall(r"label_values\(\s*([^,)]+)", query)
        return found + [e for value in node.values() for e in dashboard_exprs(value)]
    if isinstance(node, list):
        return [e for value in node for e in dashboard_exprs(value)]
    return []


def test_x_04_dashboard_uses_known_metrics():
    known = known_metrics()
    assert {"http_requests_total", "outbox_backlog", "http_request_duration_seconds_bucket"} <= known
    sources = {"dashboard": dashboard_exprs(json.loads(DASHBOARD.read_text())),
               "alerts": [rule["expr"] for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]}
    used = {source: set().union(*map(metric_names, exprs)) for source, exprs in sources.items()}
    for source, names in used.items():
        unknown = sorted(names - known)
        assert not unknown, f"{source} uses metrics no service defines: {unknown}"

    # What the overview must show (SPEC X-04).
    assert {"http_requests_total", "http_request_duration_seconds_bucket", "events_published_total",
            "events_consumed_total", "outbox_backlog", "outbox_oldest_age_seconds",
            "events_dead_lettered_total"} <= used["dashboard"]

    # Once notifications exists, the names agreed with it must be the ones it defines.
    notifications_src = ROOT / "services" / "notifications" / "src"
    if notifications_src.is_dir():
        code = "\n".join(p.read_text() for p in notifications_src.rglob("*.py"))
        for name, kind in NOTIFICATIONS_METRICS.items():
            if exposed_names(kind, name) & (used["dashboard"] | used["alerts"]):
                assert f'"{name.removesuffix("_total")}' in code, (
                    f"deploy/ uses {name}, which services/notifications does not define")


def test_x_04_dashboard_is_provisioned():
    datasource = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "manager.yml")["providers"][0]
    grafana = compose_services()["grafana"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]

    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource["uid"], f"{panel['title']}: unknown data source"
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
