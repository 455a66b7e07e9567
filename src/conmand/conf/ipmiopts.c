/* ipmiopts parsing as conman 0.3.1 reads it; secrets go straight into
 * struct secret and never into a message. */
#include "conmand/conf/ipmiopts.h"

#include <ctype.h>
#include <errno.h>
#include <ipmiconsole.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conmand/conf/conf.h"

static const struct {
    const char *name;
    unsigned flag;
} workarounds[] = {
    {"authcap", IPMICONSOLE_WORKAROUND_AUTHENTICATION_CAPABILITIES},
    {"intel20", IPMICONSOLE_WORKAROUND_INTEL_2_0_SESSION},
    {"supermicro20", IPMICONSOLE_WORKAROUND_SUPERMICRO_2_0_SESSION},
    {"sun20", IPMICONSOLE_WORKAROUND_SUN_2_0_SESSION},
    {"opensesspriv", IPMICONSOLE_WORKAROUND_OPEN_SESSION_PRIVILEGE},
    {"integritycheckvalue", IPMICONSOLE_WORKAROUND_NON_EMPTY_INTEGRITY_CHECK_VALUE},
    {"nochecksumcheck", IPMICONSOLE_WORKAROUND_NO_CHECKSUM_CHECK},
    {"serialalertsdeferred", IPMICONSOLE_WORKAROUND_SERIAL_ALERTS_DEFERRED},
    {"solpacketseq", IPMICONSOLE_WORKAROUND_INCREMENT_SOL_PACKET_SEQUENCE},
    /* The spelling this parser took before conman's name was known. */
    {"incrementsolpacketsequence", IPMICONSOLE_WORKAROUND_INCREMENT_SOL_PACKET_SEQUENCE},
    {"solpayloadsize", IPMICONSOLE_WORKAROUND_IGNORE_SOL_PAYLOAD_SIZE},
    {"solport", IPMICONSOLE_WORKAROUND_IGNORE_SOL_PORT},
    {"solstatus", IPMICONSOLE_WORKAROUND_SKIP_SOL_ACTIVATION_STATUS},
    {"solchannelsupport", IPMICONSOLE_WORKAROUND_SKIP_CHANNEL_PAYLOAD_SUPPORT},
    {"default", IPMICONSOLE_WORKAROUND_DEFAULT},
    {"none", 0},
};

#define NWORKAROUNDS (sizeof(workarounds) / sizeof(workarounds[0]))

static unsigned known_flags(void)
{
    unsigned all = 0;
    for (size_t i = 0; i < NWORKAROUNDS; i++)
        if (workarounds[i].flag != IPMICONSOLE_WORKAROUND_DEFAULT)
            all |= workarounds[i].flag;
    return all;
}

/* conman's key syntax: "0x" and nothing but hex digits is binary (an odd
 * last digit is a high nibble), anything else is the text itself. Returns
 * the length or -E2BIG beyond `max` bytes. */
static int decode(const char *v, unsigned char *buf, size_t max)
{
    size_t n;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        int rc = secret_hex_decode(v + 2, buf, max, &n);
        if (rc != -EINVAL) /* -EINVAL: not all hex, so plain text */
            return rc < 0 ? rc : (int)n;
    }
    n = strlen(v);
    if (n > max)
        return -E2BIG;
    memcpy(buf, v, n);
    return (int)n;
}

/* The first W: replaces the starting value (the library's default, or
 * what a later `default`/`none` set), later ones add to it, as conman. */
static void add_workaround(struct ipmiopts *o, unsigned flag)
{
    if (flag == 0 || flag == IPMICONSOLE_WORKAROUND_DEFAULT ||
        o->workarounds == IPMICONSOLE_WORKAROUND_DEFAULT)
        o->workarounds = flag;
    else
        o->workarounds |= flag;
}

