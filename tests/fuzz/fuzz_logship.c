/* libFuzzer harness for log shipping: logship_line_feed() (input split into
 * reads at the first byte's offsets) and logship_encode() of every line into
 * a buffer of exactly logship_encoded_max(). Checks each object is valid
 * UTF-8, that its strings hold no raw control character and only JSON
 * escapes, and that decoding the "line" string (\u00XX back to the byte)
 * gives the line's bytes back. */
#include "conmand/ship/logship.h"
#include "fuzz_common.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Valid UTF-8 per RFC 3629 (no overlongs, surrogates, > U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], len, cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0)
            len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (i + len > n)
            return false;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Decodes the JSON string starting at *p (after its quote) into out; our
 * encoder only emits \u00XX escapes below 0x100, which map back to bytes. */
static size_t decode_string(const char **p, unsigned char *out)
{
    const char *s = *p;
    size_t n = 0;
    for (;;) {
        unsigned char c = (unsigned char)*s++;
        FUZZ_CHECK(c >= 0x20 && c != 0x7f);
        if (c == '"')
            break;
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        char e = *s++;
        const char *simple = "\"\\nrtbf", *val = "\"\\\n\r\t\b\f";
        const char *hit = strchr(simple, e);
        FUZZ_CHECK(e != '\0');
        if (hit) {
            out[n++] = (unsigned char)val[hit - simple];
            continue;
        }
        FUZZ_CHECK(e == 'u' && s[0] == '0' && s[1] == '0');
        int hi = hexval(s[2]), lo = hexval(s[3]);
        FUZZ_CHECK(hi >= 0 && lo >= 0);
        out[n++] = (unsigned char)(hi * 16 + lo);
        s += 4;
    }
    *p = s;
    return n;
}

static void check_line(void *arg, const unsigned char *line, size_t len)
{
    (void)arg;
    FUZZ_CHECK(len <= LOGSHIP_LINE_MAX);
    FUZZ_CHECK(memchr(line, '\n', len) == NULL);
    static const char name[] = "n\"\\\x01\xff";
    struct timespec t = {.tv_sec = (time_t)len * 86399, .tv_nsec = (long)len * 7};
    size_t max = logship_encoded_max(sizeof(name) - 1, len);
    char *out = malloc(max);
    unsigned char *back = malloc(len + 1);
    FUZZ_CHECK(out && back);
    size_t n = logship_encode(out, max, name, sizeof(name) - 1, &t, line, len);
    FUZZ_CHECK(n > 0 && n < max && out[n] == '\0' && out[n - 1] == '\n');
    FUZZ_CHECK(valid_utf8((const unsigned char *)out, n));
    FUZZ_CHECK(strncmp(out, "{\"console\":\"", 12) == 0);
    const char *p = out + 12;
    unsigned char nb[64];
    FUZZ_CHECK(decode_string(&p, nb) == sizeof(name) - 1 &&
               memcmp(nb, name, sizeof(name) - 1) == 0);
    FUZZ_CHECK(strncmp(p, ",\"time\":\"", 9) == 0 && strlen(p) > 9 + 30);
    FUZZ_CHECK(p[9 + 29] == 'Z' && p[9 + 30] == '"');
    p += 9 + 31;
    FUZZ_CHECK(strncmp(p, ",\"line\":\"", 9) == 0);
    p += 9;
    FUZZ_CHECK(decode_string(&p, back) == len && memcmp(back, line, len) == 0);
    FUZZ_CHECK(strcmp(p, "}\n") == 0);
    free(out);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    static struct logship_line l;
    l.len = 0;
    for (size_t i = 1; i < size; i += step) {
        size_t n = size - i < step ? size - i : step;
        logship_line_feed(&l, data + i, n, check_line, NULL);
    }
    if (l.len > 0)
        check_line(NULL, l.buf, l.len);
    return 0;
}
