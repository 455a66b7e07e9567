/* The web page's files, by URL. */
#include "conmand/http/webpage.h"

#include <string.h>

const struct web_asset *web_asset_find(const char *url)
{
    for (const struct web_asset *a = web_assets; a->url; a++)
        if (!strcmp(a->url, url))
            return a;
    return NULL;
}
