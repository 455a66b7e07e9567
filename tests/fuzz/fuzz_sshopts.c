/* libFuzzer harness for ssh: consoles (sshopts.c): the first line of the
 * input is the dev string ("ssh:USER@HOST[:PORT]"), the rest the sshopts.
 * Parsed values must fit their fields, and an error never shows P:. */
#include <errno.h>

#include "conmand/conf/sshopts.h"
#include "fuzz_secret_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_text(data, size, 64 * 1024);
    if (!s)
        return 0;
    char *opts = fuzz_split_line(s);
    char err[256] = "";

    struct ssh_target t;
    int rc = sshopts_parse_dev(s, &t, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        FUZZ_CHECK(t.user[0] && strlen(t.user) < sizeof(t.user));
        FUZZ_CHECK(t.host[0] && strlen(t.host) < sizeof(t.host));
        FUZZ_CHECK(t.port >= 1 && t.port <= 65535);
    } else {
        fuzz_check_msg(err, sizeof(err));
    }

    struct sshopts o;
    err[0] = '\0';
    rc = sshopts_parse(opts, &o, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        FUZZ_CHECK(strlen(o.identity) < sizeof(o.identity));
        FUZZ_CHECK(strlen(o.known_hosts) < sizeof(o.known_hosts));
        FUZZ_CHECK(o.timeout >= 1 && o.timeout <= 3600);
    } else if (rc == -EINVAL) {
        fuzz_check_msg(err, sizeof(err));
        fuzz_check_no_secret(opts, "P:", err);
    }
    sshopts_release(&o);
    free(s);
    return 0;
}
