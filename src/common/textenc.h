/* Text for machine readers from bytes of any kind: JSON strings and
 * Prometheus label values. Console names and console output are bytes, not
 * always UTF-8, and must never break the document they are put in. Pure. */
#ifndef COMMON_TEXTENC_H
#define COMMON_TEXTENC_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (1..4, n bytes available), or 0
 * when it is not valid UTF-8 (overlong, surrogate, > U+10FFFF, cut). */
size_t textenc_utf8_len(const unsigned char *s, size_t n);

/* Most bytes textenc_json() writes for n input bytes. */
#define TEXTENC_JSON_MAX(n) (6 * (n) + 2)

/* Writes s as a quoted JSON string at o (room for TEXTENC_JSON_MAX(n)):
 * ", \ and control characters (< 0x20, 0x7f) as \n \r \t \b \f or \u00XX;
 * a byte that is not part of valid UTF-8 as \u00XX with its value, so the
 * output is valid UTF-8 and the byte can be recovered. Returns the end. */
char *textenc_json(char *o, const unsigned char *s, size_t n);

/* Most bytes textenc_prom_label() writes for n input bytes. */
#define TEXTENC_PROM_MAX(n) (5 * (n))

/* Writes s as the inside of a Prometheus label value (text format 0.0.4)
 * at o (room for TEXTENC_PROM_MAX(n)): \ " and LF as \\ \" \n, a byte
 * that is not valid UTF-8 as the four characters \xNN (its backslash
 * escaped, so it reads back as text), a NUL likewise. Returns the end. */
char *textenc_prom_label(char *o, const unsigned char *s, size_t n);

#endif
