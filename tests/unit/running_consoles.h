/* For the unit tests of conmand's live parts: consoles running on a real
 * loop as server_run() holds them (a console hub, and a registry of the
 * consoles of a parsed conf, each started soon), and their teardown. Not a
 * test program itself (only test_*.c are). */
#ifndef TESTS_UNIT_RUNNING_CONSOLES_H
#define TESTS_UNIT_RUNNING_CONSOLES_H

#include <stdlib.h>
#include <uv.h>

#include "conmand/conf/conf.h"
#include "conmand/consoles/console.h"
#include "conmand/consoles/registry.h"

struct running_consoles {
    uv_loop_t *loop;
    struct console_hub hub;
    struct console_registry consoles;
};

/* The consoles of `conf` on `loop` (both the caller's, kept alive). */
static inline void running_consoles_start(struct running_consoles *r, uv_loop_t *loop,
                                          const struct conf *conf)
{
    r->loop = loop;
    console_hub_init(&r->hub, loop);
    r->hub.settings = &conf->server;
    r->hub.conf_path = "t.conf";
    r->hub.cwd = "/";
    struct console **v = calloc(conf->nconsoles ? conf->nconsoles : 1, sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < conf->nconsoles; i++) {
        v[i] = console_create(&r->hub, &conf->consoles[i]);
        assert_non_null(v[i]);
        console_start_soon(v[i]);
    }
    registry_replace(&r->consoles, v, conf->nconsoles);
}

/* Destroys every console and closes the hub; the caller then turns the
 * loop until its handles are closed and calls running_consoles_release(). */
static inline void running_consoles_stop(struct running_consoles *r)
{
    for (size_t i = 0; i < r->consoles.n; i++)
        console_destroy(r->consoles.v[i]);
    r->consoles.n = 0;
    console_hub_close(&r->hub);
}

static inline void running_consoles_release(struct running_consoles *r)
{
    console_hub_release(&r->hub);
    registry_release(&r->consoles);
}

#endif
