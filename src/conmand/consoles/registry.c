/* Consoles by name: a sorted array searched with bsearch(3). */
#include "conmand/consoles/registry.h"

#include <stdlib.h>
#include <string.h>

#include "conmand/consoles/console.h"

static int cmp_consoles(const void *a, const void *b)
{
    const struct console *x = *(struct console *const *)a, *y = *(struct console *const *)b;
    return strcmp(x->cfg.name, y->cfg.name);
}

static int cmp_name(const void *key, const void *elem)
{
    return strcmp(key, (*(struct console *const *)elem)->cfg.name);
}

struct console *registry_find(const struct console_registry *r, const char *name)
{
    if (!r->n)
        return NULL;
    struct console **hit = bsearch(name, r->v, r->n, sizeof(*r->v), cmp_name);
    return hit ? *hit : NULL;
}

size_t registry_index_after(const struct console_registry *r, const char *name)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(r->v[mid]->cfg.name, name) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void registry_replace(struct console_registry *r, struct console **v, size_t n)
{
    if (n)
        qsort(v, n, sizeof(*v), cmp_consoles);
    if (r->v != v)
        free(r->v);
    r->v = v;
    r->n = n;
}

void registry_release(struct console_registry *r)
{
    free(r->v);
    r->v = NULL;
    r->n = 0;
}
