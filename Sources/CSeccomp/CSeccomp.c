#include "CSeccomp.h"

int knify_seccomp_rule_add(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int count, const struct scmp_arg_cmp *comparisons) {
    return seccomp_rule_add_array(ctx, action, syscall, count, comparisons);
}
uint32_t knify_seccomp_act_errno(uint16_t errno_value) { return SCMP_ACT_ERRNO(errno_value); }
uint32_t knify_seccomp_act_trace(uint16_t message) { return SCMP_ACT_TRACE(message); }
