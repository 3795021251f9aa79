/* SPDX-License-Identifier: ISC */
/* SCRAM server side (RFC 5802, RFC 7677, SHA-512), pure: the c2s stream drives it step by step. */
#ifndef ST_XMPP_SCRAM_H
#define ST_XMPP_SCRAM_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp/sasl.h"

enum st_scram_hash { ST_SCRAM_SHA1, ST_SCRAM_SHA256, ST_SCRAM_SHA512 };

/* The hash's name as written in mechanism names: "SHA-1", "SHA-256", "SHA-512". */
const char *st_scram_hash_name(enum st_scram_hash hash);
/* Output length of the hash in bytes (20, 32, 64): the length of every key and proof. */
size_t st_scram_hash_len(enum st_scram_hash hash);
/* The hash a SCRAM mechanism (plain or -PLUS) uses; mech must be a SCRAM one. */
enum st_scram_hash st_scram_hash_of_mech(enum st_sasl_mech mech);

#define ST_SCRAM_MAX_KEY 64
#define ST_SCRAM_MAX_SALT 64
/* Salt length st_scram_derive generates, and the length of the fake salts of unknown users. */
#define ST_SCRAM_SALT_LEN 16
/* Iteration count for new keys when the configuration says nothing. Logins cost the server only
   a few HMACs whatever the count: the count burdens the client and an attacker holding the keys. */
#define ST_SCRAM_DEFAULT_ITERATIONS 10000
/* Bounds st_scram_derive accepts (and st_scram_server_first expects of stored keys). */
#define ST_SCRAM_MIN_ITERATIONS 1
#define ST_SCRAM_MAX_ITERATIONS 10000000

/* What an account stores instead of its password. */
struct st_scram_keys {
    enum st_scram_hash hash;
    unsigned iterations;
    unsigned char salt[ST_SCRAM_MAX_SALT];
    size_t salt_len;
    unsigned char stored_key[ST_SCRAM_MAX_KEY], server_key[ST_SCRAM_MAX_KEY];
    size_t key_len; /* == st_scram_hash_len(hash) */
};

/* Derives the stored keys from an already-prepared (PRECIS OpaqueString) password. CPU-heavy:
   callers run it on a worker thread (it touches no shared state). salt NULL = generate
   ST_SCRAM_SALT_LEN random bytes; otherwise 1..ST_SCRAM_MAX_SALT bytes. iterations must lie in
   [ST_SCRAM_MIN_ITERATIONS, ST_SCRAM_MAX_ITERATIONS] and the password be non-empty.
   Returns 0, or -1 (bad arguments or a crypto failure) with *keys_r zeroed. */
int st_scram_derive(enum st_scram_hash hash, const char *password, const unsigned char *salt,
                    size_t salt_len, unsigned iterations, struct st_scram_keys *keys_r);

/* Iteration count announced for unknown users, so they look like real ones: set it to the count
   new accounts get. Default ST_SCRAM_DEFAULT_ITERATIONS. Loop thread only. */
void st_scram_set_fake_iterations(unsigned iterations);

/* Channel-binding data the TLS layer offers for this connection (filled by
   st_tls_channel_binding after the handshake). */
struct st_channel_binding {
    bool have_exporter; /* tls-exporter, RFC 9266 */
    unsigned char exporter[32];
    bool have_endpoint; /* tls-server-end-point, RFC 5929 */
    unsigned char endpoint[64];
    size_t endpoint_len;
};

/* Longest client message (after base64 decoding) the server accepts. */
#define ST_SCRAM_MAX_MESSAGE 4096
/* Longest username or authzid (after saslname decoding), and longest client nonce, in bytes. */
#define ST_SCRAM_MAX_NAME 1023
#define ST_SCRAM_MAX_NONCE 256

struct st_scram_server;

/* One SCRAM exchange. plus: the client chose the -PLUS mechanism. cb: the channel bindings of the
   connection (copied), NULL when not on TLS. server_offers_plus: we advertised a -PLUS mechanism
   (so a client answering 'y' has been downgraded). Never NULL. */
struct st_scram_server *st_scram_server_new(enum st_scram_hash hash, bool plus,
                                            const struct st_channel_binding *cb,
                                            bool server_offers_plus);

/* Parses client-first (the decoded <auth/> payload). On success returns 0; *authcid_r points at the
   saslname-decoded, not yet prepared username and *authzid_r at the authzid or NULL, both valid
   while the object lives. The caller prepares the name (st_jid_prep_local), checks the authzid
   and looks the keys up asynchronously, then calls st_scram_server_first.
   On failure returns -1 with *err_r: malformed-request (syntax, reserved "m=", an extension, a
   gs2 flag that does not fit the mechanism: 'p' without -PLUS, 'n'/'y' with -PLUS, a bad cb-name),
   invalid-authzid (an "a=" that does not decode to a valid name), not-authorized ('y' while we
   offer -PLUS, i.e. a downgrade; a channel-binding type that is not available on this connection),
   encryption-required (-PLUS without TLS). Must be called exactly once, first. */
int st_scram_server_client_first(struct st_scram_server *s, const char *msg, size_t len,
                                 const char **authcid_r, const char **authzid_r,
                                 enum st_sasl_error *err_r);

/* Optional, between client-first and server-first: the prepared form of the username. An unknown
   user's fake salt is derived from it, so every spelling that prepares to the same name gets the
   same salt, as it would for a real account. Without it the raw authcid is used. */
void st_scram_server_set_prepared_name(struct st_scram_server *s, const char *prepared);

/* Builds server-first (malloc'd, "r=...,s=...,i=...") from the account's keys, whose hash must be
   the exchange's. keys NULL = unknown user: the exchange goes on with a fake, deterministic salt
   (HMAC of a per-process random secret and the username) and the fake iteration count, so nothing
   reveals which accounts exist; the final step then fails with not-authorized. Call once, after a
   successful st_scram_server_client_first. */
char *st_scram_server_first(struct st_scram_server *s, const struct st_scram_keys *keys);

/* Verifies client-final: "c=" must be the base64 of exactly the gs2 header (+ the channel-binding
   data for p=), the nonce must be the combined one, no extension, the proof last, of the hash's
   length, compared in constant time. Returns server-final "v=..." (malloc'd; send it as the
   <success/> data) or NULL with *err_r: malformed-request (syntax, proof length),
   incorrect-encoding (bad base64 in c= or p=), not-authorized (channel-binding or nonce mismatch,
   wrong password, unknown user). Call once, after st_scram_server_first. */
char *st_scram_server_final(struct st_scram_server *s, const char *msg, size_t len,
                            enum st_sasl_error *err_r);

/* Frees the exchange, zeroing every secret; clears *sp. NULL-safe. */
void st_scram_server_free(struct st_scram_server **sp);

/* Test hook, for the RFC vectors only: fixes the server's part of the nonce (printable, no ',')
   instead of drawing it from the CSPRNG. Call before st_scram_server_first. */
void st_scram_server_set_nonce_for_test(struct st_scram_server *s, const char *server_nonce);

#endif
