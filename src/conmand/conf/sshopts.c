/* ssh: dev string and sshopts parsing; the password goes straight into a
 * struct secret and the scratch copy of the option string is wiped. */
#include "conmand/conf/sshopts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hostport.h"
#include "common/numparse.h"
#include "conmand/conf/conf.h"

/* A port or a timeout: decimal digits only, 1 to `max`. */
static int parse_positive(const char *s, long max, unsigned *out)
{
    long n;
    int rc = numparse_digits(s, 1, max, &n);
    if (rc == 0)
        *out = (unsigned)n;
    return rc;
}

/* "HOST[:PORT]", "[V6][:PORT]" or a bare V6 address (common/hostport.c)
 * into t->host and t->port. */
static int parse_hostport(const char *s, struct ssh_target *t)
{
    struct hostport hp;
    char why[300];
    if (hostport_parse(s, HOSTPORT_PORT_OPTIONAL, &hp, why, sizeof(why)) < 0 ||
        strlen(hp.host) >= sizeof(t->host))
        return -EINVAL;
    snprintf(t->host, sizeof(t->host), "%s", hp.host);
    t->port = hp.portnum ? (unsigned)hp.portnum : SSHOPTS_DEFAULT_PORT;
    return 0;
}

int sshopts_parse_dev(const char *dev, struct ssh_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    const char *at = strncasecmp(dev, "ssh:", 4) ? NULL : strrchr(dev + 4, '@');
    size_t ulen = at ? (size_t)(at - (dev + 4)) : 0;
    if (!at || ulen == 0 || ulen >= sizeof(t->user) || parse_hostport(at + 1, t) < 0) {
        snprintf(err, errlen, "dev \"%s\" is not ssh:USER@HOST[:PORT]", dev);
        return -EINVAL;
    }
    memcpy(t->user, dev + 4, ulen);
    t->user[ulen] = '\0';
    if (strpbrk(t->user, " \t:/")) {
        snprintf(err, errlen, "dev \"%s\": bad user name", dev);
        return -EINVAL;
    }
    return 0;
}

/* Decodes plain or 0x-hex `v` (digits in pairs) into `out`. A NUL byte
 * cannot reach the server through libssh's C-string API, so it is refused. */
static int decode_password(const char *v, struct secret *out)
{
    if (!(v[0] == '0' && (v[1] == 'x' || v[1] == 'X')))
        return *v ? secret_set(out, v, strlen(v)) : -EINVAL;
    size_t digits = strlen(v + 2), n = 0;
    if (digits == 0 || digits % 2)
        return -EINVAL;
    unsigned char *buf = malloc(digits / 2);
    if (!buf)
        return -ENOMEM;
    int rc = secret_hex_decode(v + 2, buf, digits / 2, &n);
    if (rc == 0)
        rc = memchr(buf, '\0', n) ? -EINVAL : secret_set(out, (const char *)buf, n);
    secret_wipe(buf, digits / 2);
    free(buf);
    return rc;
}

static int set_path(char *dst, size_t dstlen, const char *v)
{
    if (!*v || strlen(v) >= dstlen)
        return -EINVAL;
    strcpy(dst, v);
    return 0;
}

/* What sshopts_parse hands each item through secret_each_piece. */
struct parse_ctx {
    struct sshopts *o;
    char *err;
    size_t errlen;
    int index; /* of the item, from 1, for messages */
};

static int parse_item(char *item, void *ctx)
{
    struct parse_ctx *c = ctx;
    struct sshopts *o = c->o;
    char *err = c->err;
    size_t errlen = c->errlen;
    int index = c->index++;
    char key = (char)toupper((unsigned char)item[0]);
    const char *v = item + 2;
    int rc = -EINVAL;
    if (item[0] && item[1] == ':') {
        if (key == 'I')
            rc = set_path(o->identity, sizeof(o->identity), v);
        else if (key == 'K')
            rc = set_path(o->known_hosts, sizeof(o->known_hosts), v);
        else if (key == 'T')
            rc = parse_positive(v, 3600, &o->timeout);
        else if (key == 'P') {
            secret_release(&o->password);
            rc = decode_password(v, &o->password);
        } else {
            snprintf(err, errlen, "sshopts: unknown item '%c:' (expected I:, P:, K: or T:)",
                     item[0]);
            return -EINVAL;
        }
    } else {
        /* The text itself is not shown: it may be a password missing its P:. */
        snprintf(err, errlen, "sshopts: item %d is not X:value", index);
        return -EINVAL;
    }
    if (rc == -EINVAL)
        snprintf(err, errlen, "sshopts: bad %c: value%s", key,
                 key == 'P'   ? " (plain without NUL or commas, or 0x followed by hex pairs)"
                 : key == 'T' ? " (seconds, 1 to 3600)"
                              : " (empty or too long path)");
    return rc;
}

int sshopts_parse(const char *s, struct sshopts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->timeout = SSHOPTS_DEFAULT_TIMEOUT;
    if (!s || !*s)
        return 0;
    struct parse_ctx ctx = {o, err, errlen, 1};
    return secret_each_piece(s, ",", parse_item, &ctx);
}

void sshopts_release(struct sshopts *o)
{
    secret_release(&o->password);
}

int sshopts_layer(const char *base, const char *val, char **out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    /* Checked when the console connects, with its dev string. */
    return (*out = conf_join_values(base, ',', val)) ? 0 : -ENOMEM;
}
