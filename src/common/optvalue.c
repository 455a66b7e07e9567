/* The one rule for values written unquoted inside a conman.conf option. */
#include "common/optvalue.h"

#include <ctype.h>

bool optvalue_is_plain(const char *value)
{
    if (!*value)
        return false;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (!isgraph(*p) || *p == '"' || *p == ',' || *p == '\\' || *p == '\'')
            return false;
    return true;
}
