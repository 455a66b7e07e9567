/* libFuzzer harness for log names and log output: conf_format() (conman
 * 0.3.1's % specifiers, expanded each time a console log is opened),
 * conf_expand() (%N %D %%), conf_dev_id() (%D) of the console type the dev string selects,
 * logfile_parent_len() (the folders to create) and logfile_format() (CR/LF,
 * sanitize, timestamps) into a buffer of exactly its documented worst
 * case. Input: a knob byte, then format, name, dev and console bytes,
 * separated by NULs. */
#include <errno.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/logfile.h"
#include "conmand/consoles/types.h"
#include "fuzz_common.h"

/* Splits the input at its first three NULs into four fields. */
static void fields(char *s, size_t len, char *f[4], size_t *lastlen)
{
    char *end = s + len;
    f[0] = s;
    for (int i = 1; i < 4; i++) {
        char *nul = memchr(f[i - 1], '\0', (size_t)(end - f[i - 1]));
        f[i] = nul && nul < end ? nul + 1 : end;
    }
    *lastlen = (size_t)(end - f[3]);
}

static void check_format(const char *fmt, const char *name, const char *devid, size_t outlen)
{
    char *out = malloc(outlen);
    FUZZ_CHECK(out != NULL);
    struct conf_fmt v = {.name = name, .devid = devid, .pid = 4242, .now = 1700000000};
    int rc = conf_format(fmt, &v, out, outlen);
    FUZZ_CHECK(rc == 0 || rc == -ENAMETOOLONG);
    if (rc == 0) {
        FUZZ_CHECK(strlen(out) < outlen);
        if (strchr(fmt, '%') == NULL)
            FUZZ_CHECK(strcmp(out, fmt) == 0);
    }
    /* %N alone: the sanitized name, one file name (no '/'), visible ASCII. */
    rc = conf_format("%N", &v, out, outlen);
    if (rc == 0) {
        FUZZ_CHECK(strlen(out) == strlen(name));
        for (const char *p = out; *p; p++)
            FUZZ_CHECK(*p != '/' && *p > ' ' && *p < 0x7f);
    }
    rc = conf_expand(fmt, name, devid, out, outlen);
    FUZZ_CHECK(rc == 0 || rc == -ENAMETOOLONG);
    if (rc == 0)
        FUZZ_CHECK(strlen(out) < outlen);
    size_t parent = logfile_parent_len(fmt);
    FUZZ_CHECK(parent == 0 || (parent < strlen(fmt) && fmt[parent] == '/'));
    free(out);
}

static void check_output(const unsigned char *in, size_t len, uint8_t knob)
{
    struct conf_logopts o = {.lock = false, .sanitize = knob & 1, .timestamp = knob & 2};
    size_t cap = len * LOGFILE_EXPAND + 32;
    char *out = malloc(cap);
    FUZZ_CHECK(out != NULL);
    enum logfile_line state = (enum logfile_line)((knob >> 2) & 3);
    size_t n = logfile_format(&state, &o, in, len, out, 1700000000);
    FUZZ_CHECK(n <= cap);
    if (o.sanitize)
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(out[i] == '\r' || out[i] == '\n' ||
                       (out[i] >= ' ' && (unsigned char)out[i] < 0x7f));
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_knobbed in;
    if (!fuzz_knob_and_text(data, size, 64 * 1024, &in))
        return 0;
    uint8_t knob = in.knob;
    char *s = in.text;
    char *f[4];
    size_t rawlen;
    fields(s, in.len, f, &rawlen);
    char devid[512];
    /* The type as the daemon picks it (conf_dev_id skips its dev prefix). */
    conf_dev_id(f[2], console_type_for(f[2], knob & 1), devid, sizeof(devid));
    fuzz_check_msg(devid, sizeof(devid));
    size_t outlen = knob & 0x80 ? 1 + (size_t)(knob & 0x7f) : 4096;
    check_format(f[0], f[1], devid, outlen);
    check_output((const unsigned char *)f[3], rawlen, knob);
    free(s);
    return 0;
}
