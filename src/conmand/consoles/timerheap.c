/* Min-heap of deadlines for one-timer-for-all reconnect scheduling. */
#include "conmand/consoles/timerheap.h"

#include <errno.h>
#include <stdlib.h>

void timerheap_node_init(struct timerheap_node *nd)
{
    nd->due = 0;
    nd->idx = TIMERHEAP_NONE;
}

static void put(struct timerheap *h, size_t i, struct timerheap_node *nd)
{
    h->v[i] = nd;
    nd->idx = i;
}

static void sift_up(struct timerheap *h, size_t i)
{
    struct timerheap_node *nd = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->due <= nd->due)
            break;
        put(h, i, h->v[parent]);
        i = parent;
    }
    put(h, i, nd);
}

static void sift_down(struct timerheap *h, size_t i)
{
    struct timerheap_node *nd = h->v[i];
    for (;;) {
        size_t kid = 2 * i + 1;
        if (kid >= h->n)
            break;
        if (kid + 1 < h->n && h->v[kid + 1]->due < h->v[kid]->due)
            kid++;
        if (nd->due <= h->v[kid]->due)
            break;
        put(h, i, h->v[kid]);
        i = kid;
    }
    put(h, i, nd);
}

void timerheap_remove(struct timerheap *h, struct timerheap_node *nd)
{
    size_t i = nd->idx;
    if (i == TIMERHEAP_NONE || i >= h->n || h->v[i] != nd)
        return;
    nd->idx = TIMERHEAP_NONE;
    struct timerheap_node *last = h->v[--h->n];
    if (i == h->n)
        return;
    put(h, i, last);
    sift_up(h, i);
    sift_down(h, last->idx);
}

int timerheap_reserve(struct timerheap *h, size_t n)
{
    if (n <= h->cap)
        return 0;
    struct timerheap_node **grown = realloc(h->v, n * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    h->v = grown;
    h->cap = n;
    return 0;
}

int timerheap_push(struct timerheap *h, struct timerheap_node *nd, uint64_t due)
{
    timerheap_remove(h, nd);
    if (h->n == h->cap && timerheap_reserve(h, h->cap ? h->cap * 2 : 64) < 0)
        return -ENOMEM;
    nd->due = due;
    put(h, h->n++, nd);
    sift_up(h, nd->idx);
    return 0;
}

struct timerheap_node *timerheap_peek(const struct timerheap *h)
{
    return h->n ? h->v[0] : NULL;
}

void timerheap_release(struct timerheap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->idx = TIMERHEAP_NONE;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}
