#ifndef KNIFY_CCAP_H
#define KNIFY_CCAP_H

#include <sys/capability.h>

// libcap's name helpers; wrapped so callers need not know libcap frees with cap_free.

/// The capability number for a name such as "cap_net_raw", or -1. libcap also accepts numbers and
/// trailing garbage here: callers must validate the spelling themselves.
int knify_cap_from_name(const char *name);
/// The canonical lower-case name for a capability number, or NULL; free with knify_cap_free_name.
char *knify_cap_to_name(int value);
void knify_cap_free_name(char *name);
/// The highest capability number this libcap knows.
int knify_cap_max_bits(void);

#endif
