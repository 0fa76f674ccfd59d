/* options_help.c — one line of help per option for the WebUI's configuration form (the form also
 * shows each option's type, default, choices and whether this program honours it, from the options
 * table). Written for the options an edit-model LoRA run uses; options without a line here show
 * only the table's facts. */
#include "config/config.h"
#include <stdlib.h>
#include <string.h>

typedef struct OptionHelp { const char *name, *help; } OptionHelp;

/* sorted by name (bsearch) */
static const OptionHelp HELP[] = {
    {"adam_beta1", "AdamW's first-moment decay (momentum of the gradient average)."},
    {"adam_beta2", "AdamW's second-moment decay (averaging of squared gradients)."},
    {"adam_epsilon", "Added to AdamW's denominator for numerical safety."},
    {"adam_weight_decay", "Decoupled weight decay of AdamW, applied to the trained LoRA weights."},
    {"aspect_bucket_alignment", "Bucket sizes are multiples of this many pixels (Qwen-Image forces 32 unless i_know_what_i_am_doing)."},
    {"base_model_precision", "Storage of the frozen transformer weights: no_change keeps the checkpoint's dtype; int8/fp8/nf4 quantise it to save memory."},
    {"cache_dir", "Folder of the cached VAE latents and prompt embeddings (default output_dir/cache)."},
    {"caption_dropout_probability", "Chance that a sample trains with an empty instruction (helps classifier-free guidance)."},
    {"checkpoint_step_interval", "Save a checkpoint (LoRA, optimizer, sampler and RNG state) every this many optimizer steps."},
    {"checkpoints_total_limit", "Keep at most this many checkpoints; older ones are removed."},
    {"conditioning_multidataset_sampling", "With several reference sets: combined gives every sample all references, random one reference per sample."},
    {"data_backend_config", "The multidatabackend.json that lists the edit and reference datasets."},
    {"disable_bucket_pruning", "Keep aspect buckets with fewer images than one batch (their samples repeat to fill batches)."},
    {"ema_decay", "Decay of the exponential moving average of the trained weights (with use_ema)."},
    {"eval_dataset_id", "The dataset whose first num_eval_images samples are rendered as validation sheets (default: the first edit dataset)."},
    {"flow_schedule_auto_shift", "Shift the training noise levels by the image's token count (resolution-dependent), instead of flow_schedule_shift."},
    {"flow_schedule_shift", "Shift of the sampled noise levels toward high noise (3.0 by default); 0 disables it."},
    {"grad_clip_method", "value clips each gradient entry to max_grad_norm; norm rescales the whole gradient to that norm."},
    {"gradient_accumulation_steps", "Micro-batches added up before each optimizer step (a larger effective batch at the same memory)."},
    {"gradient_checkpointing", "Recompute each transformer block's activations in the backward pass instead of keeping them: much less memory, some more time."},
    {"i_know_what_i_am_doing", "Lets settings the model family would override stand (e.g. aspect_bucket_alignment for Qwen-Image)."},
    {"init_lora", "A LoRA file to start training from instead of the random initialisation."},
    {"learning_rate", "Peak learning rate of the optimizer (LoRA runs typically 1e-4 to 1e-3)."},
    {"lora_alpha", "LoRA scaling numerator: the update is multiplied by lora_alpha / lora_rank (default: the rank)."},
    {"lora_dropout", "Dropout on the LoRA input during training."},
    {"lora_init_type", "How the LoRA matrices start (default: A random, B zero, so training starts from the base model)."},
    {"lora_rank", "Rank of the LoRA matrices: capacity and file size grow with it."},
    {"lora_type", "standard (PEFT LoRA) or lycoris (LyCORIS adapters from lycoris_config)."},
    {"loss_type", "l2 (mean squared error of the flow target), huber or smooth_l1."},
    {"lr_scheduler", "How the learning rate changes over the run (constant, cosine, linear, polynomial, ...)."},
    {"lr_warmup_steps", "Steps over which the learning rate ramps up from 0."},
    {"lycoris_config", "JSON file with the LyCORIS algorithm and its settings (lora_type=lycoris)."},
    {"max_grad_norm", "Gradient clipping threshold (see grad_clip_method); 0 disables clipping."},
    {"max_train_steps", "Optimizer steps to train (num_train_epochs must then be 0)."},
    {"mixed_precision", "Compute precision upstream; this program computes activations in f32."},
    {"model_family", "qwen_image (Qwen-Image and Qwen-Image-Edit) or longcat_image (LongCat-Image and its Edit model)."},
    {"model_flavour", "The model of the family: edit-v1 / edit-v2 (Qwen-Image-Edit, -2509), edit (LongCat-Image-Edit), or a text-to-image base."},
    {"model_type", "lora trains adapters on the frozen transformer; full trains every transformer weight."},
    {"num_eval_images", "How many evaluation samples are rendered at each validation."},
    {"num_train_epochs", "Passes over the data to train when max_train_steps is 0."},
    {"optimizer", "The optimizer: adamw_bf16 (AdamW), and the others this program lists as supported."},
    {"output_dir", "Where checkpoints, validation sheets, the loss log and the final LoRA are written; the WebUI lists runs from it."},
    {"peft_lora_target_modules", "JSON list of module names to put LoRA on instead of the family's default attention projections."},
    {"pretrained_model_name_or_path", "A local model folder in the diffusers layout, or a hub id found in the Hugging Face cache (default: the flavour's hub id)."},
    {"resolution", "Default training resolution of the datasets (pixels of the edge, or megapixels, per resolution_type)."},
    {"resolution_type", "How resolution is read: pixel (shorter edge), area (megapixels) or pixel_area (edge squared, as area)."},
    {"resume_from_checkpoint", "latest continues from the newest checkpoint in output_dir; a path continues from that checkpoint."},
    {"revision", "The revision (branch or commit) of a hub model to use from the Hugging Face cache."},
    {"seed", "Seed of the run's random numbers (noise, sampling order, dropout); runs with the same seed repeat exactly."},
    {"text_encoder_1_precision", "Storage of the Qwen2.5-VL text encoder weights (quantised to save memory when set)."},
    {"train_batch_size", "Samples per micro-batch (one aspect bucket of one dataset each)."},
    {"use_ema", "Keep an exponential moving average of the trained weights and save it beside them."},
    {"validation_disable", "Render no validation sheets during training."},
    {"validation_disable_unconditional", "Sample without classifier-free guidance (no unconditional pass)."},
    {"validation_guidance", "Guidance scale of validation sampling (Qwen-Image uses validation_guidance_real when it is above 1)."},
    {"validation_guidance_real", "Qwen-Image's true CFG scale for validation when above 1."},
    {"validation_negative_prompt", "The negative prompt of validation sampling."},
    {"validation_num_inference_steps", "Sampling steps of each validation image."},
    {"validation_preview", "Also write the clean image predicted during sampling (every validation_preview_steps steps)."},
    {"validation_preview_steps", "Sampling steps between two previews (with validation_preview)."},
    {"validation_prompt", "Instruction used for every validation image instead of the dataset captions."},
    {"validation_resolution", "Size of validation images: WxH, an edge in pixels, or megapixels when below 128."},
    {"validation_seed", "Seed of the validation noise (the same image at every validation, so runs compare)."},
    {"validation_step_interval", "Render validation sheets every this many optimizer steps (and at step 0)."},
};

static int cmp_help(const void *k, const void *e) { return strcmp(k, ((const OptionHelp *)e)->name); }

const char *option_help(const char *name) {
    const OptionDef *d = option_find(name);
    const char *key = d ? d->name : name;
    const OptionHelp *h = bsearch(key, HELP, sizeof HELP / sizeof *HELP, sizeof *HELP, cmp_help);
    return h ? h->help : NULL;
}

int option_help_validate(Err *e) {
    for (size_t i = 0; i < sizeof HELP / sizeof *HELP; i++) {
        if (!option_find(HELP[i].name) || strcmp(option_find(HELP[i].name)->name, HELP[i].name))
            return err_set(e, "options_help.c: '%s' is not a canonical option name", HELP[i].name);
        if (i && strcmp(HELP[i - 1].name, HELP[i].name) >= 0)
            return err_set(e, "options_help.c: '%s' is out of order", HELP[i].name);
    }
    return 0;
}
