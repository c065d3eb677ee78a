#ifndef KNIFY_CSECCOMP_H
#define KNIFY_CSECCOMP_H

#include <seccomp.h>
#include <stdint.h>

// Typed wrappers for libseccomp's variadic rule call and its function-like action macros.

/// seccomp_rule_add_array with the comparisons passed as an array (the variadic form cannot be imported).
int knify_seccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int count, const struct scmp_arg_cmp *comparisons);

uint32_t knify_seccomp_act_errno(uint16_t errno_value);
uint32_t knify_seccomp_act_trace(uint16_t message);

#endif
