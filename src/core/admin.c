/* SPDX-License-Identifier: ISC */
/* The admin commands behind starlingctl: one handler per row of the table in ctl/commands.c. */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <unistr.h>

#include <starling/api.h>
#include <starling/jid.h>
#include <starling/stanza.h>

#include "core/accounts.h"
#include "core/config.h"
#include "core/control.h"
#include "core/host.h"
#include "core/server.h"
#include "core/sm.h"
#include "core/storage.h"
#include "ctl/commands.h"
#include "ctl/ctlproto.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/strbuf.h"
#include "xml/stream.h"
#include "xmpp/precis.h"

/* the vCard storage of the vcard module (modules/ is not on the include path) */
#include "modules/vcard/vcard_field.h"
#include "modules/vcard/vcard_store.h"
/* the roster storage and pushes of the roster module */
#include "modules/roster/roster_admin.h"

/* The node name ejabberdctl prints: "starling@<hostname>". */
static const char *node_name(void)
{
    static char node[300];
    if (node[0] == '\0') {
        char host[256];
        if (gethostname(host, sizeof(host)) != 0)
            strcpy(host, "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(node, sizeof(node), "starling@%s", host);
    }
    return node;
}

static unsigned scram_iterations(void)
{
    long long n = st_server->config->limits.scram_iterations;
    return n > 0 ? (unsigned)n : 4096;
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- arguments ---- */

/* An account named on the command line, prepared; the password (if any) too. */
struct account {
    char *user, *host, *password;
};

static void account_clear(struct account *a)
{
    st_free(&a->user);
    st_free(&a->host);
    if (a->password != NULL) {
        st_memzero(a->password, strlen(a->password));
        st_free(&a->password);
    }
}

/* Prepares a served host name. On error, says why on r and returns NULL. */
static char *prep_host(struct st_ctl_reply *r, const char *raw)
{
    char *host;
    if (st_jid_prep_domain(raw, strlen(raw), &host) != 0) {
        st_ctl_reply_eprintf(r, "invalid host name '%s'\n", raw);
        return NULL;
    }
    if (st_server_host(host) == NULL) {
        st_ctl_reply_eprintf(r, "unknown host '%s'\n", raw);
        st_free(&host);
        return NULL;
    }
    return host;
}

/* Prepares USER HOST [PASSWORD] into a; on error finishes r (exit 1) and returns false. */
static bool prep_account(struct st_ctl_reply *r, const char *user, const char *host,
                         const char *password, struct account *a)
{
    memset(a, 0, sizeof(*a));
    if (st_jid_prep_local(user, strlen(user), &a->user) != 0) {
        st_ctl_reply_eprintf(r, "invalid user name '%s'\n", user);
        goto fail;
    }
    if ((a->host = prep_host(r, host)) == NULL)
        goto fail;
    if (password != NULL &&
        st_precis_opaque_string(password, strlen(password), &a->password) != 0) {
        /* The password itself is never echoed. */
        st_ctl_reply_eprintf(r, "invalid password: empty, or a character not allowed\n");
        goto fail;
    }
    return true;
fail:
    account_clear(a);
    st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
    return false;
}

/* An asynchronous account request: the reply and the prepared names outlive the handler. */
struct pending {
    struct st_ctl_reply *reply;
    struct account acct;
};

static struct pending *pending_new(struct st_ctl_reply *r, struct account *a)
{
    struct pending *p = st_calloc(1, sizeof(*p));
    p->reply = r;
    p->acct = *a;
    memset(a, 0, sizeof(*a));
    return p;
}

/* Finishes the reply and frees the request. */
static void pending_finish(struct pending **pp, int code)
{
    struct pending *p = *pp;
    st_ctl_reply_finish(p->reply, code);
    account_clear(&p->acct);
    st_free(pp);
}

/* ---- accounts ---- */

/* Tells the host's modules that an account came or went ("user-created", "user-deleted"), so
   they can set up or remove what they keep for it. ev.extra is the prepared username. */
static void fire_user_event(const char *event, const struct account *a)
{
    struct st_host *h = st_server_host(a->host);
    if (h == NULL)
        return; /* removed by a reload meanwhile */
    struct st_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.name = event;
    ev.host = h;
    ev.extra = a->user;
    st_host_fire(h, event, &ev);
}

static void register_done(void *ctx, const char *err)
{
    struct pending *p = ctx;
    if (err == NULL) {
        st_info("admin: registered %s@%s", p->acct.user, p->acct.host);
        fire_user_event("user-created", &p->acct);
        st_ctl_reply_printf(p->reply, "User %s@%s successfully registered\n", p->acct.user,
                            p->acct.host);
        pending_finish(&p, ST_CTL_EXIT_OK);
    } else if (strcmp(err, ST_ACCOUNTS_ERR_EXISTS) == 0) {
        st_ctl_reply_eprintf(p->reply, "User %s@%s already registered\n", p->acct.user,
                             p->acct.host);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
    } else {
        st_ctl_reply_eprintf(p->reply, "Cannot register %s@%s: %s\n", p->acct.user, p->acct.host,
                             err);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
    }
}

static void cmd_register(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], args[2], &a))
        return;
    struct pending *p = pending_new(r, &a);
    st_accounts_create(st_server->store, st_server->workers, p->acct.host, p->acct.user,
                       p->acct.password, scram_iterations(), register_done, p);
}

/* Collects the sessions of one user, so they can be ended outside the walk. */
struct session_list {
    struct st_session **items;
    size_t count;
};

static void collect_session(struct st_session *s, void *ctx)
{
    struct session_list *l = ctx;
    l->items = st_realloc(l->items, (l->count + 1) * sizeof(*l->items));
    l->items[l->count++] = s;
}

