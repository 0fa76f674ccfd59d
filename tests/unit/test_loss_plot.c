/* test_loss_plot.c — the loss log reader (one entry per step, the newest line of a step wins as
 * after a resume, bad lines named), the curve drawing, and the progress line's durations. */
#include "test_util.h"
#include "base/error.h"
#include "base/files.h"
#include "image/image_io.h"
#include "train/loss_plot.h"
#include "image/sheet.h"
#include "pipeline/progress.h"
#include <unistd.h>

static int count_color(const Image *im, uint8_t r, uint8_t g, uint8_t b) {
    int n = 0;
    for (size_t i = 0; i < (size_t)im->width * im->height; i++)
        n += im->data[3 * i] == r && im->data[3 * i + 1] == g && im->data[3 * i + 2] == b;
    return n;
}

static void test_read_dedups_resumed_steps(void **state) {
    (void)state;
    char *d = tmpdir_make(), *p = xasprintf("%s/training_log.jsonl", d), *png = xasprintf("%s/loss_curve.png", d);
    /* steps 1..6, then a resume from step 4 logs 5..8 again */
    write_text(p, "{\"step\": 1, \"loss\": 1.0, \"lr\": 0.1}\n{\"step\": 2, \"loss\": 0.9}\n{\"step\": 3, \"loss\": 0.8}\n"
                  "{\"step\": 4, \"loss\": 0.7}\n{\"step\": 5, \"loss\": 0.6}\n{\"step\": 6, \"loss\": 0.5}\n"
                  "{\"step\": 5, \"loss\": 0.65}\n{\"step\": 6, \"loss\": 0.55}\n{\"step\": 7, \"loss\": 0.45}\n{\"step\": 8, \"loss\": 0.4}\n");
    int64_t *steps; double *losses; int n; Err e = {0};
    if (loss_log_read(p, &steps, &losses, &n, &e)) fail_msg("%s", e.msg);
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++) assert_int_equal(steps[i], i + 1);
    assert_true(losses[4] == 0.65 && losses[5] == 0.55 && losses[7] == 0.4);
    free(steps); free(losses);
    if (loss_plot_write(p, png, &e)) fail_msg("%s", e.msg);
    Image im;
    if (image_read(png, &im, &e)) fail_msg("%s", e.msg);
    assert_int_equal(im.width, 800); assert_int_equal(im.height, 400);
    assert_true(count_color(&im, 20, 60, 160) > 100);    /* the moving average is drawn */
    assert_true(count_color(&im, 255, 255, 255) > 800 * 400 / 2);
    image_free(&im);
    /* a line that is not a loss record is named with its line number */
    write_text(p, "{\"step\": 1, \"loss\": 1.0}\nnot json\n");
    Err e2 = {0};
    assert_int_not_equal(loss_log_read(p, &steps, &losses, &n, &e2), 0);
    assert_contains(e2.msg, "training_log.jsonl:2");
    /* an empty log (a run stopped before its first step) reads as no entries and draws nothing
     * (it once sorted a NULL array: UBSan under SANITIZE=1) */
    write_text(p, "");
    if (loss_log_read(p, &steps, &losses, &n, &e)) fail_msg("%s", e.msg);
    assert_int_equal(n, 0);
    free(steps); free(losses);
    unlink(png);
    if (loss_plot_write(p, png, &e)) fail_msg("%s", e.msg);
    assert_false(file_exists(png));
    free(p); free(png);
    tmpdir_remove(d);
}

/* The axes are named: "loss" above the loss labels, "optimizer step" centred under the step labels
 * (the strip below them is blank without it). */
static void test_axes_are_named(void **state) {
    (void)state;
    int64_t steps[10]; double losses[10];
    for (int i = 0; i < 10; i++) { steps[i] = i + 1; losses[i] = 1.0 / (i + 1); }
    const int W = 800, H = 400, left = 64, right = W - 16, bottom = H - 28;
    Image im = loss_plot_render(steps, losses, 10, W, H);
    int under = 0, beside = 0;
    for (int y = bottom + 18; y < bottom + 25; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *p = im.data + ((size_t)y * W + x) * 3;
            if (p[0] == 30 && p[1] == 30 && p[2] == 30) {
                under++;
                int mid = left + (right - left) / 2, half = text_width("optimizer step", 1) / 2 + 2;
                assert_true(x >= mid - half && x <= mid + half);   /* centred under the axis */
            }
        }
    for (int y = 16; y < 23; y++)
        for (int x = 6; x < 6 + text_width("loss", 1); x++) {
            const uint8_t *p = im.data + ((size_t)y * W + x) * 3;
            beside += p[0] == 30 && p[1] == 30 && p[2] == 30;
        }
    assert_true(under > 40);
    assert_true(beside > 15);
    image_free(&im);
}

static void test_render_is_monotone_in_loss(void **state) {
    (void)state;
    /* a falling loss ends lower on the image (larger y) than it starts */
    int64_t steps[50]; double losses[50];
    for (int i = 0; i < 50; i++) { steps[i] = i + 1; losses[i] = 2.0 - i * 0.03; }
    Image im = loss_plot_render(steps, losses, 50, 400, 200);
    int first_y = -1, last_y = -1;
    for (int y = 0; y < im.height; y++) {
        const uint8_t *a = im.data + ((size_t)y * im.width + 66) * 3, *b = im.data + ((size_t)y * im.width + 380) * 3;
        if (first_y < 0 && a[0] == 20 && a[1] == 60 && a[2] == 160) first_y = y;
        if (last_y < 0 && b[0] == 20 && b[1] == 60 && b[2] == 160) last_y = y;
    }
    assert_true(first_y >= 0 && last_y >= 0);
    assert_true(last_y > first_y + 50);
    image_free(&im);
}

static void test_durations(void **state) {
    (void)state;
    char b[32];
    progress_format_duration(3.4, b, sizeof b); assert_string_equal(b, "3s");
    progress_format_duration(125, b, sizeof b); assert_string_equal(b, "2m05s");
    progress_format_duration(3723, b, sizeof b); assert_string_equal(b, "1h02m03s");
    progress_format_duration(-1, b, sizeof b); assert_string_equal(b, "0s");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_dedups_resumed_steps),
        cmocka_unit_test(test_render_is_monotone_in_loss),
        cmocka_unit_test(test_axes_are_named),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
