"""deploy/kubernetes/: rendered as `kubectl apply -k` would, validated against the Kubernetes
API's JSON schemas (kubernetes-validate, strict: unknown fields are errors), checked for the
wiring a schema cannot see, and run: the gateway's own command with the manifests' settings
serves /health and /ready against real Postgres and Redis."""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import kubernetes_validate
import pytest
import yaml

from app.cli import build_parser
from app.config import ProviderSettings, Settings
from app.main import create_app
from tests.conftest import REDIS_URL, drop_database, fresh_database
from tests.processes import Gateway, cli_env, run_cli
from tests.servers import free_port
from tests.test_compose import provider_variables

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
# the oldest Kubernetes release still supported upstream when this was written, and the newest
# whose schemas kubernetes-validate ships
VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
CLUSTER_SCOPED = {"Namespace"}
Doc = dict[str, Any]


def render() -> list[Doc]:
    """The manifests as `kubectl apply -k` sends them, for the kustomization fields used here.

    A kustomization field this renderer does not implement fails the test, so the rendering
    never silently differs from kustomize's.
    """
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    supported = {"apiVersion", "kind", "namespace", "labels", "resources", "images"}
    assert set(kust) <= supported, (
        f"kustomization fields not rendered here: {set(kust) - supported}"
    )
    docs: list[Doc] = []
    for name in kust["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kust.get("images", [])}
    for doc in docs:
        meta = doc.setdefault("metadata", {})
        if doc["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = kust["namespace"]
        for group in kust.get("labels", []):
            assert not group.get("includeSelectors") and not group.get("includeTemplates")
            meta.setdefault("labels", {}).update(group["pairs"])
        for container in _containers(doc):
            container["image"] = images.get(container["image"], container["image"])
    return docs


def _containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    containers: list[Doc] = spec.get("containers", [])
    return containers


def _one(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render()


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_api(docs: list[Doc], version: str) -> None:
    for doc in docs:
        try:
            kubernetes_validate.validate(copy.deepcopy(doc), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {exc.message}")


def test_the_validator_rejects_what_kubernetes_would(docs: list[Doc]) -> None:
    broken = copy.deepcopy(_one(docs, "Deployment"))
    probe = _containers(broken)[0].pop("readinessProbe")
    _containers(broken)[0]["readinesProbe"] = probe  # a typo kubectl would refuse
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_gateway_runs_replicas_with_probes_on_health_and_ready(docs: list[Doc]) -> None:
    deployment = _one(docs, "Deployment", "imagegate")
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    (gateway,) = pod["containers"]
    args = build_parser().parse_args(gateway["command"][1:])
    assert gateway["command"][0] == "imagegate" and args.cmd == "serve" and not args.simulate
    assert args.host == "0.0.0.0"  # noqa: S104 (a pod listens on its own interface)
    (port,) = gateway["ports"]
    assert port == {"name": "http", "containerPort": args.port}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    routes = set(create_app(Settings()).openapi()["paths"])
    assert {"/ready", "/health", "/metrics"} <= routes
    # a Service called imagegate would inject IMAGEGATE_PORT=tcp://…, read as the listen port
    assert pod["enableServiceLinks"] is False


def test_a_pod_outlives_its_longest_generation(docs: list[Doc]) -> None:
    pod = _one(docs, "Deployment", "imagegate")["spec"]["template"]["spec"]
    config = _one(docs, "ConfigMap", "imagegate-config")["data"]
    longest = float(config["IMAGEGATE_UPSTREAM_TIMEOUT_S"]) + float(
        config["IMAGEGATE_DISCONNECT_DRAIN_S"]
    )
    assert pod["terminationGracePeriodSeconds"] > longest


def test_the_migration_job_shares_image_and_configuration(docs: list[Doc]) -> None:
    gateway = _one(docs, "Deployment", "imagegate")["spec"]["template"]["spec"]["containers"][0]
    job = _one(docs, "Job", "imagegate-migrate")
    pod = job["spec"]["template"]["spec"]
    (migrate,) = pod["containers"]
    assert build_parser().parse_args(migrate["command"][1:]).cmd == "migrate"
    assert migrate["image"] == gateway["image"] == "registry.example.com/imagegate:0.1.0"
    assert migrate["envFrom"] == gateway["envFrom"]
    assert pod["restartPolicy"] in ("OnFailure", "Never") and pod["enableServiceLinks"] is False


def _dockerfile_uid() -> int:
    match = re.search(r"useradd .*--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert match
    return int(match.group(1))


def test_pods_run_as_the_images_non_root_user(docs: list[Doc]) -> None:
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsUser"] == _dockerfile_uid()
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["readOnlyRootFilesystem"] is True


def _known_variables() -> set[str]:
    known = {"FORWARDED_ALLOW_IPS", "IMAGEGATE_SIMULATE"}
    for name in Settings.model_fields:
        if name != "providers":
            known.add(f"IMAGEGATE_{name.upper()}")
    for field in ProviderSettings.model_fields.values():
        assert isinstance(field.validation_alias, str)
        known.add(field.validation_alias)
    return known


def _environment(docs: list[Doc]) -> dict[str, str]:
    """The gateway container's environment: ConfigMap, Secret, then its own ``env``."""
    config = _one(docs, "ConfigMap", "imagegate-config")["data"]
    secret = _one(docs, "Secret", "imagegate-secrets")["stringData"]
    gateway = _containers(_one(docs, "Deployment", "imagegate"))[0]
    own = {}
    for item in gateway.get("env", []):
        assert set(item) == {"name", "value"}, item  # plain values, readable here
        own[item["name"]] = item["value"]
    return {**config, **secret, **own}


def test_the_ledger_spool_is_on_a_writable_volume_of_the_pod(docs: list[Doc]) -> None:
    """The root filesystem is read-only: IMAGEGATE_SPOOL_DIR must be on a mounted volume, or
    the gateway would refuse to start (and, before that check, lose rows in an outage)."""
    pod = _one(docs, "Deployment", "imagegate")["spec"]["template"]["spec"]
    (gateway,) = pod["containers"]
    assert gateway["securityContext"]["readOnlyRootFilesystem"] is True
    spool = Path(_environment(docs).get("IMAGEGATE_SPOOL_DIR", str(Settings().spool_dir)))
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = [
        m
        for m in gateway.get("volumeMounts", [])
        if spool == Path(m["mountPath"]) or Path(m["mountPath"]) in spool.parents
    ]
    assert mounts, f"IMAGEGATE_SPOOL_DIR {spool} is on the read-only root filesystem"
    (mount,) = mounts
    assert not mount.get("readOnly", False)
    assert "emptyDir" in volumes[mount["name"]], volumes[mount["name"]]
    # the pod's user can write it (an emptyDir is world-writable; fsGroup owns other kinds)
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_configuration_names_only_settings_imagegate_reads(
    docs: list[Doc], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _environment(docs)
    unknown = set(env) - _known_variables()
    assert not unknown, f"not imagegate settings (typos?): {sorted(unknown)}"
    missing = set(provider_variables()) - set(env)
    assert not missing, f"every provider's variables are listed (empty: unset): {missing}"
    for name in _known_variables():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # every value parses (the URL forms included)
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.log_format == "json"
    for adapter in ("openai", "google", "bfl"):
        assert settings.providers.key_for(adapter) is None  # empty means unset
    external = {
        d["metadata"]["name"]: d["spec"]
        for d in docs
        if d["kind"] == "Service" and d["spec"].get("type") == "ExternalName"
    }
    assert set(external) == {"imagegate-postgres", "imagegate-redis"}
    assert "@imagegate-postgres:5432/" in env["IMAGEGATE_DATABASE_URL"]
    assert env["IMAGEGATE_REDIS_URL"].startswith("redis://imagegate-redis:6379/")


def test_service_budget_and_ingress_reach_the_gateway_pods(docs: list[Doc]) -> None:
    deployment = _one(docs, "Deployment", "imagegate")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = _one(docs, "Service", "imagegate")
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    pdb = _one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]
    ingress = _one(docs, "Ingress")
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    for path in paths:
        assert path["backend"]["service"] == {"name": "imagegate", "port": {"name": port["name"]}}
    notes = ingress["metadata"]["annotations"]
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 300
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"  # SSE flows


def _routed(rules: list[Doc], path: str) -> bool:
    """Whether an Ingress path rule matches ``path`` (Kubernetes' matching: Exact is equality;
    Prefix matches whole path elements, so /api matches /api/v1 but not /apix)."""
    elements = [e for e in path.split("/") if e]
    for rule in rules:
        if rule["pathType"] == "Exact" and rule["path"] == path:
            return True
        prefix = [e for e in rule["path"].split("/") if e]
        if rule["pathType"] == "Prefix" and elements[: len(prefix)] == prefix:
            return True
    return False


def _served_paths() -> set[str]:
    """Every GET path the gateway answers: the API's routes (parameters filled in), the pages,
    each file under /static, and what the playground page loads."""
    from starlette.routing import Mount, Route

    app = create_app(Settings())
    served = {re.sub(r"\{[^}]+\}", "x", path) for path in app.openapi()["paths"]}
    for route in app.routes:  # the pages, left out of the schema
        if isinstance(route, Mount):
            root = ROOT / "app" / "static"
            served |= {
                f"{route.path}/{f.relative_to(root)}" for f in root.rglob("*") if f.is_file()
            }
        elif isinstance(route, Route):
            served.add(route.path)
    page = (ROOT / "app" / "static" / "ui" / "index.html").read_text()
    loads = re.findall(r'(?:src|href)="([^"#][^"]*)"', page)
    assert "static/ui/js/main.js" in loads  # relative links, resolved against the page at /
    served |= {urlsplit(urljoin("http://gateway/", link)).path for link in loads}
    return served


def test_the_ingress_publishes_the_api_and_the_pages_but_not_the_internals(
    docs: list[Doc],
) -> None:
    ingress = _one(docs, "Ingress")
    rules = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    internal = {"/metrics", "/ready", "/health"}
    served = _served_paths()
    assert internal | {"/", "/docs", "/redoc", "/openapi.json", "/api/v1/images"} <= served
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in served
    hidden = sorted(p for p in served - internal if not _routed(rules, p))
    assert not hidden, f"served by the gateway but not routed by the Ingress: {hidden}"
    exposed = sorted(p for p in internal if _routed(rules, p))
    assert not exposed, f"internal endpoints published by the Ingress: {exposed}"
    assert not _routed(rules, "/metricsx") and not _routed(rules, "/apix")


def test_the_readme_deletes_the_migration_job_before_a_release_applies(docs: list[Doc]) -> None:
    """Jobs are immutable: applying a new image onto last release's Job fails."""
    job = _one(docs, "Job")["metadata"]
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh no-run\n(.*?)```", readme, re.S)
    releases = [b for b in blocks if "kubectl apply -k deploy/kubernetes/" in b and "delete" in b]
    assert releases, "no release steps that delete the migration Job"
    for block in releases:
        lines = block.strip().splitlines()
        delete = f"kubectl -n {job['namespace']} delete job {job['name']} --ignore-not-found"
        assert lines.index(delete) < lines.index("kubectl apply -k deploy/kubernetes/"), block
        assert any(f"job/{job['name']}" in line and "wait" in line for line in lines), block


@pytest.fixture
def cluster_database() -> Iterator[str]:
    name = f"imagegate_k8s_{os.getpid()}"
    url = fresh_database(name).replace("postgresql+asyncpg://", "postgres://")
    yield url
    drop_database(name)


def test_the_manifests_commands_run_with_their_settings(
    docs: list[Doc], cluster_database: str, tmp_path: Path
) -> None:
    """The Job's command, then the Deployment's, with the ConfigMap and Secret as environment;
    only the addresses of Postgres and Redis, and the spool volume's path, are this machine's."""
    env = cli_env(tmp_path, **_environment(docs))
    env.update(IMAGEGATE_DATABASE_URL=cluster_database, IMAGEGATE_REDIS_URL=REDIS_URL)
    env.update(IMAGEGATE_SPOOL_DIR=str(tmp_path / "spool"))  # the pod's volume, here
    job = _one(docs, "Job")["spec"]["template"]["spec"]["containers"][0]
    migrated = run_cli(*job["command"][1:], env=env)
    assert migrated.returncode == 0, migrated.stderr
    gateway = _one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    args = gateway["command"][1:]
    args = args[: args.index("--port")]  # a free port here instead of the pod's 8080
    args[args.index("--host") + 1] = "127.0.0.1"  # loopback here, all interfaces in a pod
    with Gateway(args, env, free_port(), tmp_path / "gw.log") as gw:
        ready = httpx.get(f"{gw.url}{gateway['readinessProbe']['httpGet']['path']}")
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "database": "ok",
            "redis": "ok",
            "limits": "ok",
        }
        health = httpx.get(f"{gw.url}{gateway['livenessProbe']['httpGet']['path']}")
        assert health.status_code == 200
        assert (tmp_path / "spool").is_dir()  # checked writable before the start
    assert gw.log().lstrip().startswith("{")  # the ConfigMap asks for JSON lines
