/*
 * knify-probe — the Knify sandbox escape suite.
 *
 * Run inside a sandbox, it attempts each escape in a harmless form and reports whether it was blocked.
 *
 *   knify-probe [--json] [CHECK...]   run the named checks (all when none is named), one line per check
 *   knify-probe --list                print the check names, one a line
 *
 * Exit code: 0 every check that ran was blocked, 1 at least one was allowed (or inconclusive), 2 usage error.
 *
 * Build (host, Debian bookworm): gcc -static -Os -Wall -Wextra -o knify-probe knify-probe.c
 * No libseccomp, no libcap: raw syscall(2) and kernel-header constants only.
 *
 * Every check runs in its own forked process (so unshare/setns/chroot/setuid never leak into the next check),
 * with an alarm as a time limit, and reports back through a pipe. A check that cannot decide (for example no
 * scratch directory) reports blocked=false with a detail starting "inconclusive:", so a broken probe never
 * reads as "all blocked".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <netinet/in.h>
#include <linux/perf_event.h>

/* ---------------------------------------------------------------- syscall numbers and constants */

#if defined(__x86_64__)
#define KP_ARCH_NR(x86, arm) (x86)
#elif defined(__aarch64__)
#define KP_ARCH_NR(x86, arm) (arm)
#else
#define KP_ARCH_NR(x86, arm) (-1)
#endif

#ifndef __NR_setuid
#define __NR_setuid KP_ARCH_NR(105, 146)
#endif
#ifndef __NR_setresuid
#define __NR_setresuid KP_ARCH_NR(117, 147)
#endif
#ifndef __NR_unshare
#define __NR_unshare KP_ARCH_NR(272, 97)
#endif
#ifndef __NR_setns
#define __NR_setns KP_ARCH_NR(308, 268)
#endif
#ifndef __NR_reboot
#define __NR_reboot KP_ARCH_NR(169, 142)
#endif
#ifndef __NR_init_module
#define __NR_init_module KP_ARCH_NR(175, 105)
#endif
#ifndef __NR_finit_module
#define __NR_finit_module KP_ARCH_NR(313, 273)
#endif
#ifndef __NR_add_key
#define __NR_add_key KP_ARCH_NR(248, 217)
#endif
#ifndef __NR_keyctl
#define __NR_keyctl KP_ARCH_NR(250, 219)
#endif
#ifndef __NR_perf_event_open
#define __NR_perf_event_open KP_ARCH_NR(298, 241)
#endif
#ifndef __NR_bpf
#define __NR_bpf KP_ARCH_NR(321, 280)
#endif
#ifndef __NR_userfaultfd
#define __NR_userfaultfd KP_ARCH_NR(323, 282)
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425 /* same number on every architecture */
#endif

#ifndef CLONE_NEWNS
#define CLONE_NEWNS 0x00020000
#endif
#ifndef CLONE_NEWUSER
#define CLONE_NEWUSER 0x10000000
#endif
#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif
#ifndef PR_SET_PDEATHSIG
#define PR_SET_PDEATHSIG 1
#endif
#ifndef PR_GET_NO_NEW_PRIVS
#define PR_GET_NO_NEW_PRIVS 39
#endif
#ifndef AF_PACKET
#define AF_PACKET 17
#endif
#ifndef KEYCTL_GET_KEYRING_ID
#define KEYCTL_GET_KEYRING_ID 0
#endif
#ifndef KEYCTL_INVALIDATE
#define KEYCTL_INVALIDATE 21
#endif
#ifndef KEY_SPEC_PROCESS_KEYRING
#define KEY_SPEC_PROCESS_KEYRING -2
#endif
#ifndef KEY_SPEC_SESSION_KEYRING
#define KEY_SPEC_SESSION_KEYRING -3
#endif
#ifndef BPF_MAP_CREATE
#define BPF_MAP_CREATE 0
#endif
#ifndef BPF_PROG_LOAD
#define BPF_PROG_LOAD 5
#endif
#ifndef BPF_MAP_TYPE_ARRAY
#define BPF_MAP_TYPE_ARRAY 2
#endif
#ifndef BPF_PROG_TYPE_SOCKET_FILTER
#define BPF_PROG_TYPE_SOCKET_FILTER 1
#endif
#ifndef PERF_FLAG_FD_CLOEXEC
#define PERF_FLAG_FD_CLOEXEC (1UL << 3)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef LINUX_REBOOT_CMD_CAD_OFF
#define LINUX_REBOOT_CMD_CAD_OFF 0x00000000
#endif

/* The leading fields of union bpf_attr for BPF_MAP_CREATE and BPF_PROG_LOAD; the kernel zero-fills the rest. */
struct kp_bpf_map_attr {
    uint32_t map_type, key_size, value_size, max_entries, map_flags;
};
struct kp_bpf_insn {
    uint8_t code;
    uint8_t regs; /* dst_reg:4, src_reg:4 */
    int16_t off;
    int32_t imm;
};
struct kp_bpf_prog_attr {
    uint32_t prog_type, insn_cnt;
    uint64_t insns, license;
    uint32_t log_level, log_size;
    uint64_t log_buf;
    uint32_t kern_version, prog_flags;
};

/* ---------------------------------------------------------------- results and helpers */

#define DETAIL_MAX 1024
struct result {
    int blocked;
    char detail[DETAIL_MAX];
};

