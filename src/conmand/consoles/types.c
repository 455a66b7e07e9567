/* The table of console types (see types.h). */
#include "conmand/consoles/types.h"

#include <strings.h>

/* Prefixed types first; then a bare absolute path (a character device is
 * serial, anything else a program); then host:port; last, a program found
 * on SERVER execpath. */
const struct console_type *const console_types[] = {
    &console_type_peer,   &console_type_ipmi,   &console_type_unix,    &console_type_ssh,
    &console_type_serial, &console_type_telnet, &console_type_process, NULL,
};

_Static_assert(sizeof(console_types) / sizeof(console_types[0]) <= CONSOLE_TYPES_MAX + 1,
               "raise CONSOLE_TYPES_MAX");

const struct console_type *console_type_for(const char *dev, bool is_chardev)
{
    for (size_t i = 0; console_types[i]; i++)
        if (console_types[i]->recognise(dev, is_chardev))
            return console_types[i];
    return NULL;
}

int console_type_with_opts(const char *keyword)
{
    for (int i = 0; console_types[i]; i++)
        if (console_types[i]->opts_keyword && !strcasecmp(console_types[i]->opts_keyword, keyword))
            return i;
    return -1;
}

bool console_types_child_reaped(const struct console_registry *consoles, pid_t pid, int status)
{
    for (size_t i = 0; console_types[i]; i++)
        if (console_types[i]->child_reaped && console_types[i]->child_reaped(consoles, pid, status))
            return true;
    return false;
}
