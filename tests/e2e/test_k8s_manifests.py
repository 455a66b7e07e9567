"""Offline structural validation of deploy/k8s: kubectl's client-side dry
run needs an API server for discovery, so these tests check in Python what
the issue requires (Secrets as files, the log claim, probes, resources,
securityContext, the Service on 7890) and that field names are ones the
Kubernetes API knows, so a typo cannot pass unnoticed."""
import glob
import os
import re

import pytest
import yaml

from e2e_helpers import SOURCE_DIR

K8S_DIR = os.path.join(SOURCE_DIR, "deploy", "k8s")

# The fields of the API objects these manifests may use (apps/v1, core/v1).
KNOWN = {
    "pod": {"containers", "initContainers", "volumes", "securityContext",
            "serviceAccountName", "automountServiceAccountToken", "enableServiceLinks",
            "terminationGracePeriodSeconds", "affinity", "tolerations", "nodeSelector",
            "priorityClassName", "shareProcessNamespace", "hostNetwork", "hostPID",
            "dnsPolicy", "restartPolicy", "imagePullSecrets"},
    "container": {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom",
                  "ports", "livenessProbe", "readinessProbe", "startupProbe", "resources",
                  "securityContext", "volumeMounts", "workingDir", "lifecycle"},
    "probe": {"exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds", "periodSeconds",
              "timeoutSeconds", "failureThreshold", "successThreshold",
              "terminationGracePeriodSeconds"},
    "csc": {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsNonRoot", "runAsUser",
            "runAsGroup", "capabilities", "privileged", "seccompProfile", "procMount",
            "seLinuxOptions"},
    "psc": {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "fsGroupChangePolicy",
            "seccompProfile", "supplementalGroups", "sysctls", "seLinuxOptions"},
    "sts": {"replicas", "serviceName", "selector", "template", "volumeClaimTemplates",
            "podManagementPolicy", "updateStrategy", "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy", "minReadySeconds", "ordinals"},
    "service": {"type", "selector", "ports", "clusterIP", "sessionAffinity",
                "publishNotReadyAddresses", "externalTrafficPolicy", "internalTrafficPolicy"},
    "mount": {"name", "mountPath", "readOnly", "subPath", "subPathExpr", "mountPropagation"},
    "volume": {"name", "secret", "projected", "emptyDir", "configMap", "persistentVolumeClaim"},
    "netpol": {"podSelector", "policyTypes", "ingress", "egress"},
    "httpget": {"path", "port", "host", "scheme", "httpHeaders"},
    "podmonitor": {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel",
                   "podTargetLabels", "sampleLimit"},
    "endpoint": {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels",
                 "relabelings", "metricRelabelings"},
    "peer": {"podSelector", "namespaceSelector", "ipBlock"},
    "pdb": {"maxUnavailable", "minAvailable", "selector", "unhealthyPodEvictionPolicy"},
}


# Applied on its own, only where the Prometheus operator is installed.
OPTIONAL = {"podmonitor.yaml"}


def load_all(include_optional=False):
    docs = []
    for path in sorted(glob.glob(os.path.join(K8S_DIR, "*.yaml"))):
        if os.path.basename(path) in OPTIONAL and not include_optional:
            continue
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if doc and doc.get("kind") != "Kustomization":
                    docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def docs():
    return load_all()


@pytest.fixture(scope="module")
def sts(docs):
    sets = [d for d in docs if d["kind"] == "StatefulSet"]
    assert len(sets) == 1, "deploy/k8s must define exactly one StatefulSet"
    return sets[0]


