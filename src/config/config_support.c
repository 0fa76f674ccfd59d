/* config_support.c — THE list of what this program does with each SimpleTuner option.
 *
 *   IMPLEMENTED  the program honours the option: tests set it to a value other than its default and
 *                observe the effect (tests/data/config/implemented_coverage.tsv names the test of each,
 *                tests/unit/test_option_coverage.c checks the table against this list).
 *   INERT        the option cannot change what this program computes for qwen_image / longcat_image
 *                (publishing, trackers, UI, cloud, launchers, GPU-only memory or speed tuning, caching
 *                batch sizes, options of other model families). Accepted and logged once as "ignored,
 *                no effect here"; the comment beside each group says why it has no effect.
 *   unsupported  every other option: accepted at its default value only; any other value stops the
 *                load with "not supported yet: KEY=VALUE" and, when UNSUPPORTED_REASONS has one, why.
 * SUPPORTED_VALUES restricts an implemented or inert option to the values listed: any other value is
 * "not supported yet" (e.g. mixed_precision=fp16, attention_mechanism=sageattention: inert for the
 * values that compute what we compute, refused for the ones that would compute something else).
 *
 * To land a feature: move its option into IMPLEMENTED (with SUPPORTED_VALUES when only some values
 * work), add the test that sets it and observes the effect, and its row in implemented_coverage.tsv. */
#include <string.h>
#include "config/config_internal.h"

static const char *const IMPLEMENTED[] = {
    /* model and LoRA (issues 3, 9) */
    "model_family", "model_type", "model_flavour", "pretrained_model_name_or_path",
    "pretrained_transformer_model_name_or_path", "pretrained_transformer_subfolder",
    "pretrained_vae_model_name_or_path", "qwen_text_encoder_model_name_or_path", "revision", "vae_enable_tiling",
    "base_model_precision", "text_encoder_1_precision",
    "lora_type", "lora_rank", "lora_alpha", "lora_dropout",
    "peft_lora_target_modules", "init_lora", "gradient_checkpointing",
    "lycoris_config", "init_lokr_norm", "validation_lycoris_strength",
    "i_know_what_i_am_doing",
    /* training loop, optimizers, schedules, checkpoints (issue 7) */
    "output_dir", "seed", "learning_rate", "lr_scheduler", "lr_warmup_steps", "lr_num_cycles", "lr_power",
    "lr_end", "optimizer", "optimizer_config", "optimizer_beta1", "optimizer_beta2",
    "train_batch_size", "gradient_accumulation_steps",
    "max_train_steps", "num_train_epochs", "checkpoint_step_interval", "checkpoints_total_limit",
    "resume_from_checkpoint", "max_grad_norm", "grad_clip_method", "use_ema", "ema_decay",
    "ema_update_interval", "ema_warmup_steps", "ema_validation",
    /* data-parallel training over MPI (issue 20): must equal the number of ranks */
    "num_processes",
    /* objective (issue 7, spec §3) */
    "flow_schedule_shift", "flow_schedule_auto_shift", "flow_sigmoid_scale", "flow_use_uniform_schedule",
    "flow_use_beta_schedule", "flow_beta_schedule_alpha", "flow_beta_schedule_beta", "loss_type", "huber_c",
    "huber_schedule", "caption_dropout_probability", "input_perturbation", "input_perturbation_steps",
    "masked_loss_probability",
    /* data (issue 6); cache_dir_vae: the cache folder of conditioning_image_embeds datasets without
     * their own cache_dir, as in SimpleTuner (each image dataset's VAE cache is its own cache_dir_vae) */
    "data_backend_config", "caption_strategy", "resolution", "resolution_type", "minimum_image_size",
    "maximum_image_size", "target_downsample_size", "aspect_bucket_alignment", "aspect_bucket_rounding",
    "conditioning_multidataset_sampling", "data_backend_sampling", "cache_dir", "cache_dir_vae",
    "cache_dir_text", "instance_prompt", "prepend_instance_prompt", "only_instance_prompt",
    "disable_multiline_split", "disable_bucket_pruning",
    /* validation (issue 8) */
    "validation_step_interval", "validation_prompt", "validation_negative_prompt", "validation_resolution",
    "validation_guidance", "validation_guidance_real", "validation_num_inference_steps", "validation_seed",
    "num_validation_images", "num_eval_images", "validation_disable_unconditional",
    "eval_dataset_id", "validation_disable", "validation_on_startup", "disable_benchmark",
    "validation_image_format", "validation_image_quality", "validation_stitch_input_location",
    "validation_preview", "validation_preview_steps",
    NULL,
};