static pid_t g_probe_pid;   /* the top-level probe process; names scratch paths */
static int g_result_fd = -1; /* the check process's pipe to the runner; grandchildren close it */

static const char *ename(int e) {
    static char buf[32];
    switch (e) {
    case 0: return "OK";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case ENOEXEC: return "ENOEXEC";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ETXTBSY: return "ETXTBSY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case EPIPE: return "EPIPE";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case EOVERFLOW: return "EOVERFLOW";
    case EUSERS: return "EUSERS";
    case ENOTSOCK: return "ENOTSOCK";
    case EPROTOTYPE: return "EPROTOTYPE";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRINUSE: return "EADDRINUSE";
    case ENETDOWN: return "ENETDOWN";
    case ENETUNREACH: return "ENETUNREACH";
    case ECONNRESET: return "ECONNRESET";
    case ENOTCONN: return "ENOTCONN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EINPROGRESS: return "EINPROGRESS";
    case EDQUOT: return "EDQUOT";
    case ENOKEY: return "ENOKEY";
    case EKEYREVOKED: return "EKEYREVOKED";
    case EKEYREJECTED: return "EKEYREJECTED";
    case EBADMSG: return "EBADMSG";
    default: snprintf(buf, sizeof buf, "errno %d", e); return buf;
    }
}

static void add(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct result *r, const char *fmt, ...) {
    size_t len = strlen(r->detail);
    if (len + 3 >= sizeof r->detail) return;
    if (len) {
        memcpy(r->detail + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail + len, sizeof r->detail - len, fmt, ap);
    va_end(ap);
}

/* The kernel (or seccomp) refused on permission grounds, or the syscall does not exist. */
static int perm_blocked(int e) { return e == EPERM || e == EACCES || e == ENOSYS; }

/* Read a small file into buf, without the trailing newline. */
static int read_small(const char *path, char *buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t got = read(fd, buf, n - 1);
    close(fd);
    if (got < 0) return -1;
    buf[got] = 0;
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == ' ')) buf[--got] = 0;
    return 0;
}

/* "sysctl=value" for the detail, or "" if unreadable. */
static const char *sysctl_note(const char *path, const char *label) {
    static char out[128];
    char v[64];
    if (read_small(path, v, sizeof v) != 0) return "";
    snprintf(out, sizeof out, "%s=%s", label, v);
    return out;
}

/* The value of a "Key:\tvalue" line of /proc/self/status. */
static int status_field(const char *key, char *out, size_t n) {
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return -1;
    char line[512];
    size_t klen = strlen(key);
    int found = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *v = line + klen + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(out, n, "%s", v);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

/* The first of the cgroup v2 / v1 files that is readable, as "label=value". */
static const char *cgroup_note(const char *v2, const char *v1, const char *label) {
    const char *s = sysctl_note(v2, label);
    return *s ? s : sysctl_note(v1, label);
}

/* fork() for a check's helper process: it dies with its parent and does not hold the result pipe. */
static pid_t fork_helper(void) {
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent) _exit(0);
        if (g_result_fd >= 0) close(g_result_fd);
    }
    return p;
}

/* Scratch directories are tried in this order. */
static void scratch_bases(const char *bases[5]) {
    bases[0] = getenv("TMPDIR");
    bases[1] = "/tmp";
    bases[2] = "/dev/shm";
    bases[3] = getenv("HOME");
    bases[4] = "/workspace";
}

