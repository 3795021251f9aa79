/* SPDX-License-Identifier: ISC */
/* Unit tests for src/ctl/ctlproto.c: round trips, truncated, oversized and malformed frames. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctlproto.h"

static unsigned char *encode_req(size_t argc, const char *const *argv, size_t *len_r)
{
    unsigned char *buf = NULL;
    const char *why = NULL;
    ck_assert_int_eq(st_ctl_request_encode(argc, argv, &buf, len_r, &why), 0);
    ck_assert_ptr_null(why);
    return buf;
}

START_TEST(test_request_roundtrip)
{
    const char *argv[] = {"register", "bob", "localhost", "s3cret pass", ""};
    size_t len;
    unsigned char *buf = encode_req(5, argv, &len);
    /* header + version + kind + argc + 5 length prefixes + bytes */
    ck_assert_uint_eq(len, 4 + 2 + 4 + 5 * 4 + 8 + 3 + 9 + 11 + 0);
    struct st_ctl_request req;
    size_t used = 0;
    const char *why = NULL;
    ck_assert_int_eq(st_ctl_request_decode(buf, len, &req, &used, &why), ST_CTL_OK);
    ck_assert_uint_eq(used, len);
    ck_assert_uint_eq(req.argc, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(req.argv[i], argv[i]);
    ck_assert_ptr_null(req.argv[5]);
    st_ctl_request_clear(&req);
    ck_assert_ptr_null(req.argv);
    ck_assert_uint_eq(req.argc, 0);
    st_ctl_request_clear(&req); /* twice is fine */
    free(buf);
}
END_TEST

START_TEST(test_request_followed_by_more)
{
    /* A decoder given two frames takes the first and says how much it used. */
    const char *a[] = {"status"}, *b[] = {"stop"};
    size_t la, lb;
    unsigned char *fa = encode_req(1, a, &la), *fb = encode_req(1, b, &lb);
    unsigned char *both = malloc(la + lb);
    memcpy(both, fa, la);
    memcpy(both + la, fb, lb);
    struct st_ctl_request req;
    size_t used;
    const char *why;
    ck_assert_int_eq(st_ctl_request_decode(both, la + lb, &req, &used, &why), ST_CTL_OK);
    ck_assert_uint_eq(used, la);
    ck_assert_str_eq(req.argv[0], "status");
    st_ctl_request_clear(&req);
    ck_assert_int_eq(st_ctl_request_decode(both + used, lb, &req, &used, &why), ST_CTL_OK);
    ck_assert_str_eq(req.argv[0], "stop");
    st_ctl_request_clear(&req);
    free(both);
    free(fa);
    free(fb);
}
END_TEST

START_TEST(test_request_truncated)
{
    const char *argv[] = {"change_password", "alice", "example.org", "x"};
    size_t len;
    unsigned char *buf = encode_req(4, argv, &len);
    for (size_t n = 0; n < len; n++) {
        /* A copy of exactly n bytes, so a read past the end shows under ASan. */
        unsigned char *part = malloc(n + 1);
        memcpy(part, buf, n);
        struct st_ctl_request req;
        size_t used = 12345;
        const char *why = NULL;
        ck_assert_int_eq(st_ctl_request_decode(part, n, &req, &used, &why), ST_CTL_MORE);
        ck_assert_uint_eq(used, 12345);
        ck_assert_ptr_null(req.argv);
        free(part);
    }
    free(buf);
}
END_TEST

