#include "CCap.h"

int knify_cap_from_name(const char *name) {
    cap_value_t value;
    if (cap_from_name(name, &value) != 0) return -1;
    return (int)value;
}
char *knify_cap_to_name(int value) { return cap_to_name((cap_value_t)value); }
void knify_cap_free_name(char *name) { cap_free(name); }
int knify_cap_max_bits(void) { return (int)cap_max_bits(); }
