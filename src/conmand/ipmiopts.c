/* ipmiopts parsing; secrets go straight into struct secret. */
#include "conmand/ipmiopts.h"

#include <ctype.h>
#include <errno.h>
#include <ipmiconsole.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/numparse.h"

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
    {"incrementsolpacketsequence", IPMICONSOLE_WORKAROUND_INCREMENT_SOL_PACKET_SEQUENCE},
    {"solpayloadsize", IPMICONSOLE_WORKAROUND_IGNORE_SOL_PAYLOAD_SIZE},
    {"solport", IPMICONSOLE_WORKAROUND_IGNORE_SOL_PORT},
    {"solstatus", IPMICONSOLE_WORKAROUND_SKIP_SOL_ACTIVATION_STATUS},
    {"solchannelsupport", IPMICONSOLE_WORKAROUND_SKIP_CHANNEL_PAYLOAD_SUPPORT},
};

/* Decodes plain or 0x-hex `v` into buf. Returns the length or -EINVAL. */
static int decode(const char *v, unsigned char *buf, size_t max)
{
    size_t n = 0;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        const char *h = v + 2;
        size_t len = strlen(h);
        if (len % 2 || len / 2 > max)
            return -EINVAL;
        for (size_t i = 0; i < len; i += 2) {
            if (!isxdigit((unsigned char)h[i]) || !isxdigit((unsigned char)h[i + 1]))
                return -EINVAL;
            char two[3] = {h[i], h[i + 1], '\0'};
            buf[n++] = (unsigned char)strtoul(two, NULL, 16);
        }
        return (int)n;
    }
    n = strlen(v);
    if (n > max)
        return -EINVAL;
    memcpy(buf, v, n);
    return (int)n;
}

static int parse_workaround(const char *v, unsigned *flags)
{
    for (size_t i = 0; i < sizeof(workarounds) / sizeof(workarounds[0]); i++) {
        if (!strcasecmp(v, workarounds[i].name)) {
            *flags |= workarounds[i].flag;
            return 0;
        }
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 0);
    if (errno || end == v || *end || n > 0xFFFFFFFFUL)
        return -EINVAL;
    *flags |= (unsigned)n;
    return 0;
}

static int parse_level(const char *v, int *level)
{
    if (!strcasecmp(v, "user") || !strcmp(v, "0"))
        *level = IPMICONSOLE_PRIVILEGE_USER;
    else if (!strcasecmp(v, "op") || !strcasecmp(v, "operator") || !strcmp(v, "1"))
        *level = IPMICONSOLE_PRIVILEGE_OPERATOR;
    else if (!strcasecmp(v, "admin") || !strcasecmp(v, "administrator") || !strcmp(v, "2"))
        *level = IPMICONSOLE_PRIVILEGE_ADMIN;
    else
        return -EINVAL;
    return 0;
}

static int parse_item(const char *item, struct ipmiopts *o, char *err, size_t errlen)
{
    unsigned char buf[21];
    int n;
    if (strlen(item) < 2 || item[1] != ':') {
        snprintf(err, errlen, "ipmiopts item \"%.40s\" is not X:value", item);
        return -EINVAL;
    }
    const char *v = item + 2;
    switch (toupper((unsigned char)item[0])) {
    case 'U':
        n = decode(v, buf, 16);
        if (n < 0 || memchr(buf, '\0', (size_t)n))
            break;
        memcpy(o->user, buf, (size_t)n);
        o->user[n] = '\0';
        return 0;
    case 'P':
    case 'K':
        n = decode(v, buf, 20);
        if (n < 0)
            break;
        n = secret_set(toupper((unsigned char)item[0]) == 'P' ? &o->password : &o->k_g,
                       (const char *)buf, (size_t)n);
        secret_wipe(buf, sizeof(buf));
        return n;
    case 'C':
        if (numparse_int(v, 0, 17, &o->cipher_suite) == 0)
            return 0;
        break;
    case 'L':
        if (parse_level(v, &o->privilege) == 0)
            return 0;
        break;
    case 'W':
        if (parse_workaround(v, &o->workarounds) == 0)
            return 0;
        break;
    default:
        snprintf(err, errlen, "ipmiopts: unknown item '%c'", item[0]);
        return -EINVAL;
    }
    secret_wipe(buf, sizeof(buf));
    /* The value of U/P/K may be a secret: name only the item. */
    snprintf(err, errlen, "ipmiopts: invalid value for '%c'", toupper((unsigned char)item[0]));
    return -EINVAL;
}

int ipmiopts_parse(const char *s, struct ipmiopts *o, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->cipher_suite = -1;
    o->privilege = -1;
    if (!s)
        return 0;
    char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        if (*item)
            rc = parse_item(item, o, err, errlen);
    }
    secret_wipe(copy, strlen(s));
    free(copy);
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
