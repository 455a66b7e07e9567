"""The Dockerfile, the package lists and scripts/container-test.sh agree:
one list of runtime packages, one layout, nothing secret baked in. (The
image itself is built and run by scripts/container-test.sh, CONTAINER_TESTS=1.)"""
import json
import os
import re
import subprocess

import pytest

from e2e_helpers import SOURCE_DIR, binary


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
    assert instructions(dockerfile, "EXPOSE") == ["7890 8080 8081"]
    assert instructions(dockerfile, "VOLUME") == ["/var/log/conman"]
    copies = instructions(dockerfile, "COPY")
    assert "etc/conman_base.conf /app/conman_base.conf" in copies
    assert "etc/conman-events.rules /app/conman-events.rules" in copies
    (env,) = instructions(dockerfile, "ENV")
    assert dict(kv.split("=", 1) for kv in env.split())["EVENT_RULES"] == \
        "/app/conman-events.rules"
    assert "ct-tests/ /app/ct-tests/" in copies
    assert "--from=build /out/ /app/" in copies
    # The packaged sample /etc/conman.conf is removed: configure_conman
    # generates that file at run time.
    assert re.search(r"rm -rf [^&]*/etc/conman\.conf", dockerfile)


def test_both_daemons_ship_and_ours_is_the_default(dockerfile):
    assert re.search(r'ARG TARGETS="configure_conman conmand"', dockerfile)
    (env,) = instructions(dockerfile, "ENV")
    settings = dict(kv.split("=", 1) for kv in env.split())
    assert settings["CONMAND"] == "/app/conmand"
    assert "/usr/sbin/conmand" in dockerfile  # Debian's stays selectable
    assert settings["USER_FILE"] == "/secrets/user"
    assert settings["PWD_FILE"] == "/secrets/password"
    assert settings["CONMAN_CONF"] == "/etc/conman.conf"


def test_http_endpoints_are_on_and_used_by_the_healthcheck(dockerfile):
    (env,) = instructions(dockerfile, "ENV")
    settings = dict(kv.split("=", 1) for kv in env.split())
    assert settings["HTTP_PORT"] == "8080" and settings["CONMAND_HTTP_PORT"] == "8081"
    (check,) = instructions(dockerfile, "HEALTHCHECK")
    argv = re.search(r"CMD (\[.*\])", check).group(1)
    names = subprocess.run(["bash", os.path.join(SOURCE_DIR, "ct-tests", "ct-tests.sh"),
                            "--list"], capture_output=True, text=True, check=True,
                           timeout=10).stdout.split()
    cmd = json.loads(argv)
    assert cmd[0] == "/app/ct-tests/ct-tests.sh" and "healthz" in cmd
    assert set(cmd[1:]) <= set(names)
    # configure_conman links libmicrohttpd now: the image must carry it.
    assert "libmicrohttpd12" in package_list("runtime")


def test_no_secret_is_baked_into_the_image(dockerfile):
    copies = " ".join(instructions(dockerfile, "COPY") + instructions(dockerfile, "ADD"))
    assert "secret" not in copies.lower()
    (env,) = instructions(dockerfile, "ENV")
    for kv in env.split():
        name, value = kv.split("=", 1)
        # Settings name files and programs or are ports, never a credential.
        assert value.startswith("/") or value.isdigit(), f"ENV {name}={value}"
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


def owning_package(path):
    """The Debian package that installed `path` (dpkg -S), arch suffix
    dropped. With merged /usr, dpkg knows a file under one of /lib and
    /usr/lib only, so both are asked."""
    other = path[4:] if path.startswith("/usr/lib/") else "/usr" + path
    for candidate in (path, other):
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":", 1)[0].strip()
    pytest.fail(f"no Debian package owns {path} (nor {other})")


def test_build_list_provides_every_module_cmake_requires():
    # A module CMakeLists.txt needs but the build stage lacks fails only in
    # the image build, which the normal suite does not run.
    modules = re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET (\S+)\)",
                         read("CMakeLists.txt"))
    assert modules
    build = set(package_list("build"))
    for m in modules:
        pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", m], capture_output=True,
                               text=True, check=True).stdout.strip()
        pkg = owning_package(os.path.join(pcdir, f"{m}.pc"))
        assert pkg in build, f"deploy/build-packages.txt lacks {pkg} (pkg-config module {m})"


def shared_library_path(soname):
    for ln in subprocess.run(["ldconfig", "-p"], capture_output=True, text=True,
                             check=True).stdout.splitlines():
        parts = ln.strip().split(" => ")
        if len(parts) == 2 and parts[0].split()[0] == soname and "x86-64" in parts[0]:
            return parts[1]
    pytest.fail(f"{soname} is not installed here")


def test_runtime_list_provides_every_library_the_image_binaries_load():
    # What configure_conman and conmand link (their own NEEDED entries) and
    # what conmand dlopen()s: apt brings the rest as dependencies.
    needed = set()
    for name in ("configure_conman", "conmand"):
        dyn = subprocess.run(["readelf", "-d", binary(name)], capture_output=True, text=True,
                             check=True).stdout
        needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]", dyn))
    sources = read("src", "conmand", "consoles", "ssh.c") + read("src", "conmand", "consoles", "ipmi.c")
    loaded = set(re.findall(r'\.soname = "([^"]+)"', sources))
    assert loaded == {"libssh.so.4", "libipmiconsole.so.2"}
    runtime = set(package_list("runtime"))
    for soname in sorted(needed | loaded):
        if re.match(r"lib(asan|ubsan|lsan)\.", soname):
            continue  # the sanitizer build's runtime, not the image's
        pkg = owning_package(shared_library_path(soname))
        if pkg == "libc6":
            continue  # essential: in every Debian image
        assert pkg in runtime, f"deploy/runtime-packages.txt lacks {pkg} ({soname})"
