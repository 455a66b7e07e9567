/* SRV answers to members: glibc's libresolv sends the query and splits the
 * message into records; what a record may become is decided here. */
#include "configure/srvlookup.h"

#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX 65535 /* the largest DNS message, as TCP can carry it */

/* A member from one SRV target and port, checked by the same rules as a
 * SHARD_MEMBERS entry "NAME=HOST:PORT" (it ends up in peer: lines). */
static int target_member(const char *target, unsigned port, struct shard_member *m, char *err,
                         size_t errlen)
{
    size_t label = strcspn(target, ".");
    char text[2 * MAXDNAME + 16], why[160];
    snprintf(text, sizeof(text), "%.*s=%s:%u", (int)label, target, target, port);
    if (shard_parse_member(text, m, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "SRV target \"%.300s\" port %u: %s", target, port, why);
        return -EINVAL;
    }
    return 0;
}

/* Answer record `i` into `m`: 1 a member, 0 not an IN SRV record or the
 * target "." (no service there), <0 a bad record. */
static int record_member(ns_msg *h, int i, struct shard_member *m, char *err, size_t errlen)
{
    ns_rr rr;
    if (ns_parserr(h, ns_s_an, i, &rr) < 0) {
        snprintf(err, errlen, "answer record %d is malformed", i + 1);
        return -EINVAL;
    }
    if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != ns_t_srv)
        return 0; /* a CNAME on the way, say */
    const unsigned char *rd = ns_rr_rdata(rr);
    size_t rdlen = ns_rr_rdlen(rr);
    char target[MAXDNAME];
    /* priority, weight, port, then the target, which must end the data. */
    int n =
        rdlen > 6 ? dn_expand(ns_msg_base(*h), ns_msg_end(*h), rd + 6, target, sizeof(target)) : -1;
    if (n < 0 || (size_t)n + 6 != rdlen) {
        snprintf(err, errlen, "SRV record %d: its target does not fit its data", i + 1);
        return -EINVAL;
    }
    if (!target[0] || strcmp(target, ".") == 0)
        return 0;
    int rc = target_member(target, ns_get16(rd + 4), m, err, errlen);
    return rc < 0 ? rc : 1;
}

/* By name, then host and port, so the member kept for a name does not
 * depend on the order the server sent the records in. */
static int by_name_host_port(const void *a, const void *b)
{
    const struct shard_member *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = strcmp(x->host, y->host);
    return c ? c : (x->port > y->port) - (x->port < y->port);
}

static void sort_unique(struct shard_members *m)
{
    if (!m->n)
        return;
    qsort(m->v, m->n, sizeof(m->v[0]), by_name_host_port);
    size_t kept = 1;
    for (size_t i = 1; i < m->n; i++)
        if (strcmp(m->v[i].name, m->v[kept - 1].name) != 0)
            m->v[kept++] = m->v[i];
    m->n = kept;
}

static int rcode_error(int rcode, char *err, size_t errlen)
{
    if (rcode == ns_r_nxdomain) {
        snprintf(err, errlen, "no such name (NXDOMAIN)");
        return -ENOENT;
    }
    if (rcode == ns_r_servfail) {
        snprintf(err, errlen, "the name server failed (SERVFAIL)");
        return -EAGAIN;
    }
    snprintf(err, errlen, "the name server answered with error code %d", rcode);
    return -EIO;
}

static int parse_records(ns_msg *h, struct shard_members *out, char *err, size_t errlen)
{
    int count = ns_msg_count(*h, ns_s_an);
    if (count > SHARD_MEMBERS_MAX) {
        snprintf(err, errlen, "more than %d answer records", SHARD_MEMBERS_MAX);
        return -EINVAL;
    }
    out->v = count ? calloc((size_t)count, sizeof(out->v[0])) : NULL;
    if (count && !out->v) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < count; i++) {
        int rc = record_member(h, i, &out->v[out->n], err, errlen);
        if (rc < 0)
            return rc;
        out->n += (size_t)rc;
    }
    sort_unique(out);
    return 0;
}

int srvlookup_parse(const unsigned char *msg, size_t len, struct shard_members *out, char *err,
                    size_t errlen)
{
    ns_msg h;
    *out = (struct shard_members)SHARD_MEMBERS_INIT;
    if (len > ANSWER_MAX || ns_initparse(msg, (int)len, &h) < 0) {
        snprintf(err, errlen, "a malformed answer (%zu bytes)", len);
        return -EINVAL;
    }
    int rcode = (int)ns_msg_getflag(h, ns_f_rcode);
    int rc = rcode != ns_r_noerror ? rcode_error(rcode, err, errlen)
                                   : parse_records(&h, out, err, errlen);
    if (rc < 0 || !out->n)
        shard_members_release(out);
    return rc;
}

/* res_nquery gives no message for an error code or an empty answer, only
 * h_errno: map it as srvlookup_parse maps the code. */
static int query_error(int herr, char *err, size_t errlen)
{
    switch (herr) {
    case HOST_NOT_FOUND:
        return rcode_error(ns_r_nxdomain, err, errlen);
    case NO_DATA:
        return 0; /* the name exists and has no SRV record: no member */
    case TRY_AGAIN:
        snprintf(err, errlen,
                 "no answer from the name servers of /etc/resolv.conf "
                 "(unreachable, timed out or SERVFAIL)");
        return -EAGAIN;
    default:
        snprintf(err, errlen, "the name server refused the query or sent a bad answer");
        return -EIO;
    }
}

int srvlookup_query(const char *name, struct shard_members *out, char *err, size_t errlen)
{
    struct __res_state rs;
    *out = (struct shard_members)SHARD_MEMBERS_INIT;
    memset(&rs, 0, sizeof(rs));
    /* Each lookup reads resolv.conf afresh: a changed one is picked up. */
    if (res_ninit(&rs) < 0) {
        snprintf(err, errlen, "cannot read the resolver configuration (/etc/resolv.conf)");
        res_nclose(&rs);
        return -EIO;
    }
    /* It runs on configure_conman's main loop: bound it. */
    rs.retrans = 2;
    rs.retry = 2;
    unsigned char *answer = malloc(ANSWER_MAX);
    if (!answer) {
        res_nclose(&rs);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int n = res_nquery(&rs, name, ns_c_in, ns_t_srv, answer, ANSWER_MAX);
    int rc = n < 0 ? query_error(rs.res_h_errno, err, errlen)
                   : srvlookup_parse(answer, (size_t)n, out, err, errlen);
    free(answer);
    res_nclose(&rs);
    return rc;
}
