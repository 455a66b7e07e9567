/* ipmiopts parsing (pure), as conman 0.3.1 reads it:
 * "U:user,P:password,K:key,C:suite,L:level,W:flag,..." with U, P and K
 * plain or 0x-hex, W by conman's names or as a number, an empty value
 * meaning the library's default; or the older "user,password,K_g,flag,..."
 * ('-' for a default). The string may hold several layers, one per line
 * (GLOBAL lines, then the console's), each parsed over the ones before. */
#ifndef CONMAND_CONF_IPMIOPTS_H
#define CONMAND_CONF_IPMIOPTS_H

#include <stddef.h>

#include "common/secret.h"

#define IPMIOPTS_KEY_MAX 20   /* password and K_g bytes */
#define IPMIOPTS_ITEM_MAX 256 /* one item of the older form */

/* Unset values are the library's defaults, so libipmiconsole.conf applies:
 * user "" and empty secrets are passed as NULL, -1 for the numbers and
 * IPMICONSOLE_WORKAROUND_DEFAULT for the flags. */
struct ipmiopts {
    char user[17];          /* IPMI user names are at most 16 bytes */
    struct secret password; /* at most 20 bytes, up to its first NUL */
    struct secret k_g;      /* at most 20 bytes, may hold NULs */
    int cipher_suite;       /* -1: library default */
    int privilege;          /* -1: default; IPMICONSOLE_PRIVILEGE_* */
    unsigned workarounds;   /* IPMICONSOLE_WORKAROUND_DEFAULT: default */
};

/* The library's defaults (nothing to release). */
void ipmiopts_defaults(struct ipmiopts *o);

/* Parses `s` (NULL: defaults) into `o` (call ipmiopts_release after).
 * Returns 0, -ENOMEM, or -EINVAL with an error naming the item (never a
 * secret value) in `err`. */
int ipmiopts_parse(const char *s, struct ipmiopts *o, char *err, size_t errlen);

void ipmiopts_release(struct ipmiopts *o);

/* ipmiopts layers ("GLOBAL\nGLOBAL\nCONSOLE"): `val` after `base` (NULL:
 * none) into *out (malloc'd), each layer parsed over the ones before when
 * the console connects, as conman parses a console's value over the
 * global settings; a newline cannot occur in a value. Checked now as it
 * will be parsed then. Returns 0, -EINVAL with the reason (never a secret)
 * in `err`, or -ENOMEM. */
int ipmiopts_layer(const char *base, const char *val, char **out, char *err, size_t errlen);

#endif
