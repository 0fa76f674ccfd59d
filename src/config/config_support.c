/* config_support.c — THE list of what this program does with each SimpleTuner option.
 *
 * To mark a feature as landed, move its option name into IMPLEMENTED (and, when only some values
 * work, list them in SUPPORTED_VALUES). Options in neither list are "unsupported": accepted at their
 * default value, and any other value stops the load with "not supported yet: KEY=VALUE".
 *   IMPLEMENTED  the program honours the option (or a module being built for issues 3-10 will).
 *   INERT        the option cannot change what this program computes (publishing, trackers, UI,
 *                cloud, multi-GPU launchers, GPU-only memory or speed tuning, options that only
 *                matter for features that are themselves rejected). Accepted with any value. */
#include <string.h>
#include "config/config_internal.h"

static const char *const IMPLEMENTED[] = {
    /* model and LoRA (issues 3, 9) */
    "model_family", "model_type", "model_flavour", "pretrained_model_name_or_path",
    "pretrained_transformer_model_name_or_path", "pretrained_transformer_subfolder",
    "pretrained_vae_model_name_or_path", "qwen_text_encoder_model_name_or_path", "revision", "vae_enable_tiling",
    "base_model_precision", "text_encoder_1_precision", "text_encoder_2_precision",
    "text_encoder_3_precision", "text_encoder_4_precision", "prediction_type",
    "lora_type", "lora_rank", "lora_alpha", "lora_dropout", "lora_init_type", "lora_format",
    "peft_lora_target_modules", "peft_lora_mode", "init_lora", "gradient_checkpointing",
    "i_know_what_i_am_doing",
    /* training loop, optimizers, schedules, checkpoints (issue 7) */
    "output_dir", "seed", "learning_rate", "lr_scheduler", "lr_warmup_steps", "lr_num_cycles", "lr_power",
    "lr_end", "optimizer", "optimizer_config", "optimizer_beta1", "optimizer_beta2", "adam_beta1",
    "adam_beta2", "adam_weight_decay", "adam_epsilon", "train_batch_size", "gradient_accumulation_steps",
    "max_train_steps", "num_train_epochs", "checkpoint_step_interval", "checkpoints_total_limit",
    "resume_from_checkpoint", "max_grad_norm", "grad_clip_method", "use_ema", "ema_decay",
    "ema_update_interval", "ema_warmup_steps", "ema_validation",
    /* objective (issue 7, spec §3) */
    "flow_schedule_shift", "flow_schedule_auto_shift", "flow_sigmoid_scale", "flow_use_uniform_schedule",
    "flow_use_beta_schedule", "flow_beta_schedule_alpha", "flow_beta_schedule_beta", "loss_type", "huber_c",
    "huber_schedule", "caption_dropout_probability", "input_perturbation", "input_perturbation_steps",
    "masked_loss_probability",
    /* data (issue 6) */
    "data_backend_config", "caption_strategy", "resolution", "resolution_type", "minimum_image_size",
    "maximum_image_size", "target_downsample_size", "aspect_bucket_alignment", "aspect_bucket_rounding",
    "conditioning_multidataset_sampling", "data_backend_sampling", "cache_dir", "cache_dir_vae",
    "cache_dir_text", "instance_prompt", "prepend_instance_prompt", "only_instance_prompt",
    "disable_multiline_split", "vae_cache_scan_behaviour", "disable_bucket_pruning",
    /* validation (issue 8) */
    "validation_step_interval", "validation_prompt", "validation_negative_prompt", "validation_resolution",
    "validation_guidance", "validation_guidance_real", "validation_num_inference_steps", "validation_seed",
    "num_validation_images", "num_eval_images", "validation_disable_unconditional", "validation_noise_scheduler",
    "eval_dataset_id", "validation_disable", "validation_on_startup", "validation_image_format",
    "validation_method", "validation_stitch_input_location", "evaluation_type", "report_to",
    "validation_preview", "validation_preview_steps",
    NULL,
};