START_TEST(test_request_limits_on_encode)
{
    const char *argv[ST_CTL_MAX_ARGS + 1];
    for (size_t i = 0; i <= ST_CTL_MAX_ARGS; i++)
        argv[i] = "a";
    unsigned char *buf = NULL;
    size_t len;
    const char *why = NULL;
    ck_assert_int_eq(st_ctl_request_encode(0, argv, &buf, &len, &why), -1);
    ck_assert_str_eq(why, "no command");
    ck_assert_int_eq(st_ctl_request_encode(ST_CTL_MAX_ARGS + 1, argv, &buf, &len, &why), -1);
    ck_assert_str_eq(why, "too many arguments");
    ck_assert_ptr_null(buf);
    /* Exactly the maximum number of arguments is fine. */
    ck_assert_int_eq(st_ctl_request_encode(ST_CTL_MAX_ARGS, argv, &buf, &len, &why), 0);
    free(buf);

    char *big = malloc(ST_CTL_MAX_REQUEST + 1);
    memset(big, 'x', ST_CTL_MAX_REQUEST);
    big[ST_CTL_MAX_REQUEST] = '\0';
    const char *two[] = {"register", big};
    buf = NULL;
    ck_assert_int_eq(st_ctl_request_encode(2, two, &buf, &len, &why), -1);
    ck_assert_str_eq(why, "arguments too long");
    ck_assert_ptr_null(buf);
    /* The largest argument that fits: payload exactly ST_CTL_MAX_REQUEST. */
    size_t fit = ST_CTL_MAX_REQUEST - (2 + 4 + 4 + 8 + 4);
    big[fit] = '\0';
    ck_assert_int_eq(st_ctl_request_encode(2, two, &buf, &len, &why), 0);
    ck_assert_uint_eq(len, ST_CTL_HEADER_SIZE + ST_CTL_MAX_REQUEST);
    struct st_ctl_request req;
    size_t used;
    ck_assert_int_eq(st_ctl_request_decode(buf, len, &req, &used, &why), ST_CTL_OK);
    ck_assert_uint_eq(strlen(req.argv[1]), fit);
    st_ctl_request_clear(&req);
    free(buf);
    free(big);
}
END_TEST

/* Builds a request payload by hand: header length, version, kind, argc, then raw bytes. */
static size_t handmade(unsigned char *out, uint32_t framelen, unsigned version, unsigned kind,
                       uint32_t argc, const void *rest, size_t restlen)
{
    st_ctl_put_u32(out, framelen);
    out[4] = (unsigned char)version;
    out[5] = (unsigned char)kind;
    st_ctl_put_u32(out + 6, argc);
    memcpy(out + 10, rest, restlen);
    return 10 + restlen;
}

static const char *decode_error(const unsigned char *buf, size_t len)
{
    struct st_ctl_request req;
    size_t used;
    const char *why = NULL;
    ck_assert_int_eq(st_ctl_request_decode(buf, len, &req, &used, &why), ST_CTL_ERROR);
    ck_assert_ptr_null(req.argv);
    ck_assert_ptr_nonnull(why);
    return why;
}