static int make_scratch_dir(const char *tag, char *out, size_t n) {
    const char *bases[5];
    scratch_bases(bases);
    for (int i = 0; i < 5; i++) {
        if (!bases[i] || !*bases[i]) continue;
        snprintf(out, n, "%s/knify-probe-%s.%d", bases[i], tag, (int)g_probe_pid);
        struct stat st;
        if (mkdir(out, 0700) == 0) return 0;
        if (errno == EEXIST && stat(out, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    }
    return -1;
}

static void remove_scratch_dirs(const char *tag) {
    const char *bases[5];
    char path[PATH_MAX];
    scratch_bases(bases);
    for (int i = 0; i < 5; i++) {
        if (!bases[i] || !*bases[i]) continue;
        snprintf(path, sizeof path, "%s/knify-probe-%s.%d", bases[i], tag, (int)g_probe_pid);
        rmdir(path);
    }
}

static const char *fill_dir(void) {
    const char *d = getenv("KNIFY_PROBE_FILL_DIR");
    return d && *d ? d : "/tmp";
}

static void fill_path(char *out, size_t n) { snprintf(out, n, "%s/knify-probe-fill", fill_dir()); }

/* ---------------------------------------------------------------- the checks */

static void check_mount(struct result *r) {
    char mp[PATH_MAX];
    if (make_scratch_dir("mnt", mp, sizeof mp) != 0) {
        r->blocked = 0;
        add(r, "inconclusive: no writable directory for a mount point");
        return;
    }
    if (mount("none", mp, "tmpfs", 0, NULL) == 0) {
        umount2(mp, MNT_DETACH);
        r->blocked = 0;
        add(r, "mount tmpfs on %s succeeded (unmounted again)", mp);
    } else {
        int e = errno;
        r->blocked = perm_blocked(e);
        add(r, "mount tmpfs: %s", ename(e));
    }
    rmdir(mp);
}

static void unshare_check(struct result *r, int flag, const char *name, int extra_ok1, int extra_ok2) {
    if (syscall(__NR_unshare, flag) == 0) {
        r->blocked = 0;
        add(r, "unshare(%s) succeeded", name);
        return;
    }
    int e = errno;
    r->blocked = perm_blocked(e) || (extra_ok1 && e == extra_ok1) || (extra_ok2 && e == extra_ok2);
    add(r, "unshare(%s): %s", name, ename(e));
}

static void check_unshare_user(struct result *r) {
    /* ENOSPC: user.max_user_namespaces is 0; EUSERS: nesting limit (old kernels). Both stop it. */
    unshare_check(r, CLONE_NEWUSER, "CLONE_NEWUSER", ENOSPC, EUSERS);
    const char *s = sysctl_note("/proc/sys/user/max_user_namespaces", "user.max_user_namespaces");
    if (*s) add(r, "%s", s);
}

static void check_unshare_mount(struct result *r) { unshare_check(r, CLONE_NEWNS, "CLONE_NEWNS", 0, 0); }

static void check_setns(struct result *r) {
    const char *path = "/proc/1/ns/mnt";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        add(r, "open %s: %s", path, ename(errno));
        path = "/proc/self/ns/mnt";
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        r->blocked = perm_blocked(e) || e == ENOENT;
        add(r, "open %s: %s (no namespace handle to join)", path, ename(e));
        return;
    }
    if (syscall(__NR_setns, fd, 0) == 0) {
        r->blocked = 0;
        add(r, "setns(%s) succeeded", path);
    } else {
        int e = errno;
        r->blocked = perm_blocked(e);
        add(r, "setns(%s): %s", path, ename(e));
    }
    close(fd);
}

static void check_ptrace_attach(struct result *r) {
    int attach_blocked = 1, traceme_blocked = 1;

    pid_t c = fork_helper();
    if (c < 0) {
        add(r, "inconclusive: fork: %s", ename(errno));
        r->blocked = 0;
        return;
    }
    if (c == 0) {
        for (;;) pause();
    }
    if (ptrace(PTRACE_ATTACH, c, NULL, NULL) == 0) {
        int st;
        waitpid(c, &st, __WALL);
        ptrace(PTRACE_DETACH, c, NULL, NULL);
        attach_blocked = 0;
        add(r, "PTRACE_ATTACH to a child succeeded");
    } else {
        int e = errno;
        attach_blocked = perm_blocked(e);
        add(r, "PTRACE_ATTACH: %s", ename(e));
    }
    kill(c, SIGKILL);
    waitpid(c, NULL, __WALL);

    int p[2];
    if (pipe(p) == 0) {
        c = fork_helper();
        if (c == 0) {
            close(p[0]);
            int e = ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 0 : errno;
            if (write(p[1], &e, sizeof e) < 0) _exit(1);
            _exit(0);
        }
        close(p[1]);
        int e = -1;
        if (c > 0 && read(p[0], &e, sizeof e) == (ssize_t)sizeof e) {
            traceme_blocked = e != 0 && perm_blocked(e);
            if (e == 0) add(r, "PTRACE_TRACEME succeeded");
            else add(r, "PTRACE_TRACEME: %s", ename(e));
        } else {
            traceme_blocked = 0;
            add(r, "inconclusive: PTRACE_TRACEME helper failed");
        }
        if (c > 0) {
            kill(c, SIGKILL);
            waitpid(c, NULL, __WALL);
        }
        close(p[0]);
    }
    const char *s = sysctl_note("/proc/sys/kernel/yama/ptrace_scope", "kernel.yama.ptrace_scope");
    if (*s) add(r, "%s", s);
    r->blocked = attach_blocked && traceme_blocked;
}

static void check_keyctl(struct result *r) {
    long id = syscall(__NR_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
    int e1 = id < 0 ? errno : 0;
    if (id >= 0) add(r, "keyctl(GET_KEYRING_ID, session) succeeded");
    else add(r, "keyctl(GET_KEYRING_ID): %s", ename(e1));

    long key = syscall(__NR_add_key, "user", "knify-probe", "x", (size_t)1, KEY_SPEC_PROCESS_KEYRING);
    int e2 = key < 0 ? errno : 0;
    if (key >= 0) {
        syscall(__NR_keyctl, KEYCTL_INVALIDATE, key);
        add(r, "add_key(user, process keyring) succeeded (invalidated again)");
    } else {
        add(r, "add_key: %s", ename(e2));
    }
    r->blocked = id < 0 && key < 0 && perm_blocked(e1) && perm_blocked(e2);
}

static void check_bpf(struct result *r) {
    struct kp_bpf_map_attr m;
    memset(&m, 0, sizeof m);
    m.map_type = BPF_MAP_TYPE_ARRAY;
    m.key_size = 4;
    m.value_size = 4;
    m.max_entries = 1;
    long fd = syscall(__NR_bpf, BPF_MAP_CREATE, &m, sizeof m);
    int e1 = fd < 0 ? errno : 0;
    if (fd >= 0) {
        close((int)fd);
        add(r, "BPF_MAP_CREATE succeeded");
    } else {
        add(r, "BPF_MAP_CREATE: %s", ename(e1));
    }

    /* r0 = 0; exit — the smallest valid socket filter. */
    struct kp_bpf_insn insns[2] = {{0xb7, 0, 0, 0}, {0x95, 0, 0, 0}};
    static const char license[] = "GPL";
    struct kp_bpf_prog_attr p;
    memset(&p, 0, sizeof p);
    p.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    p.insn_cnt = 2;
    p.insns = (uint64_t)(uintptr_t)insns;
    p.license = (uint64_t)(uintptr_t)license;
    long pfd = syscall(__NR_bpf, BPF_PROG_LOAD, &p, sizeof p);
    int e2 = pfd < 0 ? errno : 0;
    if (pfd >= 0) {
        close((int)pfd);
        add(r, "BPF_PROG_LOAD succeeded");
    } else {
        add(r, "BPF_PROG_LOAD: %s", ename(e2));
    }
    const char *s = sysctl_note("/proc/sys/kernel/unprivileged_bpf_disabled", "kernel.unprivileged_bpf_disabled");
    if (*s) add(r, "%s", s);
    r->blocked = fd < 0 && pfd < 0 && perm_blocked(e1) && perm_blocked(e2);
}

static void check_perf_event_open(struct result *r) {
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.type = PERF_TYPE_SOFTWARE;
    a.size = sizeof a;
    a.config = PERF_COUNT_SW_CPU_CLOCK;
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    long fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0) {
        close((int)fd);
        r->blocked = 0;
        add(r, "perf_event_open(SW_CPU_CLOCK, self) succeeded");
    } else {
        int e = errno;
        r->blocked = perm_blocked(e);
        add(r, "perf_event_open: %s", ename(e));
    }
    const char *s = sysctl_note("/proc/sys/kernel/perf_event_paranoid", "kernel.perf_event_paranoid");
    if (*s) add(r, "%s", s);
}

static void check_userfaultfd(struct result *r) {
    static const struct { int flags; const char *name; } tries[2] = {
        {O_CLOEXEC, "O_CLOEXEC"},
        {O_CLOEXEC | UFFD_USER_MODE_ONLY, "O_CLOEXEC|UFFD_USER_MODE_ONLY"},
    };
    r->blocked = 1;
    for (int i = 0; i < 2; i++) {
        long fd = syscall(__NR_userfaultfd, tries[i].flags);
        if (fd >= 0) {
            close((int)fd);
            r->blocked = 0;
            add(r, "userfaultfd(%s) succeeded", tries[i].name);
        } else {
            int e = errno;
            if (!perm_blocked(e)) r->blocked = 0;
            add(r, "userfaultfd(%s): %s", tries[i].name, ename(e));
        }
    }
    const char *s = sysctl_note("/proc/sys/vm/unprivileged_userfaultfd", "vm.unprivileged_userfaultfd");
    if (*s) add(r, "%s", s);
}

static void check_io_uring_setup(struct result *r) {
    uint64_t params[15]; /* struct io_uring_params is 120 bytes; all zero = defaults */
    memset(params, 0, sizeof params);
    long fd = syscall(__NR_io_uring_setup, 4, params);
    if (fd >= 0) {
        close((int)fd);
        r->blocked = 0;
        add(r, "io_uring_setup(4) succeeded");
    } else {
        int e = errno;
        r->blocked = perm_blocked(e);
        add(r, "io_uring_setup: %s", ename(e));
    }
    const char *s = sysctl_note("/proc/sys/kernel/io_uring_disabled", "kernel.io_uring_disabled");
    if (*s) add(r, "%s", s);
}

static void check_raw_socket(struct result *r) {
    static const struct { int domain, type, proto; const char *name; } tries[2] = {
        {AF_INET, SOCK_RAW, IPPROTO_ICMP, "AF_INET/SOCK_RAW/ICMP"},
        {AF_PACKET, SOCK_RAW, 0, "AF_PACKET/SOCK_RAW"},
    };
    r->blocked = 1;
    for (int i = 0; i < 2; i++) {
        int fd = socket(tries[i].domain, tries[i].type | SOCK_CLOEXEC, tries[i].proto);
        if (fd >= 0) {
            close(fd);
            r->blocked = 0;
            add(r, "socket(%s) succeeded", tries[i].name);
        } else {
            int e = errno;
            if (!(perm_blocked(e) || e == EAFNOSUPPORT || e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT))
                r->blocked = 0;
            add(r, "socket(%s): %s", tries[i].name, ename(e));
        }
    }
}

static void check_write_rootfs(struct result *r) {
    static const char *dirs[2] = {"", "/usr"};
    r->blocked = 1;
    for (int i = 0; i < 2; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/.knify-probe-write.%d", dirs[i], (int)g_probe_pid);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            unlink(path);
            r->blocked = 0;
            add(r, "created %s (removed again)", path);
        } else {
            int e = errno;
            if (!(perm_blocked(e) || e == EROFS)) r->blocked = 0;
            add(r, "create in %s: %s", *dirs[i] ? dirs[i] : "/", ename(e));
        }
    }
}

