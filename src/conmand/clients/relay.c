/* A session's links to the owners of its peer: consoles. */
#include "conmand/clients/relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conmand/clients/peerlink.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/types.h"

size_t relay_count_remote(struct console *const *cons, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += console_is_remote(cons[i]);
    return k;
}

const char *relay_owner_of(const struct console *c)
{
    return c->type->dev_id(c->cfg.dev);
}

static bool links_full(const struct relay *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (peer_link_full(r->links[i]))
            return true;
    return false;
}

/* The owner takes the client's bytes more slowly than it types or pastes:
 * stop reading it (TCP holds it back) rather than queue without bound. */
static void pause_if_full(struct relay *r)
{
    if (!r->paused && links_full(r)) {
        r->paused = true;
        r->ops->pause(r->ctx, true);
    }
}

static void link_drained(void *ctx, struct peer_link *l)
{
    (void)l;
    struct relay *r = ctx;
    if (r->paused && !links_full(r)) {
        r->paused = false;
        r->ops->pause(r->ctx, false);
    }
}

static void link_data(void *ctx, struct peer_link *l, const char *buf, size_t len)
{
    (void)l;
    struct relay *r = ctx;
    if (!r->piped)
        return; /* a broadcast is write-only: the owner's answer is not the client's */
    r->answered = true;
    r->ops->data(r->ctx, buf, len);
}

static void link_closed(void *ctx, struct peer_link *l, const char *why)
{
    struct relay *r = ctx;
    char owner[300];
    snprintf(owner, sizeof(owner), "%s", peer_link_address(l));
    for (size_t i = 0; i < r->n; i++) {
        if (r->links[i] == l) {
            r->links[i] = r->links[--r->n];
            break;
        }
    }
    r->ops->ended(r->ctx, owner, why[0] ? why : "it closed the connection");
}

static const struct peer_link_ops link_ops = {
    .data = link_data,
    .closed = link_closed,
    .drained = link_drained,
};

/* A link to `owner` carrying the request for `names`. */
static int open_link(struct relay *r, uv_loop_t *loop, const struct proto_req *req,
                     const char *host, const char *owner, const char **names, size_t n, char *err,
                     size_t errlen)
{
    char *hello;
    size_t len;
    int rc = proto_format_relay(req, host, names, n, &hello, &len);
    if (rc < 0) {
        snprintf(err, errlen, "%s",
                 rc == -EINVAL ? "a name holds both quote characters or a "
                                 "line break, so it cannot be relayed"
                               : "out of memory");
        return rc;
    }
    struct peer_link **grown = realloc(r->links, (r->n + 1) * sizeof(*grown));
    if (!grown) {
        free(hello);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->links = grown;
    struct peer_link *l;
    rc = peer_link_open(loop, owner, hello, len, &link_ops, r, &l, err, errlen);
    free(hello);
    if (rc == 0)
        r->links[r->n++] = l;
    return rc;
}

int relay_open(struct relay *r, uv_loop_t *loop, const struct proto_req *req, const char *host,
               struct console **cons, size_t n, char *err, size_t errlen)
{
    const char **names = malloc(n * sizeof(*names));
    bool *done = calloc(n, sizeof(*done));
    int rc = names && done ? 0 : -ENOMEM;
    if (rc < 0)
        snprintf(err, errlen, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (done[i] || !console_is_remote(cons[i]))
            continue;
        const char *owner = relay_owner_of(cons[i]);
        size_t k = 0;
        for (size_t j = i; j < n; j++) {
            if (!done[j] && console_is_remote(cons[j]) && !strcmp(relay_owner_of(cons[j]), owner)) {
                names[k++] = cons[j]->cfg.name;
                done[j] = true;
            }
        }
        char why[400];
        if ((rc = open_link(r, loop, req, host, owner, names, k, why, sizeof(why))) < 0)
            snprintf(err, errlen, "the conmand at %s: %s", owner, why);
    }
    free(names);
    free(done);
    return rc;
}

void relay_input(struct relay *r, const unsigned char *buf, size_t len)
{
    /* Backwards: a link that fails is swapped out for the last one,
     * already sent to. */
    for (size_t i = r->n; i-- > 0;)
        if (i < r->n)
            peer_link_send(r->links[i], buf, len);
    pause_if_full(r);
}

void relay_close(struct relay *r)
{
    for (size_t i = 0; i < r->n; i++)
        peer_link_close(r->links[i]);
    free(r->links);
    r->links = NULL;
    r->n = 0;
}
