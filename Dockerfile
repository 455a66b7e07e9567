# The console service image: configure_conman is the entrypoint and PID 1;
# it discovers BMCs in HSM, writes /etc/conman.conf and supervises conmand.
#
#   docker build -t cray_conman .
#   docker run -d --name cray_conman -v /path/to/secrets:/secrets:ro cray_conman
#
# Where no registry is reachable, scripts/container-test.sh builds a local
# debian:bookworm from Debian packages (mmdebstrap) and passes
# --build-arg BASE_IMAGE=localhost/debian:bookworm.
ARG BASE_IMAGE=debian:bookworm

FROM ${BASE_IMAGE} AS build
ARG JOBS=2
ARG TARGETS="configure_conman conmand"
COPY deploy/build-packages.txt /tmp/build-packages.txt
RUN apt-get update \
 && grep -v '^#' /tmp/build-packages.txt \
    | xargs apt-get install -y -q --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
 && cmake --build /build -j "${JOBS}" --target ${TARGETS} \
 && mkdir /out \
 && for t in ${TARGETS}; do install -m 0755 -s "/build/bin/$t" /out/; done

FROM ${BASE_IMAGE}
COPY deploy/runtime-packages.txt /tmp/runtime-packages.txt
# The conman package ships a sample /etc/conman.conf: remove it, since
# configure_conman generates that file at run time (and would otherwise
# honour it as a frozen configuration).
RUN apt-get update \
 && grep -v '^#' /tmp/runtime-packages.txt \
    | xargs apt-get install -y -q --no-install-recommends \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt /etc/conman.conf \
 && useradd --uid 10001 --user-group --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin conman \
 && install -d -m 0750 -o conman -g conman /var/log/conman

COPY --from=build /out/ /app/
COPY etc/conman_base.conf /app/conman_base.conf
COPY etc/conman-events.rules /app/conman-events.rules
COPY ct-tests/ /app/ct-tests/
# Fail the build when the runtime list lacks a library our binaries need:
# those they link (ldd), and those conmand dlopen()s for ssh: and ipmi:
# consoles (the SONAMEs in src/conmand/consoles/ssh.c and ipmi.c).
RUN test -x /app/configure_conman \
 && for f in /app/*; do [ -f "$f" ] && [ -x "$f" ] || continue; \
      ! ldd "$f" | grep 'not found' || exit 1; done \
 && for so in libssh.so.4 libipmiconsole.so.2; do \
      ldconfig -p | awk '{print $1}' | grep -qxF "$so" \
      || { echo "$so missing (conmand loads it)"; exit 1; }; done

# Our conmand is the default; Debian's stays selectable (-e CONMAND=/usr/sbin/conmand)
# as the reference peer. configure_conman serves /healthz /readyz /metrics
# on HTTP_PORT; our conmand serves its own (/healthz /readyz /metrics
# /consoles /events) on CONMAND_HTTP_PORT, on 127.0.0.1 unless CONMAND_HTTP_ADDR
# says; console events use the shipped rules (EVENT_RULES).
ENV CONMAND=/app/conmand \
    CONMAN_BASE_CONF=/app/conman_base.conf \
    CONMAN_CONF=/etc/conman.conf \
    USER_FILE=/secrets/user \
    PWD_FILE=/secrets/password \
    HTTP_PORT=8080 \
    CONMAND_HTTP_PORT=8081 \
    EVENT_RULES=/app/conman-events.rules

VOLUME /var/log/conman
EXPOSE 7890 8080 8081
# configure_conman's /healthz: 200 while its loop turns, waiting for HSM
# included; ct-tests.sh also says why when it fails.
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s \
  CMD ["/app/ct-tests/ct-tests.sh", "pid1", "healthz"]
WORKDIR /app
ENTRYPOINT ["/app/configure_conman"]