static void check_chroot_escape(struct result *r) {
    char dir[PATH_MAX];
    struct stat root0, root1;
    if (stat("/", &root0) != 0 || make_scratch_dir("chroot", dir, sizeof dir) != 0) {
        r->blocked = 0;
        add(r, "inconclusive: no writable directory to chroot into");
        return;
    }
    if (chroot(dir) != 0) {
        int e = errno;
        r->blocked = perm_blocked(e);
        add(r, "chroot(%s): %s", dir, ename(e));
        rmdir(dir);
        return;
    }
    r->blocked = 0;
    /* The classic escape: cwd is still outside the new root, so ".." walks up past it. */
    for (int i = 0; i < 256; i++)
        if (chdir("..") != 0) break;
    if (chroot(".") == 0 && stat("/", &root1) == 0 && root1.st_dev == root0.st_dev && root1.st_ino == root0.st_ino)
        add(r, "chroot allowed; mkdir/chroot/chdir(..) escape reached the original root");
    else
        add(r, "chroot allowed; the chdir(..) escape did not get back to the original root");
    rmdir(dir); /* after a successful escape the absolute path is valid again; the runner retries anyway */
}

static void check_docker_socket(struct result *r) {
    const char *paths[5] = {"/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
                            "/run/podman/podman.sock", NULL};
    const char *dh = getenv("DOCKER_HOST");
    if (dh && strncmp(dh, "unix://", 7) == 0) paths[4] = dh + 7;
    r->blocked = 1;
    for (int i = 0; i < 5; i++) {
        if (!paths[i]) continue;
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            int e = errno;
            if (e == ENOENT) {
                if (i < 2) add(r, "%s: absent", paths[i]);
                continue;
            }
            if (!perm_blocked(e) && e != ENOTDIR) r->blocked = 0;
            add(r, "%s: %s", paths[i], ename(e));
            continue;
        }
        if (!S_ISSOCK(st.st_mode)) {
            add(r, "%s: exists but is not a socket", paths[i]);
            continue;
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            add(r, "%s: exists; socket(AF_UNIX): %s", paths[i], ename(errno));
            r->blocked = 0; /* cannot tell */
            continue;
        }
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", paths[i]);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 || errno == EAGAIN || errno == EINPROGRESS) {
            r->blocked = 0;
            add(r, "%s: CONNECTED (engine socket reachable)", paths[i]);
        } else {
            int e = errno;
            if (!(perm_blocked(e) || e == ECONNREFUSED || e == ENOENT)) r->blocked = 0;
            add(r, "%s: exists; connect: %s", paths[i], ename(e));
        }
        close(fd);
    }
}