static void unregister_done(void *ctx, const char *err)
{
    struct pending *p = ctx;
    if (err == NULL) {
        st_info("admin: unregistered %s@%s", p->acct.user, p->acct.host);
        /* An account that no longer exists keeps no session. */
        struct session_list l = {NULL, 0};
        st_sm_foreach_user(p->acct.host, p->acct.user, collect_session, &l);
        for (size_t i = 0; i < l.count; i++)
            st_session_kick(l.items[i], "account deleted");
        st_free(&l.items);
        fire_user_event("user-deleted", &p->acct);
        pending_finish(&p, ST_CTL_EXIT_OK);
    } else if (strcmp(err, ST_ACCOUNTS_ERR_NOT_FOUND) == 0) {
        st_ctl_reply_eprintf(p->reply, "User %s@%s does not exist\n", p->acct.user, p->acct.host);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
    } else {
        st_ctl_reply_eprintf(p->reply, "Cannot unregister %s@%s: %s\n", p->acct.user, p->acct.host,
                             err);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
    }
}

static void cmd_unregister(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], NULL, &a))
        return;
    struct pending *p = pending_new(r, &a);
    st_accounts_delete(st_server->store, p->acct.host, p->acct.user, unregister_done, p);
}

static void change_password_done(void *ctx, const char *err)
{
    struct pending *p = ctx;
    if (err == NULL) {
        st_info("admin: changed the password of %s@%s", p->acct.user, p->acct.host);
        pending_finish(&p, ST_CTL_EXIT_OK);
    } else if (strcmp(err, ST_ACCOUNTS_ERR_NOT_FOUND) == 0) {
        st_ctl_reply_eprintf(p->reply, "User %s@%s does not exist\n", p->acct.user, p->acct.host);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
    } else {
        st_ctl_reply_eprintf(p->reply, "Cannot change the password of %s@%s: %s\n", p->acct.user,
                             p->acct.host, err);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
    }
}

static void cmd_change_password(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], args[2], &a))
        return;
    struct pending *p = pending_new(r, &a);
    st_accounts_set_password(st_server->store, st_server->workers, p->acct.host, p->acct.user,
                             p->acct.password, scram_iterations(), change_password_done, p);
}

static void check_account_done(void *ctx, bool exists, const char *err)
{
    struct pending *p = ctx;
    if (err != NULL) {
        st_ctl_reply_eprintf(p->reply, "Cannot check %s@%s: %s\n", p->acct.user, p->acct.host, err);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
        return;
    }
    pending_finish(&p, exists ? ST_CTL_EXIT_OK : ST_CTL_EXIT_FAIL);
}

static void cmd_check_account(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], NULL, &a))
        return;
    struct pending *p = pending_new(r, &a);
    st_accounts_exists(st_server->store, p->acct.host, p->acct.user, check_account_done, p);
}

static void check_password_done(void *ctx, bool ok, const char *err)
{
    struct pending *p = ctx;
    if (err != NULL) {
        st_ctl_reply_eprintf(p->reply, "Cannot check the password of %s@%s: %s\n", p->acct.user,
                             p->acct.host, err);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
        return;
    }
    pending_finish(&p, ok ? ST_CTL_EXIT_OK : ST_CTL_EXIT_FAIL);
}

static void cmd_check_password(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], args[2], &a))
        return;
    struct pending *p = pending_new(r, &a);
    st_accounts_check_password(st_server->store, st_server->workers, p->acct.host, p->acct.user,
                               p->acct.password, check_password_done, p);
}

static void registered_users_done(void *ctx, size_t n, const char *const *names, const char *err)
{
    struct pending *p = ctx;
    if (err != NULL) {
        st_ctl_reply_eprintf(p->reply, "Cannot list the users of %s: %s\n", p->acct.host, err);
        pending_finish(&p, ST_CTL_EXIT_FAIL);
        return;
    }
    /* Sorted here whatever order the backend gave (byte order, as sort(1) with LC_ALL=C). */
    const char **sorted = st_calloc(n, sizeof(*sorted));
    memcpy(sorted, names, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_strings);
    for (size_t i = 0; i < n; i++)
        st_ctl_reply_printf(p->reply, "%s\n", sorted[i]);
    st_free(&sorted);
    pending_finish(&p, ST_CTL_EXIT_OK);
}

static void cmd_registered_users(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    memset(&a, 0, sizeof(a));
    if ((a.host = prep_host(r, args[0])) == NULL) {
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return;
    }
    struct pending *p = pending_new(r, &a);
    st_accounts_list(st_server->store, p->acct.host, registered_users_done, p);
}

/* ---- sessions ---- */

struct line_list {
    char **items;
    size_t count;
};

static void line_list_add(struct line_list *l, char *line)
{
    l->items = st_realloc(l->items, (l->count + 1) * sizeof(*l->items));
    l->items[l->count++] = line;
}

/* Prints the lines sorted, one per line, and frees them. */
static void line_list_print(struct line_list *l, struct st_ctl_reply *r)
{
    if (l->count > 0)
        qsort(l->items, l->count, sizeof(*l->items), cmp_strings);
    for (size_t i = 0; i < l->count; i++) {
        st_ctl_reply_printf(r, "%s\n", l->items[i]);
        st_free(&l->items[i]);
    }
    st_free(&l->items);
    l->count = 0;
}

static void collect_jid(struct st_session *s, void *ctx)
{
    struct st_session_info info;
    st_session_get_info(s, &info);
    line_list_add(ctx, st_strdup(info.jid));
}

