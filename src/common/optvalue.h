/* Which strings configure_conman may write as they are into a conman.conf
 * option string such as ipmiopts="U:<value>,..." or sshopts="I:<value>,...". */
#ifndef COMMON_OPTVALUE_H
#define COMMON_OPTVALUE_H

#include <stdbool.h>

/* True when `value` is not empty and is printable ASCII without blank,
 * quote, comma or backslash: a quote or backslash would end or escape the
 * quoted string, a comma would start the next item, a blank would be cut. */
bool optvalue_is_plain(const char *value);

#endif