static void check_setuid_root(struct result *r) {
    uid_t ruid = getuid(), euid = geteuid();
    r->blocked = 1;
    if (ruid == 0 || euid == 0) {
        r->blocked = 0;
        add(r, "already running as root (uid=%d euid=%d)", (int)ruid, (int)euid);
    }
    if (syscall(__NR_setuid, 0) == 0) {
        r->blocked = 0;
        add(r, "setuid(0) succeeded");
    } else {
        add(r, "setuid(0): %s", ename(errno));
    }
    if (syscall(__NR_setresuid, 0, 0, 0) == 0) {
        r->blocked = 0;
        add(r, "setresuid(0,0,0) succeeded");
    } else {
        add(r, "setresuid(0,0,0): %s", ename(errno));
    }

    /* setuid-root binaries (and file capabilities) on the usual PATH dirs. */
    static const char *dirs[] = {"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"};
    int suid = 0, fcaps = 0;
    char first[PATH_MAX] = "";
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        DIR *dp = opendir(dirs[d]);
        if (!dp) continue;
        struct dirent *de;
        while ((de = readdir(dp)) != NULL) {
            if (de->d_name[0] == '.') continue;
            char path[PATH_MAX];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dirs[d], de->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            int hit = 0;
            if ((st.st_mode & S_ISUID) && st.st_uid == 0) {
                suid++;
                hit = 1;
            }
            if (getxattr(path, "security.capability", NULL, 0) > 0) {
                fcaps++;
                hit = 1;
            }
            if (hit && !first[0]) snprintf(first, sizeof first, "%s", path);
        }
        closedir(dp);
    }
    if (suid || fcaps) {
        char nnp[32] = "?";
        status_field("NoNewPrivs", nnp, sizeof nnp);
        add(r, "%d setuid-root and %d file-capability binaries (first: %s); NoNewPrivs=%s", suid, fcaps, first,
            nnp);
        if (strcmp(nnp, "1") != 0) {
            r->blocked = 0;
            add(r, "exec of them could gain privileges");
        } else {
            add(r, "no_new_privs: exec would not gain root");
        }
    } else {
        add(r, "no setuid-root or file-capability binaries on PATH dirs");
    }
}

static void open_write_check(struct result *r, const char *path) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd); /* never write */
        r->blocked = 0;
        add(r, "%s: opened for writing (closed without writing)", path);
    } else {
        int e = errno;
        if (!(perm_blocked(e) || e == EROFS || e == ENOENT)) r->blocked = 0;
        add(r, "%s: %s", path, ename(e));
    }
}

static void check_proc_sys_write(struct result *r) {
    r->blocked = 1;
    open_write_check(r, "/proc/sys/kernel/hostname");
    open_write_check(r, "/proc/sys/vm/drop_caches");
}

static void check_sysrq_trigger(struct result *r) {
    r->blocked = 1;
    open_write_check(r, "/proc/sysrq-trigger");
}