static const char *const INERT[] = {
    /* publishing and model cards (nothing is uploaded; the weights do not depend on them) */
    "hub_model_id", "push_to_hub_background", "model_card_note", "model_card_private",
    "model_card_safe_for_work", "modelspec_comment",
    /* trackers and logs: the loss log and plot always go to output_dir */
    "tracker_project_name", "tracker_run_name", "tracker_image_layout", "custom_tracker",
    "webhook_reporting_interval", "logging_dir", "print_filenames",
    "print_sampler_statistics", "debug_aspect_buckets", "debug_dataset_loader",
    /* UI and environments; validation_multigpu splits validation across GPUs; validation_seed_source
     * picks the torch generator's device (our generator is our own, seeded by validation_seed) */
    "configs_dir", "merge_environment_config", "validation_multigpu", "validation_seed_source",
    /* launchers and multi-GPU: the machines and ranks follow mpirun and its hostfile (num_processes is
     * checked against the ranks); each rank holds the whole model, so context parallelism and FSDP
     * change nothing; find_unused_parameters and the rest tune DDP itself. (seed_for_each_device=false
     * is refused: every sample draws its own noise stream, whichever rank computes it.) */
    "accelerate_config", "accelerate_extra_args", "num_machines", "machine_rank",
    "main_process_ip", "main_process_port", "local_rank", "same_network",
    "context_parallel_size", "context_parallel_comm_strategy", "find_unused_parameters",
    "fsdp_enable", "fsdp_version", "fsdp_reshard_after_forward", "fsdp_state_dict_type", "fsdp_cpu_offload",
    "fsdp_auto_wrap_policy", "fsdp_transformer_layer_cls_to_wrap", "fsdp_limit_all_gathers",
    "fsdp_cpu_ram_efficient_loading", "fsdp_activation_checkpointing", "aws_max_pool_connections",
    /* precision: this program computes every activation and gradient in f32, with the frozen weights in
     * their stored dtype (bf16 in the published checkpoints, or base_model_precision's format). That is
     * SimpleTuner's mixed_precision=no exactly, and its bf16 default up to bf16 rounding (bf16
     * autocast on a GPU rounds each matmul's output; we do not). SUPPORTED_VALUES refuses fp16 and
     * fp8, whose loss scaling, overflow and fp8 matmuls would give other results. gradient_precision:
     * the trainable parameters (LoRA, EMA, full training) are f32 here, so unmodified = fp32 = f32
     * gradients. disable_tf32: we never use TF32. */
    "mixed_precision", "vae_dtype", "gradient_precision", "disable_tf32",
    /* the adam_* keys reach only DeepSpeed's optimizer in SimpleTuner (deepspeed_config is refused);
     * optimizer_config and optimizer_beta1/2 set the optimizer (train/optim_config.c warns too) */
    "adam_beta1", "adam_beta2", "adam_weight_decay", "adam_epsilon",
    /* attention kernels: every exact kernel gives the same attention (SUPPORTED_VALUES refuses the
     * approximate ones: sparse-linear SLA and the int8/fp8 SageAttention and Metal kernels);
     * sageattention_usage and sla_config only matter with those */
    "attention_mechanism", "sageattention_usage", "sla_config",
    /* GPU-only speed and memory tuning (same numbers, other speed or memory) */
    "dynamo_backend", "dynamo_mode", "dynamo_fullgraph", "dynamo_dynamic", "dynamo_use_regional_compilation",
    "set_grads_to_none", "quantize_via", "ema_device", "ema_cpu_only",
    "ema_foreach_disable", "unet_attention_slice", "accelerator_cache_clear_interval",
    "gradient_checkpointing_interval", "gradient_checkpointing_segment_stride",
    "gradient_checkpointing_backend", "gradient_checkpointing_offload_attention",
    "gradient_checkpointing_offload_pin_memory_max_buckets", "gradient_checkpointing_offload_prefetch",
    "enable_group_offload", "group_offload_type", "group_offload_blocks_per_group", "group_offload_use_stream",
    "group_offload_to_disk_path", "group_offload_text_encoder", "group_offload_vae", "ramtorch",
    "ramtorch_controlnet", "ramtorch_disable_extensions", "ramtorch_disable_sync_hooks",
    "ramtorch_target_modules", "ramtorch_text_encoder", "ramtorch_text_encoder_percent",
    "ramtorch_transformer_percent", "ramtorch_vae", "musubi_blocks_to_swap", "musubi_block_swap_device",
    "offload_during_startup", "offload_during_save", "offload_param_path", "delete_model_after_load",
    "keep_vae_loaded", "fully_unload_text_encoder", "vae_enable_slicing",
    "vae_enable_patch_conv", "vae_enable_temporal_roll", "fuse_optimizer", "optimizer_offload_gradients",
    "optimizer_release_gradients", "optimizer_cpu_offload_method", "torch_num_threads", "trust_remote_code",
    /* batch sizes and workers of caching (the cached values do not depend on them); on-demand caching
     * makes the same entries at first use instead of before training */
    "vae_batch_size", "write_batch_size", "read_batch_size", "image_processing_batch_size", "max_workers",
    "text_encoder_batch_size", "aspect_bucket_worker_count", "metadata_update_interval",
    "dataloader_prefetch", "dataloader_prefetch_qlen", "enable_multiprocessing", "compress_disk_cache",
    "skip_file_discovery", "override_dataset_config", "aspect_bucket_disable_rebuild",
    "preserve_data_backend_cache", "text_embed_full_cache", "checkpointing_use_tempdir",
    "delete_invalid_checkpoints", "vae_cache_ondemand", "text_cache_ondemand", "disk_low_action",
    "disk_low_script", "disk_low_threshold",
    /* these families: one text encoder (Qwen2.5-VL), so text encoders 2-4 do not exist; flow matching
     * (SimpleTuner takes the prediction type from the model class and never applies noise offset to
     * flow-matching models: models/common.py `if not self.config.flow_matching and offset_noise`); the
     * validation sampler is FlowMatchEuler (SimpleTuner maps validation_noise_scheduler=euler to it;
     * SUPPORTED_VALUES refuses the others) */
    "text_encoder_2_precision", "text_encoder_3_precision", "text_encoder_4_precision", "prediction_type",
    "noise_offset", "noise_offset_probability", "offset_noise", "validation_noise_scheduler",
    /* options that only matter for other model families or for features refused elsewhere */
    "pretrained_t5_model_name_or_path", "pretrained_unet_model_name_or_path", "pretrained_unet_subfolder",
    "pretrained_gemma_model_name_or_path", "pretrained_grounding_model_name_or_path",
    "pretrained_evaluation_model_name_or_path", "controlnet_custom_config", "t5_padding", "snr_weight",
    "soft_min_snr_sigma_data", "snr_gamma",
    "training_scheduler_timestep_spacing", "inference_scheduler_timestep_spacing",
    "singlora_ramp_up_steps", "disable_assistant_lora",
    "sdnq_compile_mode", "sdnq_group_size", "sdnq_quantized_matmul_dtype", "sdnq_use_quantized_matmul",
    "sdnq_weights_dtype", "prodigy_steps", "freeze_encoder_after", "freeze_encoder_before",
    "freeze_encoder_strategy", "text_encoder_limit", "save_text_encoder", "parquet_caption_column",
    "parquet_filename_column", "nsfw_check_backend_types", "nsfw_check_min_votes", "nsfw_check_models",
    "nsfw_check_sample_types", "nsfw_check_video_frame_count", "nsfw_check_video_frame_selection",
    "nsfw_check_video_min_flagged_frames", "delete_nsfw_images", "data_aesthetic_score",
    "audio_channels", "audio_duration_interval", "audio_flow_schedule_shift", "audio_max_duration_seconds",
    "audio_min_duration_seconds", "audio_truncation_mode", "framerate", "validation_num_video_frames",
    "checkpoints_rolling_total_limit", "validation_internal_guidance_scale", "crepa_encoder",
    "urepa_model", "max_grounding_entities",
    NULL,
};

