/* The web page on conmand's HTTP port (issue 18): GET / lists every console
 * (name, state and since when, type, last output, clients, last event),
 * filtered and sorted in the browser from /consoles, which it polls. The
 * files are built into the binary (cmake/embed_web.cmake from
 * src/conmand/http/web/), served with a Content-Security-Policy that
 * allows no inline script and nothing from elsewhere. */
#ifndef CONMAND_HTTP_WEBPAGE_H
#define CONMAND_HTTP_WEBPAGE_H

#include <stddef.h>

struct web_asset {
    const char *url;  /* "/", "/app.js", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
};

/* The files, ended by an entry whose url is NULL. */
extern const struct web_asset web_assets[];

/* The asset served at `url`, or NULL. */
const struct web_asset *web_asset_find(const char *url);

/* The headers every page answer carries besides its type. */
#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "                \
    "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

#endif
