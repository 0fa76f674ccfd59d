/* tokenize: the Qwen2 tokenizer from the command line (inspection and conformance tests).
 *   simpletuner tokenize --tokenizer DIR [--json] TEXT...        ids of each TEXT, one line each
 *   simpletuner tokenize --tokenizer DIR [--json] --input FILE   FILE = JSON array of strings
 *   simpletuner tokenize --tokenizer DIR [--json] --decode IDS... IDS = "1 2 3" or "[1,2,3]" */
#include "cli/commands.h"
#include "base/files.h"
#include "models/qwen25vl/tokenizer.h"
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner tokenize --tokenizer DIR [--json] TEXT...\n"
    "       simpletuner tokenize --tokenizer DIR [--json] --input FILE\n"
    "       simpletuner tokenize --tokenizer DIR [--json] [--skip-special] --decode IDS...\n"
    "\n"
    "Qwen2 byte-level BPE (Qwen2.5-VL text encoder). DIR holds tokenizer.json, or vocab.json +\n"
    "merges.txt, plus tokenizer_config.json / added_tokens.json. Each TEXT is encoded as the pipelines\n"
    "do (special tokens such as <|im_start|> are recognised, no BOS/EOS added) and printed as one line\n"
    "of ids; --json prints a JSON array of id arrays. --input reads a JSON array of strings instead.\n"
    "--decode turns each IDS argument (\"151644 8948\" or \"[151644, 8948]\") back into text.\n";

static void print_ids(const TokenIds *v, int json, int first) {
    if (json) fputs(first ? "[" : ",\n[", stdout);
    for (int i = 0; i < v->n; i++) printf("%s%d", i ? (json ? "," : " ") : "", v->ids[i]);
    fputs(json ? "]" : "\n", stdout);
}

static int parse_ids(const char *s, TokenIds *out, Err *e) {
    const char *p = s;
    while (*p) {
        if (isspace((unsigned char)*p) || *p == ',' || *p == '[' || *p == ']') { p++; continue; }
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 0x7fffffff) return err_setc(e, EXIT_USAGE, "tokenize --decode: \"%s\" is not a list of ids", s);
        token_ids_push(out, (int32_t)v);
        p = end;
    }
    return 0;
}

static void print_json_string(const char *s) {
    cJSON *j = cJSON_CreateString(s);
    char *txt = cJSON_PrintUnformatted(j);
    fputs(txt, stdout);
    free(txt);
    cJSON_Delete(j);
}

int cmd_tokenize(int argc, char **argv, Err *e) {
    const char *dir = NULL, *input = NULL;
    int json = 0, decode = 0, skip_special = 0, first_text = argc;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 0; }
        else if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--input") && i + 1 < argc) input = argv[++i];
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--decode")) decode = 1;
        else if (!strcmp(argv[i], "--skip-special")) skip_special = 1;
        else if (!strcmp(argv[i], "--")) { first_text = i + 1; break; }
        else if (argv[i][0] == '-' && argv[i][1] == '-') return err_setc(e, EXIT_USAGE, "tokenize: unknown or incomplete option '%s' (see simpletuner tokenize --help)", argv[i]);
        else { first_text = i; break; }
    }
    if (!dir) return err_setc(e, EXIT_USAGE, "tokenize: --tokenizer DIR is required (see simpletuner tokenize --help)");
    if (!input && first_text >= argc) return err_setc(e, EXIT_USAGE, "tokenize: expected TEXT arguments or --input FILE");
    Tokenizer *t = tokenizer_load(dir, e);
    if (!t) return -1;
    int rc = -1, count = 0;
    cJSON *texts = NULL;
    if (input) {
        size_t len;
        char *raw = file_read_all(input, &len, e);
        if (!raw) goto done;
        texts = cJSON_ParseWithLength(raw, len);
        free(raw);
        if (!cJSON_IsArray(texts)) { err_setc(e, EXIT_USAGE, "%s: expected a JSON array of strings", input); goto done; }
    }
    if (json) fputs("[", stdout);
    const cJSON *it = texts ? texts->child : NULL;
    for (int i = first_text; texts ? it != NULL : i < argc; i++) {
        const char *s;
        if (texts) {
            if (!cJSON_IsString(it)) { err_setc(e, EXIT_USAGE, "%s: element %d is not a string", input, count); goto done; }
            s = it->valuestring;
            it = it->next;
        } else s = argv[i];
        TokenIds v = {0};
        if (decode) {
            if (parse_ids(s, &v, e)) { token_ids_free(&v); goto done; }
            char *text = tokenizer_decode(t, v.ids, v.n, skip_special, e);
            token_ids_free(&v);
            if (!text) goto done;
            if (json) { fputs(count ? ",\n" : "", stdout); print_json_string(text); }
            else printf("%s\n", text);
            free(text);
        } else {
            if (tokenizer_encode(t, s, strlen(s), &v, e)) { token_ids_free(&v); err_prefix(e, "text %d", count + 1); goto done; }
            print_ids(&v, json, count == 0);
            token_ids_free(&v);
        }
        count++;
    }
    if (json) fputs("]\n", stdout);
    rc = 0;
done:
    cJSON_Delete(texts);
    tokenizer_free(t);
    return rc;
}