static void cmd_connected_users(char *const *args, struct st_ctl_reply *r)
{
    struct line_list l = {NULL, 0};
    st_sm_foreach(NULL, collect_jid, &l);
    line_list_print(&l, r);
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

static void cmd_connected_users_number(char *const *args, struct st_ctl_reply *r)
{
    st_ctl_reply_printf(r, "%zu\n", st_sm_count());
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

/* One line of user_sessions_info, starting with the resource so that sorting the lines sorts the
   sessions; the resource is moved to its column when printed. */
static void collect_session_info(struct st_session *s, void *ctx)
{
    struct st_session_info info;
    st_session_get_info(s, &info);
    time_t now = time(NULL);
    long uptime = now > info.since ? (long)(now - info.since) : 0;
    char *line;
    /* Tabs and newlines in free text would break the columns. */
    char *text = st_strdup(info.status_text != NULL ? info.status_text : "");
    for (char *c = text; *c != '\0'; c++) {
        if (*c == '\t' || *c == '\n' || *c == '\r')
            *c = ' ';
    }
    if (asprintf(&line, "%s\t%s\t%s\t%u\t%d\t%s\t%ld\t%s\t%s\t%s", info.resource, info.connection,
                 info.ip, info.port, info.priority, node_name(), uptime, info.status, info.resource,
                 text) < 0)
        st_fatal("out of memory");
    st_free(&text);
    line_list_add(ctx, line);
}

static void cmd_user_sessions_info(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], NULL, &a))
        return;
    struct line_list l = {NULL, 0};
    st_sm_foreach_user(a.host, a.user, collect_session_info, &l);
    if (l.count > 0)
        qsort(l.items, l.count, sizeof(*l.items), cmp_strings);
    for (size_t i = 0; i < l.count; i++) {
        st_ctl_reply_printf(r, "%s\n", strchr(l.items[i], '\t') + 1);
        st_free(&l.items[i]);
    }
    st_free(&l.items);
    account_clear(&a);
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

static void cmd_kick_session(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], NULL, &a))
        return;
    char *resource;
    if (st_jid_prep_resource(args[2], strlen(args[2]), &resource) != 0) {
        st_ctl_reply_eprintf(r, "invalid resource '%s'\n", args[2]);
        account_clear(&a);
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return;
    }
    struct st_session *s = st_sm_find(a.host, a.user, resource);
    int code = ST_CTL_EXIT_OK;
    if (s == NULL) {
        st_ctl_reply_eprintf(r, "Session %s@%s/%s not found\n", a.user, a.host, resource);
        code = ST_CTL_EXIT_FAIL;
    } else {
        st_info("admin: kicking %s@%s/%s", a.user, a.host, resource);
        st_session_kick(s, args[3]);
    }
    st_free(&resource);
    account_clear(&a);
    st_ctl_reply_finish(r, code);
}

/* ---- text checks ---- */

/* Whether s is UTF-8 made only of characters XML 1.0 allows (a C0 control other than tab,
   newline and carriage return, U+FFFE or U+FFFF would make the stanza carrying it malformed). */
static bool xml_text_ok(const char *s)
{
    size_t len = strlen(s);
    if (u8_check((const uint8_t *)s, len) != NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
        if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF))
            return false;
    }
    return true;
}

/* Copies text with tabs and line breaks made spaces, so that it stays inside its column. */
static void put_flat(struct st_strbuf *b, const char *text)
{
    for (const char *c = text; *c != '\0'; c++)
        st_strbuf_putc(b, *c == '\t' || *c == '\n' || *c == '\r' ? ' ' : *c);
}

/* ---- vCards (stored by the vcard module, XEP-0054) ---- */

/* A vCard field request: the account, and the field name the messages mention. */
struct vcard_pending {
    struct pending *p;
    char *name;
};

static bool vcard_field_name_ok(struct st_ctl_reply *r, const char *name)
{
    if (st_vcard_field_name_valid(name))
        return true;
    st_ctl_reply_eprintf(r, "invalid vCard field name '%s'\n", name);
    st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
    return false;
}

static struct vcard_pending *vcard_pending_new(struct st_ctl_reply *r, struct account *a,
                                               const char *name)
{
    struct vcard_pending *vp = st_calloc(1, sizeof(*vp));
    vp->p = pending_new(r, a);
    vp->name = st_strdup(name);
    return vp;
}

static void vcard_pending_finish(struct vcard_pending **vpp, int code)
{
    struct vcard_pending *vp = *vpp;
    pending_finish(&vp->p, code);
    st_free(&vp->name);
    st_free(vpp);
}

static void get_vcard_done(void *ctx, const char *value, const char *err)
{
    struct vcard_pending *vp = ctx;
    struct pending *p = vp->p;
    if (err == NULL) {
        st_ctl_reply_printf(p->reply, "%s\n", value);
        vcard_pending_finish(&vp, ST_CTL_EXIT_OK);
        return;
    }
    if (strcmp(err, ST_VCARD_ERR_NO_VCARD) == 0)
        st_ctl_reply_eprintf(p->reply, "User %s@%s has no vCard\n", p->acct.user, p->acct.host);
    else if (strcmp(err, ST_VCARD_ERR_NO_FIELD) == 0)
        st_ctl_reply_eprintf(p->reply, "The vCard of %s@%s has no field %s\n", p->acct.user,
                             p->acct.host, vp->name);
    else
        st_ctl_reply_eprintf(p->reply, "Cannot read the vCard of %s@%s: %s\n", p->acct.user,
                             p->acct.host, err);
    vcard_pending_finish(&vp, ST_CTL_EXIT_FAIL);
}

/* USER HOST NAME of get_vcard and set_vcard, checked: the request, or NULL once answered. */
static struct vcard_pending *vcard_begin(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], NULL, &a))
        return NULL;
    if (!vcard_field_name_ok(r, args[2])) {
        account_clear(&a);
        return NULL;
    }
    return vcard_pending_new(r, &a, args[2]);
}

static void cmd_get_vcard(char *const *args, struct st_ctl_reply *r)
{
    struct vcard_pending *vp = vcard_begin(args, r);
    if (vp == NULL)
        return;
    st_vcard_field_read(st_server->store, vp->p->acct.host, vp->p->acct.user, vp->name,
                        get_vcard_done, vp);
}

static void set_vcard_done(void *ctx, const char *err)
{
    struct vcard_pending *vp = ctx;
    struct pending *p = vp->p;
    if (err == NULL) {
        st_info("admin: set the vCard field %s of %s@%s", vp->name, p->acct.user, p->acct.host);
        vcard_pending_finish(&vp, ST_CTL_EXIT_OK);
        return;
    }
    if (strcmp(err, ST_VCARD_ERR_NO_ACCOUNT) == 0)
        st_ctl_reply_eprintf(p->reply, "User %s@%s does not exist\n", p->acct.user, p->acct.host);
    else if (strcmp(err, ST_VCARD_ERR_TOO_LARGE) == 0)
        st_ctl_reply_eprintf(p->reply, "The vCard of %s@%s would be larger than %u bytes\n",
                             p->acct.user, p->acct.host, (unsigned)ST_VCARD_DEFAULT_MAX_SIZE);
    else
        st_ctl_reply_eprintf(p->reply, "Cannot set the vCard of %s@%s: %s\n", p->acct.user,
                             p->acct.host, err);
    vcard_pending_finish(&vp, ST_CTL_EXIT_FAIL);
}

