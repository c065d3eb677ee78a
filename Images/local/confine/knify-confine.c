/* knify-confine — runs a command under the seccomp filter Knify hands it.
 *
 * Why: gVisor's runsc (Debian's 20221219 build, and upstream before March 2026) installs a container's OCI seccomp
 * filter on the container's first process only, not on processes started by `exec`, and every agent Knify runs is
 * an exec. Under such a runtime Knify starts each command as `knify-confine CMD...` with the policy's filter, compiled
 * by Knify's libseccomp, as base64 BPF in KNIFY_SECCOMP_BPF. The filter is installed (gVisor's kernel enforces it
 * for the process and all it starts), the variable is removed, and CMD replaces this process. Any failure stops
 * here with exit 126: the command never runs unconfined.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define VARIABLE "KNIFY_SECCOMP_BPF"

static int fail(const char *what) {
    fprintf(stderr, "knify-confine: %s\n", what);
    return 126;
}

static int decode64(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with padding; returns the decoded length or -1. */
static long base64_decode(const char *text, unsigned char *out, size_t capacity) {
    size_t length = strlen(text), written = 0;
    if (length % 4 != 0) return -1;
    for (size_t i = 0; i < length; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) v[k] = text[i + k] == '=' ? 0 : decode64((unsigned char)text[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0) return -1;
        unsigned long triple = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) | ((unsigned long)v[2] << 6) | v[3];
        int bytes = text[i + 2] == '=' ? 1 : text[i + 3] == '=' ? 2 : 3;
        if (written + bytes > capacity) return -1;
        out[written++] = (triple >> 16) & 0xff;
        if (bytes > 1) out[written++] = (triple >> 8) & 0xff;
        if (bytes > 2) out[written++] = triple & 0xff;
    }
    return (long)written;
}

int main(int argc, char **argv) {
    if (argc < 2) return fail("usage: knify-confine COMMAND [ARG...] (filter in " VARIABLE ")");
    const char *encoded = getenv(VARIABLE);
    if (!encoded || !*encoded) return fail(VARIABLE " is not set; refusing to run unconfined");
    size_t capacity = strlen(encoded) / 4 * 3;
    unsigned char *bytes = malloc(capacity + 1);
    if (!bytes) return fail("out of memory");
    long length = base64_decode(encoded, bytes, capacity);
    if (length <= 0 || length % sizeof(struct sock_filter) != 0 || length / sizeof(struct sock_filter) > BPF_MAXINSNS)
        return fail(VARIABLE " is not a BPF program");
    struct sock_fprog program = {
        .len = (unsigned short)(length / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)bytes,
    };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail("PR_SET_NO_NEW_PRIVS failed");
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        fprintf(stderr, "knify-confine: installing the filter failed: %s\n", strerror(errno));
        return 126;
    }
    unsetenv(VARIABLE);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "knify-confine: %s: %s\n", argv[1], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
