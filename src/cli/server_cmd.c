/* server_cmd.c — `simpletuner server`: parses the flags and runs the WebUI (src/server/). */
#include "cli/commands.h"
#include "server/server.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner server [--host ADDR] [--port N] [--root DIR] [--token T] [--max-upload-mb N]\n"
    "\n"
    "Serves the WebUI: configurations (create from a preset, edit with the CLI's validation), datasets\n"
    "(what `dataset inspect` reports, with thumbnails of the pairs), training runs (start, stop, resume;\n"
    "live loss, validation sheets, checkpoints) and edits (references + instruction -> image, the same\n"
    "PNG as `simpletuner validate`). Everything it serves is in this binary: no network needed.\n"
    "\n"
    "  --host ADDR        address to listen on (default 127.0.0.1: this machine only). Any other address\n"
    "                     needs a token: without --token one is generated and printed once\n"
    "  --port N           port (default 8001; 0 picks a free one, printed with the URL)\n"
    "  --root DIR         the folder served (default .): configurations are DIR/config/<name>/config.json,\n"
    "                     runs write to their output_dir, which must lie inside DIR; the server keeps\n"
    "                     uploads and job logs in DIR/.webui. Nothing outside DIR is read or written\n"
    "                     through the WebUI (apart from the model folders and datasets a configuration\n"
    "                     there names, which only the training and edit jobs open)\n"
    "  --token T          require T on every request: the X-ST-Token header, or the cookie the login page\n"
    "                     (/login, or the printed /login?token=T link) sets. At least 8 characters\n"
    "  --max-upload-mb N  largest reference image accepted by the Edit page (default 32)\n"
    "\n"
    "Security: requests that change something (POST, PUT, DELETE) must carry the X-ST-Token header (any\n"
    "value when there is no token), which a page of another site cannot send, and the Host header must\n"
    "name this server (DNS rebinding). Training runs and edits run as child processes of this binary;\n"
    "one of each at a time. Ctrl-C stops the server; a running training run first saves a checkpoint.\n"
    "The HTTP API and the event format are described in docs/webui.md.\n";

int cmd_server(int argc, char **argv, Err *e) {
    ServerOptions o = {0};
    o.port = 8001;
    o.allow_jobs = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
        int takes = !strcmp(a, "--host") || !strcmp(a, "--port") || !strcmp(a, "--root") || !strcmp(a, "--token") ||
                    !strcmp(a, "--max-upload-mb");
        if (!takes) return err_setc(e, EXIT_USAGE, "server: unknown argument '%s' (see simpletuner server --help)", a);
        if (!v) return err_setc(e, EXIT_USAGE, "server: %s needs a value", a);
        i++;
        if (!strcmp(a, "--host")) o.host = v;
        else if (!strcmp(a, "--root")) o.root = v;
        else if (!strcmp(a, "--token")) o.token = v;
        else {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || end == v) return err_setc(e, EXIT_USAGE, "server: %s expects a whole number, got '%s'", a, v);
            if (!strcmp(a, "--port")) {
                if (n < 0 || n > 65535) return err_setc(e, EXIT_USAGE, "server: --port expects 0..65535, got %ld", n);
                o.port = (int)n;
            } else {
                if (n < 1 || n > 4096) return err_setc(e, EXIT_USAGE, "server: --max-upload-mb expects 1..4096, got %ld", n);
                o.max_upload_mb = n;
            }
        }
    }
    return server_run(&o, e);
}
