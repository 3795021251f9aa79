/* SPDX-License-Identifier: ISC */
/* TLS server contexts (OpenSSL 3): per-host certificates, SNI, channel bindings, self-signing. */
#ifndef ST_NET_TLS_H
#define ST_NET_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "xmpp/scram.h" /* struct st_channel_binding */

struct st_tls_ctx;
struct st_tls_server;

/* A server context for one certificate chain and key (PEM files). TLS 1.2 minimum, no
   renegotiation, no compression, server cipher preference, forward-secret AEAD suites only,
   buffers released while a connection is idle, no session tickets and no session cache (nothing
   to share between processes or to rotate). The key must match the certificate. NULL on error,
   with a message naming the file in err (n bytes). */
struct st_tls_ctx *st_tls_ctx_new(const char *cert_file, const char *key_file, char *err, size_t n);
/* The OpenSSL context, borrowed (e.g. to add ALPN). */
SSL_CTX *st_tls_ctx_peek(struct st_tls_ctx *ctx);
/* Frees a context not handed to a server; clears *ctxp. NULL-safe. */
void st_tls_ctx_free(struct st_tls_ctx **ctxp);

/* An SNI dispatcher: host name → context. Never NULL. */
struct st_tls_server *st_tls_server_new(void);
/* Adds a host (matched case-insensitively, a trailing '.' ignored) and takes ownership of ctx,
   also on failure. -1 when the host is already there or the name is empty. */
int st_tls_server_add(struct st_tls_server *srv, const char *host, struct st_tls_ctx *ctx);
/* A server-side SSL for a new connection, on default_host's context (the first host added when
   default_host is NULL or unknown). During the handshake the SNI callback switches it to the
   context of the name the client asked for; an unknown name keeps the default. The SSL holds a
   reference on srv, so srv may be freed (e.g. on reload) while connections still use it.
   NULL when srv has no host or OpenSSL fails. */
SSL *st_tls_server_new_ssl(struct st_tls_server *srv, const char *default_host);
/* The server name the client sent (SNI), or NULL. Borrowed from ssl. */
const char *st_tls_sni_host(SSL *ssl);
/* Drops the caller's reference (SSLs made from it keep theirs); clears *srvp. NULL-safe. */
void st_tls_server_free(struct st_tls_server **srvp);

/* Fills the channel-binding data of a finished handshake: tls-exporter (RFC 9266: label
   "EXPORTER-Channel-Binding", empty context, 32 bytes; only on TLS 1.3, or TLS 1.2 with the
   extended master secret, where the exporter is unique to the connection) and
   tls-server-end-point (RFC 5929: hash of our certificate, SHA-256 when its signature digest is
   MD5 or SHA-1, else that digest; absent for signatures without a digest such as Ed25519). */
void st_tls_channel_binding(SSL *ssl, struct st_channel_binding *cb_r);

/* Writes a self-signed certificate (EC P-256, SHA-256, CN and SAN = host, 10 years, serverAuth)
   and its key to PEM files, the key with mode 0600. host may be an IDN (converted to its A-label).
   For `starlingctl gencert` and the quick start. 0, or -1 with a message in err (n bytes). */
int st_tls_make_self_signed(const char *host, const char *cert_path, const char *key_path,
                            char *err, size_t n);

#endif
