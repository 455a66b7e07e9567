/* conman.conf generation: the base file verbatim, a marker, console lines. */
#include "configure/confgen.h"

#include <ctype.h>
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
    if (!*user)
        return false;
    for (const unsigned char *p = (const unsigned char *)user; *p; p++)
        if (!isgraph(*p) || *p == '"' || *p == ',' || *p == '\\' || *p == '\'')
            return false;
    return true;
}

static size_t console_line(char *dst, size_t cap, const struct record *rec, const char *user,
                           const char *pwd_hex)
{
    int n = snprintf(dst, cap, "console name=\"%s\" dev=\"ipmi:%s\" ipmiopts=\"U:%s,P:0x%s\"\n",
                     rec->name, rec->address, user, pwd_hex);
    return n < 0 ? 0 : (size_t)n;
}

int confgen_render(const char *base, const struct records *r, const char *user, const char *pwd_hex,
                   char **out, size_t *out_len)
{
    size_t base_len = strlen(base);
    bool add_newline = base_len > 0 && base[base_len - 1] != '\n';
    size_t need = base_len + 1 + strlen(CONFGEN_MARKER) + 1;
    for (size_t i = 0; i < r->n; i++)
        need += console_line(NULL, 0, &r->v[i], user, pwd_hex);
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
    for (size_t i = 0; i < r->n; i++)
        len += console_line(buf + len, need - len, &r->v[i], user, pwd_hex);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}
