/* commands.h — the CLI commands; each lives in its own file under src/cli/. */
#ifndef ST_COMMANDS_H
#define ST_COMMANDS_H
#include "base/error.h"

typedef struct Command {
    const char *name, *summary;
    int (*run)(int argc, char **argv, Err *e); /* argv excludes the command name */
    int graceful_stop;  /* SIGINT/SIGTERM are held for the command to poll (base/interrupt.h) */
} Command;

int cmd_run_module(int argc, char **argv, Err *e);
int cmd_make_dataset(int argc, char **argv, Err *e);
int cmd_init_model(int argc, char **argv, Err *e);
int cmd_examples(int argc, char **argv, Err *e);
int cmd_train(int argc, char **argv, Err *e);
int cmd_cache(int argc, char **argv, Err *e);
int cmd_bench(int argc, char **argv, Err *e);
int cmd_validate(int argc, char **argv, Err *e);
int cmd_config(int argc, char **argv, Err *e);
int cmd_dataset(int argc, char **argv, Err *e);
int cmd_tokenize(int argc, char **argv, Err *e);
int cmd_server(int argc, char **argv, Err *e);

#endif
