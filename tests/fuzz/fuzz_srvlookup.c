/* libFuzzer harness for srvlookup_parse (srvlookup.c): the input is a DNS
 * answer as a name server could send it. What it accepts becomes members,
 * whose names and hosts go into dev="peer:HOST:PORT" lines and log lines:
 * valid names, hosts without a byte that could break the file, ports in
 * range, sorted and unique; errors are the documented codes with a
 * message, and nothing is left allocated on error. */
#include <ctype.h>
#include <errno.h>

#include "configure/srvlookup.h"
#include "fuzz_common.h"

static void check_member(const struct shard_member *m)
{
    size_t n = strlen(m->name);
    FUZZ_CHECK(n >= 1 && n <= SHARD_NAME_MAX);
    for (const char *p = m->name; *p; p++)
        FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-');
    /* NAME is the target's first label, HOST the target. */
    FUZZ_CHECK(strncmp(m->host, m->name, n) == 0 && (m->host[n] == '\0' || m->host[n] == '.'));
    FUZZ_CHECK(m->port >= 1 && m->port <= 65535);
    char dev[SHARD_HOST_MAX + 32];
    shard_peer_dev(m, 7890, dev, sizeof(dev));
    for (const unsigned char *p = (const unsigned char *)dev; *p; p++)
        FUZZ_CHECK(*p > ' ' && *p < 0x7f && *p != '"' && *p != '\\');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct shard_members m = {(struct shard_member *)data, 7}; /* must be overwritten */
    char err[512] = "";
    int rc = srvlookup_parse(data, size, &m, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EAGAIN || rc == -EIO || rc == -EINVAL ||
               rc == -ENOMEM);
    if (rc == 0) {
        FUZZ_CHECK(m.n <= SHARD_MEMBERS_MAX && (m.n == 0) == (m.v == NULL));
        for (size_t i = 0; i < m.n; i++) {
            check_member(&m.v[i]);
            FUZZ_CHECK(i == 0 || strcmp(m.v[i - 1].name, m.v[i].name) < 0);
        }
        char text[256];
        shard_members_describe(&m, text, sizeof(text));
        fuzz_check_msg(text, sizeof(text));
    } else {
        FUZZ_CHECK(m.n == 0 && m.v == NULL);
        fuzz_check_msg(err, sizeof(err));
        FUZZ_CHECK(err[0] != '\0');
    }
    shard_members_release(&m);
    return 0;
}