static void cmd_set_vcard(char *const *args, struct st_ctl_reply *r)
{
    if (!xml_text_ok(args[3])) {
        st_ctl_reply_eprintf(r, "invalid CONTENT: not UTF-8, or a character XML does not allow\n");
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return;
    }
    struct vcard_pending *vp = vcard_begin(args, r);
    if (vp == NULL)
        return;
    st_vcard_field_write(st_server->store, vp->p->acct.host, vp->p->acct.user, vp->name, args[3],
                         ST_VCARD_DEFAULT_MAX_SIZE, set_vcard_done, vp);
}

/* ---- rosters (stored by the roster module, RFC 6121) ---- */

/* The limits the roster module puts on what a client sets (modules/roster/roster.c). */
#define ROSTER_MAX_TEXT 1023
#define ROSTER_MAX_GROUPS 64

enum roster_op { ROSTER_GET, ROSTER_ADD, ROSTER_DELETE };

/* A roster request: the account, and for a change the contact and the new item. */
struct roster_pending {
    struct pending *p;
    enum roster_op op;
    char *contact; /* bare JID */
    char *name;    /* NULL: none */
    char *grps;    /* encoded groups */
    unsigned sub;  /* ST_SUB_* bits */
};

static void roster_pending_finish(struct roster_pending **rpp, int code)
{
    struct roster_pending *rp = *rpp;
    pending_finish(&rp->p, code);
    st_free(&rp->contact);
    st_free(&rp->name);
    st_free(&rp->grps);
    st_free(rpp);
}

struct groups_text {
    struct st_strbuf *b;
    bool first;
};

static void put_group(const char *group, void *ctx)
{
    struct groups_text *g = ctx;
    if (!g->first)
        st_strbuf_putc(g->b, ',');
    g->first = false;
    put_flat(g->b, group);
}

static void get_roster_listed(void *ctx, size_t n, const struct st_roster_item *items,
                              const char *err)
{
    struct roster_pending *rp = ctx;
    struct pending *p = rp->p;
    if (err != NULL) {
        st_ctl_reply_eprintf(p->reply, "Cannot read the roster of %s@%s: %s\n", p->acct.user,
                             p->acct.host, err);
        roster_pending_finish(&rp, ST_CTL_EXIT_FAIL);
        return;
    }
    struct st_strbuf line = {0};
    for (size_t i = 0; i < n; i++) {
        const struct st_roster_item *it = &items[i];
        st_strbuf_reset(&line);
        st_strbuf_printf(&line, "%s\t", it->jid);
        put_flat(&line, it->name != NULL ? it->name : "");
        st_strbuf_printf(&line, "\t%s\t%s\t", st_sub_name(it->state.sub),
                         it->state.ask ? "subscribe" : "none");
        struct groups_text g = {&line, true};
        st_roster_groups_decode(it->grps, put_group, &g);
        st_ctl_reply_printf(p->reply, "%s\n", line.data);
    }
    st_strbuf_free(&line);
    roster_pending_finish(&rp, ST_CTL_EXIT_OK);
}

static void roster_changed(void *ctx, const char *err)
{
    struct roster_pending *rp = ctx;
    struct pending *p = rp->p;
    if (err == NULL) {
        st_info("admin: %s %s in the roster of %s@%s", rp->op == ROSTER_ADD ? "set" : "removed",
                rp->contact, p->acct.user, p->acct.host);
        roster_pending_finish(&rp, ST_CTL_EXIT_OK);
        return;
    }
    if (strcmp(err, ST_ROSTER_ERR_NOT_FOUND) == 0)
        st_ctl_reply_eprintf(p->reply, "%s is not in the roster of %s@%s\n", rp->contact,
                             p->acct.user, p->acct.host);
    else if (strcmp(err, ST_ROSTER_ERR_FULL) == 0)
        st_ctl_reply_eprintf(p->reply, "The roster of %s@%s is full (at most %lld contacts)\n",
                             p->acct.user, p->acct.host, st_roster_admin_max_items(p->acct.host));
    else
        st_ctl_reply_eprintf(p->reply, "Cannot change the roster of %s@%s: %s\n", p->acct.user,
                             p->acct.host, err);
    roster_pending_finish(&rp, ST_CTL_EXIT_FAIL);
}

static void roster_account_checked(void *ctx, bool exists, const char *err)
{
    struct roster_pending *rp = ctx;
    struct pending *p = rp->p;
    if (err != NULL) {
        st_ctl_reply_eprintf(p->reply, "Cannot check %s@%s: %s\n", p->acct.user, p->acct.host, err);
        roster_pending_finish(&rp, ST_CTL_EXIT_FAIL);
        return;
    }
    if (!exists) {
        st_ctl_reply_eprintf(p->reply, "User %s@%s does not exist\n", p->acct.user, p->acct.host);
        roster_pending_finish(&rp, ST_CTL_EXIT_FAIL);
        return;
    }
    /* a reload may have removed the host or the module meanwhile */
    if (rp->op != ROSTER_GET && !st_roster_admin_enabled(p->acct.host)) {
        st_ctl_reply_eprintf(p->reply, "the roster module is not enabled on host '%s'\n",
                             p->acct.host);
        roster_pending_finish(&rp, ST_CTL_EXIT_FAIL);
        return;
    }
    switch (rp->op) {
    case ROSTER_GET:
        st_roster_admin_list(p->acct.host, p->acct.user, get_roster_listed, rp);
        return;
    case ROSTER_ADD:
        st_roster_admin_set(p->acct.host, p->acct.user, rp->contact, rp->name, rp->grps, rp->sub,
                            roster_changed, rp);
        return;
    case ROSTER_DELETE:
        st_roster_admin_remove(p->acct.host, p->acct.user, rp->contact, roster_changed, rp);
        return;
    }
}

