"""scripts/check_helm.py: the chart as written passes; copies of it broken on purpose (a
probe gone, a Service selecting no pod, a NetworkPolicy cutting the gateway off, values
the schema refuses) fail, each with the problem named. checkov is left out here (it runs
in `make check-helm`); without helm (`make bootstrap` unpacks it, with npm) they skip."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_helm  # noqa: E402

try:
    check_helm.find_helm()
except check_helm.ToolMissing as missing:
    pytestmark = pytest.mark.skip(reason=str(missing))

PRODUCTION = ROOT / "deploy" / "helm" / "values-production.yaml"


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    """A copy of the chart to break."""
    copy = tmp_path / "kinoarchive"
    shutil.copytree(check_helm.CHART, copy)
    return copy


def edit(chart: Path, template: str, old: str, new: str) -> None:
    path = chart / "templates" / template
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{template} no longer holds {old!r}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def problems(chart: Path, *values: Path) -> list[str]:
    return check_helm.check(chart, [None, *values], with_checkov=False)


def test_the_chart_passes(chart: Path) -> None:
    assert problems(chart, PRODUCTION) == []


def test_a_missing_probe_fails(chart: Path) -> None:
    # The same checks, now on start only (the gateway has no startup probe of its own).
    edit(chart, "gateway.yaml", "          readinessProbe:\n", "          startupProbe:\n")
    found = problems(chart)
    assert found == [
        "default values: Deployment kinoarchive-gateway: container gateway has no readinessProbe"
    ]


def test_a_service_selecting_no_pod_fails(chart: Path) -> None:
    edit(
        chart,
        "service.yaml",
        '{{- include "kinoarchive.selectorLabels" $ctx | nindent 4 }}',
        '{{- include "kinoarchive.selectorLabels" $ctx | nindent 4 }}\n    tier: {{ $component }}',
    )
    found = problems(chart)
    assert "default values: Service kinoarchive-auth selects no pod of a Deployment" in "\n".join(
        found
    )
    # And so nothing reaches the services: the gateway's and the Ingress's routes fail too.
    assert any("CATALOG_UPSTREAM names" in problem for problem in found)
    assert any("Ingress kinoarchive" in problem for problem in found)


def test_a_network_policy_cutting_the_gateway_off_fails(chart: Path) -> None:
    edit(
        chart,
        "networkpolicy.yaml",
        '"auth" (list "gateway" "user")',
        '"auth" (list "user")',
    )
    assert problems(chart) == [
        "default values: the NetworkPolicies cut Deployment kinoarchive-gateway off from "
        "kinoarchive-auth (port 8000), which its AUTH_UPSTREAM names"
    ]


def test_a_network_policy_open_to_anyone_fails(chart: Path) -> None:
    edit(
        chart,
        "networkpolicy.yaml",
        '"user" (list "gateway")',
        '"user" (list)',
    )
    found = problems(chart)
    assert (
        "default values: Deployment kinoarchive-user: its NetworkPolicies admit anyone on "
        "port 8000, not only the pods that call it"
    ) in found


def test_values_the_schema_refuses_fail(chart: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("catalog:\n  replicaCount: two\nreplicas: 3\n", encoding="utf-8")
    found = problems(chart, wrong)
    assert found
    assert all(problem.startswith("wrong.yaml: helm") for problem in found)
    assert "replicaCount" in "\n".join(found)
    assert "'replicas' not allowed" in "\n".join(found)


def test_an_unknown_field_fails_the_api_schemas(chart: Path) -> None:
    edit(chart, "pdb.yaml", "  maxUnavailable: 1\n", "  maxUnavailable: 1\n  maxAvailable: 3\n")
    found = problems(chart)
    assert len(found) == 8  # four budgets, two Kubernetes versions
    assert all("maxAvailable" in problem for problem in found)
