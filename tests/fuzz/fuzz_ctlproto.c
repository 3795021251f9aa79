/* SPDX-License-Identifier: ISC */
/* libFuzzer target for the control socket decoders: refuse or decode, never overrun; re-encode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctlproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used = 0;
    const char *why = NULL;
    struct st_ctl_request req;
    enum st_ctl_status st = st_ctl_request_decode(data, size, &req, &used, &why);
    if (st == ST_CTL_OK) {
        /* A decoded request encodes back to the very same frame. */
        check(used <= size && req.argc >= 1 && req.argc <= ST_CTL_MAX_ARGS);
        unsigned char *buf;
        size_t len;
        check(st_ctl_request_encode(req.argc, (const char *const *)req.argv, &buf, &len, &why) ==
              0);
        check(len == used && memcmp(buf, data, len) == 0);
        free(buf);
    } else {
        check(req.argv == NULL && (st == ST_CTL_MORE || why != NULL));
    }
    st_ctl_request_clear(&req);

    struct st_ctl_response resp;
    st = st_ctl_response_decode(data, size, &resp, &used, &why);
    if (st == ST_CTL_OK) {
        check(used <= size && resp.code >= 0 && resp.code <= 255);
        unsigned char *buf;
        size_t len;
        st_ctl_response_encode(resp.code, resp.out, resp.out_len, resp.err, resp.err_len, &buf,
                               &len);
        check(len == used && memcmp(buf, data, len) == 0);
        free(buf);
    } else {
        check(resp.out == NULL && resp.err == NULL);
    }
    st_ctl_response_clear(&resp);
    return 0;
}
