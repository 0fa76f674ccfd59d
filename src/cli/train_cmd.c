/* train: the whole job of a SimpleTuner config — model, datasets, caches, LoRA (or full) training,
 * checkpoints, validation previews, final weights. */
#include "cli/commands.h"
#include "cli/cli_events.h"
#include "cli/cli_pipeline.h"
#include "train/parallel.h"
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner train [--config FILE] [--data FILE] [example=NAME | --example NAME] [env=NAME]\n"
    "                         [--events FILE] [key=value ...]\n"
    "\n"
    "Trains the LoRA (model_type lora; lora_type lycoris: LyCORIS LoKr/LoHa/LoRA from lycoris_config) or\n"
    "the whole transformer (model_type full) described by a\n"
    "SimpleTuner config.json and its multidatabackend.json (data_backend_config, or --data):\n"
    "  1. finds the model (pretrained_model_name_or_path: a local diffusers folder or a hub id in the\n"
    "     Hugging Face cache; default: the flavour's hub id),\n"
    "  2. loads every dataset, pairs edit images with their references by file name,\n"
    "  3. caches the VAE latents and the prompt embeddings (instruction + references) once,\n"
    "  4. trains max_train_steps optimizer steps (or num_train_epochs), logging the loss to\n"
    "     output_dir/training_log.{jsonl,csv} (a progress bar on a terminal, a line per step otherwise),\n"
    "     checkpointing to output_dir/checkpoint-<step>/ every checkpoint_step_interval steps with\n"
    "     output_dir/loss_curve.png refreshed (resume_from_checkpoint=latest continues exactly);\n"
    "     Ctrl-C or SIGTERM finishes the current step, checkpoints it and exits 0 (a validation sheet\n"
    "     being rendered is dropped; while loading or caching it stops there with exit 130, finished\n"
    "     cache entries kept); a second Ctrl-C stops at once (exit 130, or 143 for SIGTERM),\n"
    "  5. renders validation sheets (reference 1..n | result | target, with the instruction, step, seed,\n"
    "     guidance and LoRA scale) to output_dir/validation/ at step 0 and every\n"
    "     validation_step_interval steps; before training it prints what validation will cost (and,\n"
    "     after the first one, the measured time per sampling step and for the rest),\n"
    "  6. writes output_dir/pytorch_lora_weights.safetensors (diffusers/PEFT keys; loads in\n"
    "     diffusers and ComfyUI; lora_type lycoris: LyCORIS keys lycoris_<module>.lokr_w1 ..., as\n"
    "     LyCORIS and ComfyUI read them); model_type full: output_dir/transformer/ (the whole\n"
    "     transformer, diffusion_pytorch_model.safetensors and config.json, as save_pretrained writes\n"
    "     it; pretrained_transformer_model_name_or_path=output_dir/transformer loads it).\n"
    "Config lookup without --config: $CONFIG_PATH, config/$ENV/config.json, config/config.json (the file\n"
    "used is named). Without model_flavour, the model folder's model_index.json decides it. The dataset\n"
    "folders are checked before the model loads.\n"
    "Several processes: `mpirun -np N [--hostfile H] simpletuner train ...` trains data-parallel (each step's\n"
    "batch of train_batch_size x N split across the ranks, gradients summed with MPI; rank 0 writes).\n"
    "`simpletuner examples list` shows the packaged presets (tiny.* need no download).\n"
    "  --events FILE   also write every event (cache progress, steps, checkpoints, validation images,\n"
    "                  the end) as one JSON object per line to FILE (or to descriptor N with fd:N);\n"
    "                  the format is described in docs/webui.md. The WebUI runs training this way.\n";

static const char *const TRAIN_FLAGS[] = {"--events", NULL};

static void quiet_event(void *ctx, const PipelineEvent *ev) { (void)ctx; (void)ev; }

int cmd_train(int argc, char **argv, Err *e) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 0; }
    /* mpirun -np N simpletuner train ...: N data-parallel ranks (train/parallel.h) */
    Parallel par;
    if (parallel_init(&par, &argc, &argv, e)) return -1;
    /* --events: rank 0 reports, so only it writes the file */
    CliEvents ev = {.fd = -1};
    int rc = par.rank == 0 ? cli_events_open(&ev, argc, argv, e) : 0;
    Pipeline *p = NULL;
    if (!rc) rc = cli_open_pipeline(argc, argv, PIPELINE_TRAIN, TRAIN_FLAGS, 0, PIPELINE_DATA_CACHE, &p, e);
    if (!rc) rc = parallel_check_config(&par, pipeline_config(p), e);   /* num_processes = the ranks, 1 without mpirun */
    TrainSummary s = {0};
    if (!rc) {
        pipeline_set_parallel(p, &par);
        if (par.rank > 0) pipeline_on_event(p, quiet_event, NULL);   /* rank 0 reports */
        else cli_events_attach(&ev, p);
        if (par.rank == 0 && par.size > 1) {
            const Config *c = pipeline_config(p);
            long B = config_int(c, "train_batch_size"), A = config_int(c, "gradient_accumulation_steps");
            fprintf(stderr, "data parallel: %d ranks x %d threads; effective batch = train_batch_size %ld x %d ranks x "
                            "gradient_accumulation_steps %ld = %ld\n", par.size, par.threads, B, par.size, A, B * par.size * A);
        }
        rc = pipeline_train(p, &s, e);
    }
    if (rc && par.size > 1) {
        /* one rank failing stops them all (none may wait in a collective for it) */
        fprintf(stderr, "error (rank %d of %d): %s\n", par.rank, par.size, e->msg[0] ? e->msg : "failed");
        fflush(stderr);
        parallel_abort(&par, e->code ? e->code : EXIT_RUNTIME);
    }
    if (par.rank > 0) { pipeline_close(p); parallel_finish(&par); return rc; }
    int64_t start = s.resumed_from >= 0 ? s.resumed_from : 0;
    if (!rc && s.interrupted && s.steps_done == start && s.resumed_from < 0)
        printf("interrupted before the first step: nothing trained, nothing checkpointed\n");
    else if (!rc && s.interrupted && s.steps_done == start)
        printf("interrupted before the first step of this run: %s/checkpoint-%lld/ is unchanged\n", s.output_dir, (long long)start);
    else if (!rc && s.interrupted)
        printf("interrupted at step %lld: checkpoint %s/checkpoint-%lld/ (resume_from_checkpoint=latest continues)\n",
               (long long)s.steps_done, s.output_dir, (long long)s.steps_done);
    else if (!rc) {
        if (s.resumed_from == s.steps_done)
            printf("already trained: resumed at step %lld = max_train_steps, nothing to do\n", (long long)s.steps_done);
        else printf("trained %lld steps (loss %.4f -> %.4f)\n", (long long)s.steps_done, s.first_loss, s.last_loss);
        printf("weights:     %s\n", s.final_weights);
        printf("checkpoints: %s/checkpoint-<step>/\n", s.output_dir);
        printf("validation:  %s/validation/\n", s.output_dir);
        printf("loss log:    %s/training_log.jsonl (.csv), curve %s/loss_curve.png\n", s.output_dir, s.output_dir);
        struct rusage ru; getrusage(RUSAGE_SELF, &ru);
        printf("peak memory: %.1f MiB resident\n", ru.ru_maxrss / 1024.0);
    }
    pipeline_close(p);
    cli_events_close(&ev);
    parallel_finish(&par);
    return rc;
}