/* Starts a roster request once its arguments are checked: the account must exist. */
static void roster_begin(struct st_ctl_reply *r, struct account *a, struct roster_pending *rp)
{
    rp->p = pending_new(r, a);
    st_accounts_exists(st_server->store, rp->p->acct.host, rp->p->acct.user, roster_account_checked,
                       rp);
}

/* Fails r (exit code) with a message; returns false for the callers' convenience. */
static bool fail(struct st_ctl_reply *r, int code, const char *fmt, const char *arg)
{
    st_ctl_reply_eprintf(r, fmt, arg);
    st_ctl_reply_finish(r, code);
    return false;
}

/* LOCALUSER LOCALHOST USER HOST of add_rosteritem and delete_rosteritem: the account into a and
   the contact's bare JID into rp; on error finishes r and returns false. */
static bool roster_prep_contact(char *const *args, struct st_ctl_reply *r, struct account *a,
                                struct roster_pending *rp)
{
    if (!prep_account(r, args[0], args[1], NULL, a))
        return false;
    /* each part on its own first, so that the message names the wrong one */
    char *local = NULL, *domain = NULL;
    struct st_jid *jid = NULL;
    if (args[2][0] != '\0' && st_jid_prep_local(args[2], strlen(args[2]), &local) != 0)
        fail(r, ST_CTL_EXIT_FAIL, "invalid contact user name '%s'\n", args[2]);
    else if (st_jid_prep_domain(args[3], strlen(args[3]), &domain) != 0)
        fail(r, ST_CTL_EXIT_FAIL, "invalid contact host name '%s'\n", args[3]);
    else if ((jid = st_jid_make(args[2][0] != '\0' ? args[2] : NULL, args[3], NULL)) == NULL)
        fail(r, ST_CTL_EXIT_FAIL, "invalid contact JID: user name '%s' with that host\n", args[2]);
    else if (!st_roster_admin_enabled(a->host))
        fail(r, ST_CTL_EXIT_FAIL, "the roster module is not enabled on host '%s'\n", a->host);
    else
        rp->contact = st_strdup(jid->bare);
    st_jid_free(&jid);
    st_free(&local);
    st_free(&domain);
    if (rp->contact == NULL)
        account_clear(a);
    return rp->contact != NULL;
}

static void cmd_get_roster(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    if (!prep_account(r, args[0], args[1], NULL, &a))
        return;
    struct roster_pending *rp = st_calloc(1, sizeof(*rp));
    rp->op = ROSTER_GET;
    roster_begin(r, &a, rp);
}

/* A NICK or group name as the roster module would take it from a client. */
static bool roster_text_ok(struct st_ctl_reply *r, const char *what, const char *text)
{
    if (strlen(text) > ROSTER_MAX_TEXT) {
        st_ctl_reply_eprintf(r, "%s too long: %zu bytes, at most %d\n", what, strlen(text),
                             ROSTER_MAX_TEXT);
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return false;
    }
    if (!xml_text_ok(text)) {
        st_ctl_reply_eprintf(r, "invalid %s: not UTF-8, or a character XML does not allow\n", what);
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return false;
    }
    return true;
}

/* GROUPS: names separated by commas, blanks around each dropped, empty ones skipped. On success
   the encoded list is in *grps_r; on error r is finished. */
static bool roster_parse_groups(struct st_ctl_reply *r, const char *text, char **grps_r)
{
    char *copy = st_strdup(text);
    const char *groups[ROSTER_MAX_GROUPS];
    size_t n = 0;
    bool ok = true;
    char *save = NULL;
    for (char *g = strtok_r(copy, ",", &save); ok && g != NULL; g = strtok_r(NULL, ",", &save)) {
        while (*g == ' ' || *g == '\t')
            g++;
        size_t len = strlen(g);
        while (len > 0 && (g[len - 1] == ' ' || g[len - 1] == '\t'))
            g[--len] = '\0';
        if (len == 0)
            continue;
        if (!roster_text_ok(r, "group name", g)) {
            ok = false;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(groups[i], g) == 0)
                ok = fail(r, ST_CTL_EXIT_FAIL, "the group '%s' is given twice\n", g);
        }
        if (ok && n == ROSTER_MAX_GROUPS) {
            st_ctl_reply_eprintf(r, "too many groups: at most %d\n", ROSTER_MAX_GROUPS);
            st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
            ok = false;
        }
        if (ok)
            groups[n++] = g;
    }
    if (ok)
        *grps_r = st_roster_groups_encode(groups, n);
    st_free(&copy);
    return ok;
}

static bool roster_parse_subs(struct st_ctl_reply *r, const char *text, unsigned *sub_r)
{
    static const struct {
        const char *name;
        unsigned sub;
    } subs[] = {
        {"none", 0}, {"from", ST_SUB_FROM}, {"to", ST_SUB_TO}, {"both", ST_SUB_FROM | ST_SUB_TO}};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (strcmp(text, subs[i].name) == 0) {
            *sub_r = subs[i].sub;
            return true;
        }
    }
    return fail(r, ST_CTL_EXIT_USAGE, "invalid subscription '%s'; one of none, from, to, both\n",
                text);
}

static void cmd_add_rosteritem(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    struct roster_pending *rp = st_calloc(1, sizeof(*rp));
    rp->op = ROSTER_ADD;
    /* the enumerated SUBS first: a usage error whatever else is wrong */
    if (!roster_parse_subs(r, args[6], &rp->sub))
        goto fail;
    if (!roster_prep_contact(args, r, &a, rp))
        goto fail;
    if (!roster_text_ok(r, "nick", args[4]) || !roster_parse_groups(r, args[5], &rp->grps)) {
        account_clear(&a);
        goto fail;
    }
    rp->name = args[4][0] != '\0' ? st_strdup(args[4]) : NULL;
    roster_begin(r, &a, rp);
    return;
fail:
    st_free(&rp->contact);
    st_free(&rp->grps);
    st_free(&rp);
}

