"""deploy/ checked without a container runtime: the Kubernetes manifests against the Kubernetes API's
own schemas (kubernetes-validate, strict: an unknown field fails), the Dockerfile against the rules
hadolint would apply that matter here, the Compose file's shape (exactly the processes
test_many_instances.py starts) and its references, nginx's own `nginx -t` on the filled template, and
the shared gateway config through the gateway's own loader."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.services import unavailable

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KUBERNETES_VERSION = "1.32"
SERVICES = {"gateway1", "gateway2", "gateway3", "nginx", "postgres", "redis"}
SECRETS_ENV = {"BABELGATE_GATEWAY_KEY": "gw-key-0123456789", "BABELGATE_MASTER_KEY": "master-key-0123456789",
               "BABELGATE_STORE_URL": "postgresql://u:p@postgres:5432/db", "BABELGATE_REDIS_URL": "redis://redis:6379/0",
               "OPENAI_API_KEY": "sk-test"}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.mark.parametrize("manifest", sorted((DEPLOY / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifests_fit_the_api_schemas(manifest: Path) -> None:
    for document in _documents(manifest):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_deployment_probes_health_runs_non_root_and_outlasts_the_shutdown_grace() -> None:
    deployment = _documents(DEPLOY / "k8s" / "deployment.yaml")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert pod["securityContext"]["runAsNonRoot"] is True
    config = yaml.safe_load(_documents(DEPLOY / "k8s" / "configmap.yaml")[0]["data"]["babelgate.yaml"])
    assert pod["terminationGracePeriodSeconds"] > config["server"]["shutdown_timeout"]
    secrets = {env["valueFrom"]["secretKeyRef"]["key"] for env in container["env"] if "valueFrom" in env}
    example = _documents(DEPLOY / "k8s" / "secret.example.yaml")[0]
    assert secrets == set(example["stringData"])  # every key the pod reads, the example names
    kinds = {doc["kind"] for path in (DEPLOY / "k8s").glob("*.yaml") for doc in _documents(path)}
    assert kinds == {"Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler"}


def test_one_gateway_config_for_compose_and_kubernetes_and_the_gateway_accepts_it() -> None:
    shared = yaml.safe_load((DEPLOY / "babelgate.yaml").read_text())
    in_cluster = yaml.safe_load(_documents(DEPLOY / "k8s" / "configmap.yaml")[0]["data"]["babelgate.yaml"])
    assert shared == in_cluster
    config = load_config(DEPLOY / "babelgate.yaml", SECRETS_ENV, available_types=PROVIDER_TYPES)
    assert config.store.url.startswith("postgresql://") and config.redis is not None
    assert config.server.master_key and config.server.api_keys


def test_the_dockerfile_follows_the_rules_that_matter() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    bases = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    assert len(bases) >= 2, "multi-stage: the build tools stay out of the image"
    for base in bases:  # DL3006/DL3007: a pinned tag, never latest
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", base) and not base.endswith(":latest"), base
    assert not any(line.startswith("ADD ") for line in instructions)  # DL3020: COPY for local files
    pip = [line for line in lines if "pip install" in line]
    assert pip and all("--no-cache-dir" in line for line in pip)  # DL3042
    final = instructions[max(i for i, line in enumerate(instructions) if line.startswith("FROM ")):]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")  # DL3002: the last USER is not root
    assert any(line.startswith("HEALTHCHECK") for line in final) and any("/health" in line for line in lines)
    cmd = next(line for line in final if line.startswith("CMD "))
    assert cmd.startswith('CMD ["')  # DL3025: exec form, so SIGTERM reaches the gateway itself
    assert (DEPLOY / "Dockerfile.dockerignore").exists()


def test_compose_runs_exactly_the_processes_the_many_instances_test_starts() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    for gateway in ("gateway1", "gateway2", "gateway3"):
        service = services[gateway]
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).exists()
        environment = service["environment"]
        assert environment["BABELGATE_STORE_URL"].startswith("postgresql://")
        assert environment["BABELGATE_REDIS_URL"].startswith("redis://")
        grace = int(service["stop_grace_period"].rstrip("s"))
        assert grace > yaml.safe_load((DEPLOY / "babelgate.yaml").read_text())["server"]["shutdown_timeout"]
    nginx = services["nginx"]["environment"]
    assert {nginx[f"GATEWAY_{i}"] for i in (1, 2, 3)} == {f"gateway{i}:8080" for i in (1, 2, 3)}


def nginx_binary() -> str:
    """nginx from Debian's package, installed here when missing and possible."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], capture_output=True, timeout=600,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        unavailable("nginx is not installed (apt-get install nginx-light)")
    assert found is not None
    return found


def filled_template(values: dict[str, str]) -> str:
    """The template as the nginx image's envsubst fills it: only the variables given are replaced."""
    text = (DEPLOY / "nginx" / "default.conf.template").read_text()
    return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def nginx_main_config(site: Path, prefix: Path) -> str:
    return (f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            f"http {{\n access_log off;\n client_body_temp_path {prefix}/body;\n proxy_temp_path {prefix}/proxy;\n"
            f" fastcgi_temp_path {prefix}/fastcgi;\n uwsgi_temp_path {prefix}/uwsgi;\n scgi_temp_path {prefix}/scgi;\n"
            f" include {site};\n}}\n")


def test_nginx_accepts_the_filled_template(tmp_path: Path) -> None:
    nginx = nginx_binary()
    site = tmp_path / "site.conf"
    site.write_text(filled_template({"GATEWAY_1": "127.0.0.1:18081", "GATEWAY_2": "127.0.0.1:18082",
                                     "GATEWAY_3": "127.0.0.1:18083", "LISTEN_PORT": "127.0.0.1:18080"}))
    main = tmp_path / "nginx.conf"
    main.write_text(nginx_main_config(site, tmp_path))
    checked = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