static void check_kernel_module(struct result *r) {
    /* Both check CAP_SYS_MODULE / modules_disabled first; the bad arguments then stop any load. */
    long rc1 = syscall(__NR_finit_module, -1, "", 0);
    int e1 = rc1 < 0 ? errno : 0;
    long rc2 = syscall(__NR_init_module, NULL, (unsigned long)0, "");
    int e2 = rc2 < 0 ? errno : 0;
    r->blocked = rc1 < 0 && rc2 < 0 && perm_blocked(e1) && perm_blocked(e2);
    add(r, "finit_module(-1): %s%s", ename(e1), rc1 < 0 && !perm_blocked(e1) ? " (reached the module loader)" : "");
    add(r, "init_module(NULL,0): %s%s", ename(e2),
        rc2 < 0 && !perm_blocked(e2) ? " (reached the module loader)" : "");
}

static void check_set_clock(struct result *r) {
    struct timespec ts;
    struct timeval tv;
    int ok1 = 0, ok2 = 0, e1 = 0, e2 = 0;
    /* Set the clock to what it already says: harmless if it is allowed. */
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        if (clock_settime(CLOCK_REALTIME, &ts) == 0) ok1 = 1;
        else e1 = errno;
    } else {
        e1 = errno;
    }
    if (gettimeofday(&tv, NULL) == 0) {
        if (settimeofday(&tv, NULL) == 0) ok2 = 1;
        else e2 = errno;
    } else {
        e2 = errno;
    }
    add(r, "clock_settime(CLOCK_REALTIME, now): %s", ok1 ? "succeeded" : ename(e1));
    add(r, "settimeofday(now): %s", ok2 ? "succeeded" : ename(e2));
    r->blocked = !ok1 && !ok2 && perm_blocked(e1) && perm_blocked(e2);
}

static void check_reboot(struct result *r) {
    /* kernel/reboot.c checks CAP_SYS_BOOT *before* the magic numbers. With a wrong magic1 nothing can happen:
     * EPERM = the capability check (or seccomp) stopped it, EINVAL = it got past the capability check. */
    long rc = syscall(__NR_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL);
    int e = rc < 0 ? errno : 0;
    if (rc == 0) {
        r->blocked = 0;
        add(r, "reboot with a wrong magic returned 0 (?)");
    } else if (perm_blocked(e)) {
        r->blocked = 1;
        add(r, "reboot(bad magic): %s", ename(e));
    } else {
        r->blocked = 0;
        add(r, "reboot(bad magic): %s (passed the CAP_SYS_BOOT check)", ename(e));
    }
}

#define FORK_BOMB_MAX 10000
static void check_fork_bomb(struct result *r) {
    pid_t *pids = calloc(FORK_BOMB_MAX, sizeof *pids);
    if (!pids) {
        r->blocked = 0;
        add(r, "inconclusive: out of memory before forking");
        return;
    }
    int n = 0, e = 0;
    for (; n < FORK_BOMB_MAX; n++) {
        pid_t p = fork_helper();
        if (p < 0) {
            e = errno;
            break;
        }
        if (p == 0) {
            for (;;) pause();
        }
        pids[n] = p;
    }
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++) waitpid(pids[i], NULL, 0);
    free(pids);
    r->blocked = n < FORK_BOMB_MAX;
    if (n < FORK_BOMB_MAX) add(r, "%d forks succeeded, then fork: %s", n, ename(e));
    else add(r, "%d forks succeeded without hitting a limit (all killed again)", n);
    const char *s = cgroup_note("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max", "pids.max");
    if (*s) add(r, "%s", s);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0) {
        if (rl.rlim_cur == RLIM_INFINITY) add(r, "RLIMIT_NPROC=unlimited");
        else add(r, "RLIMIT_NPROC=%llu", (unsigned long long)rl.rlim_cur);
    }
}

#define MEM_STEP_MIB 16
#define MEM_MAX_MIB 4096
static void check_memory_bomb(struct result *r) {
    int p[2];
    if (pipe(p) != 0) {
        r->blocked = 0;
        add(r, "inconclusive: pipe: %s", ename(errno));
        return;
    }
    pid_t c = fork_helper();
    if (c < 0) {
        r->blocked = 0;
        add(r, "inconclusive: fork: %s", ename(errno));
        return;
    }
    if (c == 0) {
        close(p[0]);
        /* Make this process the OOM killer's first choice. */
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, "1000", 4) < 0) { /* best effort */
            }
            close(fd);
        }
        for (uint32_t mib = MEM_STEP_MIB; mib <= MEM_MAX_MIB; mib += MEM_STEP_MIB) {
            volatile char *m = malloc((size_t)MEM_STEP_MIB << 20);
            if (!m) _exit(3);
            for (size_t i = 0; i < ((size_t)MEM_STEP_MIB << 20); i += 4096) m[i] = 1;
            if (write(p[1], &mib, sizeof mib) < 0) _exit(4);
        }
        _exit(0);
    }
    close(p[1]);
    uint32_t last = 0, v;
    while (read(p[0], &v, sizeof v) == (ssize_t)sizeof v) last = v;
    close(p[0]);
    int st = 0;
    waitpid(c, &st, 0);
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
        r->blocked = 1;
        add(r, "allocator killed by SIGKILL (OOM) after touching %u MiB", last);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
        r->blocked = 1;
        add(r, "malloc failed after %u MiB", last);
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        r->blocked = 0;
        add(r, "touched %u MiB without being stopped", last);
    } else {
        r->blocked = 0;
        if (WIFSIGNALED(st)) add(r, "inconclusive: allocator died of signal %d after %u MiB", WTERMSIG(st), last);
        else add(r, "inconclusive: allocator exited %d after %u MiB", WEXITSTATUS(st), last);
    }
    const char *s = cgroup_note("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                "memory limit");
    if (*s) add(r, "%s", s);
}

