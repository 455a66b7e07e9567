/* Loads a shared library on first use and resolves a table of its
 * functions, so conmand carries libssh or libipmiconsole (and everything
 * they pull in) only once a console of that type exists. */
#ifndef CONMAND_CONSOLES_DYNLIB_H
#define CONMAND_CONSOLES_DYNLIB_H

#include <stddef.h>

/* One function to resolve: its name and where its pointer goes in the
 * caller's table (a struct of function pointers). */
struct dynlib_sym {
    const char *name;
    size_t offset; /* offsetof(table struct, member) */
};

/* A library and the table of its functions. The caller fills the first
 * five fields and zeroes the rest; it owns `table`. */
struct dynlib {
    const char *soname;  /* as dlopen() takes it, e.g. "libssh.so.4" */
    const char *purpose; /* named in errors: "ssh: consoles" */
    const struct dynlib_sym *syms;
    size_t nsyms;
    void *table;
    int state;       /* 0 not tried, 1 loaded, -errno failed */
    char error[512]; /* why, once failed */
};

/* Loads the library and fills every pointer of the table the first time;
 * later calls return the same outcome without trying again (a library
 * installed meanwhile needs a restart). Returns 0, or -ELIBACC (library
 * missing) / -ELIBBAD (a symbol missing) with d->error naming the library,
 * the symbol and dlerror()'s text. Never unloads. Not thread-safe: call it
 * from the loop thread. */
int dynlib_load(struct dynlib *d);

#endif
