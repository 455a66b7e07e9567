/* JSON values appended to a strbuf: the strings and times that the HTTP
 * pages, the log shipping stream and event programs all carry. Pure. */
#ifndef COMMON_JSONBUF_H
#define COMMON_JSONBUF_H

#include <time.h>

#include "common/strbuf.h"

/* s as a JSON string (textenc_json: any bytes give valid UTF-8), or null
 * for NULL. */
void json_add_string(struct strbuf *sb, const char *s);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) as a JSON string, or null for 0. */
void json_add_time(struct strbuf *sb, time_t t);

#endif