static const char *const INERT[] = {
    /* publishing and model cards */
    "hub_model_id", "push_to_hub_background", "model_card_note", "model_card_private",
    "model_card_safe_for_work", "modelspec_comment",
    /* trackers and logs */
    "tracker_project_name", "tracker_run_name", "tracker_image_layout", "custom_tracker",
    "webhook_reporting_interval", "logging_dir", "disable_benchmark", "print_filenames",
    "print_sampler_statistics", "debug_aspect_buckets", "debug_dataset_loader",
    /* UI, environments, cloud */
    "configs_dir", "merge_environment_config",
    "validation_image_quality", "validation_multigpu", "validation_seed_source",
    /* launchers and multi-GPU */
    "accelerate_config", "accelerate_extra_args", "num_processes", "num_machines", "machine_rank",
    "main_process_ip", "main_process_port", "local_rank", "same_network", "seed_for_each_device",
    "context_parallel_size", "context_parallel_comm_strategy", "find_unused_parameters",
    "fsdp_enable", "fsdp_version", "fsdp_reshard_after_forward", "fsdp_state_dict_type", "fsdp_cpu_offload",
    "fsdp_auto_wrap_policy", "fsdp_transformer_layer_cls_to_wrap", "fsdp_limit_all_gathers",
    "fsdp_cpu_ram_efficient_loading", "fsdp_activation_checkpointing", "aws_max_pool_connections",
    /* GPU-only speed and memory tuning (results unchanged; on the CPU we always compute in f32) */
    "attention_mechanism", "sageattention_usage", "sla_config", "dynamo_backend", "dynamo_mode",
    "dynamo_fullgraph", "dynamo_dynamic", "dynamo_use_regional_compilation", "disable_tf32",
    "set_grads_to_none", "mixed_precision", "base_model_default_dtype", "quantize_via",
    "quantize_activations", "vae_dtype", "gradient_precision", "ema_device", "ema_cpu_only",
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
    /* batch sizes and workers of caching (the cached values do not depend on them) */
    "vae_batch_size", "write_batch_size", "read_batch_size", "image_processing_batch_size", "max_workers",
    "text_encoder_batch_size", "aspect_bucket_worker_count", "metadata_update_interval",
    "dataloader_prefetch", "dataloader_prefetch_qlen", "enable_multiprocessing", "compress_disk_cache",
    "skip_file_discovery", "override_dataset_config", "aspect_bucket_disable_rebuild",
    "preserve_data_backend_cache", "text_embed_full_cache", "checkpointing_use_tempdir",
    "delete_invalid_checkpoints", "vae_cache_ondemand", "vae_cache_disable", "text_cache_ondemand", "disk_low_action", "disk_low_script", "disk_low_threshold",
    /* options that only matter for other model families or for features rejected elsewhere */
    "pretrained_t5_model_name_or_path", "pretrained_unet_model_name_or_path", "pretrained_unet_subfolder",
    "pretrained_gemma_model_name_or_path", "pretrained_grounding_model_name_or_path",
    "pretrained_evaluation_model_name_or_path", "controlnet_custom_config", "t5_padding", "snr_weight",
    "soft_min_snr_sigma_data", "noise_offset", "noise_offset_probability", "offset_noise", "snr_gamma",
    "training_scheduler_timestep_spacing", "inference_scheduler_timestep_spacing", "lycoris_config",
    "init_lokr_norm", "validation_lycoris_strength", "singlora_ramp_up_steps", "disable_assistant_lora",
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

/* Implemented options that work for some values only (comma-separated). */
static const struct { const char *name, *values; } SUPPORTED_VALUES[] = {
    {"model_family", "qwen_image,longcat_image"},
    {"lora_type", "standard"},
    {"lora_init_type", "default"},
    {"lora_format", "diffusers"},
    {"peft_lora_mode", "standard"},
    {"base_model_precision", "no_change,int8-quanto,int4-quanto,int2-quanto,fp8-quanto,int8-torchao,fp8-torchao,nf4-bnb"},
    {"text_encoder_1_precision", "no_change,int8-quanto,int4-quanto,int2-quanto,fp8-quanto,int8-torchao,fp8-torchao,nf4-bnb"},
    {"text_encoder_2_precision", "no_change"},
    {"text_encoder_3_precision", "no_change"},
    {"text_encoder_4_precision", "no_change"},
    {"prediction_type", "flow_matching"},
    {"optimizer", "adamw_bf16,torch-adamw,optimi-adamw,optimi-lion,optimi-sgd"},
    {"validation_noise_scheduler", "euler"},
    {"validation_image_format", "png"},
    {"validation_method", "simpletuner-local"},
    {"validation_stitch_input_location", "left"},
    {"evaluation_type", "none"},
    {"report_to", "none"},
    {"data_backend_sampling", "uniform,auto-weighting"},
};

OptionSupport option_support(const char *name) {
    const OptionDef *d = option_find(name);
    if (!d) return SUPPORT_UNSUPPORTED;
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
    for (size_t i = 0; i < sizeof SUPPORTED_VALUES / sizeof SUPPORTED_VALUES[0]; i++)
        if (!names_have(IMPLEMENTED, SUPPORTED_VALUES[i].name))
            return err_set(e, "config_support.c: SUPPORTED_VALUES names '%s', which is not IMPLEMENTED", SUPPORTED_VALUES[i].name);
    return 0;
}