@pytest.fixture(scope="module")
def pod(sts):
    return sts["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def container(pod):
    assert len(pod["containers"]) == 1
    return pod["containers"][0]


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def mount_for(container, path):
    """The volumeMount whose mountPath holds path (longest match)."""
    best = None
    for m in container.get("volumeMounts", []):
        root = m["mountPath"].rstrip("/")
        if path == root or path.startswith(root + "/"):
            if best is None or len(root) > len(best["mountPath"]):
                best = m
    return best


def unknown_fields(obj, kind):
    return sorted(set(obj) - KNOWN[kind])


def test_every_manifest_parses_and_names_its_api(docs):
    assert docs, f"no manifests under {K8S_DIR}"
    for d in docs:
        assert d.get("apiVersion") in ("apps/v1", "v1", "networking.k8s.io/v1", "policy/v1"), \
            d.get("kind")
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", d["metadata"]["name"])


def test_kustomization_lists_every_manifest():
    with open(os.path.join(K8S_DIR, "kustomization.yaml"), encoding="utf-8") as f:
        listed = set(yaml.safe_load(f)["resources"])
    files = {os.path.basename(p) for p in glob.glob(os.path.join(K8S_DIR, "*.yaml"))}
    assert listed == files - {"kustomization.yaml"} - OPTIONAL
    assert OPTIONAL <= files


def test_field_names_are_known_to_the_kubernetes_api(sts, pod, container, docs):
    problems = {
        "StatefulSet.spec": unknown_fields(sts["spec"], "sts"),
        "pod spec": unknown_fields(pod, "pod"),
        "container": unknown_fields(container, "container"),
        "container securityContext": unknown_fields(container["securityContext"], "csc"),
        "pod securityContext": unknown_fields(pod["securityContext"], "psc"),
    }
    for probe in ("livenessProbe", "readinessProbe"):
        problems[probe] = unknown_fields(container[probe], "probe")
        problems[f"{probe}.httpGet"] = unknown_fields(container[probe]["httpGet"], "httpget")
    for m in container["volumeMounts"]:
        problems[f"volumeMount {m['name']}"] = unknown_fields(m, "mount")
    for v in pod["volumes"]:
        problems[f"volume {v['name']}"] = unknown_fields(v, "volume")
    for pol in (d for d in docs if d["kind"] == "NetworkPolicy"):
        problems[f"NetworkPolicy {pol['metadata']['name']}"] = unknown_fields(pol["spec"], "netpol")
        for rule in pol["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                problems[f"NetworkPolicy peer {peer}"] = unknown_fields(peer, "peer")
    for svc in (d for d in docs if d["kind"] == "Service"):
        problems[f"Service {svc['metadata']['name']}"] = unknown_fields(svc["spec"], "service")
    for pdb in (d for d in docs if d["kind"] == "PodDisruptionBudget"):
        problems[f"PDB {pdb['metadata']['name']}"] = unknown_fields(pdb["spec"], "pdb")
    assert {k: v for k, v in problems.items() if v} == {}


def test_statefulset_scales_out_over_the_ready_pods_of_its_headless_service(sts, docs,
                                                                            container):
    assert sts["spec"]["replicas"] >= 2
    # One at a time, each ready before the next: see statefulset.yaml.
    assert sts["spec"]["podManagementPolicy"] == "OrderedReady"
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    headless = [d for d in docs if d["kind"] == "Service"
                and d["metadata"]["name"] == sts["spec"]["serviceName"]]
    assert headless and headless[0]["spec"].get("clusterIP") == "None"
    assert headless[0]["spec"]["publishNotReadyAddresses"] is False
    (port,) = headless[0]["spec"]["ports"]
    env = env_of(container)
    # The SRV name of the headless Service's port, in the pod's namespace.
    assert env["SHARD_SRV"] == (f"_{port['name']}._tcp.{sts['spec']['serviceName']}"
                                ".$(POD_NAMESPACE).svc.cluster.local")
    names = [e["name"] for e in container["env"]]
    assert names.index("POD_NAMESPACE") < names.index("SHARD_SRV")  # $(VAR) needs it first
    (ns,) = [e for e in container["env"] if e["name"] == "POD_NAMESPACE"]
    assert ns["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert "SHARD_SELF" not in env  # the pod's host name, the SRV target's first label
    assert int(env["SHARD_SETTLE_SEC"]) >= 5


def test_a_disruption_budget_takes_one_pod_at_a_time(docs, sts):
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_configure_conman_stays_the_entrypoint_and_pid_1(pod, container):
    # command would replace the image's ENTRYPOINT; a shared PID namespace
    # would make the pause process PID 1.
    assert "command" not in container and "args" not in container
    assert not pod.get("shareProcessNamespace", False)


def test_credentials_and_token_come_from_secrets_mounted_as_files(pod, container):
    env = env_of(container)
    # valueFrom only for the downward API (the namespace), never a Secret.
    assert all(set(e.get("valueFrom", {})) <= {"fieldRef"} for e in container.get("env", [])), \
        "no secret may reach the environment"
    assert "envFrom" not in container
    volumes = {v["name"]: v for v in pod["volumes"]}
    for var, default in (("USER_FILE", "/secrets/user"), ("PWD_FILE", "/secrets/password"),
                         ("HSM_TOKEN_FILE", None)):
        path = env.get(var, default)
        assert path, f"{var} is not set"
        m = mount_for(container, path)
        assert m and m.get("readOnly"), f"{var}={path} is not on a read-only mount"
        vol = volumes[m["name"]]
        rel = os.path.relpath(path, m["mountPath"])
        if "secret" in vol:
            items = [(vol["secret"]["secretName"], i) for i in vol["secret"]["items"]]
        else:
            items = [(s["secret"]["name"], i) for s in vol["projected"]["sources"]
                     for i in s["secret"]["items"]]
        assert [name for name, i in items if i["path"] == rel], \
            f"{var}={path} is not an item of a Secret volume"


def test_console_logs_live_on_a_persistent_volume_claim(sts, container):
    claims = {c["metadata"]["name"]: c for c in sts["spec"]["volumeClaimTemplates"]}
    m = mount_for(container, "/var/log/conman")
    assert m and m["mountPath"] == "/var/log/conman" and m["name"] in claims
    assert not m.get("readOnly", False)
    spec = claims[m["name"]]["spec"]
    assert spec["accessModes"] == ["ReadWriteOnce"]
    assert spec["resources"]["requests"]["storage"]


def test_root_filesystem_is_read_only_and_every_written_path_is_a_volume(pod, container):
    csc = container["securityContext"]
    assert csc["readOnlyRootFilesystem"] is True
    env = env_of(container)
    with open(os.path.join(SOURCE_DIR, "etc", "conman_base.conf"), encoding="utf-8") as f:
        base = f.read()
    pidfile = re.search(r'^server pidfile="([^"]+)"', base, re.M).group(1)
    logdir = re.search(r'^server logdir="([^"]+)"', base, re.M).group(1)
    logfile = re.search(r'^server logfile="([^",]+)', base, re.M).group(1)
    written = [os.path.dirname(env.get("CONMAN_CONF", "/etc/conman.conf")),
               os.path.dirname(pidfile.replace("/var/run/", "/run/")),
               os.path.dirname(os.path.join(logdir, logfile)),  # our conmand writes it
               "/var/log/conman", "/tmp"]
    for path in written:
        m = mount_for(container, path + "/x")
        assert m and not m.get("readOnly", False), f"{path} is not on a writable volume"


def test_runs_as_non_root_without_privileges(pod, container):
    psc, csc = pod["securityContext"], container["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0
    assert psc["fsGroup"] == psc["runAsGroup"], "Secret files and the claim need the group"
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"]["drop"] == ["ALL"]
    # What the "restricted" Pod Security Standard asks on top.
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID")
    assert pod["automountServiceAccountToken"] is False


def test_pod_user_is_the_image_user(pod):
    with open(os.path.join(SOURCE_DIR, "Dockerfile"), encoding="utf-8") as f:
        uid = re.search(r"useradd --uid (\d+)", f.read()).group(1)
    assert pod["securityContext"]["runAsUser"] == int(uid)


def test_probes_ask_configure_conmans_http_endpoints(container):
    env = env_of(container)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports.get("http") == int(env["HTTP_PORT"]) == 8080
    assert ports.get("conmand-http") == int(env["CONMAND_HTTP_PORT"]) == 8081
    # conmand binds 127.0.0.1 by default; Prometheus comes to the pod IP.
    assert env["CONMAND_HTTP_ADDR"] == "0.0.0.0"
    assert "HTTP_ADDR" not in env  # its default, 0.0.0.0, is what the kubelet needs
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path and ports.get(get["port"], get["port"]) == 8080, probe
        assert "exec" not in container[probe]
        # configure_conman answers from memory; /readyz's connect waits 0.5 s.
        assert 1 <= container[probe]["timeoutSeconds"] <= 10


def test_liveness_does_not_restart_a_pod_that_waits_for_hsm(container):
    # Waiting for HSM is normal: /healthz is 200 while the loop turns, and
    # an HSM request marks the loop busy for at most 2 x HSM_TIMEOUT_SEC + 5 s.
    probe = container["livenessProbe"]
    assert probe["httpGet"]["path"] == "/healthz"
    hsm_timeout = int(env_of(container).get("HSM_TIMEOUT_SEC", "10"))
    assert probe["periodSeconds"] * probe["failureThreshold"] > 2 * hsm_timeout + 5


def test_pods_are_annotated_for_scraping_and_the_podmonitor_scrapes_both_ports(sts, container):
    ann = sts["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert ann["prometheus.io/port"] == "8080" and ann["prometheus.io/path"] == "/metrics"
    (pm,) = [d for d in load_all(include_optional=True) if d["kind"] == "PodMonitor"]
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    assert unknown_fields(pm["spec"], "podmonitor") == []
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert pm["spec"]["selector"]["matchLabels"].items() <= labels.items()
    names = {p["name"] for p in container["ports"]}
    eps = pm["spec"]["podMetricsEndpoints"]
    assert [unknown_fields(e, "endpoint") for e in eps] == [[], []]
    assert sorted(e["port"] for e in eps) == ["conmand-http", "http"]
    assert {e["port"] for e in eps} <= names and {e["path"] for e in eps} == {"/metrics"}


def parse_quantity(q):
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 1e-3, "": 1}
    num, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(q)).groups()
    return float(num) * units[unit]


def test_resources_request_and_bound_memory(container):
    res = container["resources"]
    assert parse_quantity(res["requests"]["cpu"]) > 0
    request = parse_quantity(res["requests"]["memory"])
    limit = parse_quantity(res["limits"]["memory"])
    # Measured: 10 MB for configure_conman, 9 MB + 0.3 MB a console for
    # conmand: the request must hold a few hundred consoles.
    assert 128 * 2**20 <= request <= limit


def test_service_exposes_port_7890_of_the_pods(docs, sts, container):
    labels = sts["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    services = [d for d in docs if d["kind"] == "Service"
                and d["spec"].get("clusterIP") != "None"]
    assert services
    for svc in services:
        assert svc["spec"]["selector"].items() <= labels.items()
        (port,) = svc["spec"]["ports"]
        assert port["port"] == 7890
        target = port["targetPort"]
        assert port_names.get(target, target) == 7890


def test_no_secret_value_is_in_the_manifests(docs):
    assert not [d for d in docs if d["kind"] == "Secret"], \
        "Secrets are created by the site, never committed"


def test_only_peers_and_labelled_clients_may_reach_port_7890(docs, sts, container):
    # conmand listens on every pod address (the base file says loopback=OFF)
    # and the protocol has no authentication: a NetworkPolicy decides.
    base = open(os.path.join(SOURCE_DIR, "etc", "conman_base.conf")).read()
    assert re.search(r"^server loopback=OFF$", base, re.M | re.I)
    labels = sts["spec"]["template"]["metadata"]["labels"]
    pols = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert len(pols) == 1
    spec = pols[0]["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["podSelector"]["matchLabels"].items() <= labels.items()
    port_names = {p["name"] for p in container["ports"]}
    assert len(spec["ingress"]) == 2
    rule = spec["ingress"][0]
    assert [p["port"] for p in rule["ports"]] == ["conman"] and "conman" in port_names
    peers = rule["from"]
    assert all("ipBlock" not in p for p in peers), "no address range may bypass the labels"
    own = [p for p in peers if "namespaceSelector" not in p]
    assert [p["podSelector"]["matchLabels"] for p in own] == [spec["podSelector"]["matchLabels"]]
    clients = [p for p in peers if "namespaceSelector" in p]
    assert [p["podSelector"]["matchLabels"] for p in clients] == [{"cray-conman-client": "true"}]


def test_only_labelled_monitoring_reaches_the_http_ports(docs, container):
    (pol,) = [d for d in docs if d["kind"] == "NetworkPolicy"]
    rule = pol["spec"]["ingress"][1]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert sorted(ports[p["port"]] for p in rule["ports"]) == [8080, 8081]
    (peer,) = rule["from"]  # both selectors in one peer: pod AND namespace
    assert "ipBlock" not in peer
    assert peer["namespaceSelector"]["matchLabels"] == {"cray-conman-metrics": "true"}
    assert peer["podSelector"]["matchLabels"] == {"cray-conman-metrics": "true"}
