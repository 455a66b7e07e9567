#!/usr/bin/python3
"""Turns the StatefulSet's pod settings into `podman run` options, so that
scripts/container-test.sh runs the image the way deploy/k8s runs it: same
user, read-only root, environment, and a host directory standing in for
each volume (Secret files, emptyDirs, the log claim).

usage: k8s_to_podman.py --manifest statefulset.yaml --dir DIR
           [--secret SECRET/KEY=FILE]... [--set-env NAME=VALUE]...
Prints one podman option a line; exits 2 with a message naming the input
when the manifest lacks what it needs."""
import argparse
import os
import shutil
import sys

import yaml


def fail(msg):
    print(f"k8s_to_podman: {msg}", file=sys.stderr)
    sys.exit(2)


def load_statefulset(path):
    try:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
    except (OSError, yaml.YAMLError) as e:
        fail(f"{path}: {e}")
    sets = [d for d in docs if d.get("kind") == "StatefulSet"]
    if len(sets) != 1:
        fail(f"{path}: expected one StatefulSet, found {len(sets)}")
    return sets[0]


def secret_sources(volume):
    """(secret name, key, path) of a secret or projected-secret volume."""
    if "secret" in volume:
        s = volume["secret"]
        for item in s.get("items", []):
            yield s["secretName"], item["key"], item["path"]
    for src in volume.get("projected", {}).get("sources", []):
        for item in src.get("secret", {}).get("items", []):
            yield src["secret"]["name"], item["key"], item["path"]


def fill_volume(volume, host, secrets, gid):
    """Makes the host directory of one volume as the kubelet would."""
    os.makedirs(host, exist_ok=True)
    readonly = False
    if "secret" in volume or "projected" in volume:
        mode = volume.get("secret", volume.get("projected", {})).get("defaultMode", 0o644)
        for name, key, path in secret_sources(volume):
            src = secrets.get(f"{name}/{key}")
            if src is None:
                fail(f"no --secret {name}/{key}=FILE given for volume {volume['name']}")
            dst = os.path.join(host, path)
            shutil.copyfile(src, dst)
            os.chown(dst, 0, gid)
            os.chmod(dst, mode)
        readonly = True
    else:
        # emptyDir and claims: root's, writable by the pod's fsGroup, as
        # the kubelet leaves them.
        os.chown(host, 0, gid)
        os.chmod(host, 0o2775)
    return readonly


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--secret", action="append", default=[])
    ap.add_argument("--set-env", action="append", default=[])
    a = ap.parse_args()

    sts = load_statefulset(a.manifest)
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    psc = pod.get("securityContext", {})
    csc = container.get("securityContext", {})
    uid = csc.get("runAsUser", psc.get("runAsUser", 0))
    gid = csc.get("runAsGroup", psc.get("runAsGroup", uid))
    fs_group = psc.get("fsGroup", gid)
    secrets = dict(s.split("=", 1) for s in a.secret)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for claim in sts["spec"].get("volumeClaimTemplates", []):
        volumes[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"]}

    opts = [f"--user={uid}:{gid}", f"--group-add={fs_group}"]
    if csc.get("readOnlyRootFilesystem"):
        opts.append("--read-only")
    for m in container.get("volumeMounts", []):
        if m["name"] not in volumes:
            fail(f"{a.manifest}: volumeMount {m['name']} has no volume")
        host = os.path.join(a.dir, m["name"])
        ro = fill_volume(volumes[m["name"]], host, secrets, fs_group)
        ro = ro or m.get("readOnly", False)
        opts.append(f"--volume={host}:{m['mountPath']}{':ro' if ro else ''}")
    env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    env.update(dict(s.split("=", 1) for s in a.set_env))
    opts += [f"--env={k}={v}" for k, v in env.items()]
    print("\n".join(opts))


if __name__ == "__main__":
    main()
