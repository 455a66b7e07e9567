/* libFuzzer harness for configure_conman's settings (settings.c): the
 * input is an environment, "NAME=value" lines, given to settings_parse()
 * through its lookup callback (the last line for a name counts). Parsed
 * settings must be complete and in range. */
#include <errno.h>

#include "configure/settings.h"
#include "fuzz_common.h"

#define MAX_VARS 64

struct env {
    char *name[MAX_VARS], *value[MAX_VARS];
    size_t n;
};

static const char *lookup(const char *name, void *ctx)
{
    const struct env *e = ctx;
    for (size_t i = e->n; i-- > 0;)
        if (strcmp(e->name[i], name) == 0)
            return e->value[i];
    return NULL;
}

static void split_env(char *s, struct env *e)
{
    for (char *line = s; line && e->n < MAX_VARS;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = '\0';
            e->name[e->n] = line;
            e->value[e->n++] = eq + 1;
        }
        line = next;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_text(data, size, 32 * 1024);
    if (!s)
        return 0;
    struct env e = {.n = 0};
    split_env(s, &e);
    struct settings st;
    char err[512] = "";
    int rc = settings_parse(&st, lookup, &e, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == 0) {
        FUZZ_CHECK(st.endpoint_url && st.components_url && st.log_identifier);
        FUZZ_CHECK(st.user_file && st.pwd_file && st.base_conf && st.conman_conf && st.conmand);
        FUZZ_CHECK(st.paradise_port >= 1 && st.paradise_port <= 65535);
        FUZZ_CHECK(st.discovery_retry_sec >= 1 && st.hsm_timeout_sec >= 1);
        FUZZ_CHECK(st.hardware_update_sec >= 0);
        FUZZ_CHECK(st.mode == CONSOLE_MODE_BMC || st.mode == CONSOLE_MODE_NODE);
        FUZZ_CHECK(st.shard_settle_sec >= 0 && st.shard_settle_sec <= 3600);
        FUZZ_CHECK(!(st.shard_members.n && st.shard_members_file)); /* one source */
        FUZZ_CHECK(!(st.shard_srv && (st.shard_members.n || st.shard_members_file)));
        FUZZ_CHECK(st.shard_srv_poll_sec >= 1 && st.shard_srv_poll_sec <= 3600);
        settings_release(&st);
        settings_release(&st); /* promised safe */
    } else {
        fuzz_check_msg(err, sizeof(err));
        FUZZ_CHECK(err[0] != '\0');
    }
    free(s);
    return 0;
}