/* Implemented or inert options that work for some values only (comma-separated). */
static const struct { const char *name, *values; } SUPPORTED_VALUES[] = {
    {"model_family", "qwen_image,longcat_image"},
    {"lora_type", "standard,lycoris"},
    {"base_model_precision", "no_change,int8-quanto,int4-quanto,int2-quanto,fp8-quanto,int8-torchao,fp8-torchao,nf4-bnb"},
    {"text_encoder_1_precision", "no_change,int8-quanto,int4-quanto,int2-quanto,fp8-quanto,int8-torchao,fp8-torchao,nf4-bnb"},
    {"optimizer", "adamw_bf16,torch-adamw,optimi-adamw,optimi-lion,optimi-sgd"},
    {"data_backend_sampling", "uniform,auto-weighting"},
    {"validation_image_format", "png,jpeg,webp"},
    {"validation_stitch_input_location", "left,right"},
    /* inert for these values only */
    {"mixed_precision", "bf16,no"},
    {"vae_dtype", "default,fp32,bf16"},
    {"prediction_type", "flow_matching"},
    {"validation_noise_scheduler", "euler"},
    {"attention_mechanism", "diffusers,xformers,flash-attn,flash-attn-hub,flash-attn-2,flash-attn-varlen-hub,flash-attn-3,"
                            "flash-attn-3-hub,flash-attn-3-varlen,flash-attn-3-varlen-hub,flash-attn-4-hub,flex,"
                            "metal-flash-attention,native,cudnn,native-efficient,native-flash,native-math,native-npu,native-xla"},
};

