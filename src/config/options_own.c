/* options_own.c — options of this program that SimpleTuner does not have (config.h, OwnOption).
 * Written by hand, unlike options_table.c (generated from SimpleTuner's registry): each row is an
 * OptionDef as there (type, default, choices) plus the models it applies to and one line of help.
 * Sorted by name. Their names say whose they are (e.g. a family prefix), so a SimpleTuner config
 * that is later given one of them cannot mistake it for an upstream key. */
#include "config/config.h"

const OwnOption OWN_OPTIONS[] = {
    {{"longcat_reference_timestep", OPT_SELECT, "\"zero\"", "", "[\"shared\", \"zero\"]", "model"},
     "longcat_image:edit",
     "LongCat edit training: the timestep of the reference tokens. zero = t 0 for the references and the "
     "text stream modulated by the mean of the image tokens' embeddings (SimpleTuner's scheme); shared = "
     "the sample's t for every token, as LongCatImageEditPipeline samples. Sampling always uses shared."},
};
const int OWN_OPTION_COUNT = (int)(sizeof OWN_OPTIONS / sizeof OWN_OPTIONS[0]);