#define FILL_MAX_MIB 4096
static void check_disk_fill(struct result *r) {
    char path[PATH_MAX];
    fill_path(path, sizeof path);
    signal(SIGXFSZ, SIG_IGN); /* RLIMIT_FSIZE then shows as EFBIG */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        r->blocked = perm_blocked(e) || e == EROFS || e == ENOSPC || e == EDQUOT;
        add(r, "open %s: %s", path, ename(e));
        return;
    }
    static char buf[1 << 20];
    memset(buf, 0xa5, sizeof buf);
    unsigned long long written = 0, limit = (unsigned long long)FILL_MAX_MIB << 20;
    int e = 0;
    while (written < limit) {
        ssize_t w = write(fd, buf, sizeof buf - (size_t)(written % sizeof buf));
        if (w < 0) {
            if (errno == EINTR) continue;
            e = errno;
            break;
        }
        written += (unsigned long long)w;
    }
    close(fd);
    unlink(path);
    if (written >= limit) {
        r->blocked = 0;
        add(r, "wrote %llu MiB to %s without hitting a limit (removed again)", written >> 20, path);
    } else {
        r->blocked = e == ENOSPC || e == EDQUOT || e == EFBIG;
        add(r, "wrote %llu MiB to %s, then %s (removed again)", written >> 20, path, ename(e));
    }
    struct statvfs sv;
    if (statvfs(fill_dir(), &sv) == 0)
        add(r, "%s size=%llu MiB", fill_dir(), (unsigned long long)sv.f_blocks * sv.f_frsize >> 20);
}

static void check_cap_eff(struct result *r) {
    char eff[64], prm[64] = "?", bnd[64] = "?", amb[64] = "?";
    if (status_field("CapEff", eff, sizeof eff) != 0) {
        r->blocked = 0;
        add(r, "inconclusive: no CapEff in /proc/self/status");
        return;
    }
    status_field("CapPrm", prm, sizeof prm);
    status_field("CapBnd", bnd, sizeof bnd);
    status_field("CapAmb", amb, sizeof amb);
    r->blocked = strtoull(eff, NULL, 16) == 0;
    add(r, "CapEff=%s CapPrm=%s CapBnd=%s CapAmb=%s", eff, prm, bnd, amb);
}

static void check_no_new_privs(struct result *r) {
    char v[32] = "?";
    status_field("NoNewPrivs", v, sizeof v);
    int pr = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    r->blocked = strcmp(v, "1") == 0 || pr == 1;
    add(r, "NoNewPrivs=%s prctl(PR_GET_NO_NEW_PRIVS)=%d", v, pr);
}

static void check_seccomp_mode(struct result *r) {
    char v[32] = "?", n[32] = "?";
    status_field("Seccomp", v, sizeof v);
    status_field("Seccomp_filters", n, sizeof n);
    r->blocked = strcmp(v, "2") == 0;
    add(r, "Seccomp=%s (%s) Seccomp_filters=%s", v,
        strcmp(v, "2") == 0 ? "filter" : strcmp(v, "1") == 0 ? "strict" : strcmp(v, "0") == 0 ? "disabled" : "?", n);
}

/* ---------------------------------------------------------------- the runner */

static void cleanup_mount(void) { remove_scratch_dirs("mnt"); }
static void cleanup_chroot(void) { remove_scratch_dirs("chroot"); }
static void cleanup_fill(void) {
    char path[PATH_MAX];
    fill_path(path, sizeof path);
    unlink(path);
}

struct check {
    const char *name;
    void (*fn)(struct result *);
    unsigned timeout; /* seconds */
    void (*cleanup)(void);
};

static const struct check checks[] = {
    {"mount", check_mount, 20, cleanup_mount},
    {"unshare_user", check_unshare_user, 20, NULL},
    {"unshare_mount", check_unshare_mount, 20, NULL},
    {"setns", check_setns, 20, NULL},
    {"ptrace_attach", check_ptrace_attach, 20, NULL},
    {"keyctl", check_keyctl, 20, NULL},
    {"bpf", check_bpf, 20, NULL},
    {"perf_event_open", check_perf_event_open, 20, NULL},
    {"userfaultfd", check_userfaultfd, 20, NULL},
    {"io_uring_setup", check_io_uring_setup, 20, NULL},
    {"raw_socket", check_raw_socket, 20, NULL},
    {"write_rootfs", check_write_rootfs, 20, NULL},
    {"chroot_escape", check_chroot_escape, 20, cleanup_chroot},
    {"docker_socket", check_docker_socket, 20, NULL},
    {"setuid_root", check_setuid_root, 20, NULL},
    {"proc_sys_write", check_proc_sys_write, 20, NULL},
    {"sysrq_trigger", check_sysrq_trigger, 20, NULL},
    {"kernel_module", check_kernel_module, 20, NULL},
    {"set_clock", check_set_clock, 20, NULL},
    {"reboot", check_reboot, 20, NULL},
    {"fork_bomb", check_fork_bomb, 120, NULL},
    {"memory_bomb", check_memory_bomb, 120, NULL},
    {"disk_fill", check_disk_fill, 300, cleanup_fill},
    {"cap_eff", check_cap_eff, 20, NULL},
    {"no_new_privs", check_no_new_privs, 20, NULL},
    {"seccomp_mode", check_seccomp_mode, 20, NULL},
};
#define NCHECKS (sizeof checks / sizeof checks[0])

