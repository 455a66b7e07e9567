/* Secrets: read from files, hex-encoded for config files and decoded from
 * them, wiped on release. */
#include "common/secret.h"

#include "common/fileutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void secret_wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

void secret_free(char *s)
{
    if (s) {
        secret_wipe(s, strlen(s));
        free(s);
    }
}

void secret_release(struct secret *s)
{
    if (s->bytes) {
        secret_wipe(s->bytes, s->len);
        free(s->bytes);
    }
    s->bytes = NULL;
    s->len = 0;
}

int secret_set(struct secret *out, const char *bytes, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, bytes, len);
    copy[len] = '\0';
    secret_release(out);
    out->bytes = copy;
    out->len = len;
    return 0;
}

int secret_each_piece(const char *s, const char *delims, secret_piece_fn fn, void *ctx)
{
    size_t len = strlen(s);
    char *copy = strdup(s);
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *piece = strtok_r(copy, delims, &save); piece && rc == 0;
         piece = strtok_r(NULL, delims, &save))
        rc = fn(piece, ctx);
    secret_wipe(copy, len); /* strtok_r's NULs stand inside these len bytes */
    free(copy);
    return rc;
}

int secret_read_first_line(const char *path, size_t max_len, struct secret *out, char *err,
                           size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    /* 4 KiB is far beyond any credential; a larger file is not a secret file. */
    int rc = file_read_all(path, 4096, &buf, &len, err, errlen);
    if (rc < 0)
        return rc;
    size_t line = strcspn(buf, "\r\n");
    if (line == 0) {
        snprintf(err, errlen, "%s: empty (expected the secret on the first line)", path);
        rc = -EINVAL;
    } else if (max_len && line > max_len) {
        snprintf(err, errlen, "%s: first line is %zu bytes, longer than the limit of %zu", path,
                 line, max_len);
        rc = -EINVAL;
    } else {
        rc = secret_set(out, buf, line);
        if (rc < 0)
            snprintf(err, errlen, "%s: out of memory", path);
    }
    secret_wipe(buf, len);
    free(buf);
    return rc;
}

int secret_hex(const struct secret *s, char *hex, size_t hexlen)
{
    static const char digits[] = "0123456789abcdef";
    if (hexlen < 2 * s->len + 1)
        return -ENOSPC;
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->bytes[i];
        hex[2 * i] = digits[c >> 4];
        hex[2 * i + 1] = digits[c & 0xf];
    }
    hex[2 * s->len] = '\0';
    return 0;
}

static unsigned hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return (unsigned)(ch - '0');
    return (unsigned)((ch | 0x20) - 'a' + 10); /* 'A'-'F' and 'a'-'f' */
}

int secret_hex_decode(const char *hex, unsigned char *out, size_t outlen, size_t *n)
{
    size_t digits = strlen(hex);
    if (strspn(hex, "0123456789abcdefABCDEF") != digits)
        return -EINVAL;
    size_t bytes = (digits + 1) / 2;
    if (bytes > outlen)
        return -E2BIG;
    memset(out, 0, bytes);
    for (size_t i = 0; i < digits; i++)
        out[i / 2] |= (unsigned char)(hex_value(hex[i]) << (i % 2 ? 0 : 4));
    *n = bytes;
    return 0;
}

int secret_equal(const struct secret *s, const char *p, size_t len)
{
    if (!s->bytes || !p)
        return 0;
    /* Every byte of the presented text is compared, against the secret's
     * bytes cycled, and the length difference folded in. */
    volatile unsigned char diff = (unsigned char)(s->len != len);
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)p[i] ^ (unsigned char)s->bytes[s->len ? i % s->len : 0];
    return s->len > 0 && diff == 0;
}
