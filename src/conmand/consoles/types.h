/* The table of console types. One entry says all there is to know of a
 * type: how its dev= string is recognised, the keyword of its options and
 * how their values layer (GLOBAL under CONSOLE), its %D, and its
 * operations. The configuration parser, the server, the clients and the
 * reload name no type: they go through this table. Adding a type is one
 * file (consoles/<type>.c, which defines its entry) and one line in
 * types.c; see docs/console-types.md. */
#ifndef CONMAND_CONSOLES_TYPES_H
#define CONMAND_CONSOLES_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct console_ops;
struct console_registry;

struct console_type {
    const char *name; /* "telnet": in messages and conf_dev_id() */
    /* Whether `dev` is of this type; `is_chardev` tells whether an absolute
     * dev path names a character device. Types are tried in table order. */
    bool (*recognise)(const char *dev, bool is_chardev);
    /* The GLOBAL and CONSOLE keyword of the type's options ("ipmiopts"),
     * or NULL when it has none. */
    const char *opts_keyword;
    /* Layers `val` over `base` (NULL, or what this returned before) into
     * *out (malloc'd), checking it as the console will read it. Returns 0,
     * -EINVAL with the reason in `err` (never a secret), or -ENOMEM. */
    int (*opts_layer)(const char *base, const char *val, char **out, char *err, size_t errlen);
    /* Optional: checks a dev string the type recognised, for the parser
     * to report with its file and line. Returns 0, or -EINVAL with the
     * reason in `err`. */
    int (*check_dev)(const char *dev, char *err, size_t errlen);
    /* %D of a dev string of this type (conman 0.3.1's), a pointer into
     * `dev`; NULL: empty. */
    const char *(*dev_id)(const char *dev);
    const struct console_ops *ops;
    /* Served by another conmand (peer:): no device and no log here; a
     * client's session is carried to the owner (clients/peerlink.h) and
     * dev_id() is the owner's HOST:PORT. */
    bool remote;
    /* Optional: a child process was reaped; returns true when it was one of
     * this type's consoles' (which it then tells). */
    bool (*child_reaped)(const struct console_registry *consoles, pid_t pid, int status);
};

/* The types, each defined in its own file, consoles/<type>.c. */
extern const struct console_type console_type_ipmi, console_type_unix, console_type_ssh,
    console_type_serial, console_type_telnet, console_type_process, console_type_peer;

/* Every type, in the order dev strings are tried; NULL-terminated. */
extern const struct console_type *const console_types[];

/* At most this many types (the parser keeps GLOBAL options per type). */
#define CONSOLE_TYPES_MAX 16

/* Pure: the type of `dev`, or NULL when no type recognises it. */
const struct console_type *console_type_for(const char *dev, bool is_chardev);

/* Pure: the index in console_types of the type whose options keyword is
 * `keyword` (any case), or -1. */
int console_type_with_opts(const char *keyword);

/* Hands a reaped child to the types that start children. Returns true when
 * one of them claimed it. */
bool console_types_child_reaped(const struct console_registry *consoles, pid_t pid, int status);

#endif
