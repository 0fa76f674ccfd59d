/* config_cmd.c — `simpletuner config show`: the resolved configuration, every default filled in. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config.h"
#include "cli/commands.h"

static void config_help(FILE *f) {
    fputs("usage: simpletuner config show [--config FILE] [--data FILE] [--env NAME] [--example NAME] [key=value ...]\n"
          "\n"
          "Reads a SimpleTuner config.json (and its multidatabackend.json) exactly as `train` does and prints\n"
          "every option with its resolved value, defaults filled in and SimpleTuner's rules applied, then the\n"
          "datasets. Each option is marked:\n"
          "  implemented  you set it and this program honours it\n"
          "  ignored      you set it but it has no effect here (publishing, trackers, GPU-only tuning, ...)\n"
          "  default      not set: the default shown applies\n"
          "Options whose value asks for behaviour this program lacks stop with \"not supported yet: KEY=VALUE\".\n"
          "\n"
          "Where the configuration comes from:\n"
          "  --config FILE    a config.json (// and /* */ comments allowed, keys with or without \"--\",\n"
          "                   {env:VAR} placeholders)\n"
          "  --data FILE      overrides data_backend_config\n"
          "  --example NAME   examples/NAME/config.json      --env NAME   config/NAME/config.json\n"
          "  otherwise        $CONFIG_PATH, config/$ENV/config.json, config/config.json\n"
          "  key=value        overrides (also --key=value or --key value); later arguments win\n"
          "\n"
          "exit codes: 0 ok, 2 configuration error (the message names the file, key and what was expected)\n", f);
}

static void print_options(const Config *c, FILE *f) {
    for (int i = 0; i < OPTION_COUNT; i++) {
        const char *key = OPTION_TABLE[i].name;
        const cJSON *v = config_json(c, key);
        char *text = v ? cJSON_PrintUnformatted(v) : NULL;
        const char *src = config_source(c, key);
        fprintf(f, "%s = %s  # %s%s%s\n", key, text ? text : "null", config_mark(c, key), src ? ", from " : "",
                src ? src : "");
        free(text);
    }
}

static void print_num(FILE *f, const char *name, double x) {
    if (!isnan(x)) fprintf(f, " %s=%g", name, x);
}

static void print_datasets(const Config *c, FILE *f) {
    const DatasetConfig *ds;
    int n;
    config_datasets(c, &ds, &n);
    if (!n) return;
    fprintf(f, "\n# datasets from %s\n", config_data_file(c));
    for (int i = 0; i < n; i++) {
        const DatasetConfig *d = &ds[i];
        fprintf(f, "dataset %s: type=%s dataset_type=%s", d->id, d->type, d->dataset_type);
        if (d->disabled) fputs(" disabled=true", f);
        if (d->conditioning_type) fprintf(f, " conditioning_type=%s%s", d->conditioning_type,
                                          d->inferred_reference ? " (inferred)" : "");
        if (d->instance_data_dir) fprintf(f, " instance_data_dir=%s", d->instance_data_dir);
        if (d->n_conditioning_data) {
            fputs(" conditioning_data=", f);
            for (int k = 0; k < d->n_conditioning_data; k++) fprintf(f, "%s%s", k ? "," : "", d->conditioning_data[k]);
        }
        if (d->source_dataset_id) fprintf(f, " source_dataset_id=%s", d->source_dataset_id);
        if (!strcmp(d->dataset_type, "image") || !strcmp(d->dataset_type, "conditioning")) {
            fprintf(f, " caption_strategy=%s", d->caption_strategy ? d->caption_strategy : "null");
            print_num(f, "resolution", d->resolution);
            fprintf(f, " resolution_type=%s crop=%s crop_style=%s crop_aspect=%s repeats=%ld probability=%g",
                    d->resolution_type ? d->resolution_type : "null", d->crop ? "true" : "false", d->crop_style,
                    d->crop_aspect, d->repeats, d->probability);
            print_num(f, "minimum_image_size", d->minimum_image_size);
            print_num(f, "maximum_image_size", d->maximum_image_size);
            print_num(f, "target_downsample_size", d->target_downsample_size);
            if (d->cache_dir_vae) fprintf(f, " cache_dir_vae=%s", d->cache_dir_vae);
        }
        if (d->cache_dir) fprintf(f, " cache_dir=%s", d->cache_dir);
        fputc('\n', f);
    }
}

int cmd_config(int argc, char **argv, Err *e) {
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        config_help(argc < 1 ? stderr : stdout);
        return argc < 1 ? err_setc(e, EXIT_USAGE, "config: expected a subcommand (show)") : 0;
    }
    if (strcmp(argv[0], "show"))
        return err_setc(e, EXIT_USAGE, "config: unknown subcommand '%s' (expected show)", argv[0]);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { config_help(stdout); return 0; }
    Config *c;
    if (config_load(&c, argc - 1, argv + 1, e)) return -1;
    printf("# configuration from %s\n", config_file(c)[0] ? config_file(c) : "the command line");
    print_options(c, stdout);
    print_datasets(c, stdout);
    config_free(c);
    return 0;
}
