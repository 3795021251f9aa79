/* SPDX-License-Identifier: ISC */
/* libFuzzer target: SCRAM client-first/client-final pairs, PLAIN messages, strict base64. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "xmpp/sasl.h"
#include "xmpp/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys for "user", one per hash, derived once with a single iteration to keep runs fast. */
static struct st_scram_keys fuzz_keys[3];
static bool fuzz_keys_ready;

static void fuzz_init(void)
{
    if (fuzz_keys_ready)
        return;
    for (int h = ST_SCRAM_SHA1; h <= ST_SCRAM_SHA512; h++) {
        if (st_scram_derive((enum st_scram_hash)h, "pencil", (const unsigned char *)"salt", 4, 1,
                            &fuzz_keys[h]) != 0)
            abort();
    }
    st_scram_set_fake_iterations(1);
    fuzz_keys_ready = true;
}

/* Layout: flags, 2 bytes of client-first length (little endian), client-first, client-final.
   flags: bits 0-1 hash, 2 -PLUS, 3 on TLS, 4 exporter, 5 endpoint, 6 we offer -PLUS,
   7 the user exists. The server nonce is fixed so inputs can reach the proof check. */
static void fuzz_scram(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    uint8_t flags = data[0];
    size_t first_len = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (first_len > size)
        first_len = size;
    enum st_scram_hash hash = (enum st_scram_hash)((flags & 3) % 3);
    struct st_channel_binding cb = {
        .have_exporter = (flags & 0x10) != 0,
        .exporter = "0123456789abcdef0123456789abcdef",
        .have_endpoint = (flags & 0x20) != 0,
        .endpoint = "0123456789abcdef0123456789abcdef",
        .endpoint_len = 32,
    };
    struct st_scram_server *s =
        st_scram_server_new(hash, (flags & 4) != 0, (flags & 8) ? &cb : NULL, (flags & 0x40) != 0);
    st_scram_server_set_nonce_for_test(s, "SNONCE");
    const char *cid, *zid;
    enum st_sasl_error err;
    if (st_scram_server_client_first(s, (const char *)data, first_len, &cid, &zid, &err) == 0) {
        if (strlen(cid) == 0 || (zid != NULL && strlen(zid) == 0))
            abort(); /* contract: non-empty names */
        char *sf = st_scram_server_first(s, (flags & 0x80) ? &fuzz_keys[hash] : NULL);
        char *v = st_scram_server_final(s, (const char *)data + first_len, size - first_len, &err);
        if (v == NULL && (unsigned)err >= ST_SASL_ERR_COUNT)
            abort();
        free(v);
        free(sf);
    } else if ((unsigned)err >= ST_SASL_ERR_COUNT) {
        abort();
    }
    st_scram_server_free(&s);
}

static void fuzz_plain(const uint8_t *data, size_t size)
{
    char *zid, *cid, *pw;
    enum st_sasl_error err;
    if (st_sasl_plain_parse((const char *)data, size, &zid, &cid, &pw, &err) == 0) {
        free(zid);
        free(cid);
        free(pw);
    }
}

static void fuzz_base64(const uint8_t *data, size_t size)
{
    unsigned char *out;
    size_t n;
    if (st_base64_decode((const char *)data, size, &out, &n) != 0)
        return;
    /* a strict decoder is a bijection: encoding gives back the input ("=" aside) */
    char *again = st_base64_encode(out, n);
    if (!(size == 1 && data[0] == '=') && (strlen(again) != size || memcmp(again, data, size) != 0))
        abort();
    free(again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    fuzz_scram(data, size);
    fuzz_plain(data, size);
    fuzz_base64(data, size);
    return 0;
}
