/* Whether an error message leaks a secret value given as "<key>:<value>"
 * in an options string (ipmiopts, sshopts). */
#ifndef FUZZ_SECRET_CHECK_H
#define FUZZ_SECRET_CHECK_H

#include <ctype.h>

#include "fuzz_common.h"

/* For each "<key>" item (at the start or after a comma) whose value is at
 * least 6 bytes and occurs once in `s`, the message must not contain it. */
static inline void fuzz_check_no_secret(const char *s, const char *key, const char *msg)
{
    size_t klen = strlen(key);
    for (const char *p = s; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        while (*p == '\n')
            p++;
        if (strncmp(p, key, klen) != 0)
            continue;
        const char *v = p + klen;
        size_t vlen = strcspn(v, ",\n");
        if (vlen < 6 || vlen > 200)
            continue;
        char val[201];
        memcpy(val, v, vlen);
        val[vlen] = '\0';
        const char *first = strstr(s, val);
        if (first && strstr(first + 1, val))
            continue; /* also outside the secret: may be named legitimately */
        FUZZ_CHECK(strstr(msg, val) == NULL);
    }
}

/* Whether every item of every line is "<letter>:value" (the newer form;
 * in the older one "user,password,K_g,flag" a flag may look like "K:x"). */
static inline bool fuzz_all_keyed(const char *s)
{
    for (const char *p = s;;) {
        if (!isalpha((unsigned char)p[0]) || p[1] != ':')
            return false;
        size_t n = strcspn(p, ",\n");
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

#endif
