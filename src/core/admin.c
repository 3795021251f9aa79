/* SPDX-License-Identifier: ISC */
/* The admin commands behind starlingctl: one handler per row of the table in ctl/commands.c. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <starling/api.h>
#include <starling/jid.h>

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
#include "xmpp/precis.h"

/* the vCard storage of the vcard module (modules/ is not on the include path) */
#include "modules/vcard/vcard_field.h"
#include "modules/vcard/vcard_store.h"

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
    struct vcard_pending *vp = vcard_begin(args, r);
    if (vp == NULL)
        return;
    st_vcard_field_write(st_server->store, vp->p->acct.host, vp->p->acct.user, vp->name, args[3],
                         ST_VCARD_DEFAULT_MAX_SIZE, set_vcard_done, vp);
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
    {"change_password", cmd_change_password},
    {"check_account", cmd_check_account},
    {"check_password", cmd_check_password},
    {"connected_users", cmd_connected_users},
    {"connected_users_number", cmd_connected_users_number},
    {"delete_old_messages", cmd_delete_old_messages},
    {"get_vcard", cmd_get_vcard},
    {"kick_session", cmd_kick_session},
    {"register", cmd_register},
    {"registered_users", cmd_registered_users},
    {"reload_config", cmd_reload_config},
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
