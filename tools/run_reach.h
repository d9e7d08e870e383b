/* SPDX-License-Identifier: MIT */
/*
 * Whether `softsgx run` can reach a program: the shim is an LD_PRELOAD
 * library, which the dynamic loader loads into the program only if there is
 * a dynamic loader (not in a statically linked program), it is 64-bit, and
 * the exec is not privileged (set-user-ID or set-group-ID to other IDs, or
 * file capabilities: the loader's secure mode ignores LD_PRELOAD paths).
 */
#ifndef SOFTSGX_RUN_REACH_H
#define SOFTSGX_RUN_REACH_H

#include <stddef.h>

/*
 * Look at what execvp(@prog) would run (PATH search as execvp does, then
 * "#!" interpreters as the kernel follows them). 0 when the shim will be
 * loaded, or when it cannot tell (exec itself then reports what is wrong);
 * 1 when it will not, with the program's path in @path and the reason, a
 * phrase such as "is statically linked", in @why.
 */
int run_reach_check(const char *prog, char *path, size_t path_len, char *why, size_t why_len);

#endif /* SOFTSGX_RUN_REACH_H */