static void cmd_delete_rosteritem(char *const *args, struct st_ctl_reply *r)
{
    struct account a;
    struct roster_pending *rp = st_calloc(1, sizeof(*rp));
    rp->op = ROSTER_DELETE;
    if (!roster_prep_contact(args, r, &a, rp)) {
        st_free(&rp);
        return;
    }
    roster_begin(r, &a, rp);
}

/* ---- stanzas ---- */

/* The stream limits of an authenticated client, which a stanza from the command line meets too. */
static struct st_xml_stream_limits stanza_limits(void)
{
    const struct st_config_limits *l = &st_server->config->limits;
    struct st_xml_stream_limits lim = {
        .max_stanza = l->max_stanza_size,
        .max_depth = (unsigned)l->max_depth,
        .max_attrs = (unsigned)l->max_attributes,
    };
    return lim;
}

/* FROM and TO of send_message and send_stanza: FROM on a served host. On error r is finished. */
static bool prep_route(struct st_ctl_reply *r, const char *from, const char *to,
                       struct st_jid **from_r, struct st_jid **to_r)
{
    *from_r = st_jid_new(from, strlen(from));
    *to_r = NULL;
    if (*from_r == NULL)
        return fail(r, ST_CTL_EXIT_FAIL, "invalid sender JID '%s'\n", from);
    if (st_server_host((*from_r)->domain) == NULL) {
        st_jid_free(from_r);
        return fail(r, ST_CTL_EXIT_FAIL, "the sender JID '%s' is not on a host served here\n",
                    from);
    }
    if ((*to_r = st_jid_new(to, strlen(to))) == NULL) {
        st_jid_free(from_r);
        return fail(r, ST_CTL_EXIT_FAIL, "invalid recipient JID '%s'\n", to);
    }
    return true;
}

/* A fresh id for a message the server makes: 16 random hex digits after a fixed prefix. */
static void new_stanza_id(char id[40])
{
    unsigned char rnd[8];
    ST_ASSERT(RAND_bytes(rnd, sizeof(rnd)) == 1);
    int n = snprintf(id, 40, "starlingctl-");
    for (size_t i = 0; i < sizeof(rnd); i++)
        n += snprintf(id + n, 40 - (size_t)n, "%02x", rnd[i]);
}

