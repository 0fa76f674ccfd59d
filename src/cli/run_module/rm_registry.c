/* run_module_registry.c — every component run-module can execute: one line each. */
#include "cli/run_module/run_module.h"

int flowmatch_run_module(RunModule *rm, Err *e);
int qwen_image_transformer_run_module(RunModule *rm, Err *e);
int vae_run_module(RunModule *rm, Err *e);
int qwenvl_run_module(RunModule *rm, Err *e);
int longcat_run_module(RunModule *rm, Err *e);
int pipeline_run_module(RunModule *rm, Err *e);

const RunModuleComponent RUN_MODULE_COMPONENTS[] = {
    {"FlowMatchEulerDiscreteScheduler", flowmatch_run_module},
    {"QwenImageTransformer2DModel", qwen_image_transformer_run_module},
    {"AutoencoderKLQwenImage", vae_run_module},
    {"AutoencoderKL", vae_run_module},
    {"Qwen2_5_VLForConditionalGeneration", qwenvl_run_module},
    {"LongCatImageTransformer2DModel", longcat_run_module},
    {"QwenImageEditPipeline", pipeline_run_module},
    {"QwenImageEditPlusPipeline", pipeline_run_module},
    {"LongCatImageEditPipeline", pipeline_run_module},
    {NULL, NULL},
};