static int parse_workaround(const char *v, struct ipmiopts *o, char *err, size_t errlen)
{
    if (!*v) {
        add_workaround(o, IPMICONSOLE_WORKAROUND_DEFAULT);
        return 0;
    }
    for (size_t i = 0; i < NWORKAROUNDS; i++) {
        if (!strcasecmp(v, workarounds[i].name)) {
            add_workaround(o, workarounds[i].flag);
            return 0;
        }
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 0);
    if (errno || end == v || *end || v[0] == '-' || n > 0xFFFFFFFFUL ||
        (n != IPMICONSOLE_WORKAROUND_DEFAULT && (n & ~(unsigned long)known_flags()))) {
        snprintf(err, errlen, "ipmiopts: W: unknown workaround \"%.40s\"", v);
        return -EINVAL;
    }
    add_workaround(o, (unsigned)n);
    return 0;
}

/* strtol over the whole string (any base, as conman), else -EINVAL. */
static int whole_number(const char *v, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(v, &end, 0);
    return errno || end == v || *end ? -EINVAL : 0;
}

static int parse_level(const char *v, struct ipmiopts *o, char *err, size_t errlen)
{
    long n;
    if (!*v)
        n = -1;
    else if (!strcasecmp(v, "user"))
        n = IPMICONSOLE_PRIVILEGE_USER;
    else if (!strcasecmp(v, "op") || !strcasecmp(v, "operator"))
        n = IPMICONSOLE_PRIVILEGE_OPERATOR;
    else if (!strcasecmp(v, "admin") || !strcasecmp(v, "administrator"))
        n = IPMICONSOLE_PRIVILEGE_ADMIN;
    else if (whole_number(v, &n) < 0 || n < IPMICONSOLE_PRIVILEGE_USER ||
             n > IPMICONSOLE_PRIVILEGE_ADMIN) {
        snprintf(err, errlen, "ipmiopts: L: invalid privilege level \"%.40s\"", v);
        return -EINVAL;
    }
    o->privilege = (int)n;
    return 0;
}

/* The suites FreeIPMI implements (ipmiconsole.h). */
static bool cipher_known(long id)
{
    return (id >= 0 && id <= 3) || (id >= 6 && id <= 8) || id == 11 || id == 12 ||
           (id >= 15 && id <= 17);
}

static int parse_cipher(const char *v, struct ipmiopts *o, char *err, size_t errlen)
{
    long n = -1;
    if (*v && (whole_number(v, &n) < 0 || !cipher_known(n))) {
        snprintf(err, errlen, "ipmiopts: C: invalid cipher suite \"%.40s\"", v);
        return -EINVAL;
    }
    o->cipher_suite = (int)n;
    return 0;
}

static int parse_user(const char *v, struct ipmiopts *o, char *err, size_t errlen)
{
    size_t n = strlen(v);
    if (n >= sizeof(o->user)) {
        snprintf(err, errlen, "ipmiopts: U: user name longer than %zu bytes", sizeof(o->user) - 1);
        return -EINVAL;
    }
    memcpy(o->user, v, n + 1);
    return 0;
}

/* P and K; an empty value unsets (the library's default applies). */
static int parse_key(char tag, const char *v, struct ipmiopts *o, char *err, size_t errlen)
{
    unsigned char buf[IPMIOPTS_KEY_MAX];
    struct secret *dst = tag == 'P' ? &o->password : &o->k_g;
    int n = decode(v, buf, sizeof(buf));
    if (n < 0) {
        snprintf(err, errlen, "ipmiopts: %c: longer than %d bytes", tag, IPMIOPTS_KEY_MAX);
        return -EINVAL;
    }
    if (tag == 'P' && memchr(buf, '\0', (size_t)n))
        n = (int)strlen((const char *)buf); /* a password ends at its first NUL */
    secret_release(dst);
    int rc = n ? secret_set(dst, (const char *)buf, (size_t)n) : 0;
    secret_wipe(buf, sizeof(buf));
    return rc;
}

