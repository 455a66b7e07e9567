/* Bounded base-10 integer parsing for options, config values and sim flags,
 * so every caller rejects the same malformed and out-of-range text. */
#ifndef COMMON_NUMPARSE_H
#define COMMON_NUMPARSE_H

/* Parses all of `text` as a base-10 integer in [min, max] into `out`.
 * Accepts what strtol(3) does before the digits (leading blanks, one '+' or
 * '-'), nothing after them: no trailing blanks, no hex, no suffix. Returns 0,
 * or -EINVAL (`out` untouched) when `text` is NULL, empty, not all a number,
 * or outside [min, max] (beyond LONG_MIN/LONG_MAX included). One code for
 * every failure: callers report "invalid value" and name the input there. */
int numparse_long(const char *text, long min, long max, long *out);

/* numparse_long() for text that is nothing but decimal digits: no blank,
 * no sign (a port or a count in a config or environment value). Leading
 * zeros are digits too. */
int numparse_digits(const char *text, long min, long max, long *out);

/* numparse_long() for an int; `min` and `max` bound the result. */
int numparse_int(const char *text, int min, int max, int *out);

/* The environment variable `name` as a whole number in min..max, or
 * `dflt` when it is unset or not one (knobs for the tests). */
int numparse_env_int(const char *name, int min, int max, int dflt);

/* A byte count: decimal digits with an optional K, M, G or T suffix
 * (powers of 1024, either case), at least 1 and at most `max`. Returns 0
 * or -EINVAL (`out` untouched). */
int numparse_bytes(const char *text, unsigned long long max, unsigned long long *out);

#endif