/* Why an option (or a value of a restricted one) is refused, appended to "not supported yet: K=V". */
static const struct { const char *name, *reason; } UNSUPPORTED_REASONS[] = {
    {"lora_init_type", "LoRA A starts as PEFT's kaiming-uniform default, B at zero"},
    {"lora_format", "the LoRA is written with diffusers/PEFT keys, which ComfyUI loads as they are"},
    {"peft_lora_mode", "standard LoRA only"},
    {"validation_method", "validation renders here; external scripts are not run"},
    {"evaluation_type", "no CLIP scoring model"},
    {"report_to", "no trackers; the loss log is output_dir/training_log.jsonl and .csv, the curve loss_curve.png"},
    {"vae_cache_scan_behaviour", "a stale VAE latent is always recomputed (recreate); sync would move the image to the latent's bucket"},
    {"vae_cache_disable", "latents are cached once per file; encoding them anew at every use would draw another latent sample each epoch"},
    {"text_cache_disable", "prompt embeddings are always cached"},
    {"delete_unwanted_images", "this program never deletes your images; the log lists the ones it skips"},
    {"delete_problematic_images", "this program never deletes your images; an unreadable image stops the run naming it"},
    {"quantize_activations", "activations are always f32"},
    {"seed_for_each_device", "each sample draws its own noise stream whichever rank computes it; false would repeat the noise on every rank"},
    {"base_model_default_dtype", "the unquantised weights stay in their stored dtype; with fp32 SimpleTuner also trades adamw_bf16 for optimi-adamw"},
    {"mixed_precision", "this program computes in f32 (as mixed_precision=no); fp16 and fp8 would compute otherwise"},
    {"vae_dtype", "the VAE computes in f32; fp16 would compute otherwise"},
    {"attention_mechanism", "attention is computed exactly; SLA and the int8/fp8 kernels approximate it"},
    {"prediction_type", "these families are flow-matching models"},
    {"validation_noise_scheduler", "validation samples with FlowMatchEuler, the pipelines' scheduler"},
};