START_TEST(test_request_malformed)
{
    unsigned char buf[128];
    /* one argument "ab" */
    const unsigned char arg[] = {0, 0, 0, 2, 'a', 'b'};
    size_t n;

    /* the frame length is over the limit: refused from the header alone */
    st_ctl_put_u32(buf, ST_CTL_MAX_REQUEST + 1);
    ck_assert_str_eq(decode_error(buf, 4), "message too large");
    st_ctl_put_u32(buf, UINT32_MAX);
    ck_assert_str_eq(decode_error(buf, 4), "message too large");

    n = handmade(buf, 6 + 6, 2, 'Q', 1, arg, sizeof(arg));
    ck_assert_ptr_nonnull(strstr(decode_error(buf, n), "version"));
    n = handmade(buf, 6 + 6, ST_CTL_VERSION, 'A', 1, arg, sizeof(arg));
    ck_assert_str_eq(decode_error(buf, n), "unexpected message kind");
    n = handmade(buf, 6, ST_CTL_VERSION, 'Q', 0, "", 0);
    ck_assert_str_eq(decode_error(buf, n), "no command");
    n = handmade(buf, 6, ST_CTL_VERSION, 'Q', ST_CTL_MAX_ARGS + 1, "", 0);
    ck_assert_str_eq(decode_error(buf, n), "too many arguments");
    n = handmade(buf, 6, ST_CTL_VERSION, 'Q', UINT32_MAX, "", 0);
    ck_assert_str_eq(decode_error(buf, n), "too many arguments");
    /* argc says 2, the frame holds 1 */
    n = handmade(buf, 6 + 6, ST_CTL_VERSION, 'Q', 2, arg, sizeof(arg));
    ck_assert_str_eq(decode_error(buf, n), "truncated message");
    /* an argument longer than the frame */
    const unsigned char longarg[] = {0, 0, 0, 9, 'a', 'b'};
    n = handmade(buf, 6 + 6, ST_CTL_VERSION, 'Q', 1, longarg, sizeof(longarg));
    ck_assert_str_eq(decode_error(buf, n), "truncated message");
    const unsigned char hugearg[] = {0xff, 0xff, 0xff, 0xff, 'a', 'b'};
    n = handmade(buf, 6 + 6, ST_CTL_VERSION, 'Q', 1, hugearg, sizeof(hugearg));
    ck_assert_str_eq(decode_error(buf, n), "truncated message");
    /* bytes left over inside the frame */
    const unsigned char extra[] = {0, 0, 0, 2, 'a', 'b', 'c'};
    n = handmade(buf, 6 + 7, ST_CTL_VERSION, 'Q', 1, extra, sizeof(extra));
    ck_assert_str_eq(decode_error(buf, n), "trailing bytes after the arguments");
    /* NUL inside an argument */
    const unsigned char nul[] = {0, 0, 0, 2, 'a', '\0'};
    n = handmade(buf, 6 + 6, ST_CTL_VERSION, 'Q', 1, nul, sizeof(nul));
    ck_assert_str_eq(decode_error(buf, n), "NUL byte in an argument");
    /* a frame too short for version and kind */
    st_ctl_put_u32(buf, 1);
    buf[4] = ST_CTL_VERSION;
    ck_assert_str_eq(decode_error(buf, 5), "truncated message");
    st_ctl_put_u32(buf, 0);
    ck_assert_str_eq(decode_error(buf, 4), "truncated message");
    /* frame ends inside argc */
    st_ctl_put_u32(buf, 4);
    buf[4] = ST_CTL_VERSION;
    buf[5] = 'Q';
    buf[6] = buf[7] = 0;
    ck_assert_str_eq(decode_error(buf, 8), "truncated message");
}
END_TEST

START_TEST(test_response_roundtrip)
{
    static const char out[] = "bob\nalice\n";
    static const char err[] = "warning\n";
    unsigned char *buf;
    size_t len;
    st_ctl_response_encode(1, out, strlen(out), err, strlen(err), &buf, &len);
    ck_assert_uint_eq(len,
                      ST_CTL_HEADER_SIZE + ST_CTL_RESPONSE_OVERHEAD + strlen(out) + strlen(err));
    struct st_ctl_response resp;
    size_t used;
    const char *why = NULL;
    ck_assert_int_eq(st_ctl_response_decode(buf, len, &resp, &used, &why), ST_CTL_OK);
    ck_assert_uint_eq(used, len);
    ck_assert_int_eq(resp.code, 1);
    ck_assert_uint_eq(resp.out_len, strlen(out));
    ck_assert_str_eq(resp.out, out);
    ck_assert_str_eq(resp.err, err);
    st_ctl_response_clear(&resp);
    ck_assert_ptr_null(resp.out);
    for (size_t n = 0; n < len; n++) {
        unsigned char *part = malloc(n + 1);
        memcpy(part, buf, n);
        ck_assert_int_eq(st_ctl_response_decode(part, n, &resp, &used, &why), ST_CTL_MORE);
        free(part);
    }
    free(buf);

    /* empty texts, codes clamped to a byte */
    st_ctl_response_encode(300, NULL, 0, NULL, 0, &buf, &len);
    ck_assert_int_eq(st_ctl_response_decode(buf, len, &resp, &used, &why), ST_CTL_OK);
    ck_assert_int_eq(resp.code, 255);
    ck_assert_str_eq(resp.out, "");
    ck_assert_str_eq(resp.err, "");
    st_ctl_response_clear(&resp);
    free(buf);
    st_ctl_response_encode(-4, "x", 1, NULL, 0, &buf, &len);
    ck_assert_int_eq(st_ctl_response_decode(buf, len, &resp, &used, &why), ST_CTL_OK);
    ck_assert_int_eq(resp.code, 0);
    st_ctl_response_clear(&resp);
    free(buf);
}
END_TEST

