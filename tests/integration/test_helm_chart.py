"""deploy/helm/babelgate rendered by Helm's own engine (`helm template`, through the Helm library that
helm-python-sdk ships) and every manifest checked against the Kubernetes API's schemas (kubernetes-validate,
strict: an unknown field fails), with the default values and with every option turned; the config it
writes is loaded by the gateway's own loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.services import unavailable

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "babelgate"
KUBERNETES_VERSION = "1.32"


def _render(values: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    try:
        from helm_python.chart import Chart
    except ImportError:
        unavailable("helm-python-sdk is not installed (pip install 'helm-python-sdk>=0.2.2,<0.3': the dev extra)")
    manifests = Chart.load(str(CHART)).render(values=values, name="gw", namespace="ai")
    documents: dict[str, dict[str, Any]] = {}
    for text in manifests.values():
        for document in yaml.safe_load_all(text):
            if document:
                assert document["kind"] not in documents
                documents[document["kind"]] = document
    return documents


def _valid(documents: dict[str, dict[str, Any]]) -> None:
    for document in documents.values():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item for item in container["env"]}


def test_the_default_chart_renders_valid_manifests_that_fit_together(tmp_path: Path) -> None:
    documents = _render()
    assert set(documents) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    _valid(documents)
    deployment, hpa, pdb, service = (
        documents[kind] for kind in ("Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service")
    )
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"] == "gw-babelgate"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert pdb["spec"]["minAvailable"] == 2 and pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    env = _env(deployment)
    for name, key in (("BABELGATE_STORE_URL", "store-url"), ("BABELGATE_REDIS_URL", "redis-url")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "babelgate-secrets", "key": key}
    assert "BABELGATE_OIDC_CLIENT_SECRET" not in env

    # The config file it writes is one the gateway loads, with the secrets from the environment.
    config_text = documents["ConfigMap"]["data"]["babelgate.yaml"]
    path = tmp_path / "babelgate.yaml"
    path.write_text(config_text)
    environ = {
        "BABELGATE_GATEWAY_KEY": "gateway-key-0123456789",
        "BABELGATE_MASTER_KEY": "master-key-0123456789abc",
        "BABELGATE_STORE_URL": "postgresql://babelgate@postgres:5432/babelgate",
        "BABELGATE_REDIS_URL": "redis://redis:6379/0",
        "OPENAI_API_KEY": "sk-test",
    }
    config = load_config(path, environ, available_types=PROVIDER_TYPES)
    assert config.store.url.startswith("postgresql://") and config.redis is not None
    assert yaml.safe_load(config_text)["store"]["url"] == "env:BABELGATE_STORE_URL"  # no secret in the ConfigMap


def test_every_option_renders_valid_manifests() -> None:
    documents = _render(
        {
            "replicaCount": 5,
            "autoscaling": {"enabled": False},
            "podDisruptionBudget": {"minAvailable": 4},
            "secrets": {"create": True, "values": {"master-key": "m" * 24, "oidc-client-secret": "s3cret"}},
            "oidc": {
                "enabled": True,
                "issuer": "https://login.example.com/realms/company",
                "clientId": "babelgate",
                "redirectUrl": "https://gateway.example.com/admin/oidc/callback",
                "roles": {"admin": ["platform"], "viewer": ["finance"]},
            },
            "alerts": {"webhooks": [{"url": "https://hooks.example.com/b", "format": "slack"}]},
            "config": {"teams": {"search": {"rpm": 100}}},
            "extraEnv": [{"name": "LOG_LEVEL", "value": "debug"}],
            "image": {"tag": "1.2.3"},
        }
    )
    assert set(documents) == {"ConfigMap", "Deployment", "Service", "Secret", "PodDisruptionBudget"}
    _valid(documents)
    deployment = documents["Deployment"]
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "babelgate:1.2.3"
    env = _env(deployment)
    assert env["BABELGATE_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "gw-babelgate",
        "key": "oidc-client-secret",
    }
    assert env["LOG_LEVEL"]["value"] == "debug"
    assert set(documents["Secret"]["stringData"]) == {"master-key", "oidc-client-secret"}  # empty ones left out
    config = yaml.safe_load(documents["ConfigMap"]["data"]["babelgate.yaml"])
    assert config["auth"]["oidc"] == {
        "issuer": "https://login.example.com/realms/company",
        "client_id": "babelgate",
        "client_secret": "env:BABELGATE_OIDC_CLIENT_SECRET",
        "redirect_url": "https://gateway.example.com/admin/oidc/callback",
        "roles": {"admin": ["platform"], "viewer": ["finance"]},
    }
    assert config["alerts"]["webhooks"][0]["format"] == "slack" and config["teams"] == {"search": {"rpm": 100}}


def test_the_validator_refuses_what_the_chart_must_not_render() -> None:
    documents = _render()
    broken = documents["Deployment"]
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/health"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
