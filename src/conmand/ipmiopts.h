/* ipmiopts parsing (pure): "U:user,P:password,K:key,C:suite,L:level,W:flag"
 * with U, P and K plain or 0x-hex, W by conman's names or as a number. Later
 * items override earlier ones, so GLOBAL then CONSOLE values can be joined. */
#ifndef CONMAND_IPMIOPTS_H
#define CONMAND_IPMIOPTS_H

#include <stddef.h>

#include "common/secret.h"

struct ipmiopts {
    char user[17];          /* IPMI user names are at most 16 bytes */
    struct secret password; /* at most 20 bytes */
    struct secret k_g;      /* at most 20 bytes, may hold NULs */
    int cipher_suite;       /* -1: library default */
    int privilege;          /* -1: default; IPMICONSOLE_PRIVILEGE_* */
    unsigned workarounds;
};

/* Parses `s` into `o` (call ipmiopts_release after). Returns 0 or -EINVAL
 * with an error naming the item (never the secret value) in `err`. */
int ipmiopts_parse(const char *s, struct ipmiopts *o, char *err, size_t errlen);

void ipmiopts_release(struct ipmiopts *o);

#endif
