"""The Dockerfile, the package lists and scripts/container-test.sh agree:
one list of runtime packages, one layout, nothing secret baked in. (The
image itself is built and run by scripts/container-test.sh, CONTAINER_TESTS=1.)"""
import os
import re
import subprocess

import pytest

from conftest import SOURCE_DIR


def read(*parts):
    with open(os.path.join(SOURCE_DIR, *parts), encoding="utf-8") as f:
        return f.read()


def package_list(name):
    return [ln.strip() for ln in read("deploy", f"{name}-packages.txt").splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


@pytest.fixture(scope="module")
def dockerfile():
    # Join continuation lines so each instruction is one line.
    return re.sub(r"\\\n", " ", read("Dockerfile"))


def instructions(dockerfile, keyword):
    return [ln.split(None, 1)[1] for ln in dockerfile.splitlines()
            if ln.split(None, 1)[:1] == [keyword]]


def test_each_stage_installs_its_package_list(dockerfile):
    stages = re.split(r"^FROM ", dockerfile, flags=re.M)[1:]
    assert len(stages) == 2, "a build stage and a runtime stage"
    for stage, name in zip(stages, ("build", "runtime")):
        assert f"COPY deploy/{name}-packages.txt /tmp/{name}-packages.txt" in stage
        assert re.search(rf"grep -v '\^#' /tmp/{name}-packages.txt\s+\|\s+xargs apt-get install"
                         r" -y -q --no-install-recommends", stage), name


def test_runtime_stage_holds_no_compiler_or_dev_package():
    runtime = package_list("runtime")
    assert not [p for p in runtime if p.endswith("-dev") or p in ("build-essential", "cmake")]
    assert {"conman", "ca-certificates", "curl", "jq"} <= set(runtime)


def test_build_packages_are_among_those_deps_sh_installs():
    deps = read("scripts", "deps.sh")
    main_list = re.search(r"^PACKAGES=\((.*?)^\)", deps, re.M | re.S).group(1)
    assert set(package_list("build")) <= set(main_list.split())


def test_image_layout_is_the_one_the_readme_and_manifests_expect(dockerfile):
    assert instructions(dockerfile, "ENTRYPOINT") == ['["/app/configure_conman"]']
    assert instructions(dockerfile, "EXPOSE") == ["7890"]
    assert instructions(dockerfile, "VOLUME") == ["/var/log/conman"]
    copies = instructions(dockerfile, "COPY")
    assert "etc/conman_base.conf /app/conman_base.conf" in copies
    assert "ct-tests/ /app/ct-tests/" in copies
    assert "--from=build /out/ /app/" in copies
    # The packaged sample /etc/conman.conf is removed: configure_conman
    # generates that file at run time.
    assert re.search(r"rm -rf [^&]*/etc/conman\.conf", dockerfile)


def test_both_daemons_ship_and_debians_is_the_default(dockerfile):
    assert re.search(r'ARG TARGETS="configure_conman conmand"', dockerfile)
    (env,) = instructions(dockerfile, "ENV")
    settings = dict(kv.split("=", 1) for kv in env.split())
    assert settings["CONMAND"] == "/usr/sbin/conmand"
    assert settings["USER_FILE"] == "/secrets/user"
    assert settings["PWD_FILE"] == "/secrets/password"
    assert settings["CONMAN_CONF"] == "/etc/conman.conf"


def test_no_secret_is_baked_into_the_image(dockerfile):
    copies = " ".join(instructions(dockerfile, "COPY") + instructions(dockerfile, "ADD"))
    assert "secret" not in copies.lower()
    (env,) = instructions(dockerfile, "ENV")
    for kv in env.split():
        name, value = kv.split("=", 1)
        # Settings name files and programs, never hold a credential.
        assert value.startswith("/"), f"ENV {name}={value}"
    assert not re.search(r"(?i)(password|token)\s*=", read("etc", "conman_base.conf"))
    ignored = read(".dockerignore").split()
    assert ".git" in ignored and "build-*" in ignored


def test_container_test_builds_this_dockerfile_with_the_same_list():
    script = read("scripts", "container-test.sh")
    assert '-f "$CONTEXT/Dockerfile" "$CONTEXT"' in script
    assert "--build-arg BASE_IMAGE=\"$BASE_IMAGE\"" in script
    assert 'packages runtime' in script
    assert "BASE_IMAGE=localhost/debian:bookworm" in script
    r = subprocess.run(["bash", "-n", os.path.join(SOURCE_DIR, "scripts", "container-test.sh")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
