/* JSON strings and Prometheus label values from arbitrary bytes. */
#include "common/textenc.h"

#include <string.h>

static const char hex[] = "0123456789abcdef";

size_t textenc_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing past U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

static char *json_escaped(char *o, unsigned char c)
{
    static const char short_form[] = {['"'] = '"',  ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r',
                                      ['\t'] = 't', ['\b'] = 'b',  ['\f'] = 'f'};
    *o++ = '\\';
    if (c < sizeof(short_form) && short_form[c]) {
        *o++ = short_form[c];
        return o;
    }
    memcpy(o, "u00", 3);
    o[3] = hex[c >> 4];
    o[4] = hex[c & 15];
    return o + 5;
}

char *textenc_json(char *o, const unsigned char *s, size_t n)
{
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k =
            c < 0x20 || c == 0x7f || c == '"' || c == '\\' ? 0 : textenc_utf8_len(s + i, n - i);
        if (k == 0) {
            o = json_escaped(o, c);
            i++;
            continue;
        }
        memcpy(o, s + i, k);
        o += k;
        i += k;
    }
    *o++ = '"';
    return o;
}

char *textenc_prom_label(char *o, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '\\' || c == '"' || c == '\n') {
            *o++ = '\\';
            *o++ = c == '\n' ? 'n' : (char)c;
            i++;
            continue;
        }
        size_t k = c == 0 ? 0 : textenc_utf8_len(s + i, n - i);
        if (k == 0) {
            memcpy(o, "\\\\x", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
            i++;
            continue;
        }
        memcpy(o, s + i, k);
        o += k;
        i += k;
    }
    return o;
}
