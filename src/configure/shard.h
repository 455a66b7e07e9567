/* Scale-out membership and console assignment: member lists parsed from
 * SHARD_MEMBERS / SHARD_MEMBERS_FILE text, and rendezvous (highest random
 * weight) hashing of console names over them. Pure. */
#ifndef CONFIGURE_SHARD_H
#define CONFIGURE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_NAME_MAX 63
#define SHARD_HOST_MAX 253
#define SHARD_MEMBERS_MAX 1024 /* far beyond any deployment; bounds a typo'd file */

struct shard_member {
    char name[SHARD_NAME_MAX + 1]; /* [A-Za-z0-9._-]{1,63} */
    char host[SHARD_HOST_MAX + 1]; /* host name, IPv4 or IPv6 (no brackets) */
    unsigned port;                 /* 0: the conman port of the base file */
};

/* Members sorted by name, no two alike. Owns `v`. */
struct shard_members {
    struct shard_member *v;
    size_t n;
};

#define SHARD_MEMBERS_INIT                                                                         \
    {                                                                                              \
        NULL, 0                                                                                    \
    }

/* Parses `NAME`, `NAME=HOST`, `NAME=HOST:PORT`, `NAME=[IPv6]` or
 * `NAME=[IPv6]:PORT` into `m`. Returns 0 or -EINVAL with the reason in
 * `err` (the entry itself is named by the caller). */
int shard_parse_member(const char *text, struct shard_member *m, char *err, size_t errlen);

/* A comma-separated list (SHARD_MEMBERS; blanks around entries allowed).
 * `out` is empty on entry. Returns 0, -EINVAL (a bad, empty or duplicate
 * entry, named in `err`) or -ENOMEM; `out` is then empty. */
int shard_parse_list(const char *text, struct shard_members *out, char *err, size_t errlen);

/* One member a line (SHARD_MEMBERS_FILE): '#' starts a comment, blank
 * lines are ignored; errors say "<path>:<line>: ...". As shard_parse_list. */
int shard_parse_file(const char *text, const char *path, struct shard_members *out, char *err,
                     size_t errlen);

/* The index in `m` of the member named `name`, or -1. */
long shard_find(const struct shard_members *m, const char *name);

bool shard_members_equal(const struct shard_members *a, const struct shard_members *b);

/* Deep copy into `dst` (empty on entry). Returns 0 or -ENOMEM. */
int shard_members_copy(struct shard_members *dst, const struct shard_members *src);

/* "a,b=h:1,c" for logs; truncated with "..." when it does not fit. */
void shard_members_describe(const struct shard_members *m, char *out, size_t outlen);

void shard_members_release(struct shard_members *m);

/* The rendezvous weight of `member` for `console`: a 64-bit FNV-1a of
 * member, a NUL byte and console, through the splitmix64 finaliser. */
uint64_t shard_weight(const char *member, const char *console);

/* The index of the member owning `console`: the highest weight, ties to
 * the smaller name, so the owner does not depend on member order. -1 when
 * `m` is empty. */
long shard_owner(const struct shard_members *m, const char *console);

/* `dev` value for a console owned by `m`: "peer:HOST:PORT", an IPv6 host
 * in brackets, `default_port` when the member names none. */
void shard_peer_dev(const struct shard_member *m, unsigned default_port, char *out, size_t outlen);

#endif