START_TEST(test_response_prefix_matches_encode)
{
    /* The server writes prefix + out + err length + err from its own buffers: same bytes. */
    unsigned char *buf;
    size_t len;
    st_ctl_response_encode(2, "abc", 3, "de", 2, &buf, &len);
    unsigned char manual[ST_CTL_RESPONSE_PREFIX + 3 + 4 + 2];
    st_ctl_response_prefix(2, 3, 2, manual);
    memcpy(manual + ST_CTL_RESPONSE_PREFIX, "abc", 3);
    st_ctl_put_u32(manual + ST_CTL_RESPONSE_PREFIX + 3, 2);
    memcpy(manual + ST_CTL_RESPONSE_PREFIX + 7, "de", 2);
    ck_assert_uint_eq(len, sizeof(manual));
    ck_assert_mem_eq(buf, manual, len);
    free(buf);
}
END_TEST

START_TEST(test_response_malformed)
{
    unsigned char *buf;
    size_t len, used;
    struct st_ctl_response resp;
    const char *why;
    st_ctl_response_encode(0, "abc", 3, "de", 2, &buf, &len);
    /* a request decoder refuses a response and the other way round */
    struct st_ctl_request req;
    ck_assert_int_eq(st_ctl_request_decode(buf, len, &req, &used, &why), ST_CTL_ERROR);
    /* out length pointing past the frame */
    buf[ST_CTL_HEADER_SIZE + 3] = 0x7f;
    ck_assert_int_eq(st_ctl_response_decode(buf, len, &resp, &used, &why), ST_CTL_ERROR);
    ck_assert_str_eq(why, "truncated message");
    ck_assert_ptr_null(resp.out);
    ck_assert_ptr_null(resp.err);
    free(buf);
    /* over the response limit */
    unsigned char hdr[4];
    st_ctl_put_u32(hdr, ST_CTL_MAX_RESPONSE + 1);
    ck_assert_int_eq(st_ctl_response_decode(hdr, 4, &resp, &used, &why), ST_CTL_ERROR);
    ck_assert_str_eq(why, "message too large");
    /* trailing bytes inside the frame */
    st_ctl_response_encode(0, "", 0, "", 0, &buf, &len);
    buf = realloc(buf, len + 1);
    buf[len] = 'z';
    st_ctl_put_u32(buf, (uint32_t)(len + 1 - ST_CTL_HEADER_SIZE));
    ck_assert_int_eq(st_ctl_response_decode(buf, len + 1, &resp, &used, &why), ST_CTL_ERROR);
    ck_assert_str_eq(why, "trailing bytes after the answer");
    free(buf);
}
END_TEST

START_TEST(test_response_cut_to_limit)
{
    /* Texts over the limit are cut so the frame still decodes within the client's bound. */
    size_t big = ST_CTL_MAX_RESPONSE;
    char *text = malloc(big);
    memset(text, 'y', big);
    unsigned char *buf;
    size_t len, used;
    st_ctl_response_encode(0, text, big, "e", 1, &buf, &len);
    ck_assert_uint_eq(len, ST_CTL_HEADER_SIZE + ST_CTL_MAX_RESPONSE);
    struct st_ctl_response resp;
    const char *why;
    ck_assert_int_eq(st_ctl_response_decode(buf, len, &resp, &used, &why), ST_CTL_OK);
    ck_assert_uint_eq(resp.err_len, 1);
    ck_assert_uint_eq(resp.out_len, ST_CTL_MAX_RESPONSE - ST_CTL_RESPONSE_OVERHEAD - 1);
    st_ctl_response_clear(&resp);
    free(buf);
    free(text);
}
END_TEST