static void cmd_send_message(char *const *args, struct st_ctl_reply *r)
{
    const char *type = args[0], *subject = args[3], *body = args[4];
    if (strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0 && strcmp(type, "headline") != 0) {
        fail(r, ST_CTL_EXIT_USAGE, "invalid message type '%s'; one of chat, normal, headline\n",
             type);
        return;
    }
    if (subject[0] == '\0' && body[0] == '\0') {
        fail(r, ST_CTL_EXIT_FAIL, "%s", "nothing to send: SUBJECT and BODY are both empty\n");
        return;
    }
    if (!xml_text_ok(subject)) {
        fail(r, ST_CTL_EXIT_FAIL, "%s",
             "invalid SUBJECT: not UTF-8, or a character XML does "
             "not allow\n");
        return;
    }
    if (!xml_text_ok(body)) {
        fail(r, ST_CTL_EXIT_FAIL, "%s",
             "invalid BODY: not UTF-8, or a character XML does not "
             "allow\n");
        return;
    }
    size_t size = strlen(subject) + strlen(body), max = stanza_limits().max_stanza;
    if (size > max) {
        st_ctl_reply_eprintf(r,
                             "message too large: %zu bytes of text, at most %zu "
                             "(max_stanza_size)\n",
                             size, max);
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return;
    }
    struct st_jid *from, *to;
    if (!prep_route(r, args[1], args[2], &from, &to))
        return;
    char id[40];
    new_stanza_id(id);
    struct st_stanza *m = st_stanza_new(ST_STANZA_MESSAGE, type, to, from, id);
    if (subject[0] != '\0')
        st_xml_add_text(m->arena, st_xml_new(m->arena, m->root, "subject", NULL), subject,
                        strlen(subject));
    if (body[0] != '\0')
        st_xml_add_text(m->arena, st_xml_new(m->arena, m->root, "body", NULL), body, strlen(body));
    st_info("admin: sending a %s message from %s to %s", type, from->full, to->full);
    st_route_stanza(m);
    st_stanza_unref(&m);
    st_jid_free(&from);
    st_jid_free(&to);
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

/* What the stream parser made of the STANZA argument. */
struct stanza_parse {
    struct st_arena *arena; /* of el */
    struct st_xml *el;
    bool in_text; /* feeding the argument (not the wrapper) */
    bool extra;   /* a second element */
    bool closed;  /* the argument closed the wrapping stream */
    char *error;  /* the parser's complaint */
};

static void parse_open(void *ctx, struct st_arena *arena, struct st_xml *stream_el)
{
    st_arena_free(&arena);
}

static void parse_stanza(void *ctx, struct st_arena *arena, struct st_xml *el)
{
    struct stanza_parse *sp = ctx;
    if (sp->el != NULL) {
        sp->extra = true;
        st_arena_free(&arena);
        return;
    }
    sp->arena = arena;
    sp->el = el;
}

static void parse_close(void *ctx)
{
    struct stanza_parse *sp = ctx;
    if (sp->in_text)
        sp->closed = true;
}

static void parse_error(void *ctx, enum st_xml_stream_error err, const char *detail)
{
    static const char *const kinds[] = {
        [ST_XML_ERR_NOT_WELL_FORMED] = "not well-formed",
        [ST_XML_ERR_RESTRICTED_XML] = "restricted XML",
        [ST_XML_ERR_POLICY_VIOLATION] = "over a limit",
        [ST_XML_ERR_UNSUPPORTED_ENCODING] = "unsupported encoding",
        [ST_XML_ERR_BAD_FORMAT] = "text outside the element",
        [ST_XML_ERR_BAD_NAMESPACE_PREFIX] = "bad namespace prefix",
    };
    struct stanza_parse *sp = ctx;
    const char *kind = (size_t)err < sizeof(kinds) / sizeof(kinds[0]) && kinds[err] != NULL
                           ? kinds[err]
                           : "invalid";
    if (sp->error != NULL)
        return;
    if (err == ST_XML_ERR_BAD_FORMAT) {
        sp->error = st_strdup(kind); /* the parser's words are about a stream of stanzas */
    } else if (detail != NULL && detail[0] != '\0') {
        /* expat counts from the wrapper, which has a line of its own: the position is made
           one in STANZA (line 1, column 1 being its first byte) */
        const char *at = strstr(detail, " at line ");
        unsigned long line, col;
        int n = 0;
        if (at != NULL && sscanf(at, " at line %lu, column %lu%n", &line, &col, &n) == 2 &&
            at[n] == '\0' && line >= 2) {
            if (asprintf(&sp->error, "%s: %.*s at line %lu, column %lu of STANZA", kind,
                         (int)(at - detail), detail, line - 1, col + 1) < 0)
                st_fatal("out of memory");
        } else if (asprintf(&sp->error, "%s: %s", kind, detail) < 0) {
            st_fatal("out of memory");
        }
    } else {
        sp->error = st_strdup(kind);
    }
}

/* Parses text as the one stanza of a client stream. Returns the stanza, or NULL after finishing r
   with the reason. */
static struct st_stanza *parse_stanza_arg(struct st_ctl_reply *r, const char *text)
{
    static const struct st_xml_stream_cbs cbs = {parse_open, parse_stanza, parse_close,
                                                 parse_error};
    static const char head[] = "<stream:stream xmlns='jabber:client' "
                               "xmlns:stream='" ST_XML_NS_STREAM "'>\n";
    static const char tail[] = "</stream:stream>";
    struct st_xml_stream_limits lim = stanza_limits();
    size_t len = strlen(text);
    if (len > lim.max_stanza) {
        st_ctl_reply_eprintf(r, "stanza too large: %zu bytes, at most %zu (max_stanza_size)\n", len,
                             lim.max_stanza);
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return NULL;
    }
    struct stanza_parse sp = {0};
    struct st_xml_stream *xs = st_xml_stream_new(&lim, &cbs, &sp);
    st_xml_stream_feed(xs, head, sizeof(head) - 1);
    sp.in_text = true;
    st_xml_stream_feed(xs, text, len);
    sp.in_text = false;
    st_xml_stream_feed(xs, tail, sizeof(tail) - 1);
    st_xml_stream_free(&xs);

    const char *why = NULL;
    if (sp.error != NULL)
        why = sp.error;
    else if (sp.closed)
        why = "it closes the stream";
    else if (sp.extra)
        why = "more than one element";
    else if (sp.el == NULL)
        why = "no element";
    if (why != NULL) {
        st_ctl_reply_eprintf(r, "malformed XML in STANZA: %s\n", why);
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        st_free(&sp.error);
        st_arena_free(&sp.arena);
        return NULL;
    }
    /* the names are needed for the message after the arena is gone */
    char *name = st_strdup(sp.el->name), *ns = st_strdup(sp.el->ns != NULL ? sp.el->ns : "");
    struct st_stanza *st = NULL;
    switch (st_stanza_from_xml(sp.arena, sp.el, &st)) {
    case ST_STANZA_OK:
    case ST_STANZA_BAD_TO: /* FROM and TO replace both */
    case ST_STANZA_BAD_FROM:
        break;
    case ST_STANZA_NOT_A_STANZA:
        st_ctl_reply_eprintf(r,
                             "not a stanza: <%s/> in the namespace '%s'; a message, presence "
                             "or iq in jabber:client\n",
                             name, ns);
        break;
    case ST_STANZA_BAD_IQ:
        st_ctl_reply_eprintf(r, "invalid iq: it needs an id, a type (get, set, result or "
                                "error), and exactly one child when get or set\n");
        st_stanza_unref(&st);
        break;
    }
    st_free(&name);
    st_free(&ns);
    if (st == NULL)
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
    return st;
}

static void cmd_send_stanza(char *const *args, struct st_ctl_reply *r)
{
    struct st_jid *from, *to;
    if (!prep_route(r, args[0], args[1], &from, &to))
        return;
    struct st_stanza *st = parse_stanza_arg(r, args[2]);
    if (st != NULL) {
        st_stanza_set_from(st, from);
        st_stanza_set_to(st, to);
        st_info("admin: sending a stanza from %s to %s", from->full, to->full);
        st_route_stanza(st);
        st_stanza_unref(&st);
        st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
    }
    st_jid_free(&from);
    st_jid_free(&to);
}

/* ---- offline messages (stored by the offline module, XEP-0160) ---- */

static void delete_old_messages_done(void *ctx, const struct st_store_result *res, const char *err)
{
    struct st_ctl_reply *r = ctx;
    if (err != NULL) {
        st_ctl_reply_eprintf(r, "Cannot delete old offline messages: %s\n", err);
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return;
    }
    st_info("admin: deleted %llu old offline messages", st_store_result_affected(res));
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

static void cmd_delete_old_messages(char *const *args, struct st_ctl_reply *r)
{
    char *end;
    const char *days = args[0];
    long long n = days[0] >= '0' && days[0] <= '9' ? strtoll(days, &end, 10) : -1;
    if (n < 0 || *end != '\0' || n > 1000000) {
        st_ctl_reply_eprintf(r, "DAYS must be a whole number of days (0..1000000), not '%s'\n",
                             days);
        st_ctl_reply_finish(r, ST_CTL_EXIT_USAGE);
        return;
    }
    char cutoff[32];
    snprintf(cutoff, sizeof(cutoff), "%lld", (long long)time(NULL) - n * 86400);
    const char *params[] = {cutoff};
    st_store_query(st_server->store,
                   "DELETE FROM offline_messages WHERE created_at < CAST($1 AS BIGINT)", 1, params,
                   delete_old_messages_done, r);
}

/* ---- server ---- */

static void cmd_status(char *const *args, struct st_ctl_reply *r)
{
    st_ctl_reply_printf(r, "The node %s is started with status: started\n", node_name());
    st_ctl_reply_printf(r, "starling %s is running in that node\n", PACKAGE_VERSION);
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

static void stop_now(void *ctx)
{
    if (st_server != NULL && !st_server->stopping)
        st_server_stop();
}

static void cmd_stop(char *const *args, struct st_ctl_reply *r)
{
    st_info("admin: stop requested");
    /* The answer goes out first: the shutdown may end the loop before another write. */
    st_ctl_reply_finish_then(r, ST_CTL_EXIT_OK, stop_now, NULL);
}

static void cmd_reload_config(char *const *args, struct st_ctl_reply *r)
{
    char err[1024] = "";
    if (st_server_reload(err, sizeof(err)) != 0) {
        st_ctl_reply_eprintf(r, "%s\n", err[0] != '\0' ? err : "reload failed");
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return;
    }
    st_ctl_reply_printf(r, "Configuration reloaded\n");
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

/* Threads of this process, from /proc (no disk behind it: it does not block). */
static long thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long n = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "Threads: %ld", &n) == 1)
            break;
    }
    fclose(f);
    return n;
}

