/* temp_files.h — temp names left by killed runs, and removing them.
 *
 * Every output is written as "<path>.tmp.<pid>" and renamed (files.h), and checkpoints are built in
 * "checkpoint-<step>.tmp.<pid>/" (train/checkpoint.h); a run killed in between leaves that name
 * behind. A temp name is stale when its pid is not a live process running this same program: then
 * nobody will ever rename it. A live simpletuner (another run sharing a cache) keeps its temps. */
#ifndef ST_BASE_TEMP_FILES_H
#define ST_BASE_TEMP_FILES_H
#include "base/error.h"

/* The pid of a name ending in ".<tag>.<digits>" (tag "tmp", "old", "del"), or 0 when it does not. */
long temp_name_pid(const char *name, const char *tag);
/* 1 when pid is this process, or a live process running the same executable as this one (or one
 * whose executable cannot be read: another user's, kept to be safe); 0 otherwise. */
int temp_owner_alive(long pid);
/* Removes the stale "*.tmp.<pid>" regular files in dir and (recursive) its subdirectories; a missing
 * dir is fine. *removed (optional) receives the count. Returns -1 with e set only when a stale file
 * cannot be removed. */
int temp_files_clean(const char *dir, int recursive, int *removed, Err *e);

#endif
