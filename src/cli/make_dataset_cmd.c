/* make-dataset: writes a synthetic edit dataset in the layout of the quickstarts' dataloader
 * examples: OUT/images/<name>.png + <name>.txt (the instruction), and 1–3 reference folders
 * (OUT/reference, or OUT/reference_a, reference_b, reference_c) holding files of the same names. */
#include "cli/commands.h"
#include "base/files.h"
#include "image/image_io.h"
#include "data/synth.h"
#include "data/synth_write.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: simpletuner make-dataset --kind edit-pairs --out DIR --count N [--references 1..3]\n"
    "                                [--edits LIST] [--size WxH] [--seed S]\n"
    "\n"
    "Writes a synthetic image-edit dataset: source scenes of coloured shapes, an instruction per\n"
    "pair in varied words, and the edited image that follows it.\n"
    "\n"
    "  --edits LIST  comma-separated, one drawn per pair (default recolor,move,add,remove,background,scale):\n"
    "     recolor     \"make the red circle blue\"          move     \"move the red circle to the top left\"\n"
    "     add         \"add a blue square at the top right\" remove   \"remove the red circle\"\n"
    "     background  \"make the background pink\"          scale    \"make the red circle bigger\" / smaller\n"
    "     mirror      \"mirror it\" (flip left to right)     stripes  \"make it striped\"\n"
    "     compose     with --references 2-3 (the default there): put the object of Picture 2,\n"
    "                 coloured like Picture 3, into Picture 1\n"
    "  mirror and stripes are kept out of the default set: new edits to teach a model (the LoRA demo).\n"
    "\n"
    "  DIR/images/pair_0000.png + pair_0000.txt   edit targets and their instructions\n"
    "  DIR/reference/pair_0000.png                the reference (with --references 1)\n"
    "  DIR/reference_a|_b|_c/pair_0000.png        references 1-3 (with --references 2 or 3)\n"
    "\n"
    "  --size WxH   image size (default 256x256; multiples of 16)\n"
    "  --seed S     generator seed (default 42); the same seed gives the same files\n";

static int parse_int(const char *s, const char *opt, long lo, long hi, long *out, Err *e) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < lo || v > hi)
        return err_setc(e, EXIT_USAGE, "make-dataset: %s expects an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
    *out = v;
    return 0;
}

int cmd_make_dataset(int argc, char **argv, Err *e) {
    const char *kind = NULL, *out = NULL, *edits_s = NULL;
    long count = -1, refs = 1, w = 256, h = 256, seed = 42;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
        if (i + 1 >= argc) return err_setc(e, EXIT_USAGE, "make-dataset: '%s' needs a value (or is unknown)\n%s", a, USAGE);
        const char *v = argv[++i];
        if (!strcmp(a, "--kind")) kind = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--edits")) edits_s = v;
        else if (!strcmp(a, "--count")) { if (parse_int(v, a, 1, 1000000, &count, e)) return -1; }
        else if (!strcmp(a, "--references")) { if (parse_int(v, a, 1, 3, &refs, e)) return -1; }
        else if (!strcmp(a, "--seed")) { if (parse_int(v, a, 0, 0x7fffffffL, &seed, e)) return -1; }
        else if (!strcmp(a, "--size")) {
            if (sscanf(v, "%ldx%ld", &w, &h) != 2 || w < 16 || h < 16 || w > 4096 || h > 4096 || w % 16 || h % 16)
                return err_setc(e, EXIT_USAGE, "make-dataset: --size expects WxH with multiples of 16 between 16 and 4096, got '%s'", v);
        } else return err_setc(e, EXIT_USAGE, "make-dataset: unknown option '%s'\n%s", a, USAGE);
    }
    if (!kind || strcmp(kind, "edit-pairs"))
        return err_setc(e, EXIT_USAGE, "make-dataset: --kind must be 'edit-pairs' (got '%s')", kind ? kind : "nothing");
    if (!out) return err_setc(e, EXIT_USAGE, "make-dataset: --out DIR is required\n%s", USAGE);
    if (count < 0) return err_setc(e, EXIT_USAGE, "make-dataset: --count N is required\n%s", USAGE);

    unsigned edits = refs >= 2 ? SYNTH_EDIT_BIT(SYNTH_COMPOSE) : SYNTH_EDITS_DEFAULT;
    if (edits_s && synth_edits_parse(edits_s, &edits, e)) return -1;
    const unsigned compose = SYNTH_EDIT_BIT(SYNTH_COMPOSE);
    if (refs >= 2 && edits != compose)
        return err_setc(e, EXIT_USAGE, "make-dataset: --references %ld goes with --edits compose (the only edit that uses "
                                       "more than one reference)", refs);
    if (refs == 1 && (edits & compose))
        return err_setc(e, EXIT_USAGE, "make-dataset: --edits compose needs --references 2 or 3 (Picture 2 is the object to add)");
    if (synth_dataset_write(out, count, (int)refs, edits, (int)w, (int)h, (uint64_t)seed, e)) return -1;
    printf("wrote %ld edit pairs (%ldx%ld, %ld reference%s) to %s\n", count, w, h, refs, refs > 1 ? "s" : "", out);
    return 0;
}
