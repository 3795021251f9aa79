/* SPDX-License-Identifier: ISC */
/* Listening sockets on evconnlistener, one per configured address and port. */
#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"

struct st_listener {
    struct evconnlistener *lev;
    st_accept_cb *cb;
    void *ctx;
    unsigned port;
};

static void st_listener_accept(struct evconnlistener *lev, evutil_socket_t fd,
                               struct sockaddr *addr, int len, void *arg)
{
    struct st_listener *l = arg;
    /* XMPP writes small records and waits for answers: no Nagle delay */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    l->cb(fd, addr, (socklen_t)len, l->ctx);
}

static void st_listener_error(struct evconnlistener *lev, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    st_warn("listener: accept failed: %s", evutil_socket_error_to_string(err));
}

struct st_listener *st_listener_new(struct event_base *base, const char *address, unsigned port,
                                    st_accept_cb *cb, void *ctx, char *err, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((unsigned short)port);
        sslen = sizeof(*a4);
    } else if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((unsigned short)port);
        sslen = sizeof(*a6);
    } else {
        snprintf(err, n, "'%s' is not an IPv4 or IPv6 address", address);
        return NULL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, n, "socket: %s", strerror(errno));
        return NULL;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
        snprintf(err, n, "cannot listen on [%s]:%u: %s", address, port, strerror(errno));
        close(fd);
        return NULL;
    }
    struct st_listener *l = st_calloc(1, sizeof(*l));
    l->cb = cb;
    l->ctx = ctx;
    l->lev = evconnlistener_new(base, st_listener_accept, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024, fd);
    if (l->lev == NULL) {
        snprintf(err, n, "cannot listen on [%s]:%u: %s", address, port, strerror(errno));
        close(fd);
        free(l);
        return NULL;
    }
    evconnlistener_set_error_cb(l->lev, st_listener_error);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    return l;
}

unsigned st_listener_port(const struct st_listener *l)
{
    return l->port;
}

void st_listener_free(struct st_listener **lp)
{
    struct st_listener *l = *lp;
    if (l == NULL)
        return;
    *lp = NULL;
    evconnlistener_free(l->lev);
    free(l);
}