static const struct check *find_check(const char *name) {
    for (size_t i = 0; i < NCHECKS; i++)
        if (strcmp(checks[i].name, name) == 0) return &checks[i];
    return NULL;
}

static const char *signame(int sig) {
    switch (sig) {
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGSYS: return "SIGSYS";
    case SIGABRT: return "SIGABRT";
    case SIGTERM: return "SIGTERM";
    case SIGALRM: return "SIGALRM";
    default: return "signal";
    }
}

static void run_check(const struct check *c, struct result *r) {
    memset(r, 0, sizeof *r);
    int p[2];
    if (pipe(p) != 0) {
        add(r, "inconclusive: pipe: %s", ename(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = -1;
    int fork_errno = 0;
    /* After fork_bomb the pids limit frees up as the children are reaped; retry briefly. */
    for (int tries = 0; tries < 40; tries++) {
        pid = fork();
        if (pid >= 0 || errno != EAGAIN) break;
        fork_errno = errno;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (pid < 0) {
        if (!fork_errno) fork_errno = errno;
        close(p[0]);
        close(p[1]);
        add(r, "inconclusive: cannot fork the check process: %s", ename(fork_errno));
        return;
    }
    if (pid == 0) {
        close(p[0]);
        g_result_fd = p[1];
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        signal(SIGPIPE, SIG_DFL);
        alarm(c->timeout);
        struct result cr;
        memset(&cr, 0, sizeof cr);
        c->fn(&cr);
        ssize_t w = write(p[1], &cr, sizeof cr);
        _exit(w == (ssize_t)sizeof cr ? 0 : 1);
    }
    close(p[1]);
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(p[0], (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (c->cleanup) c->cleanup();
    if (got != sizeof *r) {
        memset(r, 0, sizeof *r);
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
            add(r, "inconclusive: timed out after %u s", c->timeout);
        else if (WIFSIGNALED(st))
            add(r, "inconclusive: check process killed by %s (%d)", signame(WTERMSIG(st)), WTERMSIG(st));
        else
            add(r, "inconclusive: check process exited %d without a result", WEXITSTATUS(st));
        return;
    }
    r->detail[sizeof r->detail - 1] = 0;
    r->blocked = r->blocked ? 1 : 0;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            putchar('\\');
            putchar(*p);
        } else if (*p < 0x20) {
            printf("\\u%04x", *p);
        } else if (*p >= 0x80) {
            putchar('?'); /* keep every line valid JSON whatever a path contains */
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: knify-probe [--json] [CHECK...]\n"
            "       knify-probe --list\n"
            "Runs the sandbox escape suite (every check when none is named); one line per check.\n"
            "Exit code: 0 all blocked, 1 some allowed or inconclusive, 2 usage error.\n"
            "Environment: KNIFY_PROBE_FILL_DIR (disk_fill directory, default /tmp).\n");
}

int main(int argc, char **argv) {
    int json = 0, list = 0, nsel = 0, opts_done = 0;
    const struct check **sel = calloc((size_t)argc + NCHECKS, sizeof *sel);
    if (!sel) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && a[0] == '-') {
            if (strcmp(a, "--json") == 0) json = 1;
            else if (strcmp(a, "--list") == 0) list = 1;
            else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                usage(stdout);
                return 0;
            } else if (strcmp(a, "--") == 0) opts_done = 1;
            else {
                fprintf(stderr, "knify-probe: unknown option: %s\n", a);
                usage(stderr);
                return 2;
            }
            continue;
        }
        const struct check *c = find_check(a);
        if (!c) {
            fprintf(stderr, "knify-probe: unknown check: %s (see --list)\n", a);
            return 2;
        }
        sel[nsel++] = c;
    }
    if (list) {
        if (nsel) {
            fprintf(stderr, "knify-probe: --list takes no check names\n");
            return 2;
        }
        for (size_t i = 0; i < NCHECKS; i++) puts(checks[i].name);
        return 0;
    }
    if (nsel == 0)
        for (size_t i = 0; i < NCHECKS; i++) sel[nsel++] = &checks[i];

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    g_probe_pid = getpid();

    int allowed = 0;
    if (!json) printf("%-16s %-8s %s\n", "CHECK", "RESULT", "DETAIL");
    for (int i = 0; i < nsel; i++) {
        struct result r;
        run_check(sel[i], &r);
        if (!r.blocked) allowed++;
        if (json) {
            printf("{\"check\":\"%s\",\"blocked\":%s,\"detail\":", sel[i]->name, r.blocked ? "true" : "false");
            print_json_string(r.detail);
            printf("}\n");
        } else {
            printf("%-16s %-8s %s\n", sel[i]->name, r.blocked ? "blocked" : "ALLOWED", r.detail);
        }
    }
    if (!json) printf("%d checks: %d blocked, %d allowed\n", nsel, nsel - allowed, allowed);
    fflush(stdout);
    free(sel);
    return allowed ? 1 : 0;
}
