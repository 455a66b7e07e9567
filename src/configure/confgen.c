/* conman.conf generation: the base file verbatim, a marker, console lines. */
#include "configure/confgen.h"

#include "common/hostport.h"
#include "common/optvalue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

bool confgen_update_disabled(const char *base)
{
    const char *p = skip_blanks(base);
    if (*p != '#')
        return false;
    p = skip_blanks(p + 1);
    if (strncasecmp(p, "UPDATE_CONFIG", 13) != 0)
        return false;
    p = skip_blanks(p + 13);
    if (*p != '=')
        return false;
    p = skip_blanks(p + 1);
    if (strncasecmp(p, "FALSE", 5) != 0)
        return false;
    p = skip_blanks(p + 5);
    return *p == '\0' || *p == '\n' || *p == '\r';
}

bool confgen_user_ok(const char *user)
{
    return optvalue_is_plain(user);
}

/* The BMC address of a dev string, as conmand's ipmi: and ssh: parsers read
 * it back (common/hostport.c): "host", "host:port", "[v6]:port", and a v6
 * address without a port in brackets too, so nothing after it can be taken
 * for a part of it. `port` is used when the address names none (0: none).
 * -EINVAL when `addr` is none of these; records.c and nodes.c skip such
 * endpoints with a warning before they get here. */
static int dev_host(const char *addr, unsigned port, char *out, size_t outlen)
{
    struct hostport hp;
    char why[300];
    if (hostport_parse(addr, HOSTPORT_PORT_OPTIONAL, &hp, why, sizeof(why)) < 0)
        return -EINVAL;
    hostport_default_port(&hp, port);
    hostport_format(&hp, out, outlen);
    return 0;
}

/* The owner of `rec` when it is not this instance, else NULL. */
static const struct shard_member *peer_owner(const struct record *rec,
                                             const struct confgen_shard *sh)
{
    long i = sh ? shard_owner(sh->members, rec->name) : -1;
    if (i < 0 || strcmp(sh->members->v[i].name, sh->self) == 0)
        return NULL;
    return &sh->members->v[i];
}

static size_t console_line(char *dst, size_t cap, const struct record *rec,
                           const struct confgen_creds *c)
{
    char host[300], kh[600] = "";
    int n = 0;
    const struct shard_member *peer = peer_owner(rec, c->shard);
    if (peer) {
        shard_peer_dev(peer, c->shard->default_port, host, sizeof(host));
        n = snprintf(dst, cap, "console name=\"%s\" dev=\"%s\"\n", rec->name, host);
        return n < 0 ? 0 : (size_t)n;
    }
    if (rec->transport != RECORD_IPMI && c->known_hosts)
        snprintf(kh, sizeof(kh), ",K:%s", c->known_hosts);
    unsigned port = rec->transport == RECORD_SSH_PASSWORD ? c->paradise_port : 0;
    if (dev_host(rec->address, port, host, sizeof(host)) < 0)
        return 0; /* never a line conmand would refuse */
    if (rec->transport == RECORD_IPMI)
        n = snprintf(dst, cap, "console name=\"%s\" dev=\"ipmi:%s\" ipmiopts=\"U:%s,P:0x%s\"\n",
                     rec->name, host, c->user, c->pwd_hex);
    else if (rec->transport == RECORD_SSH_KEY && c->ssh_key) {
        n = snprintf(dst, cap, "console name=\"%s\" dev=\"ssh:n%u@%s\" sshopts=\"I:%s%s\"\n",
                     rec->name, rec->node, host, c->ssh_key, kh);
    } else if (rec->transport == RECORD_SSH_PASSWORD) {
        n = snprintf(dst, cap, "console name=\"%s\" dev=\"ssh:%s@%s\" sshopts=\"P:0x%s%s\"\n",
                     rec->name, c->user, host, c->pwd_hex, kh);
    }
    return n < 0 ? 0 : (size_t)n;
}

int confgen_render_creds(const char *base, const struct records *r, const struct confgen_creds *c,
                         char **out, size_t *out_len)
{
    size_t base_len = strlen(base);
    bool add_newline = base_len > 0 && base[base_len - 1] != '\n';
    const char *server = c->server_line ? c->server_line : "";
    size_t need = base_len + 1 + strlen(CONFGEN_MARKER) + strlen(server) + 1;
    for (size_t i = 0; i < r->n; i++)
        need += console_line(NULL, 0, &r->v[i], c);
    char *buf = malloc(need);
    if (!buf)
        return -ENOMEM;
    size_t len = 0;
    memcpy(buf, base, base_len);
    len += base_len;
    if (add_newline)
        buf[len++] = '\n';
    memcpy(buf + len, CONFGEN_MARKER, strlen(CONFGEN_MARKER));
    len += strlen(CONFGEN_MARKER);
    memcpy(buf + len, server, strlen(server));
    len += strlen(server);
    for (size_t i = 0; i < r->n; i++)
        len += console_line(buf + len, need - len, &r->v[i], c);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

int confgen_render(const char *base, const struct records *r, const char *user, const char *pwd_hex,
                   char **out, size_t *out_len)
{
    struct confgen_creds c = {user, pwd_hex, NULL, NULL, 0, NULL, NULL};
    return confgen_render_creds(base, r, &c, out, out_len);
}