START_TEST(test_frame_length)
{
    unsigned char hdr[4] = {0, 0, 0, 0};
    size_t n = 7;
    const char *why = NULL;
    ck_assert_int_eq(st_ctl_frame_length(hdr, 3, 100, &n, &why), ST_CTL_MORE);
    st_ctl_put_u32(hdr, 100);
    ck_assert_int_eq(st_ctl_frame_length(hdr, 4, 100, &n, &why), ST_CTL_OK);
    ck_assert_uint_eq(n, 100);
    ck_assert_int_eq(st_ctl_frame_length(hdr, 4, 99, &n, &why), ST_CTL_ERROR);
    ck_assert_ptr_nonnull(why);
}
END_TEST

/* xorshift: deterministic pseudo-random mutations. */
static uint32_t rng_state = 0x12345678;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

START_TEST(test_mutations_never_crash)
{
    /* A small in-tree fuzz: mutated valid frames decode cleanly or are refused, never overrun
       (each input is an exact-size allocation, so ASan sees any stray read). */
    const char *argv[] = {"kick_session", "bob", "localhost", "phone", "bye now"};
    size_t rlen;
    unsigned char *req = encode_req(5, argv, &rlen);
    unsigned char *resp;
    size_t plen;
    st_ctl_response_encode(1, "some output\n", 12, "an error\n", 9, &resp, &plen);
    for (int round = 0; round < 20000; round++) {
        bool is_req = round % 2 == 0;
        const unsigned char *orig = is_req ? req : resp;
        size_t olen = is_req ? rlen : plen;
        size_t len = olen - (rng() % 3 == 0 ? rng() % olen : 0);
        unsigned char *m = malloc(len + 1);
        memcpy(m, orig, len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips && len > 0; f++)
            m[rng() % len] = (unsigned char)rng();
        size_t used = 0;
        const char *why = NULL;
        if (is_req) {
            struct st_ctl_request r;
            enum st_ctl_status st = st_ctl_request_decode(m, len, &r, &used, &why);
            if (st == ST_CTL_OK) {
                ck_assert_uint_le(used, len);
                ck_assert(r.argc >= 1 && r.argc <= ST_CTL_MAX_ARGS);
                for (size_t i = 0; i < r.argc; i++)
                    ck_assert_ptr_nonnull(r.argv[i]);
                ck_assert_ptr_null(r.argv[r.argc]);
            } else {
                ck_assert_ptr_null(r.argv);
                if (st == ST_CTL_ERROR)
                    ck_assert_ptr_nonnull(why);
            }
            st_ctl_request_clear(&r);
        } else {
            struct st_ctl_response r;
            enum st_ctl_status st = st_ctl_response_decode(m, len, &r, &used, &why);
            if (st == ST_CTL_OK) {
                ck_assert_uint_le(used, len);
                ck_assert(r.code >= 0 && r.code <= 255);
                ck_assert_uint_eq(strlen(r.out) <= r.out_len, 1);
            } else {
                ck_assert_ptr_null(r.out);
            }
            st_ctl_response_clear(&r);
        }
        free(m);
    }
    free(req);
    free(resp);
}
END_TEST

static Suite *ctlproto_suite(void)
{
    Suite *s = suite_create("ctlproto");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_request_roundtrip);
    tcase_add_test(tc, test_request_followed_by_more);
    tcase_add_test(tc, test_request_truncated);
    tcase_add_test(tc, test_request_limits_on_encode);
    tcase_add_test(tc, test_request_malformed);
    tcase_add_test(tc, test_response_roundtrip);
    tcase_add_test(tc, test_response_prefix_matches_encode);
    tcase_add_test(tc, test_response_malformed);
    tcase_add_test(tc, test_response_cut_to_limit);
    tcase_add_test(tc, test_frame_length);
    tcase_add_test(tc, test_mutations_never_crash);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ctlproto_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
