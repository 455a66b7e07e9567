/* peer:HOST:PORT consoles: consoles that another conmand owns (scale-out,
 * configure_conman's SHARD_*). This conmand holds no session to their BMC
 * and no log; it lists them, and carries a client's session to the owner
 * (clients/peerlink.c), so any instance answers for any console. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hostport.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"

#define PEER_PREFIX "peer:"

/* Never called: console.c starts no connection for a remote type. */
static int peer_connect(struct console *c, bool *connecting, char *err, size_t errlen)
{
    (void)connecting;
    snprintf(err, errlen, "Console [%s] is served by the conmand at %s", c->cfg.name,
             c->cfg.dev + strlen(PEER_PREFIX));
    return -EOPNOTSUPP;
}

static void peer_describe(const struct console *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "<conmand at %s>", c->cfg.dev + strlen(PEER_PREFIX));
}

static const struct console_ops peer_ops = {
    .connect = peer_connect,
    .describe = peer_describe,
};

/* Every peer: dev is this type's: a bad address is an error at its line,
 * never another type (peer:h:99999 would otherwise be telnet). */
static bool peer_recognise(const char *dev, bool is_chardev)
{
    (void)is_chardev;
    return strncmp(dev, PEER_PREFIX, strlen(PEER_PREFIX)) == 0;
}

/* HOST:PORT, HOST a name, an IPv4 address or [IPv6], PORT 1-65535. */
static int peer_check_dev(const char *dev, char *err, size_t errlen)
{
    struct hostport hp;
    char why[300];
    if (hostport_parse(dev + strlen(PEER_PREFIX), HOSTPORT_PORT_REQUIRED, &hp, why, sizeof(why)) ==
        0)
        return 0;
    snprintf(err, errlen, "dev \"%.200s\": %s", dev, why);
    return -EINVAL;
}

static const char *peer_dev_id(const char *dev)
{
    return dev + strlen(PEER_PREFIX);
}

const struct console_type console_type_peer = {
    .name = "peer",
    .recognise = peer_recognise,
    .check_dev = peer_check_dev,
    .dev_id = peer_dev_id,
    .ops = &peer_ops,
    .remote = true,
};
