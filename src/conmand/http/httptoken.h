/* SERVER httptokenfile="PATH" (issue 18 item 4): the token every page but
 * /healthz and /readyz needs, read from the file's first line and read
 * again when the file changes (looked at once a second at most), compared
 * in constant time, never logged. A token file that cannot be read lets
 * nobody in (fail closed), and says so once per change of its state.
 * Thread-safe: the HTTP thread checks, the loop owns it. */
#ifndef CONMAND_HTTP_HTTPTOKEN_H
#define CONMAND_HTTP_HTTPTOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPTOKEN_MAX 4096 /* bytes of a token */

struct httptoken;

/* NULL: out of memory (the caller refuses to serve). */
struct httptoken *httptoken_new(const char *path);
void httptoken_free(struct httptoken *t);

/* Whether `presented` (len bytes) is the token in force now. */
bool httptoken_check(struct httptoken *t, const char *presented, size_t len);

#endif
