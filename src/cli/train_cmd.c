/* train: the whole job of a SimpleTuner config — model, datasets, caches, LoRA (or full) training,
 * checkpoints, validation previews, final weights. */
#include "cli/commands.h"
#include "config/config.h"
#include "base/files.h"
#include "base/hub.h"
#include "pipeline/run_context.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner train [--config FILE] [--data FILE] [example=NAME | --example NAME] [env=NAME]\n"
    "                         [key=value ...]\n"
    "\n"
    "Trains the LoRA (model_type lora) or the whole transformer (model_type full) described by a\n"
    "SimpleTuner config.json and its multidatabackend.json (data_backend_config, or --data):\n"
    "  1. finds the model (pretrained_model_name_or_path: a local diffusers folder or a hub id in the\n"
    "     Hugging Face cache; default: the flavour's hub id),\n"
    "  2. loads every dataset, pairs edit images with their references by file name,\n"
    "  3. caches the VAE latents and the prompt embeddings (instruction + references) once,\n"
    "  4. trains max_train_steps optimizer steps (or num_train_epochs), logging the loss to\n"
    "     output_dir/training_log.{jsonl,csv} (a progress bar on a terminal, a line per step otherwise),\n"
    "     checkpointing to output_dir/checkpoint-<step>/ every checkpoint_step_interval steps with\n"
    "     output_dir/loss_curve.png refreshed (resume_from_checkpoint=latest continues exactly);\n"
    "     Ctrl-C or SIGTERM finishes the current step, checkpoints it and exits 0 (a second Ctrl-C\n"
    "     stops at once; while caching, finished cache entries are kept),\n"
    "  5. renders validation sheets (references | result + instruction) to output_dir/validation/\n"
    "     at step 0 and every validation_step_interval steps,\n"
    "  6. writes output_dir/pytorch_lora_weights.safetensors (diffusers/PEFT keys; loads in\n"
    "     diffusers and ComfyUI).\n"
    "Config lookup without --config: $CONFIG_PATH, config/$ENV/config.json, config/config.json.\n"
    "`simpletuner examples list` shows the packaged presets (tiny.* need no download).\n";

int cmd_train(int argc, char **argv, Err *e) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 0; }
    RunContext rc_ctx;
    int rc = run_context_open(&rc_ctx, argc, argv, RUN_TRAIN, e);
    if (!rc) rc = run_context_train(&rc_ctx, e);
    run_context_close(&rc_ctx);
    return rc;
}
