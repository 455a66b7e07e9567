/* JSON strings and times into a strbuf. */
#include "common/jsonbuf.h"

#include <string.h>

#include "common/textenc.h"

void json_add_string(struct strbuf *sb, const char *s)
{
    if (!s) {
        strbuf_adds(sb, "null");
        return;
    }
    size_t n = strlen(s);
    char *q = strbuf_room(sb, TEXTENC_JSON_MAX(n));
    if (q)
        strbuf_commit(sb, (size_t)(textenc_json(q, (const unsigned char *)s, n) - q));
}

void json_add_time(struct strbuf *sb, time_t t)
{
    struct tm tm;
    char buf[40];
    if (!t || !gmtime_r(&t, &tm)) {
        strbuf_adds(sb, "null");
        return;
    }
    strftime(buf, sizeof(buf), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
    strbuf_adds(sb, buf);
}