/* stats registeredusers: one list request per host, summed when the last answers. */
struct count_users {
    struct st_ctl_reply *reply;
    size_t waiting;
    unsigned long long total;
    char *first_err;
};

static void count_users_done(void *ctx, size_t n, const char *const *names, const char *err)
{
    struct count_users *cu = ctx;
    if (err != NULL && cu->first_err == NULL)
        cu->first_err = st_strdup(err);
    cu->total += n;
    if (--cu->waiting > 0)
        return;
    if (cu->first_err != NULL) {
        st_ctl_reply_eprintf(cu->reply, "Cannot count the users: %s\n", cu->first_err);
        st_ctl_reply_finish(cu->reply, ST_CTL_EXIT_FAIL);
    } else {
        st_ctl_reply_printf(cu->reply, "%llu\n", cu->total);
        st_ctl_reply_finish(cu->reply, ST_CTL_EXIT_OK);
    }
    st_free(&cu->first_err);
    st_free(&cu);
}

static void collect_host(struct st_host *h, void *ctx)
{
    line_list_add(ctx, st_strdup(h->name));
}

static void stats_registered_users(struct st_ctl_reply *r)
{
    /* The names are copied first: the list requests are issued outside the walk. */
    struct line_list hosts = {NULL, 0};
    st_server_foreach_host(collect_host, &hosts);
    if (hosts.count == 0) {
        st_ctl_reply_printf(r, "0\n");
        st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
        return;
    }
    struct count_users *cu = st_calloc(1, sizeof(*cu));
    cu->reply = r;
    cu->waiting = hosts.count;
    for (size_t i = 0; i < hosts.count; i++) {
        st_accounts_list(st_server->store, hosts.items[i], count_users_done, cu);
        st_free(&hosts.items[i]);
    }
    st_free(&hosts.items);
}

static void cmd_stats(char *const *args, struct st_ctl_reply *r)
{
    const char *name = args[0];
    if (strcmp(name, "registeredusers") == 0) {
        stats_registered_users(r);
        return;
    }
    if (strcmp(name, "onlineusers") == 0 || strcmp(name, "onlineusersnode") == 0) {
        /* One node: every session is on it. */
        st_ctl_reply_printf(r, "%zu\n", st_sm_count());
    } else if (strcmp(name, "uptimeseconds") == 0) {
        st_ctl_reply_printf(r, "%ld\n", st_server_uptime());
    } else if (strcmp(name, "processes") == 0) {
        st_ctl_reply_printf(r, "%ld\n", thread_count());
    } else {
        st_ctl_reply_eprintf(r,
                             "unknown statistic '%s'; one of registeredusers, onlineusers, "
                             "onlineusersnode, uptimeseconds, processes\n",
                             name);
        st_ctl_reply_finish(r, ST_CTL_EXIT_USAGE);
        return;
    }
    st_ctl_reply_finish(r, ST_CTL_EXIT_OK);
}

/* ---- dispatch ---- */

static const struct {
    const char *name;
    void (*run)(char *const *args, struct st_ctl_reply *r);
} handlers[] = {
    {"add_rosteritem", cmd_add_rosteritem},
    {"change_password", cmd_change_password},
    {"check_account", cmd_check_account},
    {"check_password", cmd_check_password},
    {"connected_users", cmd_connected_users},
    {"connected_users_number", cmd_connected_users_number},
    {"delete_old_messages", cmd_delete_old_messages},
    {"delete_rosteritem", cmd_delete_rosteritem},
    {"get_roster", cmd_get_roster},
    {"get_vcard", cmd_get_vcard},
    {"kick_session", cmd_kick_session},
    {"register", cmd_register},
    {"registered_users", cmd_registered_users},
    {"reload_config", cmd_reload_config},
    {"send_message", cmd_send_message},
    {"send_stanza", cmd_send_stanza},
    {"set_vcard", cmd_set_vcard},
    {"stats", cmd_stats},
    {"status", cmd_status},
    {"stop", cmd_stop},
    {"unregister", cmd_unregister},
    {"user_sessions_info", cmd_user_sessions_info},
};

void st_admin_run(const struct st_ctl_command *cmd, char *const *args, struct st_ctl_reply *r)
{
    if (st_server == NULL || st_server->stopping) {
        st_ctl_reply_eprintf(r, "starlingd is stopping\n");
        st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
        return;
    }
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (strcmp(handlers[i].name, cmd->name) == 0) {
            handlers[i].run(args, r);
            return;
        }
    }
    /* A row of the table without a handler is a bug of this file. */
    st_error("admin: no handler for '%s'", cmd->name);
    st_ctl_reply_eprintf(r, "command '%s' is not implemented\n", cmd->name);
    st_ctl_reply_finish(r, ST_CTL_EXIT_FAIL);
}
