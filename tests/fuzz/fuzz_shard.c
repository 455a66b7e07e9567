/* libFuzzer harness for the member parsers (shard.c): a knob byte picks
 * SHARD_MEMBERS (odd) or SHARD_MEMBERS_FILE (even) text. What they accept
 * goes into dev="peer:HOST:PORT" lines and log lines, so every member must
 * be a valid name, a host with no byte that could break the file, sorted
 * and unique; every console gets an owner among them. */
#include <ctype.h>
#include <errno.h>

#include "configure/shard.h"
#include "fuzz_common.h"

static void check_member(const struct shard_member *m)
{
    size_t n = strlen(m->name);
    FUZZ_CHECK(n >= 1 && n <= SHARD_NAME_MAX);
    for (const char *p = m->name; *p; p++)
        FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-');
    FUZZ_CHECK(m->host[0] != '\0' && m->port <= 65535);
    char dev[SHARD_HOST_MAX + 32];
    shard_peer_dev(m, 7890, dev, sizeof(dev));
    for (const unsigned char *p = (const unsigned char *)dev; *p; p++)
        FUZZ_CHECK(*p > ' ' && *p < 0x7f && *p != '"' && *p != '\\');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_knobbed in;
    if (!fuzz_knob_and_text(data, size, 64 * 1024, &in))
        return 0;
    struct shard_members m = SHARD_MEMBERS_INIT;
    char err[512] = "";
    int rc = in.knob & 1 ? shard_parse_list(in.text, &m, err, sizeof(err))
                         : shard_parse_file(in.text, "/run/members", &m, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        FUZZ_CHECK(m.n >= 1 && m.n <= SHARD_MEMBERS_MAX);
        for (size_t i = 0; i < m.n; i++) {
            check_member(&m.v[i]);
            FUZZ_CHECK(i == 0 || strcmp(m.v[i - 1].name, m.v[i].name) < 0);
        }
        long o = shard_owner(&m, in.text);
        FUZZ_CHECK(o >= 0 && (size_t)o < m.n);
        char text[256];
        shard_members_describe(&m, text, sizeof(text));
        fuzz_check_msg(text, sizeof(text));
    } else {
        FUZZ_CHECK(m.n == 0 && m.v == NULL);
        fuzz_check_msg(err, sizeof(err));
        FUZZ_CHECK(err[0] != '\0');
    }
    shard_members_release(&m);
    free(in.text);
    return 0;
}
