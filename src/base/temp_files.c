/* temp_files.c — see temp_files.h. */
#include "base/temp_files.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/files.h"

long temp_name_pid(const char *name, const char *tag) {
    size_t n = strlen(name), lt = strlen(tag);
    size_t d = n;
    while (d > 0 && name[d - 1] >= '0' && name[d - 1] <= '9') d--;
    if (d == n || n - d > 9) return 0;                   /* no digits, or more than a pid has */
    if (d < lt + 2 || name[d - 1] != '.' || strncmp(name + d - 1 - lt, tag, lt) || name[d - 2 - lt] != '.') return 0;
    return strtol(name + d, NULL, 10);
}

int temp_owner_alive(long pid) {
    if (pid <= 0) return 0;
    if (pid == (long)getpid()) return 1;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return 0;
    char link[64], mine[PATH_MAX], theirs[PATH_MAX];
    ssize_t a = readlink("/proc/self/exe", mine, sizeof mine - 1);
    snprintf(link, sizeof link, "/proc/%ld/exe", pid);
    ssize_t b = readlink(link, theirs, sizeof theirs - 1);
    if (b < 0) return errno == ENOENT ? 0 : 1;             /* gone meanwhile, or not ours to read */
    if (a < 0) return 1;
    mine[a] = theirs[b] = 0;
    return !strcmp(mine, theirs);
}

int temp_files_clean(const char *dir, int recursive, int *removed, Err *e) {
    int count = 0;
    if (removed) *removed = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;   /* not there yet (or not ours to list): nothing of ours to clean */
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *path = path_join(dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode) && recursive) {
                int sub = 0;
                rc = temp_files_clean(path, 1, &sub, e);
                count += sub;
            } else if (S_ISREG(st.st_mode)) {
                long pid = temp_name_pid(de->d_name, "tmp");
                if (pid && !temp_owner_alive(pid)) {
                    if (unlink(path) == 0 || errno == ENOENT) count++;
                    else rc = err_set(e, "%s: cannot remove this temp file of a killed run: %s", path, strerror(errno));
                }
            }
        }
        free(path);
    }
    closedir(d);
    if (removed) *removed = count;
    return rc;
}
