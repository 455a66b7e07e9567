/* The running consoles by name: one array sorted by name, one lookup, for
 * the client sessions, the reload and the server. */
#ifndef CONMAND_CONSOLES_REGISTRY_H
#define CONMAND_CONSOLES_REGISTRY_H

#include <stddef.h>

struct console;

struct console_registry {
    struct console **v; /* owned array, sorted by name; the consoles are not owned */
    size_t n;
};

/* The console named `name`, or NULL. */
struct console *registry_find(const struct console_registry *r, const char *name);

/* The index of the first console whose name sorts after `name` (r->n when
 * none does): where a walk by name that stopped at `name` goes on. */
size_t registry_index_after(const struct console_registry *r, const char *name);

/* Takes `v` (n consoles, any order) as the new contents, sorted by name,
 * and frees the previous array. Never allocates. */
void registry_replace(struct console_registry *r, struct console **v, size_t n);

/* Frees the array (not the consoles). */
void registry_release(struct console_registry *r);

#endif