static int parse_item(const char *item, struct ipmiopts *o, char *err, size_t errlen)
{
    char tag = (char)toupper((unsigned char)item[0]);
    if (!item[0] || item[1] != ':' || !strchr("UPKCLW", tag)) {
        /* Only the first character: the item may be a secret. */
        snprintf(err, errlen, "ipmiopts: unknown item '%c' (expected U:, P:, K:, C:, L: or W:)",
                 isprint((unsigned char)item[0]) ? item[0] : '?');
        return -EINVAL;
    }
    const char *v = item + 2;
    switch (tag) {
    case 'U':
        return parse_user(v, o, err, errlen);
    case 'P':
    case 'K':
        return parse_key(tag, v, o, err, errlen);
    case 'C':
        return parse_cipher(v, o, err, errlen);
    case 'L':
        return parse_level(v, o, err, errlen);
    default:
        return parse_workaround(v, o, err, errlen);
    }
}

/* Conman's older form "user,password,K_g,flag,...": '-' for a default. */
static int parse_legacy(char *layer, struct ipmiopts *o, char *err, size_t errlen)
{
    static const char tags[] = "UPK";
    char *save = NULL, item[4 + IPMIOPTS_ITEM_MAX];
    int i = 0, rc = 0;
    for (char *w = strtok_r(layer, ",", &save); w && rc == 0; w = strtok_r(NULL, ",", &save), i++) {
        if (!strcmp(w, "-"))
            w = "";
        if (strlen(w) >= IPMIOPTS_ITEM_MAX) {
            snprintf(err, errlen, "ipmiopts: item %d longer than %d bytes", i + 1,
                     IPMIOPTS_ITEM_MAX - 1);
            return -EINVAL;
        }
        snprintf(item, sizeof(item), "%c:%s", i < 3 ? tags[i] : 'W', w);
        rc = parse_item(item, o, err, errlen);
        secret_wipe(item, sizeof(item));
    }
    return rc;
}

/* What ipmiopts_parse hands each layer through secret_each_piece. */
struct parse_ctx {
    struct ipmiopts *o;
    char *err;
    size_t errlen;
};

static int parse_layer(char *layer, void *ctx)
{
    struct parse_ctx *c = ctx;
    struct ipmiopts *o = c->o;
    char *err = c->err;
    size_t errlen = c->errlen;
    while (isspace((unsigned char)*layer))
        layer++;
    if (layer[0] && layer[1] != ':')
        return parse_legacy(layer, o, err, errlen);
    char *save = NULL;
    int rc = 0;
    for (char *item = strtok_r(layer, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        if (*item)
            rc = parse_item(item, o, err, errlen);
    }
    return rc;
}

void ipmiopts_defaults(struct ipmiopts *o)
{
    memset(o, 0, sizeof(*o));
    o->cipher_suite = -1;
    o->privilege = -1;
    o->workarounds = IPMICONSOLE_WORKAROUND_DEFAULT;
}

int ipmiopts_parse(const char *s, struct ipmiopts *o, char *err, size_t errlen)
{
    ipmiopts_defaults(o);
    if (!s)
        return 0;
    struct parse_ctx ctx = {o, err, errlen};
    int rc = secret_each_piece(s, "\n", parse_layer, &ctx);
    if (rc < 0)
        ipmiopts_release(o);
    return rc;
}

void ipmiopts_release(struct ipmiopts *o)
{
    secret_release(&o->password);
    secret_release(&o->k_g);
    secret_wipe(o->user, sizeof(o->user));
}

int ipmiopts_layer(const char *base, const char *val, char **out, char *err, size_t errlen)
{
    struct ipmiopts o;
    char *layers = conf_join_values(base, '\n', val);
    if (!layers)
        return -ENOMEM;
    int rc = ipmiopts_parse(layers, &o, err, errlen);
    if (rc < 0) {
        secret_free(layers); /* it may hold a password */
        return rc;
    }
    ipmiopts_release(&o);
    *out = layers;
    return 0;
}
