/* SPDX-License-Identifier: ISC */
/* Client-to-server streams: negotiation (STARTTLS, SASL, bind) and the bound session's I/O. */
#ifndef ST_CORE_C2S_H
#define ST_CORE_C2S_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct st_config;
struct st_tls_server;

/* Takes the settings (limits, TLS policy) of a configuration generation; also on reload. */
void st_c2s_configure(const struct st_config *cfg, struct st_tls_server *tls);
/* A new accepted connection; takes ownership of fd. */
void st_c2s_accept(int fd, const struct sockaddr *addr, socklen_t addrlen, bool direct_tls);
/* Ends every stream with system-shutdown (graceful: closing tags are flushed); returns how many
   connections are still open. */
size_t st_c2s_shutdown_all(void);
/* Cuts every remaining connection at once (at exit, after the graceful phase). */
void st_c2s_close_all_now(void);
/* Number of open client connections (any state). */
size_t st_c2s_connections(void);
/* Frees the module state (rate-limit tables) at exit. */
void st_c2s_cleanup(void);

#endif
