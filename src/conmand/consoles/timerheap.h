/* A binary min-heap of deadlines: every console waiting to reconnect sits
 * here, and one uv_timer fires for the earliest, so idle and connected
 * consoles cost no timer at all. Pure data structure, no I/O. */
#ifndef CONMAND_CONSOLES_TIMERHEAP_H
#define CONMAND_CONSOLES_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

#define TIMERHEAP_NONE ((size_t)-1)

/* Embedded in the waiting object; idx is TIMERHEAP_NONE when not queued. */
struct timerheap_node {
    uint64_t due;
    size_t idx;
};

struct timerheap {
    struct timerheap_node **v; /* owned array; the nodes are the caller's */
    size_t n, cap;
};

/* A node that was never queued (call once before first use). */
void timerheap_node_init(struct timerheap_node *nd);

/* Queues `nd` for time `due` (re-queues it if already queued). Returns 0 or
 * -ENOMEM. */
int timerheap_push(struct timerheap *h, struct timerheap_node *nd, uint64_t due);

/* Room for `n` nodes, so that pushing up to n never allocates. Returns 0
 * or -ENOMEM (the heap unchanged). */
int timerheap_reserve(struct timerheap *h, size_t n);

/* Takes `nd` out if it is queued. */
void timerheap_remove(struct timerheap *h, struct timerheap_node *nd);

/* The earliest node, or NULL when empty. */
struct timerheap_node *timerheap_peek(const struct timerheap *h);

void timerheap_release(struct timerheap *h);

#endif