OptionSupport option_support(const char *name) {
    const OptionDef *d = option_find(name);
    if (!d) return SUPPORT_UNSUPPORTED;
    if (option_own(d->name)) return SUPPORT_IMPLEMENTED;   /* ours exist because they are implemented */
    if (names_have(IMPLEMENTED, d->name)) return SUPPORT_IMPLEMENTED;
    if (names_have(INERT, d->name)) return SUPPORT_INERT;
    return SUPPORT_UNSUPPORTED;
}

const char *option_supported_values(const char *name) {
    const OptionDef *d = option_find(name);
    if (!d) return NULL;
    for (size_t i = 0; i < sizeof SUPPORTED_VALUES / sizeof SUPPORTED_VALUES[0]; i++)
        if (!strcmp(SUPPORTED_VALUES[i].name, d->name)) return SUPPORTED_VALUES[i].values;
    return NULL;
}

const char *option_unsupported_reason(const char *name) {
    const OptionDef *d = option_find(name);
    const char *key = d ? d->name : name;
    for (size_t i = 0; i < sizeof UNSUPPORTED_REASONS / sizeof UNSUPPORTED_REASONS[0]; i++)
        if (!strcmp(UNSUPPORTED_REASONS[i].name, key)) return UNSUPPORTED_REASONS[i].reason;
    return NULL;
}

int option_implemented_at(int i, const char **name) {
    if (i < 0 || i >= (int)(sizeof IMPLEMENTED / sizeof IMPLEMENTED[0]) - 1) return 0;
    *name = IMPLEMENTED[i];
    return 1;
}

static int check_list(const char *const *list, const char *what, Err *e) {
    for (int i = 0; list[i]; i++) {
        const OptionDef *d = option_find(list[i]);
        if (!d || strcmp(d->name, list[i]))
            return err_set(e, "config_support.c: %s lists '%s', which is not a canonical option name", what, list[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(list[i], list[j])) return err_set(e, "config_support.c: %s lists '%s' twice", what, list[i]);
    }
    return 0;
}

int option_support_validate(Err *e) {
    if (check_list(IMPLEMENTED, "IMPLEMENTED", e) || check_list(INERT, "INERT", e)) return -1;
    for (int i = 0; IMPLEMENTED[i]; i++)
        if (names_have(INERT, IMPLEMENTED[i]))
            return err_set(e, "config_support.c: '%s' is both IMPLEMENTED and INERT", IMPLEMENTED[i]);
    for (size_t i = 0; i < sizeof SUPPORTED_VALUES / sizeof SUPPORTED_VALUES[0]; i++) {
        const char *name = SUPPORTED_VALUES[i].name;
        if (option_support(name) == SUPPORT_UNSUPPORTED)
            return err_set(e, "config_support.c: SUPPORTED_VALUES names '%s', which is neither IMPLEMENTED nor INERT", name);
        /* the default must load (every SimpleTuner config has it, written or not) */
        char def[128];
        if (option_default_str(name, def, sizeof def) && !csv_has(SUPPORTED_VALUES[i].values, def))
            return err_set(e, "config_support.c: SUPPORTED_VALUES of '%s' leaves out its default '%s'", name, def);
    }
    for (size_t i = 0; i < sizeof UNSUPPORTED_REASONS / sizeof UNSUPPORTED_REASONS[0]; i++) {
        const char *name = UNSUPPORTED_REASONS[i].name;
        const OptionDef *d = option_find(name);
        if (!d || strcmp(d->name, name))
            return err_set(e, "config_support.c: UNSUPPORTED_REASONS names '%s', which is not a canonical option name", name);
        if (option_support(name) != SUPPORT_UNSUPPORTED && !option_supported_values(name))
            return err_set(e, "config_support.c: UNSUPPORTED_REASONS names '%s', whose values are all accepted", name);
    }
    return 0;
}
