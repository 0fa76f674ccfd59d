/* libFuzzer target: the WebUI's request handling without sockets — the request line (method, raw
 * path with its percent-escapes and query), three headers (Host, X-ST-Token, Cookie) and the body
 * go through the same decoding as server.c's glue and then server_handle: Host and token checks,
 * path confinement, every route's parsing (JSON bodies, upload sniffing and decoding, dataset
 * inspection of a small configuration, run listings and event replays). Jobs are disabled
 * (allow_jobs = 0), so nothing is started.
 * Input: "METHOD URL" FUZZ_SEP "Host: ...\nX-ST-Token: ...\nCookie: ..." FUZZ_SEP body. */
#include "fuzz_common.h"
#include "base/files.h"
#include "image/image_io.h"
#include "server/events_stream.h"
#include "server/server_internal.h"

static Server server;
static int ready;
static char home[4096];   /* libFuzzer's working directory (its corpus paths are relative to it) */
static long runs;

static void setup(void) {
    char root[256], p[512];
    snprintf(root, sizeof root, "%s/root", fuzz_dir());
    Err e = {0};
    setenv("SIMPLETUNER_EXAMPLES_DIR", "/nonexistent-examples", 1);   /* no preset copies (no tiny model builds) */
    snprintf(p, sizeof p, "%s/data/img", root);
    if (dir_make(p, &e)) abort();
    snprintf(p, sizeof p, "%s/data/ref", root);
    if (dir_make(p, &e)) abort();
    snprintf(p, sizeof p, "%s/config/c", root);
    if (dir_make(p, &e)) abort();
    uint8_t px[16 * 16 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7);
    Image im = {16, 16, 3, px};
    snprintf(p, sizeof p, "%s/data/img/a.png", root);
    if (image_write_png(p, &im, &e)) abort();
    snprintf(p, sizeof p, "%s/data/ref/a.png", root);
    if (image_write_png(p, &im, &e)) abort();
    snprintf(p, sizeof p, "%s/data/img/a.txt", root);
    fuzz_write(p, "make it red", 11);
    char cfg[1024];
    int n = snprintf(cfg, sizeof cfg,
                     "{\"model_type\": \"lora\", \"model_family\": \"qwen_image\", \"model_flavour\": \"edit-v1\", \"optimizer\": \"adamw_bf16\",\n"
                     " \"output_dir\": \"out/c\", \"data_backend_config\": \"config/c/multidatabackend.json\", \"max_train_steps\": 2,\n"
                     " \"resolution\": 16, \"resolution_type\": \"pixel\", \"train_batch_size\": 1}\n");
    snprintf(p, sizeof p, "%s/config/c/config.json", root);
    fuzz_write(p, cfg, (size_t)n);
    n = snprintf(cfg, sizeof cfg,
                 "[{\"id\": \"img\", \"type\": \"local\", \"instance_data_dir\": \"%s/data/img\", \"caption_strategy\": \"textfile\",\n"
                 "  \"conditioning_data\": [\"ref\"]},\n"
                 " {\"id\": \"ref\", \"type\": \"local\", \"dataset_type\": \"conditioning\", \"conditioning_type\": \"reference_strict\",\n"
                 "  \"instance_data_dir\": \"%s/data/ref\"}]\n", root, root);
    snprintf(p, sizeof p, "%s/config/c/multidatabackend.json", root);
    fuzz_write(p, cfg, (size_t)n);
    snprintf(p, sizeof p, "%s/out/c", root);
    if (dir_make(p, &e)) abort();
    snprintf(p, sizeof p, "%s/out/c/training_log.jsonl", root);
    static const char LOG[] = "{\"step\":1,\"epoch\":1,\"loss\":0.5}\n{\"step\":2,";   /* a torn last line */
    fuzz_write(p, LOG, sizeof LOG - 1);
    if (!getcwd(home, sizeof home)) abort();
    ServerOptions o = {.host = "127.0.0.1", .port = 8001, .root = root, .token = "fuzz-token-1", .exe = "/bin/false", .allow_jobs = 0};
    if (server_init(&server, &o, &e)) { fprintf(stderr, "server_init: %s\n", e.msg); abort(); }
    if (chdir(home) != 0) abort();
    ready = 1;
}

static char *dup_part(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* The value of header `name` in "Name: value" lines, or NULL (points into h). */
static const char *header(char *h, const char *name) {
    size_t nl = strlen(name);
    for (char *line = h; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (!strncasecmp(line, name, nl) && line[nl] == ':') return line[nl + 1] == ' ' ? line + nl + 2 : line + nl + 1;
        line = next;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (!ready) setup();
    if (++runs % 2000 == 0) {   /* uploads and configurations the inputs created */
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s/.webui/uploads' '%s/.webui/tmp'/* 2>/dev/null", server.root, server.root);
        if (system(cmd) != 0) {}
    }
    const uint8_t *part[3];
    size_t len[3];
    int k = fuzz_split(data, n, part, len, 3);
    char *line = dup_part(part[0], len[0]);
    char *hdrs = k > 1 ? dup_part(part[1], len[1]) : strdup("");
    if (strlen(line) != len[0]) { free(line); free(hdrs); return 0; }   /* a request line cannot hold a NUL */
    char *sp = strchr(line, ' ');
    const char *method = line, *url = sp ? sp + 1 : "/";
    if (sp) *sp = 0;
    char *q = strchr(url, '?');
    if (q) *q++ = 0;
    char *path = NULL;
    HttpParam *params = NULL;
    int np = 0;
    if (http_url_decode(url, strlen(url), 0, &path) == 0 && http_parse_query(q, &params, &np) == 0) {
        char *h1 = strdup(hdrs), *h2 = strdup(hdrs), *h3 = strdup(hdrs);
        HttpRequest rq = {
            .method = method, .path = path, .query = params, .n_query = np,
            .host = header(h1, "Host"), .token = header(h2, "X-ST-Token"), .cookie = header(h3, "Cookie"),
            .body = k > 2 ? part[2] : NULL, .body_len = k > 2 ? len[2] : 0,
        };
        HttpResponse r;
        if (chdir(server.root) != 0) abort();   /* the server works inside its root */
        server_handle(&server, &rq, &r);
        if (r.status < 100 || r.status > 599) abort();
        if (r.stream) {   /* a replayed event stream ends by itself (no job runs) */
            char buf[4096];
            for (int i = 0; i < 10000 && events_stream_read(r.stream, buf, sizeof buf) >= 0; i++) {}
        }
        http_response_free(&r);
        if (chdir(home) != 0) abort();
        free(h1); free(h2); free(h3);
    }
    http_params_free(params, np);
    free(path); free(line); free(hdrs);
    return 0;
}
