/* SPDX-License-Identifier: ISC */
/* Listening sockets (IPv4 and IPv6) handing accepted connections to a callback. */
#ifndef ST_NET_LISTENER_H
#define ST_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct st_listener;

typedef void st_accept_cb(int fd, const struct sockaddr *addr, socklen_t addrlen, void *ctx);

/* Binds address:port (an IPv4 or IPv6 literal; IPv6 sockets are IPv6-only so both families can be
   listed side by side) and calls cb for each accepted, non-blocking socket. NULL with err. */
struct st_listener *st_listener_new(struct event_base *base, const char *address, unsigned port,
                                    st_accept_cb *cb, void *ctx, char *err, size_t n);
/* The port actually bound (useful with port 0). */
unsigned st_listener_port(const struct st_listener *l);
void st_listener_free(struct st_listener **l);

#endif
