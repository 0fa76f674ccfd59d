/* test_latent_pack.c — the 2x2 packing index map (token r*(w/2)+c, feature ch*4 + dy*2 + dx),
 * the exact round trip, and the error on odd sizes. */
#include "test_util.h"
#include "models/latent_pack.h"
#include "base/rng.h"

static void test_pack_index_map(void **state) {
    (void)state;
    enum { C = 2, H = 4, W = 6 };
    float z[C * H * W], tok[C * H * W];
    for (int i = 0; i < C * H * W; i++) z[i] = (float)i;
    Err e = {0};
    assert_int_equal(latent_pack(z, C, H, W, tok, &e), 0);
    /* token 0 = patch (0,0): ch0 (0,0) (0,1) (1,0) (1,1), then ch1 */
    float want0[8] = { 0, 1, 6, 7, 24, 25, 30, 31 };
    for (int f = 0; f < 8; f++) assert_float_equal(tok[f], want0[f], 0);
    /* token 4 = patch row 1, column 1 (W/2 = 3 patches per row): ch1, dy 1, dx 0 -> z[1][3][2] */
    assert_float_equal(tok[4 * 8 + 1 * 4 + 2], z[(1 * H + 3) * W + 2], 0);
    /* last token, last feature = last latent element */
    assert_float_equal(tok[C * H * W - 1], z[C * H * W - 1], 0);
}

static void test_pack_round_trip(void **state) {
    (void)state;
    enum { C = 16, H = 10, W = 14 };
    static float z[C * H * W], tok[C * H * W], back[C * H * W];
    Rng r; rng_seed(&r, 7);
    rng_fill_normal(&r, z, C * H * W, 0, 1);
    Err e = {0};
    assert_int_equal(latent_pack(z, C, H, W, tok, &e), 0);
    assert_int_equal(latent_unpack(tok, C, H, W, back, &e), 0);
    assert_memory_equal(z, back, sizeof z);
    /* packing is a permutation: every value appears once */
    double sz = 0, st = 0;
    for (int i = 0; i < C * H * W; i++) { sz += z[i]; st += tok[i]; }
    assert_float_equal(sz, st, 1e-3);
}

static void test_pack_rejects_odd(void **state) {
    (void)state;
    float z[3 * 4] = {0}, t[3 * 4] = {0};
    Err e = {0};
    assert_int_equal(latent_pack(z, 1, 3, 4, t, &e), -1);
    assert_contains(e.msg, "even height and width");
    assert_int_equal(latent_unpack(t, 1, 4, 3, z, &e), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_index_map),
        cmocka_unit_test(test_pack_round_trip),
        cmocka_unit_test(test_pack_rejects_odd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
