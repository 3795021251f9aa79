/* SPDX-License-Identifier: ISC */
/* Load generator: N concurrent XMPP c2s sessions (STARTTLS, SCRAM, bind) on one libevent loop. */

/*
 * One process, one event loop. Every session walks the same login state machine (connect,
 * stream, STARTTLS or direct TLS, SASL SCRAM-SHA-256 or PLAIN, bind, legacy session, initial
 * presence, then an iq ping whose answer proves the server has processed the presence).
 * What happens once everybody is online belongs to a "mode" (struct st_lg_mode): the login
 * mode only holds the sessions idle; the chat mode sends 1:1 messages and measures latency;
 * the presence mode logs one more user (the hub, whose contacts the N sessions are) in and out
 * again and again and times the presence fan-out.
 * XML is framed by hand (depth counting over tags): the client only needs whole top-level
 * elements and a few tags and attributes inside them, and this keeps it lean at 10,000 sessions.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/objects.h>

#define ST_LG_MAX_ELEMENT (1024 * 1024) /* a server element bigger than this is an error */
#define ST_LG_SCRAM_CACHE 64            /* distinct (salt, iterations) pairs remembered */
#define ST_LG_MAX_SALT 128
#define ST_LG_HASH_LEN SHA256_DIGEST_LENGTH
#define ST_LG_NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define ST_LG_NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define ST_LG_NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define ST_LG_NS_PING "urn:xmpp:ping"
#define ST_LG_NS_ROSTER "jabber:iq:roster"

/* ---------------------------------------------------------------------------------------- */
/* Options and global state                                                                 */

enum st_lg_sasl {
    ST_LG_SASL_SCRAM,          /* SCRAM-SHA-256 only */
    ST_LG_SASL_PLAIN,          /* PLAIN only */
    ST_LG_SASL_SCRAM_OR_PLAIN, /* SCRAM-SHA-256 if offered, PLAIN otherwise */
};

struct st_lg_opts {
    const char *host;
    int port;
    const char *domain;
    const char *user_format;
    const char *password;
    const char *resource;
    const char *mode;
    int users;
    int first_user;
    int concurrency;
    double ramp;     /* new connections per second; 0 = as fast as concurrency allows */
    double hold;     /* seconds to stay idle after the last login, before measuring RSS */
    double timeout;  /* seconds a login may take */
    long server_pid; /* 0 = no server measurements */
    bool direct_tls;
    enum st_lg_sasl sasl;
    const char *plus; /* channel binding for SCRAM-SHA-256-PLUS: "tls-exporter",
                         "tls-server-end-point", or NULL for plain SCRAM */
    bool verbose;
    /* chat mode */
    double chat_rate;     /* messages per second, all senders together */
    double chat_duration; /* seconds of sending, warm-up included */
    double chat_warmup;   /* seconds at the start that are not measured */
    int chat_inflight;    /* > 0: saturation, this many messages in flight instead of a rate */
    int chat_body;        /* bytes of padding in each body */
    /* presence mode */
    int hub_user;         /* user number of the hub; -1 = first_user + users */
    int pres_rounds;      /* login/logout cycles measured (each also runs a baseline cycle) */
    bool pres_setup;      /* establish the subscriptions over XMPP first (else only verify) */
    double pres_timeout;  /* seconds one fan-out (or the whole setup) may take */
    double pres_gap;      /* seconds of quiet between two measured steps */
};

enum st_lg_state {
    ST_LG_CONNECTING,
    ST_LG_FEATURES_PLAIN, /* waiting for <stream:features> before TLS */
    ST_LG_PROCEED,        /* waiting for <proceed/> */
    ST_LG_HANDSHAKE,      /* TLS handshake in progress */
    ST_LG_FEATURES_TLS,   /* waiting for features after TLS */
    ST_LG_SASL_CHALLENGE, /* waiting for the SCRAM server-first message */
    ST_LG_SASL_SUCCESS,   /* waiting for <success/> */
    ST_LG_FEATURES_AUTH,  /* waiting for features after SASL */
    ST_LG_BIND,
    ST_LG_SESSION,
    ST_LG_PRESENCE, /* presence sent, waiting for the ping answer */
    ST_LG_ONLINE,
};

enum st_lg_fail {
    ST_LG_FAIL_CONNECT,
    ST_LG_FAIL_TLS,
    ST_LG_FAIL_AUTH,
    ST_LG_FAIL_BIND,
    ST_LG_FAIL_PROTOCOL,
    ST_LG_FAIL_TIMEOUT,
    ST_LG_FAIL_CLOSED,
    ST_LG_FAIL_COUNT,
};

static const char *const st_lg_fail_names[ST_LG_FAIL_COUNT] = {
    "connect", "tls", "auth", "bind", "protocol", "timeout", "closed",
};

/* Per-login SCRAM state; freed as soon as the login is over. */
struct st_lg_scram {
    char gs2[48]; /* "n,," or "p=<cb-name>,," */
    char client_first_bare[192];
    char cnonce[48];
    unsigned char server_sig[ST_LG_HASH_LEN];
};

struct st_lg_sess {
    struct st_lg *lg;
    struct bufferevent *bev;
    struct st_lg_scram *scram;
    char *jid;      /* full JID from the bind result (NULL before) */
    double t_start; /* when the connect started (monotonic seconds) */
    int index;      /* user number */
    int slot;       /* position in lg->online while online, else -1 */
    enum st_lg_state state;
    bool stream_open;  /* the server's stream header has been seen */
    bool tls;          /* bev is the TLS bufferevent, which owns the socket */
    bool need_session; /* the server offered a non-optional legacy session */
    bool extra;        /* started by the mode, not one of the N: not in the login figures */
    struct st_lg_raw *raw; /* set once the session left its bufferevent (st_lg_go_raw) */
};

/* A TLS session driven without its bufferevent: reads take every record that arrived (TLS
   read-ahead) and what the session sends during one loop pass leaves in one SSL_write at the end
   of the pass, with no per-message epoll_ctl or timer update. The benchmark modes switch to it
   once the logins are over, so that the client stays cheaper per message than the server it
   measures. The bufferevent stays, disabled, and still owns the socket and the SSL. */
struct st_lg_raw {
    SSL *ssl;
    struct event *rev;       /* persistent read interest */
    struct event *wev;       /* only while the kernel refused output */
    char *in, *out;
    size_t in_len, in_cap, out_len, out_cap;
    bool queued; /* in lg->flush */
};

struct st_lg_scram_entry {
    unsigned char salt[ST_LG_MAX_SALT];
    size_t salt_len;
    unsigned iterations;
    unsigned char salted[ST_LG_HASH_LEN];
};

struct st_lg;

/*
 * A benchmark mode: what the sessions do once they are online. Every callback is optional.
 * online_cb: a session finished its login. run_cb: all logins are over and the hold elapsed;
 * the mode does its work and calls st_lg_finish() when done (NULL = finish at once).
 * stanza_cb: an element arrived on an online session (return false to fail the session).
 * report_cb: print the mode's results as key=value lines.
 * Sessions the mode starts itself (st_lg_extra_start) are "extra": bound_cb runs once one is
 * bound (no presence sent: that is the mode's business) and end_cb when it ends for any reason
 * (the session is freed right after end_cb returns).
 */
struct st_lg_mode {
    const char *name;
    void (*online_cb)(struct st_lg *lg, struct st_lg_sess *s);
    void (*run_cb)(struct st_lg *lg);
    bool (*stanza_cb)(struct st_lg *lg, struct st_lg_sess *s, const char *el, size_t len);
    void (*report_cb)(struct st_lg *lg);
    void (*bound_cb)(struct st_lg *lg, struct st_lg_sess *s);
    void (*end_cb)(struct st_lg *lg, struct st_lg_sess *s, const char *why);
};

struct st_lg {
    struct st_lg_opts o;
    const struct st_lg_mode *mode;
    struct event_base *base;
    SSL_CTX *ssl;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct event *tick; /* ramp, progress, and phase timer */
    /* login phase */
    int next_user; /* sessions started so far */
    int in_flight;
    int ok;
    int failed;
    int fails[ST_LG_FAIL_COUNT];
    double tokens; /* ramp budget */
    double t_begin, t_logins_done, t_last_tick, t_last_progress;
    long long cpu_login_before; /* server CPU ticks when the logins began */
    double *login_lat;          /* seconds, one per successful login */
    int dropped_at_login_end;
    long rss_before, rss_after;
    bool logins_done;
    /* every online session, for the modes to pick from */
    struct st_lg_sess **online;
    int n_online;
    struct st_lg_sess **by_user; /* online sessions by index - first_user, else NULL */
    /* SCRAM salted-password cache */
    struct st_lg_scram_entry scram_cache[ST_LG_SCRAM_CACHE];
    int scram_cache_n;
    int scram_cache_next;
    long pbkdf2_count;
    void *mode_state;
    int exit_code;
    /* raw sessions with output queued during this loop pass */
    struct event *flush_ev;
    struct st_lg_sess **flush;
    size_t n_flush, cap_flush;
};

/* ---------------------------------------------------------------------------------------- */
/* Small helpers                                                                            */

static void *st_lg_xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(2);
    }
    return p;
}

static void *st_lg_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "loadgen: out of memory\n");
        exit(2);
    }
    return p;
}

static double st_lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t st_lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* VmRSS of a process in KiB, or -1. */
static long st_lg_rss_kib(long pid)
{
    char path[64], line[256];
    long kib = -1;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* utime+stime of a process and all its threads, in clock ticks, or -1. */
static long long st_lg_cpu_ticks(long pid)
{
    char path[64], buf[1024];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields start after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

static int st_lg_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of a sorted array. */
static double st_lg_quantile(const double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void st_lg_b64_encode(const unsigned char *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* Decodes base64 (whitespace-free) into out; returns the length or -1. */
static long st_lg_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
    if (len % 4 != 0 || len / 4 * 3 > cap)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as data */
    if (len >= 1 && in[len - 1] == '=')
        n--;
    if (len >= 2 && in[len - 2] == '=')
        n--;
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Minimal XML: framing of top-level elements and lookups inside one element                */

enum st_lg_tok { ST_LG_TOK_OPEN, ST_LG_TOK_CLOSE, ST_LG_TOK_EMPTY, ST_LG_TOK_OTHER };

static const char *st_lg_memstr(const char *h, size_t hlen, const char *needle)
{
    return memmem(h, hlen, needle, strlen(needle));
}

/* Length of the markup token at p ('<'), 0 if incomplete; *type says what it is. */
static size_t st_lg_token(const char *p, size_t len, enum st_lg_tok *type)
{
    static const struct {
        const char *open, *close;
    } special[] = {{"<![CDATA[", "]]>"}, {"<!--", "-->"}, {"<?", "?>"}};
    *type = ST_LG_TOK_OTHER;
    if (len < 2)
        return 0;
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++) {
        size_t ol = strlen(special[k].open);
        if (memcmp(p, special[k].open, len < ol ? len : ol) != 0)
            continue;
        if (len < ol)
            return 0;
        const char *e = st_lg_memstr(p + ol, len - ol, special[k].close);
        return e ? (size_t)(e - p) + strlen(special[k].close) : 0;
    }
    char quote = 0;
    for (size_t i = 1; i < len; i++) {
        char c = p[i];
        if (quote) {
            if (c == quote)
                quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '>') {
            if (p[1] == '/')
                *type = ST_LG_TOK_CLOSE;
            else if (p[1] == '!')
                *type = ST_LG_TOK_OTHER;
            else
                *type = p[i - 1] == '/' ? ST_LG_TOK_EMPTY : ST_LG_TOK_OPEN;
            return i + 1;
        }
    }
    return 0;
}

/* Length of the complete element starting at p ('<'), 0 if incomplete. */
static size_t st_lg_element(const char *p, size_t len)
{
    size_t pos = 0;
    int depth = 0;
    while (pos < len) {
        if (p[pos] != '<') {
            const char *lt = memchr(p + pos, '<', len - pos);
            if (!lt)
                return 0;
            pos = (size_t)(lt - p);
            continue;
        }
        enum st_lg_tok type;
        size_t n = st_lg_token(p + pos, len - pos, &type);
        if (n == 0)
            return 0;
        pos += n;
        if (type == ST_LG_TOK_OPEN)
            depth++;
        else if (type == ST_LG_TOK_CLOSE)
            depth--;
        if (depth <= 0 && type != ST_LG_TOK_OTHER)
            return pos;
    }
    return 0;
}

/* True if the element's own name (after any prefix) is local. */
static bool st_lg_is(const char *el, size_t len, const char *local)
{
    size_t i = 1, start = 1;
    while (i < len && el[i] != ' ' && el[i] != '>' && el[i] != '/' && el[i] != '\t' &&
           el[i] != '\n' && el[i] != '\r') {
        if (el[i] == ':')
            start = i + 1;
        i++;
    }
    size_t ll = strlen(local);
    return i - start == ll && memcmp(el + start, local, ll) == 0;
}

/* Copies the value of attribute name of the element's first tag into out; false if absent. */
static bool st_lg_attr(const char *el, size_t len, const char *name, char *out, size_t cap)
{
    enum st_lg_tok type;
    size_t tl = st_lg_token(el, len, &type);
    size_t nl = strlen(name);
    for (size_t i = 1; i + nl + 2 < tl; i++) {
        char prev = el[i - 1];
        if ((prev != ' ' && prev != '\t' && prev != '\n' && prev != '\r') ||
            memcmp(el + i, name, nl) != 0)
            continue;
        size_t j = i + nl;
        while (j < tl && el[j] == ' ')
            j++;
        if (j >= tl || el[j] != '=')
            continue;
        j++;
        while (j < tl && el[j] == ' ')
            j++;
        if (j >= tl || (el[j] != '"' && el[j] != '\''))
            continue;
        char q = el[j++];
        const char *end = memchr(el + j, q, tl - j);
        if (!end || (size_t)(end - (el + j)) >= cap)
            return false;
        memcpy(out, el + j, (size_t)(end - (el + j)));
        out[end - (el + j)] = '\0';
        return true;
    }
    return false;
}

/*
 * Finds the first descendant tag whose name is exactly tag (e.g. "mechanism", "body") and
 * returns a pointer to its text content, with its length in *tlen; NULL if absent or empty.
 */
static const char *st_lg_child_text(const char *el, size_t len, const char *tag, size_t *tlen)
{
    size_t tl = strlen(tag);
    const char *p = el, *end = el + len;
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        p++;
        if ((size_t)(end - p) > tl && memcmp(p, tag, tl) == 0 && (p[tl] == '>' || p[tl] == ' ')) {
            const char *gt = memchr(p, '>', (size_t)(end - p));
            if (!gt || gt[-1] == '/')
                return NULL;
            const char *lt = memchr(gt + 1, '<', (size_t)(end - gt - 1));
            if (!lt)
                return NULL;
            *tlen = (size_t)(lt - gt - 1);
            return gt + 1;
        }
    }
    return NULL;
}

/* Finds the first child tag named tag in el; returns it and the length of that element. */
static const char *st_lg_child(const char *el, size_t len, const char *tag, size_t *clen)
{
    size_t tl = strlen(tag);
    const char *p = el + 1, *end = el + len;
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        if ((size_t)(end - p) > tl + 1 && memcmp(p + 1, tag, tl) == 0 &&
            (p[tl + 1] == '>' || p[tl + 1] == ' ' || p[tl + 1] == '/')) {
            *clen = st_lg_element(p, (size_t)(end - p));
            return *clen ? p : NULL;
        }
        p++;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* SCRAM-SHA-256 client (RFC 5802, RFC 7677)                                                */

/* SaltedPassword for (salt, iterations): computed once, then served from the cache. */
static const unsigned char *st_lg_salted_password(struct st_lg *lg, const unsigned char *salt,
                                                  size_t salt_len, unsigned iterations)
{
    for (int i = 0; i < lg->scram_cache_n; i++) {
        struct st_lg_scram_entry *e = &lg->scram_cache[i];
        if (e->iterations == iterations && e->salt_len == salt_len &&
            memcmp(e->salt, salt, salt_len) == 0)
            return e->salted;
    }
    struct st_lg_scram_entry *e = &lg->scram_cache[lg->scram_cache_next];
    lg->scram_cache_next = (lg->scram_cache_next + 1) % ST_LG_SCRAM_CACHE;
    if (lg->scram_cache_n < ST_LG_SCRAM_CACHE)
        lg->scram_cache_n++;
    memcpy(e->salt, salt, salt_len);
    e->salt_len = salt_len;
    e->iterations = iterations;
    if (!PKCS5_PBKDF2_HMAC(lg->o.password, (int)strlen(lg->o.password), salt, (int)salt_len,
                           (int)iterations, EVP_sha256(), ST_LG_HASH_LEN, e->salted)) {
        fprintf(stderr, "loadgen: PBKDF2 failed\n");
        exit(2);
    }
    lg->pbkdf2_count++;
    return e->salted;
}

static void st_lg_hmac(const unsigned char *key, const void *data, size_t len, unsigned char *out)
{
    unsigned int ol = ST_LG_HASH_LEN;
    HMAC(EVP_sha256(), key, ST_LG_HASH_LEN, data, len, out, &ol);
}

/* Writes the SCRAM client-first message (base64, NUL-terminated) into out. */
static bool st_lg_scram_first(struct st_lg_sess *s, const char *user, char *out, size_t cap)
{
    unsigned char rnd[18];
    char msg[256];
    struct st_lg_scram *sc = st_lg_xcalloc(1, sizeof *sc);
    s->scram = sc;
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return false;
    st_lg_b64_encode(rnd, sizeof rnd, sc->cnonce);
    /* user names from --user-format carry no ',' or '=', which SCRAM would have to escape */
    int n = snprintf(sc->client_first_bare, sizeof sc->client_first_bare, "n=%s,r=%s", user,
                     sc->cnonce);
    if (n < 0 || (size_t)n >= sizeof sc->client_first_bare)
        return false;
    snprintf(sc->gs2, sizeof sc->gs2, "%s%s,,", s->lg->o.plus ? "p=" : "n",
             s->lg->o.plus ? s->lg->o.plus : "");
    n = snprintf(msg, sizeof msg, "%s%s", sc->gs2, sc->client_first_bare);
    if ((size_t)n * 4 / 3 + 4 >= cap)
        return false;
    st_lg_b64_encode((const unsigned char *)msg, (size_t)n, out);
    return true;
}

/* Finds "k=" in a comma-separated SCRAM message; returns the value and its length. */
static const char *st_lg_scram_field(const char *msg, size_t len, char k, size_t *vlen)
{
    const char *p = msg, *end = msg + len;
    while (p + 1 < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        if (p[0] == k && p[1] == '=') {
            *vlen = (size_t)(stop - p - 2);
            return p + 2;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return NULL;
}

/* Channel-binding data of the session's TLS connection (RFC 9266 tls-exporter, RFC 5929
   tls-server-end-point); writes at most 64 bytes, returns their number or 0. */
static size_t st_lg_channel_binding(struct st_lg_sess *s, const char *type, unsigned char *out)
{
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
    if (ssl == NULL)
        return 0;
    if (strcmp(type, "tls-exporter") == 0) {
        static const char label[] = "EXPORTER-Channel-Binding";
        if (SSL_export_keying_material(ssl, out, 32, label, sizeof label - 1,
                                       (const unsigned char *)"", 0, 1) != 1)
            return 0;
        return 32;
    }
    if (strcmp(type, "tls-server-end-point") == 0) {
        X509 *cert = SSL_get0_peer_certificate(ssl);
        int md_nid = NID_undef;
        if (cert == NULL || !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
            return 0;
        const EVP_MD *md = EVP_get_digestbynid(md_nid);
        if (md == NULL || md_nid == NID_md5 || md_nid == NID_sha1)
            md = EVP_sha256();
        unsigned int len = 0;
        if (X509_digest(cert, md, out, &len) != 1 || len > 64)
            return 0;
        return len;
    }
    return 0;
}

/* From the base64 server-first message, writes the base64 client-final message into out. */
static bool st_lg_scram_final(struct st_lg_sess *s, const char *b64, size_t b64len, char *out,
                              size_t cap)
{
    struct st_lg_scram *sc = s->scram;
    char sfirst[512], cfinal[512], authmsg[1280], proof_b64[64];
    unsigned char salt[ST_LG_MAX_SALT + 4];
    unsigned char client_key[ST_LG_HASH_LEN], stored_key[ST_LG_HASH_LEN];
    unsigned char client_sig[ST_LG_HASH_LEN], proof[ST_LG_HASH_LEN], server_key[ST_LG_HASH_LEN];

    long sl = st_lg_b64_decode(b64, b64len, (unsigned char *)sfirst, sizeof sfirst - 1);
    if (!sc || sl <= 0)
        return false;
    sfirst[sl] = '\0';
    size_t rlen, slen, ilen;
    const char *r = st_lg_scram_field(sfirst, (size_t)sl, 'r', &rlen);
    const char *sv = st_lg_scram_field(sfirst, (size_t)sl, 's', &slen);
    const char *iv = st_lg_scram_field(sfirst, (size_t)sl, 'i', &ilen);
    size_t cnl = strlen(sc->cnonce);
    if (!r || !sv || !iv || rlen <= cnl || memcmp(r, sc->cnonce, cnl) != 0)
        return false;
    long iterations = strtol(iv, NULL, 10);
    long saltlen = st_lg_b64_decode(sv, slen, salt, sizeof salt);
    if (iterations < 1 || iterations > 10000000 || saltlen <= 0 || saltlen > ST_LG_MAX_SALT)
        return false;

    const unsigned char *salted =
        st_lg_salted_password(s->lg, salt, (size_t)saltlen, (unsigned)iterations);
    /* c= is the gs2 header, followed for -PLUS by the channel-binding data */
    unsigned char cbind[48 + 64];
    size_t cbl = strlen(sc->gs2);
    memcpy(cbind, sc->gs2, cbl);
    if (s->lg->o.plus != NULL) {
        size_t dl = st_lg_channel_binding(s, s->lg->o.plus, cbind + cbl);
        if (dl == 0)
            return false;
        cbl += dl;
    }
    char cbind_b64[160];
    st_lg_b64_encode(cbind, cbl, cbind_b64);
    int n = snprintf(cfinal, sizeof cfinal, "c=%s,r=%.*s", cbind_b64, (int)rlen, r);
    if (n < 0 || (size_t)n >= sizeof cfinal)
        return false;
    size_t cfl = (size_t)n;
    n = snprintf(authmsg, sizeof authmsg, "%s,%s,%s", sc->client_first_bare, sfirst, cfinal);
    if (n < 0 || (size_t)n >= sizeof authmsg)
        return false;
    st_lg_hmac(salted, "Client Key", 10, client_key);
    SHA256(client_key, sizeof client_key, stored_key);
    st_lg_hmac(stored_key, authmsg, (size_t)n, client_sig);
    for (size_t i = 0; i < ST_LG_HASH_LEN; i++)
        proof[i] = client_key[i] ^ client_sig[i];
    st_lg_hmac(salted, "Server Key", 10, server_key);
    st_lg_hmac(server_key, authmsg, (size_t)n, sc->server_sig);
    st_lg_b64_encode(proof, sizeof proof, proof_b64);
    n = snprintf(cfinal + cfl, sizeof cfinal - cfl, ",p=%s", proof_b64);
    if (n < 0 || (size_t)n >= sizeof cfinal - cfl)
        return false;
    cfl += (size_t)n;
    if (cfl * 4 / 3 + 4 >= cap)
        return false;
    st_lg_b64_encode((const unsigned char *)cfinal, cfl, out);
    return true;
}

/* Checks the base64 server-final message ("v=..."). */
static bool st_lg_scram_verify(struct st_lg_sess *s, const char *b64, size_t b64len)
{
    char sfinal[256];
    unsigned char sig[ST_LG_HASH_LEN + 4];
    long n = st_lg_b64_decode(b64, b64len, (unsigned char *)sfinal, sizeof sfinal - 1);
    if (!s->scram || n <= 0)
        return false;
    size_t vlen;
    const char *v = st_lg_scram_field(sfinal, (size_t)n, 'v', &vlen);
    if (!v || st_lg_b64_decode(v, vlen, sig, sizeof sig) != ST_LG_HASH_LEN)
        return false;
    return CRYPTO_memcmp(sig, s->scram->server_sig, ST_LG_HASH_LEN) == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Sessions                                                                                 */

static void st_lg_start_more(struct st_lg *lg);
static void st_lg_login_phase_check(struct st_lg *lg);
static void st_lg_readcb(struct bufferevent *bev, void *arg);
static void st_lg_eventcb(struct bufferevent *bev, short what, void *arg);

static void st_lg_send(struct st_lg_sess *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void st_lg_raw_queue(struct st_lg_sess *s);

static void st_lg_send(struct st_lg_sess *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (s->raw == NULL) {
        evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
        va_end(ap);
        return;
    }
    struct st_lg_raw *r = s->raw;
    /* formatted straight into the queue; only a message that does not fit is formatted twice */
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(r->out + r->out_len, r->out_cap - r->out_len, fmt, ap);
    if (n >= 0 && r->out_len + (size_t)n >= r->out_cap) {
        r->out_cap = (r->out_len + (size_t)n + 1) * 2;
        r->out = st_lg_xrealloc(r->out, r->out_cap);
        vsnprintf(r->out + r->out_len, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    va_end(ap);
    if (n > 0) {
        r->out_len += (size_t)n;
        st_lg_raw_queue(s);
    }
}

static void st_lg_user(const struct st_lg *lg, int index, char *out, size_t cap)
{
    /* the format comes from the command line and holds one %d */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(out, cap, lg->o.user_format, index);
#pragma GCC diagnostic pop
}

static void st_lg_online_remove(struct st_lg *lg, struct st_lg_sess *s)
{
    if (s->slot < 0)
        return;
    lg->by_user[s->index - lg->o.first_user] = NULL;
    struct st_lg_sess *last = lg->online[--lg->n_online];
    lg->online[s->slot] = last;
    last->slot = s->slot;
    s->slot = -1;
}

static void st_lg_sess_free(struct st_lg_sess *s)
{
    st_lg_online_remove(s->lg, s);
    if (s->raw) {
        struct st_lg *lg = s->lg;
        for (size_t i = 0; i < lg->n_flush; i++)
            if (lg->flush[i] == s)
                lg->flush[i] = NULL;
        event_free(s->raw->rev);
        event_free(s->raw->wev);
        free(s->raw->in);
        free(s->raw->out);
        free(s->raw);
        s->raw = NULL;
    }
    if (s->bev) {
        evutil_socket_t fd = bufferevent_getfd(s->bev);
        bufferevent_free(s->bev);
        /* only the TLS bufferevent owns its socket */
        if (!s->tls && fd >= 0)
            evutil_closesocket(fd);
    }
    free(s->scram);
    free(s->jid);
    free(s);
}

/* Ends a session that did not (or no longer) work; counts why. */
static void st_lg_fail(struct st_lg_sess *s, enum st_lg_fail why, const char *detail)
{
    struct st_lg *lg = s->lg;
    if (lg->o.verbose)
        fprintf(stderr, "loadgen: user %d: %s failure in state %d%s%s\n", s->index,
                st_lg_fail_names[why], (int)s->state, detail ? ": " : "", detail ? detail : "");
    if (s->extra) {
        if (lg->mode->end_cb)
            lg->mode->end_cb(lg, s, st_lg_fail_names[why]);
        st_lg_sess_free(s);
        return;
    }
    if (s->state != ST_LG_ONLINE) {
        lg->in_flight--;
        lg->failed++;
    }
    lg->fails[why]++;
    st_lg_sess_free(s);
    st_lg_login_phase_check(lg);
}

static void st_lg_stream_header(struct st_lg_sess *s)
{
    s->stream_open = false;
    st_lg_send(s,
               "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0' "
               "xml:lang='en'>",
               s->lg->o.domain);
}

/* Replaces the plain bufferevent by a TLS one on the same socket and starts the handshake. */
static bool st_lg_start_tls(struct st_lg_sess *s)
{
    struct st_lg *lg = s->lg;
    evutil_socket_t fd = bufferevent_getfd(s->bev);
    SSL *ssl = SSL_new(lg->ssl);
    if (!ssl)
        return false;
    SSL_set_tlsext_host_name(ssl, lg->o.domain);
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    bufferevent_setcb(s->bev, NULL, NULL, NULL, NULL);
    /* the plain bufferevent was made without BEV_OPT_CLOSE_ON_FREE: the socket survives */
    bufferevent_free(s->bev);
    s->bev = bufferevent_openssl_socket_new(lg->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!s->bev) {
        SSL_free(ssl);
        evutil_closesocket(fd);
        return false;
    }
    s->tls = true;
    bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
    bufferevent_setcb(s->bev, st_lg_readcb, NULL, st_lg_eventcb, s);
    struct timeval tv = {(time_t)lg->o.timeout, 0};
    bufferevent_set_timeouts(s->bev, &tv, &tv);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->state = ST_LG_HANDSHAKE;
    return true;
}

static void st_lg_went_online(struct st_lg_sess *s)
{
    struct st_lg *lg = s->lg;
    s->state = ST_LG_ONLINE;
    free(s->scram);
    s->scram = NULL;
    bufferevent_set_timeouts(s->bev, NULL, NULL);
    lg->in_flight--;
    lg->login_lat[lg->ok++] = st_lg_now() - s->t_start;
    s->slot = lg->n_online;
    lg->online[lg->n_online++] = s;
    lg->by_user[s->index - lg->o.first_user] = s;
    if (lg->mode->online_cb)
        lg->mode->online_cb(lg, s);
    st_lg_start_more(lg);
    st_lg_login_phase_check(lg);
}

/* Answers what any online client must answer (pings); true if the element was consumed. */
static bool st_lg_answer_iq(struct st_lg_sess *s, const char *el, size_t len)
{
    char type[16], id[128], from[512];
    if (!st_lg_is(el, len, "iq") || !st_lg_attr(el, len, "type", type, sizeof type))
        return false;
    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
        return false;
    if (!st_lg_attr(el, len, "id", id, sizeof id))
        id[0] = '\0';
    bool has_from = st_lg_attr(el, len, "from", from, sizeof from);
    /* a ping, and a roster push (RFC 6121 2.1.6: the client acknowledges it) */
    if (st_lg_memstr(el, len, ST_LG_NS_PING) ||
        (strcmp(type, "set") == 0 && st_lg_memstr(el, len, ST_LG_NS_ROSTER)))
        st_lg_send(s, "<iq type='result' id='%s'%s%s%s/>", id, has_from ? " to='" : "",
                   has_from ? from : "", has_from ? "'" : "");
    else
        st_lg_send(s,
                   "<iq type='error' id='%s'%s%s%s><error type='cancel'><service-unavailable "
                   "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
                   id, has_from ? " to='" : "", has_from ? from : "", has_from ? "'" : "");
    return true;
}

/* Sends <auth/>; false if the session failed (and was freed). */
static bool st_lg_send_auth(struct st_lg_sess *s, bool scram)
{
    struct st_lg *lg = s->lg;
    char user[256], b64[512];
    st_lg_user(lg, s->index, user, sizeof user);
    if (scram) {
        if (!st_lg_scram_first(s, user, b64, sizeof b64)) {
            st_lg_fail(s, ST_LG_FAIL_AUTH, "client-first");
            return false;
        }
        st_lg_send(s, "<auth xmlns='" ST_LG_NS_SASL "' mechanism='SCRAM-SHA-256%s'>%s</auth>",
                   lg->o.plus ? "-PLUS" : "", b64);
        s->state = ST_LG_SASL_CHALLENGE;
    } else {
        char msg[512];
        size_t ul = strlen(user), pl = strlen(lg->o.password);
        if (ul + pl + 2 > sizeof msg || (ul + pl + 2) * 4 / 3 + 4 >= sizeof b64) {
            st_lg_fail(s, ST_LG_FAIL_AUTH, "credentials too long");
            return false;
        }
        msg[0] = '\0';
        memcpy(msg + 1, user, ul);
        msg[1 + ul] = '\0';
        memcpy(msg + 2 + ul, lg->o.password, pl);
        st_lg_b64_encode((unsigned char *)msg, ul + pl + 2, b64);
        st_lg_send(s, "<auth xmlns='" ST_LG_NS_SASL "' mechanism='PLAIN'>%s</auth>", b64);
        s->state = ST_LG_SASL_SUCCESS;
    }
    return true;
}

/* Handles one complete top-level element. Returns false if the session was freed. */
static bool st_lg_on_element(struct st_lg_sess *s, const char *el, size_t len)
{
    struct st_lg *lg = s->lg;
    char type[16], id[16];
    size_t tl, cl;
    const char *c;
    const char *t;

    if (st_lg_is(el, len, "error") && s->state != ST_LG_ONLINE) {
        st_lg_fail(s, ST_LG_FAIL_PROTOCOL, "stream error");
        return false;
    }
    switch (s->state) {
    case ST_LG_FEATURES_PLAIN:
        if (!st_lg_is(el, len, "features"))
            break;
        if (!st_lg_memstr(el, len, "<starttls")) {
            st_lg_fail(s, ST_LG_FAIL_TLS, "no STARTTLS offered");
            return false;
        }
        st_lg_send(s, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        s->state = ST_LG_PROCEED;
        break;
    case ST_LG_PROCEED:
        if (!st_lg_is(el, len, "proceed")) {
            st_lg_fail(s, ST_LG_FAIL_TLS, "STARTTLS refused");
            return false;
        }
        if (!st_lg_start_tls(s)) {
            st_lg_fail(s, ST_LG_FAIL_TLS, "SSL_new");
            return false;
        }
        return false; /* the old input buffer is gone: stop reading from it */
    case ST_LG_FEATURES_TLS: {
        if (!st_lg_is(el, len, "features"))
            break;
        bool scram = st_lg_memstr(el, len, lg->o.plus ? ">SCRAM-SHA-256-PLUS<"
                                                      : ">SCRAM-SHA-256<") != NULL;
        bool plain = st_lg_memstr(el, len, ">PLAIN<") != NULL;
        if (lg->o.sasl == ST_LG_SASL_PLAIN)
            scram = false;
        else if (lg->o.sasl == ST_LG_SASL_SCRAM)
            plain = false;
        if (!scram && !plain) {
            st_lg_fail(s, ST_LG_FAIL_AUTH, "no usable SASL mechanism offered");
            return false;
        }
        return st_lg_send_auth(s, scram);
    }
    case ST_LG_SASL_CHALLENGE: {
        char b64[1024];
        t = st_lg_is(el, len, "challenge") ? st_lg_child_text(el, len, "challenge", &tl) : NULL;
        if (!t || !st_lg_scram_final(s, t, tl, b64, sizeof b64)) {
            st_lg_fail(s, ST_LG_FAIL_AUTH, "bad server-first message");
            return false;
        }
        st_lg_send(s, "<response xmlns='" ST_LG_NS_SASL "'>%s</response>", b64);
        s->state = ST_LG_SASL_SUCCESS;
        break;
    }
    case ST_LG_SASL_SUCCESS:
        if (st_lg_is(el, len, "challenge") && s->scram) {
            /* RFC 6120 6.4.6 allows the server-final message as a last challenge */
            t = st_lg_child_text(el, len, "challenge", &tl);
            if (!t || !st_lg_scram_verify(s, t, tl)) {
                st_lg_fail(s, ST_LG_FAIL_AUTH, "bad server signature");
                return false;
            }
            free(s->scram);
            s->scram = NULL;
            st_lg_send(s, "<response xmlns='" ST_LG_NS_SASL "'/>");
            break;
        }
        if (!st_lg_is(el, len, "success")) {
            st_lg_fail(s, ST_LG_FAIL_AUTH, "SASL failure");
            return false;
        }
        if (s->scram) {
            t = st_lg_child_text(el, len, "success", &tl);
            if (!t || !st_lg_scram_verify(s, t, tl)) {
                st_lg_fail(s, ST_LG_FAIL_AUTH, "bad server signature");
                return false;
            }
            free(s->scram);
            s->scram = NULL;
        }
        st_lg_stream_header(s);
        s->state = ST_LG_FEATURES_AUTH;
        break;
    case ST_LG_FEATURES_AUTH:
        if (!st_lg_is(el, len, "features"))
            break;
        if (!st_lg_memstr(el, len, ST_LG_NS_BIND)) {
            st_lg_fail(s, ST_LG_FAIL_BIND, "no bind feature");
            return false;
        }
        /* the legacy session iq (RFC 3921) is needed only when offered and not optional */
        c = st_lg_child(el, len, "session", &cl);
        s->need_session =
            c && st_lg_memstr(c, cl, ST_LG_NS_SESSION) && !st_lg_memstr(c, cl, "<optional");
        st_lg_send(s,
                   "<iq type='set' id='b1'><bind xmlns='" ST_LG_NS_BIND
                   "'><resource>%s</resource></bind></iq>",
                   lg->o.resource);
        s->state = ST_LG_BIND;
        break;
    case ST_LG_BIND:
    case ST_LG_SESSION:
    case ST_LG_PRESENCE:
        if (st_lg_answer_iq(s, el, len))
            break;
        if (!st_lg_is(el, len, "iq") || !st_lg_attr(el, len, "id", id, sizeof id))
            break; /* e.g. our own presence coming back */
        if (!st_lg_attr(el, len, "type", type, sizeof type))
            type[0] = '\0';
        if (s->state == ST_LG_BIND && strcmp(id, "b1") == 0) {
            if (strcmp(type, "result") != 0) {
                st_lg_fail(s, ST_LG_FAIL_BIND, "bind refused");
                return false;
            }
            /* the server may change the resource: messages go to the JID it bound */
            t = st_lg_child_text(el, len, "jid", &tl);
            if (!t || tl == 0 || tl > 1023 || memchr(t, '\'', tl) || memchr(t, '<', tl)) {
                st_lg_fail(s, ST_LG_FAIL_BIND, "no usable jid in the bind result");
                return false;
            }
            s->jid = st_lg_xcalloc(1, tl + 1);
            memcpy(s->jid, t, tl);
            if (s->need_session) {
                st_lg_send(s,
                           "<iq type='set' id='s1'><session xmlns='" ST_LG_NS_SESSION "'/></iq>");
                s->state = ST_LG_SESSION;
                break;
            }
        } else if (s->state == ST_LG_SESSION && strcmp(id, "s1") == 0) {
            if (strcmp(type, "result") != 0) {
                st_lg_fail(s, ST_LG_FAIL_BIND, "session refused");
                return false;
            }
        } else if (s->state == ST_LG_PRESENCE && strcmp(id, "p1") == 0) {
            /* result or error: either way the server has handled the presence before it */
            st_lg_went_online(s);
            break;
        } else {
            break;
        }
        if (s->extra) {
            /* the mode's own session: bound, nothing sent yet */
            s->state = ST_LG_ONLINE;
            free(s->scram);
            s->scram = NULL;
            bufferevent_set_timeouts(s->bev, NULL, NULL);
            if (lg->mode->bound_cb)
                lg->mode->bound_cb(lg, s);
            break;
        }
        /* an iq ping after the presence: its answer proves the presence was processed */
        st_lg_send(s, "<presence/><iq type='get' id='p1'><ping xmlns='" ST_LG_NS_PING "'/></iq>");
        s->state = ST_LG_PRESENCE;
        break;
    case ST_LG_ONLINE:
        if (st_lg_answer_iq(s, el, len))
            break;
        if (lg->mode->stanza_cb && !lg->mode->stanza_cb(lg, s, el, len)) {
            st_lg_fail(s, ST_LG_FAIL_PROTOCOL, "mode refused a stanza");
            return false;
        }
        break;
    default:
        break;
    }
    return true;
}

/* Handles the whole elements at the start of p; returns the bytes used, or SIZE_MAX when the
   session is gone (failed and freed, or its input replaced). */
static size_t st_lg_scan(struct st_lg_sess *s, const char *p, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        if (p[pos] != '<') {
            pos++; /* whitespace keepalives and stray text between elements */
            continue;
        }
        if (!s->stream_open) {
            enum st_lg_tok type;
            size_t n = st_lg_token(p + pos, len - pos, &type);
            if (n == 0)
                break;
            if (type == ST_LG_TOK_OPEN && st_lg_is(p + pos, n, "stream")) {
                s->stream_open = true;
            } else if (type != ST_LG_TOK_OTHER) {
                st_lg_fail(s, ST_LG_FAIL_PROTOCOL, "no stream header");
                return SIZE_MAX;
            }
            pos += n;
            continue;
        }
        if (len - pos >= 2 && p[pos + 1] == '/') {
            st_lg_fail(s, ST_LG_FAIL_CLOSED, "stream closed by server");
            return SIZE_MAX;
        }
        size_t n = st_lg_element(p + pos, len - pos);
        if (n == 0)
            break;
        if (!st_lg_on_element(s, p + pos, n))
            return SIZE_MAX; /* the session, or at least this buffer, is gone */
        pos += n;
    }
    if (len - pos > ST_LG_MAX_ELEMENT) {
        st_lg_fail(s, ST_LG_FAIL_PROTOCOL, "element too large");
        return SIZE_MAX;
    }
    return pos;
}

static void st_lg_readcb(struct bufferevent *bev, void *arg)
{
    struct st_lg_sess *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (len == 0)
        return;
    size_t used = st_lg_scan(s, (const char *)evbuffer_pullup(in, -1), len);
    if (used != SIZE_MAX)
        evbuffer_drain(in, used);
}

/* ---- raw sessions (struct st_lg_raw) ---- */

static void st_lg_raw_flush_ev(evutil_socket_t fd, short what, void *arg);

static void st_lg_raw_queue(struct st_lg_sess *s)
{
    struct st_lg *lg = s->lg;
    if (s->raw->queued || event_pending(s->raw->wev, EV_WRITE, NULL))
        return;
    if (lg->n_flush == lg->cap_flush) {
        lg->cap_flush = lg->cap_flush ? lg->cap_flush * 2 : 256;
        lg->flush = st_lg_xrealloc(lg->flush, lg->cap_flush * sizeof *lg->flush);
    }
    lg->flush[lg->n_flush++] = s;
    s->raw->queued = true;
    if (lg->n_flush == 1)
        event_active(lg->flush_ev, EV_WRITE, 1);
}

/* Writes the queued output; false when the session failed (and is freed). */
static bool st_lg_raw_write(struct st_lg_sess *s)
{
    struct st_lg_raw *r = s->raw;
    size_t done = 0;
    ERR_clear_error(); /* SSL_get_error() reads the queue: another session's error would count */
    while (done < r->out_len) {
        int n = SSL_write(r->ssl, r->out + done, (int)(r->out_len - done));
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        int err = SSL_get_error(r->ssl, n);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
            memmove(r->out, r->out + done, r->out_len - done);
            r->out_len -= done;
            event_add(r->wev, NULL); /* the rest when the kernel takes it */
            return true;
        }
        st_lg_fail(s, ST_LG_FAIL_CLOSED, "SSL_write failed");
        return false;
    }
    r->out_len = 0;
    return true;
}

static void st_lg_raw_flush_ev(evutil_socket_t fd, short what, void *arg)
{
    struct st_lg *lg = arg;
    (void)fd;
    (void)what;
    /* sessions queued while flushing (a failure's side effects) wait for the next pass */
    size_t n = lg->n_flush;
    for (size_t i = 0; i < n; i++) {
        struct st_lg_sess *s = lg->flush[i];
        if (s == NULL)
            continue;
        s->raw->queued = false;
        if (s->raw->out_len > 0)
            st_lg_raw_write(s);
    }
    memmove(lg->flush, lg->flush + n, (lg->n_flush - n) * sizeof *lg->flush);
    lg->n_flush -= n;
    if (lg->n_flush > 0)
        event_active(lg->flush_ev, EV_WRITE, 1);
}

static void st_lg_raw_writable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    st_lg_raw_write(arg);
}

static void st_lg_raw_readable(evutil_socket_t fd, short what, void *arg)
{
    struct st_lg_sess *s = arg;
    struct st_lg_raw *r = s->raw;
    (void)fd;
    (void)what;
    ERR_clear_error();
    for (;;) {
        if (r->in_cap - r->in_len < 16384) {
            r->in_cap = r->in_cap * 2 + 16384;
            r->in = st_lg_xrealloc(r->in, r->in_cap);
        }
        int n = SSL_read(r->ssl, r->in + r->in_len, (int)(r->in_cap - r->in_len));
        if (n > 0) {
            r->in_len += (size_t)n;
            continue;
        }
        int err = SSL_get_error(r->ssl, n);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            break;
        st_lg_fail(s, ST_LG_FAIL_CLOSED, err == SSL_ERROR_ZERO_RETURN ? "EOF" : "SSL_read failed");
        return;
    }
    size_t used = st_lg_scan(s, r->in, r->in_len);
    if (used == SIZE_MAX)
        return;
    memmove(r->in, r->in + used, r->in_len - used);
    r->in_len -= used;
}

/* Takes an online TLS session off its bufferevent (see struct st_lg_raw); a session with output
   still queued there, or a plain one, stays as it is. */
static void st_lg_go_raw(struct st_lg_sess *s)
{
    struct st_lg *lg = s->lg;
    if (s->raw || !s->tls || evbuffer_get_length(bufferevent_get_output(s->bev)) > 0)
        return;
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
    if (ssl == NULL)
        return;
    if (!lg->flush_ev)
        lg->flush_ev = event_new(lg->base, -1, 0, st_lg_raw_flush_ev, lg);
    bufferevent_disable(s->bev, EV_READ | EV_WRITE);
    bufferevent_set_timeouts(s->bev, NULL, NULL);
    evutil_socket_t fd = bufferevent_getfd(s->bev);
    struct st_lg_raw *r = st_lg_xcalloc(1, sizeof *r);
    r->ssl = ssl;
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_set_read_ahead(ssl, 1);
    /* what the bufferevent read but nobody used yet comes first */
    struct evbuffer *in = bufferevent_get_input(s->bev);
    r->in_len = evbuffer_get_length(in);
    r->in_cap = r->in_len + 16384;
    r->in = st_lg_xrealloc(NULL, r->in_cap);
    r->out_cap = 4096;
    r->out = st_lg_xrealloc(NULL, r->out_cap);
    evbuffer_remove(in, r->in, r->in_len);
    r->rev = event_new(lg->base, fd, EV_READ | EV_PERSIST, st_lg_raw_readable, s);
    r->wev = event_new(lg->base, fd, EV_WRITE, st_lg_raw_writable, s);
    s->raw = r;
    event_add(r->rev, NULL);
    /* bytes OpenSSL already holds would not make the socket readable again */
    event_active(r->rev, EV_READ, 1);
}

static void st_lg_eventcb(struct bufferevent *bev, short what, void *arg)
{
    struct st_lg_sess *s = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        if (s->state == ST_LG_CONNECTING) {
            evutil_socket_t fd = bufferevent_getfd(s->bev);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (s->lg->o.direct_tls) {
                if (!st_lg_start_tls(s))
                    st_lg_fail(s, ST_LG_FAIL_TLS, "SSL_new");
                return;
            }
            st_lg_stream_header(s);
            s->state = ST_LG_FEATURES_PLAIN;
        } else if (s->state == ST_LG_HANDSHAKE) {
            st_lg_stream_header(s);
            s->state = ST_LG_FEATURES_TLS;
        }
        return;
    }
    enum st_lg_fail why = ST_LG_FAIL_CLOSED;
    char detail[160] = "";
    if (what & BEV_EVENT_TIMEOUT)
        why = ST_LG_FAIL_TIMEOUT;
    else if (s->state == ST_LG_CONNECTING)
        why = ST_LG_FAIL_CONNECT;
    else if (s->state == ST_LG_HANDSHAKE)
        why = ST_LG_FAIL_TLS;
    if (s->lg->o.verbose) {
        unsigned long e = s->tls ? bufferevent_get_openssl_error(s->bev) : 0;
        if (e)
            ERR_error_string_n(e, detail, sizeof detail);
        else if (what & BEV_EVENT_ERROR)
            snprintf(detail, sizeof detail, "%s", strerror(EVUTIL_SOCKET_ERROR()));
        else if (what & BEV_EVENT_EOF)
            snprintf(detail, sizeof detail, "EOF");
    }
    st_lg_fail(s, why, detail[0] ? detail : NULL);
}

/* Starts the login of user number index; an extra session is the mode's (see st_lg_mode). Returns
   the session, or NULL when it already failed (and was freed). */
static struct st_lg_sess *st_lg_connect(struct st_lg *lg, int index, bool extra)
{
    struct st_lg_sess *s = st_lg_xcalloc(1, sizeof *s);
    s->lg = lg;
    s->index = index;
    s->extra = extra;
    s->slot = -1;
    s->state = ST_LG_CONNECTING;
    s->t_start = st_lg_now();
    if (!extra)
        lg->in_flight++;
    evutil_socket_t fd = socket(lg->addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        st_lg_fail(s, ST_LG_FAIL_CONNECT, strerror(errno));
        return NULL;
    }
    evutil_make_socket_nonblocking(fd);
    evutil_make_socket_closeonexec(fd);
    /* no BEV_OPT_CLOSE_ON_FREE: the socket outlives this bufferevent when STARTTLS swaps it */
    s->bev = bufferevent_socket_new(lg->base, fd, 0);
    if (!s->bev) {
        evutil_closesocket(fd);
        st_lg_fail(s, ST_LG_FAIL_CONNECT, "bufferevent_socket_new");
        return NULL;
    }
    bufferevent_setcb(s->bev, st_lg_readcb, NULL, st_lg_eventcb, s);
    struct timeval tv = {(time_t)lg->o.timeout, 0};
    bufferevent_set_timeouts(s->bev, &tv, &tv);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&lg->addr, (int)lg->addr_len) < 0) {
        st_lg_fail(s, ST_LG_FAIL_CONNECT, "connect");
        return NULL;
    }
    return s;
}

static void st_lg_start_one(struct st_lg *lg)
{
    st_lg_connect(lg, lg->o.first_user + lg->next_user++, false);
}

/* Starts as many logins as concurrency and ramp allow. */
static void st_lg_start_more(struct st_lg *lg)
{
    while (lg->next_user < lg->o.users && lg->in_flight < lg->o.concurrency) {
        if (lg->o.ramp > 0) {
            if (lg->tokens < 1)
                break;
            lg->tokens -= 1;
        }
        st_lg_start_one(lg);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Phases: logins, hold, the mode's run, finish                                             */

static void st_lg_close_all(struct st_lg *lg)
{
    while (lg->n_online > 0)
        st_lg_sess_free(lg->online[lg->n_online - 1]);
}

/* Ends the run: the mode reports, every session closes, the loop exits. */
static void st_lg_finish(struct st_lg *lg)
{
    if (lg->mode->report_cb)
        lg->mode->report_cb(lg);
    fflush(stdout);
    st_lg_close_all(lg);
    event_base_loopexit(lg->base, NULL);
}

static void st_lg_after_hold(evutil_socket_t fd, short what, void *arg)
{
    struct st_lg *lg = arg;
    (void)fd;
    (void)what;
    lg->rss_after = st_lg_rss_kib(lg->o.server_pid);
    if (lg->o.server_pid > 0) {
        double per = lg->n_online > 0 && lg->rss_before >= 0 && lg->rss_after >= 0
                         ? (double)(lg->rss_after - lg->rss_before) / lg->n_online
                         : 0;
        printf("server_rss_before_kib=%ld server_rss_after_kib=%ld rss_per_session_kib=%.2f "
               "sessions_held=%d\n",
               lg->rss_before, lg->rss_after, per, lg->n_online);
    }
    printf("client_rss_kib=%ld sessions_dropped_during_hold=%d\n", st_lg_rss_kib((long)getpid()),
           lg->fails[ST_LG_FAIL_CLOSED] + lg->fails[ST_LG_FAIL_PROTOCOL] -
               lg->dropped_at_login_end);
    fflush(stdout);
    if (lg->mode->run_cb)
        lg->mode->run_cb(lg);
    else
        st_lg_finish(lg);
}

/* Called whenever a login ends; once all are over, reports them and starts the hold. */
static void st_lg_login_phase_check(struct st_lg *lg)
{
    if (lg->logins_done || lg->next_user < lg->o.users || lg->in_flight > 0)
        return;
    lg->logins_done = true;
    lg->t_logins_done = st_lg_now();
    double elapsed = lg->t_logins_done - lg->t_begin;
    qsort(lg->login_lat, (size_t)lg->ok, sizeof *lg->login_lat, st_lg_cmp_double);
    printf("mode=%s users=%d concurrency=%d tls=%s\n", lg->mode->name, lg->o.users,
           lg->o.concurrency, lg->o.direct_tls ? "direct" : "starttls");
    printf("logins_ok=%d logins_failed=%d login_rate_per_s=%.1f elapsed_s=%.3f\n", lg->ok,
           lg->failed, elapsed > 0 ? lg->ok / elapsed : 0, elapsed);
    printf("login_latency_p50_ms=%.2f login_latency_p99_ms=%.2f login_latency_max_ms=%.2f "
           "pbkdf2_computed=%ld\n",
           1e3 * st_lg_quantile(lg->login_lat, (size_t)lg->ok, 0.5),
           1e3 * st_lg_quantile(lg->login_lat, (size_t)lg->ok, 0.99),
           1e3 * st_lg_quantile(lg->login_lat, (size_t)lg->ok, 1.0), lg->pbkdf2_count);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double client_cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("client_cpu_login_s=%.2f client_cpu_ms_per_login=%.3f\n", client_cpu,
           lg->ok > 0 ? 1e3 * client_cpu / lg->ok : 0);
    if (lg->o.server_pid > 0) {
        long long cpu = st_lg_cpu_ticks(lg->o.server_pid);
        double cpu_s = cpu >= 0 && lg->cpu_login_before >= 0
                           ? (double)(cpu - lg->cpu_login_before) / (double)sysconf(_SC_CLK_TCK)
                           : -1;
        printf("server_cpu_login_s=%.2f server_cpu_ms_per_login=%.3f\n", cpu_s,
               lg->ok > 0 && cpu_s >= 0 ? 1e3 * cpu_s / lg->ok : 0);
    }
    for (int i = 0; i < ST_LG_FAIL_COUNT; i++)
        if (lg->fails[i])
            printf("fail_%s=%d\n", st_lg_fail_names[i], lg->fails[i]);
    fflush(stdout);
    lg->dropped_at_login_end = lg->fails[ST_LG_FAIL_CLOSED] + lg->fails[ST_LG_FAIL_PROTOCOL];
    struct timeval tv = {(time_t)lg->o.hold,
                         (suseconds_t)((lg->o.hold - (double)(time_t)lg->o.hold) * 1e6)};
    event_base_once(lg->base, -1, EV_TIMEOUT, st_lg_after_hold, lg, &tv);
}

/* Every 10 ms: refill the ramp budget, start logins, print progress once a second. */
static void st_lg_tick(evutil_socket_t fd, short what, void *arg)
{
    struct st_lg *lg = arg;
    (void)fd;
    (void)what;
    double now = st_lg_now();
    if (lg->o.ramp > 0) {
        lg->tokens += lg->o.ramp * (now - lg->t_last_tick);
        if (lg->tokens > lg->o.concurrency)
            lg->tokens = lg->o.concurrency;
    }
    if (now - lg->t_last_progress >= 1.0) {
        lg->t_last_progress = now;
        if (!lg->logins_done)
            fprintf(stderr, "loadgen: %.1fs ok=%d failed=%d in_flight=%d\n", now - lg->t_begin,
                    lg->ok, lg->failed, lg->in_flight);
    }
    lg->t_last_tick = now;
    st_lg_start_more(lg);
}

/* ---------------------------------------------------------------------------------------- */
/* Modes                                                                                    */

static const struct st_lg_mode st_lg_mode_login = {
    .name = "login",
};

/*
 * chat: online users send 1:1 messages to the full JIDs of random other online users. Two ways
 * to drive it: at --rate messages/s in total (a latency test at a steady load), or with
 * --inflight K messages in flight (saturation: every delivered or bounced message lets its
 * sender send the next one, so the server runs as fast as it can take them). The body carries
 * the send time and the sender's number; the receiving session computes the latency. Only the
 * window after --warmup and before the end of --duration is measured: delivered messages, the
 * latency of messages sent in it, and server and client CPU time over it.
 */
struct st_lg_chat {
    struct event *timer;
    double t_start, t_measure, t_stop, t_end, t_last, budget;
    uint64_t measure_ns, stop_ns; /* the window, as st_lg_now_ns() values */
    bool measuring, stopped;
    uint64_t rng;
    long sent, delivered, errors;       /* all of the run */
    long w_sent, w_delivered, w_errors; /* at the start of the window, then over it */
    double *lat;                        /* seconds, messages sent inside the window */
    size_t n_lat, cap_lat;
    long long cpu_before, cpu_after;
    double client_cpu_before, client_cpu_after;
    char *pad;
};

static uint64_t st_lg_rand(uint64_t *x)
{
    /* xorshift64*: uniform enough to pick senders and recipients */
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 2685821657736338717ull;
}

static double st_lg_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Sends one message from sender to a random other online user's full JID. */
static void st_lg_chat_send(struct st_lg *lg, struct st_lg_chat *c, struct st_lg_sess *from)
{
    if (lg->n_online < 2 || from->slot < 0)
        return;
    int b = (int)(st_lg_rand(&c->rng) % (uint64_t)(lg->n_online - 1));
    if (b >= from->slot)
        b++;
    st_lg_send(from, "<message to='%s' type='chat'><body>T=%" PRIu64 " F=%d %s</body></message>",
               lg->online[b]->jid, st_lg_now_ns(), from->index, c->pad);
    c->sent++;
}

static void st_lg_chat_end(struct st_lg *lg)
{
    struct st_lg_chat *c = lg->mode_state;
    c->t_end = st_lg_now();
    event_free(c->timer);
    c->timer = NULL;
    st_lg_finish(lg);
}

static void st_lg_chat_tick(evutil_socket_t fd, short what, void *arg)
{
    struct st_lg *lg = arg;
    struct st_lg_chat *c = lg->mode_state;
    (void)fd;
    (void)what;
    double now = st_lg_now();
    if (!c->measuring && now >= c->t_measure) {
        c->measuring = true;
        c->measure_ns = st_lg_now_ns();
        c->t_measure = now;
        c->cpu_before = st_lg_cpu_ticks(lg->o.server_pid);
        c->client_cpu_before = st_lg_self_cpu();
        c->w_sent = c->sent;
        c->w_delivered = c->delivered;
        c->w_errors = c->errors;
    }
    if (now >= c->t_stop) {
        if (!c->stopped) {
            /* the window closes here; what is still in flight drains unmeasured (CPU) */
            c->stopped = true;
            c->stop_ns = st_lg_now_ns();
            c->t_stop = now;
            c->cpu_after = st_lg_cpu_ticks(lg->o.server_pid);
            c->client_cpu_after = st_lg_self_cpu();
            c->w_sent = c->sent - c->w_sent;
            c->w_delivered = c->delivered - c->w_delivered;
            c->w_errors = c->errors - c->w_errors;
        }
        /* drain: wait until everything sent is answered, or 5 seconds */
        if (c->delivered + c->errors >= c->sent || now >= c->t_stop + 5.0 || lg->n_online < 2)
            st_lg_chat_end(lg);
        return;
    }
    if (lg->o.chat_inflight > 0)
        return; /* saturation: deliveries drive the sending */
    c->budget += lg->o.chat_rate * (now - c->t_last);
    c->t_last = now;
    while (c->budget >= 1 && lg->n_online >= 2) {
        c->budget -= 1;
        int a = (int)(st_lg_rand(&c->rng) % (uint64_t)lg->n_online);
        st_lg_chat_send(lg, c, lg->online[a]);
    }
}

static void st_lg_chat_run(struct st_lg *lg)
{
    struct st_lg_chat *c = st_lg_xcalloc(1, sizeof *c);
    lg->mode_state = c;
    c->pad = st_lg_xcalloc(1, (size_t)lg->o.chat_body + 1);
    memset(c->pad, 'x', (size_t)lg->o.chat_body);
    c->rng = st_lg_now_ns() | 1;
    c->t_start = c->t_last = st_lg_now();
    double warmup = lg->o.chat_warmup < lg->o.chat_duration ? lg->o.chat_warmup : 0;
    c->t_measure = c->t_start + warmup;
    c->t_stop = c->t_start + lg->o.chat_duration;
    c->cpu_before = c->cpu_after = -1;
    c->timer = event_new(lg->base, -1, EV_PERSIST, st_lg_chat_tick, lg);
    /* The client must stay cheaper per message than the server it measures: the sessions leave
       their bufferevents (and the login timeouts; a lost message still shows in the report). */
    for (int i = 0; i < lg->n_online; i++)
        st_lg_go_raw(lg->online[i]);
    struct timeval tv = {0, 5000};
    event_add(c->timer, &tv);
    if (lg->o.chat_inflight > 0)
        for (int i = 0; i < lg->o.chat_inflight && lg->n_online >= 2; i++)
            st_lg_chat_send(lg, c, lg->online[st_lg_rand(&c->rng) % (uint64_t)lg->n_online]);
    st_lg_chat_tick(-1, 0, lg); /* a warm-up of 0 opens the window now */
}

/* Saturation: the message from sender number `from` is over (delivered or bounced). */
static void st_lg_chat_next(struct st_lg *lg, struct st_lg_chat *c, struct st_lg_sess *from)
{
    if (lg->o.chat_inflight <= 0 || c->stopped || !c->timer)
        return;
    if (!from || from->slot < 0) /* the sender is gone: keep the count in flight anyway */
        from = lg->n_online > 0 ? lg->online[st_lg_rand(&c->rng) % (uint64_t)lg->n_online] : NULL;
    if (from)
        st_lg_chat_send(lg, c, from);
}

static bool st_lg_chat_stanza(struct st_lg *lg, struct st_lg_sess *s, const char *el, size_t len)
{
    struct st_lg_chat *c = lg->mode_state;
    char type[16];
    if (!c || !st_lg_is(el, len, "message"))
        return true;
    if (st_lg_attr(el, len, "type", type, sizeof type) && strcmp(type, "error") == 0) {
        /* a bounce comes back to its sender */
        c->errors++;
        st_lg_chat_next(lg, c, s);
        return true;
    }
    size_t tl;
    const char *t = st_lg_child_text(el, len, "body", &tl);
    if (!t || tl < 3 || memcmp(t, "T=", 2) != 0)
        return true;
    char *end;
    uint64_t sent_ns = strtoull(t + 2, &end, 10);
    uint64_t now_ns = st_lg_now_ns();
    long from_index = -1;
    if (end + 3 < t + tl && memcmp(end, " F=", 3) == 0)
        from_index = strtol(end + 3, NULL, 10);
    c->delivered++;
    if (c->measuring && sent_ns >= c->measure_ns && (!c->stopped || sent_ns < c->stop_ns)) {
        if (c->n_lat == c->cap_lat) {
            c->cap_lat = c->cap_lat ? c->cap_lat * 2 : 65536;
            c->lat = st_lg_xrealloc(c->lat, c->cap_lat * sizeof *c->lat);
        }
        c->lat[c->n_lat++] = (double)(now_ns - sent_ns) / 1e9;
    }
    long u = from_index - lg->o.first_user;
    st_lg_chat_next(lg, c, u >= 0 && u < lg->o.users ? lg->by_user[u] : NULL);
    return true;
}

static void st_lg_chat_report(struct st_lg *lg)
{
    struct st_lg_chat *c = lg->mode_state;
    if (!c)
        return;
    double window = c->t_stop - c->t_measure;
    qsort(c->lat, c->n_lat, sizeof *c->lat, st_lg_cmp_double);
    if (lg->o.chat_inflight > 0)
        printf("chat_drive=inflight chat_inflight=%d", lg->o.chat_inflight);
    else
        printf("chat_drive=rate chat_rate=%.1f", lg->o.chat_rate);
    printf(" window_s=%.3f warmup_s=%.3f\n", window, c->t_measure - c->t_start);
    printf("chat_sent=%ld chat_delivered=%ld chat_errors=%ld chat_lost=%ld "
           "sessions_online_at_end=%d\n",
           c->sent, c->delivered, c->errors, c->sent - c->delivered - c->errors, lg->n_online);
    printf("window_sent=%ld window_delivered=%ld window_errors=%ld\n", c->w_sent, c->w_delivered,
           c->w_errors);
    printf("delivered_msgs_per_s=%.1f latency_p50_ms=%.3f latency_p99_ms=%.3f "
           "latency_max_ms=%.3f latency_samples=%zu\n",
           window > 0 ? c->w_delivered / window : 0, 1e3 * st_lg_quantile(c->lat, c->n_lat, 0.5),
           1e3 * st_lg_quantile(c->lat, c->n_lat, 0.99),
           1e3 * st_lg_quantile(c->lat, c->n_lat, 1.0), c->n_lat);
    double ccpu = c->client_cpu_after - c->client_cpu_before;
    printf("client_cpu_s_chat=%.2f client_cpu_us_per_msg=%.1f\n", ccpu,
           c->w_delivered > 0 ? ccpu * 1e6 / (double)c->w_delivered : 0);
    if (lg->o.server_pid > 0 && c->cpu_before >= 0 && c->cpu_after >= 0) {
        double us = (double)(c->cpu_after - c->cpu_before) * 1e6 / (double)sysconf(_SC_CLK_TCK);
        printf("server_cpu_s_chat=%.2f server_cpu_us_per_msg=%.1f server_cpu_share=%.2f\n",
               us / 1e6, c->w_delivered > 0 ? us / (double)c->w_delivered : 0,
               window > 0 ? us / 1e6 / window : 0);
    }
    free(c->lat);
    free(c->pad);
    free(c);
    lg->mode_state = NULL;
}

static const struct st_lg_mode st_lg_mode_chat = {
    .name = "chat",
    .run_cb = st_lg_chat_run,
    .stanza_cb = st_lg_chat_stanza,
    .report_cb = st_lg_chat_report,
};

/*
 * presence: the N sessions are the contacts of one more user, the hub (--hub-user, by default
 * the number after the last contact), each with a mutual ('both') subscription with the hub.
 * Setup: the hub logs in, becomes available and sends a subscribe to every contact; a contact
 * answers with subscribed and a subscribe of its own, which the hub approves (subscribed). Then
 * the hub's roster is read (roster get, once a second) until every contact is on it with
 * subscription='both', and the hub logs out. With --no-setup the subscriptions must already be
 * there: the roster is read once and the run fails if it is not complete. Then --rounds times,
 * each step after --gap seconds of quiet:
 *  - baseline: the hub logs in (TLS, SASL, bind), sends no presence and closes its stream;
 *  - presence: the hub logs in and sends its initial presence. The "on" fan-out is complete
 *    when every contact has received it and the hub has received the presence of every contact
 *    (the answers to its probes). After --gap the hub sends unavailable presence and closes its
 *    stream: the "off" fan-out is complete when every contact has received the unavailable
 *    presence (its time) and the server has closed the hub's stream (then its CPU is read).
 * Server CPU (utime+stime from /proc) is read at the start and end of each step, so the quiet
 * between steps is not counted; the 10 ms ticks are summed over the rounds before dividing.
 */
enum st_lg_pres_phase {
    ST_LG_PRES_SETUP_LOGIN,
    ST_LG_PRES_SETUP_SUBS, /* subscriptions under way; the roster is polled */
    ST_LG_PRES_SETUP_LOGOUT,
    ST_LG_PRES_QUIET, /* between two steps; then c->next */
    ST_LG_PRES_BASE_LOGIN,
    ST_LG_PRES_BASE_LOGOUT,
    ST_LG_PRES_LOGIN,
    ST_LG_PRES_ON,
    ST_LG_PRES_ON_DONE, /* the gap before the logout */
    ST_LG_PRES_OFF,
    ST_LG_PRES_DONE,
};

static const char *const st_lg_pres_phase_names[] = {
    "setup-login",    "setup-subscriptions", "setup-logout", "quiet",
    "baseline-login", "baseline-logout",     "login",        "on-fan-out",
    "on-done",        "off-fan-out",         "done",
};

enum st_lg_pres_next { ST_LG_NEXT_BASE, ST_LG_NEXT_PRES, ST_LG_NEXT_END };

/* One round's figures: seconds, and server CPU ticks per step. */
struct st_lg_pres_round {
    double base_login_s, login_s, on_s, off_s;
    long long cpu_base, cpu_login, cpu_on, cpu_off;
    double ccpu_base, ccpu_cycle; /* client CPU seconds */
};

struct st_lg_pres {
    enum st_lg_pres_phase phase;
    enum st_lg_pres_next next;
    struct event *timer; /* timeouts, roster polls, the quiet between steps */
    struct st_lg_sess *hub;
    char hub_bare[320];
    int round;               /* the current round, from 0 */
    int mark;                /* the current round + 1, stamped in the arrays below */
    int *seen_on, *seen_off; /* per contact: the mark when it got the hub's (un)available */
    int *hub_seen;           /* per contact: the mark when the hub got its presence */
    int n_on, n_hub, n_off;  /* this round's counts */
    bool hub_closed;         /* the hub's stream is over (off step) */
    bool roster_pending;     /* a roster get is unanswered */
    double t_step, t_sent, t_last_off, t_setup0;
    long long cpu_step;     /* server ticks at the start of the current step */
    double ccpu_step;       /* client CPU at the start of the current step */
    long stray, duplicates; /* presence from/to the hub outside the step expecting it */
    bool measuring;         /* the setup is over, the rounds have begun */
    long subs_in, subs_answered, roster_polls;
    int roster_items, roster_both;
    double setup_s;
    struct st_lg_pres_round *r;
    int rounds_done;
    long rss_before_rounds, rss_after_rounds;
    char error[256]; /* why the run stopped early ("" = it did not) */
};

/* The user number of a JID whose local part --user-format made, or -1. */
static long st_lg_jid_user(const struct st_lg *lg, const char *jid)
{
    const char *f = lg->o.user_format, *pct = strchr(f, '%');
    size_t pre = (size_t)(pct - f);
    const char *suf = pct + 2;
    size_t sl = strlen(suf);
    if (strncmp(jid, f, pre) != 0 || jid[pre] < '0' || jid[pre] > '9')
        return -1;
    char *end;
    long v = strtol(jid + pre, &end, 10);
    if (strncmp(end, suf, sl) != 0 || end[sl] != '@')
        return -1;
    return v;
}

static void st_lg_pres_arm(struct st_lg_pres *c, double seconds)
{
    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    evtimer_add(c->timer, &tv);
}

/* Stops the run: says why, and finishes from the timer (never inside a session's callback). */
static void st_lg_pres_abort(struct st_lg *lg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void st_lg_pres_abort(struct st_lg *lg, const char *fmt, ...)
{
    struct st_lg_pres *c = lg->mode_state;
    if (c->phase == ST_LG_PRES_DONE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "loadgen: presence: %s\n", c->error);
    c->phase = ST_LG_PRES_DONE;
    lg->exit_code = 4;
    st_lg_pres_arm(c, 0);
}

static void st_lg_pres_hub_login(struct st_lg *lg, struct st_lg_pres *c, enum st_lg_pres_phase ph)
{
    c->phase = ph;
    c->t_step = st_lg_now();
    c->cpu_step = st_lg_cpu_ticks(lg->o.server_pid);
    c->ccpu_step = st_lg_self_cpu();
    st_lg_pres_arm(c, lg->o.pres_timeout);
    c->hub = st_lg_connect(lg, lg->o.hub_user, true);
    if (c->hub == NULL)
        st_lg_pres_abort(lg, "the hub could not connect");
}

/* Ends a step: returns the server ticks since its start and restarts the clocks. */
static long long st_lg_pres_lap(struct st_lg *lg, struct st_lg_pres *c, double *ccpu)
{
    long long now = st_lg_cpu_ticks(lg->o.server_pid);
    double cnow = st_lg_self_cpu();
    long long d = now - c->cpu_step;
    *ccpu += cnow - c->ccpu_step;
    c->cpu_step = now;
    c->ccpu_step = cnow;
    return d;
}

static void st_lg_pres_quiet(struct st_lg *lg, struct st_lg_pres *c, enum st_lg_pres_next next,
                             double seconds)
{
    (void)lg;
    c->phase = ST_LG_PRES_QUIET;
    c->next = next;
    st_lg_pres_arm(c, seconds);
}

static void st_lg_pres_roster_get(struct st_lg_pres *c)
{
    if (c->hub == NULL || c->roster_pending)
        return;
    c->roster_pending = true;
    c->roster_polls++;
    st_lg_send(c->hub, "<iq type='get' id='r%ld'><query xmlns='" ST_LG_NS_ROSTER "'/></iq>",
               c->roster_polls);
}

static void st_lg_pres_check_on(struct st_lg *lg, struct st_lg_pres *c)
{
    if (c->phase != ST_LG_PRES_ON || c->n_on < lg->o.users || c->n_hub < lg->o.users)
        return;
    struct st_lg_pres_round *r = &c->r[c->round];
    r->on_s = st_lg_now() - c->t_sent;
    r->cpu_on = st_lg_pres_lap(lg, c, &r->ccpu_cycle);
    c->phase = ST_LG_PRES_ON_DONE;
    st_lg_pres_arm(c, lg->o.pres_gap);
}

static void st_lg_pres_check_off(struct st_lg *lg, struct st_lg_pres *c)
{
    if (c->phase != ST_LG_PRES_OFF || c->n_off < lg->o.users || !c->hub_closed)
        return;
    struct st_lg_pres_round *r = &c->r[c->round];
    r->off_s = c->t_last_off - c->t_sent;
    r->cpu_off = st_lg_pres_lap(lg, c, &r->ccpu_cycle);
    double tick = (double)sysconf(_SC_CLK_TCK);
    fprintf(stderr,
            "loadgen: round %d: baseline login %.1f ms (cpu %.0f ms) | login %.1f ms, on %.1f ms,"
            " off %.1f ms (cpu %.0f+%.0f+%.0f ms)\n",
            c->round + 1, 1e3 * r->base_login_s, 1e3 * (double)r->cpu_base / tick, 1e3 * r->login_s,
            1e3 * r->on_s, 1e3 * r->off_s, 1e3 * (double)r->cpu_login / tick,
            1e3 * (double)r->cpu_on / tick, 1e3 * (double)r->cpu_off / tick);
    c->rounds_done++;
    c->round++;
    st_lg_pres_quiet(lg, c, c->round < lg->o.pres_rounds ? ST_LG_NEXT_BASE : ST_LG_NEXT_END,
                     lg->o.pres_gap);
}

static void st_lg_pres_timer(evutil_socket_t fd, short what, void *arg)
{
    struct st_lg *lg = arg;
    struct st_lg_pres *c = lg->mode_state;
    (void)fd;
    (void)what;
    double now = st_lg_now();
    switch (c->phase) {
    case ST_LG_PRES_DONE:
        if (c->hub != NULL)
            st_lg_sess_free(c->hub);
        c->hub = NULL;
        st_lg_finish(lg);
        return;
    case ST_LG_PRES_SETUP_SUBS:
        if (now - c->t_setup0 > lg->o.pres_timeout) {
            st_lg_pres_abort(lg,
                             "setup not done after %.0f s: %ld subscribe requests reached the "
                             "contacts, the hub approved %ld; roster: %d items, %d 'both'",
                             lg->o.pres_timeout, c->subs_in, c->subs_answered, c->roster_items,
                             c->roster_both);
            return;
        }
        if (!lg->o.pres_setup || c->subs_answered >= lg->o.users)
            st_lg_pres_roster_get(c);
        st_lg_pres_arm(c, 1.0);
        return;
    case ST_LG_PRES_QUIET:
        if (c->next == ST_LG_NEXT_END) {
            c->rss_after_rounds = st_lg_rss_kib(lg->o.server_pid);
            c->phase = ST_LG_PRES_DONE;
            st_lg_pres_arm(c, 0);
        } else if (c->next == ST_LG_NEXT_BASE) {
            if (!c->measuring)
                c->rss_before_rounds = st_lg_rss_kib(lg->o.server_pid);
            c->measuring = true;
            st_lg_pres_hub_login(lg, c, ST_LG_PRES_BASE_LOGIN);
        } else {
            c->mark = c->round + 1;
            c->n_on = c->n_hub = c->n_off = 0;
            c->hub_closed = false;
            st_lg_pres_hub_login(lg, c, ST_LG_PRES_LOGIN);
        }
        return;
    case ST_LG_PRES_ON_DONE:
        /* the logout step: its CPU is counted from now, the gap is left out */
        c->cpu_step = st_lg_cpu_ticks(lg->o.server_pid);
        c->ccpu_step = st_lg_self_cpu();
        c->phase = ST_LG_PRES_OFF;
        c->t_sent = st_lg_now();
        st_lg_pres_arm(c, lg->o.pres_timeout);
        if (c->hub == NULL) {
            st_lg_pres_abort(lg, "the hub is gone before its logout");
            return;
        }
        st_lg_send(c->hub, "<presence type='unavailable'/></stream:stream>");
        return;
    default:
        st_lg_pres_abort(lg,
                         "round %d: step %s not done after %.0f s: contacts with the hub's "
                         "presence %d, unavailable %d, of %d; contacts' presence at the hub %d; "
                         "hub stream %s; contacts online %d",
                         c->round + 1, st_lg_pres_phase_names[c->phase], lg->o.pres_timeout,
                         c->n_on, c->n_off, lg->o.users, c->n_hub, c->hub ? "open" : "closed",
                         lg->n_online);
        return;
    }
}

static void st_lg_pres_run(struct st_lg *lg)
{
    struct st_lg_pres *c = st_lg_xcalloc(1, sizeof *c);
    lg->mode_state = c;
    size_t n = (size_t)lg->o.users;
    c->seen_on = st_lg_xcalloc(n, sizeof *c->seen_on);
    c->seen_off = st_lg_xcalloc(n, sizeof *c->seen_off);
    c->hub_seen = st_lg_xcalloc(n, sizeof *c->hub_seen);
    c->r = st_lg_xcalloc((size_t)lg->o.pres_rounds, sizeof *c->r);
    c->timer = evtimer_new(lg->base, st_lg_pres_timer, lg);
    c->phase = ST_LG_PRES_SETUP_LOGIN;
    if (lg->n_online != lg->o.users) {
        st_lg_pres_abort(lg, "only %d of the %d contacts are online", lg->n_online, lg->o.users);
        return;
    }
    c->t_setup0 = st_lg_now();
    st_lg_pres_arm(c, lg->o.pres_timeout);
    c->hub = st_lg_connect(lg, lg->o.hub_user, true);
    if (c->hub == NULL)
        st_lg_pres_abort(lg, "the hub could not connect");
}

static void st_lg_pres_bound(struct st_lg *lg, struct st_lg_sess *s)
{
    struct st_lg_pres *c = lg->mode_state;
    struct st_lg_pres_round *r = c->round < lg->o.pres_rounds ? &c->r[c->round] : NULL;
    if (s != c->hub)
        return;
    switch (c->phase) {
    case ST_LG_PRES_SETUP_LOGIN: {
        size_t bl = strcspn(s->jid, "/");
        snprintf(c->hub_bare, sizeof c->hub_bare, "%.*s", (int)bl, s->jid);
        fprintf(stderr, "loadgen: presence: hub %s bound; %s\n", s->jid,
                lg->o.pres_setup ? "subscribing to every contact" : "reading its roster");
        c->phase = ST_LG_PRES_SETUP_SUBS;
        st_lg_send(s, "<presence/>");
        if (lg->o.pres_setup) {
            char user[256];
            for (int i = 0; i < lg->o.users; i++) {
                st_lg_user(lg, lg->o.first_user + i, user, sizeof user);
                st_lg_send(s, "<presence to='%s@%s' type='subscribe'/>", user, lg->o.domain);
            }
        } else {
            st_lg_pres_roster_get(c);
        }
        st_lg_pres_arm(c, 1.0);
        return;
    }
    case ST_LG_PRES_BASE_LOGIN:
        r->base_login_s = st_lg_now() - c->t_step;
        c->phase = ST_LG_PRES_BASE_LOGOUT;
        st_lg_send(s, "</stream:stream>");
        return;
    case ST_LG_PRES_LOGIN:
        r->login_s = st_lg_now() - c->t_step;
        r->cpu_login = st_lg_pres_lap(lg, c, &r->ccpu_cycle);
        c->phase = ST_LG_PRES_ON;
        c->t_sent = st_lg_now();
        st_lg_send(s, "<presence/>");
        return;
    default:
        st_lg_pres_abort(lg, "the hub was bound in step %s", st_lg_pres_phase_names[c->phase]);
        return;
    }
}

static void st_lg_pres_end(struct st_lg *lg, struct st_lg_sess *s, const char *why)
{
    struct st_lg_pres *c = lg->mode_state;
    if (c == NULL || s != c->hub)
        return;
    c->hub = NULL;
    struct st_lg_pres_round *r = c->round < lg->o.pres_rounds ? &c->r[c->round] : NULL;
    switch (c->phase) {
    case ST_LG_PRES_SETUP_LOGOUT:
        /* the contacts' last presence traffic settles before anything is measured */
        st_lg_pres_quiet(lg, c, ST_LG_NEXT_BASE, lg->o.pres_gap > 2 ? lg->o.pres_gap : 2);
        return;
    case ST_LG_PRES_BASE_LOGOUT:
        r->cpu_base = st_lg_pres_lap(lg, c, &r->ccpu_base);
        st_lg_pres_quiet(lg, c, ST_LG_NEXT_PRES, lg->o.pres_gap);
        return;
    case ST_LG_PRES_OFF:
        c->hub_closed = true;
        st_lg_pres_check_off(lg, c);
        return;
    case ST_LG_PRES_DONE:
        return;
    default:
        st_lg_pres_abort(lg, "round %d: the hub's session ended (%s) in step %s", c->round + 1, why,
                         st_lg_pres_phase_names[c->phase]);
        return;
    }
}

/* Counts the items of a roster result, and those with subscription='both'. */
static void st_lg_pres_count_roster(const char *el, size_t len, int *items, int *both)
{
    const char *p = el, *end = el + len;
    *items = *both = 0;
    while ((p = memmem(p, (size_t)(end - p), "<item", 5)) != NULL) {
        if (p + 5 < end && strchr(" \t\r\n/>", p[5]) != NULL) {
            char sub[16];
            (*items)++;
            if (st_lg_attr(p, (size_t)(end - p), "subscription", sub, sizeof sub) &&
                strcmp(sub, "both") == 0)
                (*both)++;
        }
        p += 5;
    }
}

/* Presence from or to the hub that no step expects: counted once the measured rounds began
   (the setup's last broadcasts may still arrive after the hub's stream has closed). */
static void st_lg_pres_stray(struct st_lg *lg, struct st_lg_pres *c, const char *what,
                             const char *who)
{
    if (!c->measuring)
        return;
    c->stray++;
    if (lg->o.verbose && c->stray <= 20)
        fprintf(stderr, "loadgen: presence: round %d, step %s: unexpected %s (%s)\n", c->round + 1,
                st_lg_pres_phase_names[c->phase], what, who);
}

/* What the hub receives: subscribe requests (setup), the contacts' presence, roster results. */
static void st_lg_pres_hub_stanza(struct st_lg *lg, struct st_lg_pres *c, struct st_lg_sess *s,
                                  const char *el, size_t len)
{
    char type[16], from[512], id[32];
    bool typed = st_lg_attr(el, len, "type", type, sizeof type);
    if (st_lg_is(el, len, "iq")) {
        if (!st_lg_attr(el, len, "id", id, sizeof id) || id[0] != 'r' || !typed)
            return;
        c->roster_pending = false;
        if (strcmp(type, "result") != 0) {
            st_lg_pres_abort(lg, "the hub's roster get failed (type %s)", type);
            return;
        }
        st_lg_pres_count_roster(el, len, &c->roster_items, &c->roster_both);
        if (c->phase != ST_LG_PRES_SETUP_SUBS)
            return;
        if (c->roster_both == lg->o.users) {
            c->setup_s = st_lg_now() - c->t_setup0;
            fprintf(stderr,
                    "loadgen: presence: setup done in %.1f s: the hub's roster has %d "
                    "items, %d with subscription 'both'\n",
                    c->setup_s, c->roster_items, c->roster_both);
            c->phase = ST_LG_PRES_SETUP_LOGOUT;
            st_lg_pres_arm(c, lg->o.pres_timeout);
            st_lg_send(s, "<presence type='unavailable'/></stream:stream>");
        } else if (!lg->o.pres_setup) {
            st_lg_pres_abort(lg,
                             "the hub's roster has %d items, %d with subscription 'both'; %d "
                             "needed (run without --no-setup to subscribe over XMPP)",
                             c->roster_items, c->roster_both, lg->o.users);
        }
        return;
    }
    if (!st_lg_is(el, len, "presence") || !st_lg_attr(el, len, "from", from, sizeof from))
        return;
    long u = st_lg_jid_user(lg, from) - lg->o.first_user;
    if (u < 0 || u >= lg->o.users)
        return; /* e.g. the hub's own presence coming back */
    if (typed && strcmp(type, "subscribe") == 0) {
        if (c->phase == ST_LG_PRES_SETUP_SUBS) {
            from[strcspn(from, "/")] = '\0';
            st_lg_send(s, "<presence to='%s' type='subscribed'/>", from);
            c->subs_answered++;
        } else {
            st_lg_pres_stray(lg, c, "subscribe to the hub", from);
        }
    } else if (!typed) {
        if (c->phase == ST_LG_PRES_ON && c->hub_seen[u] != c->mark) {
            c->hub_seen[u] = c->mark;
            c->n_hub++;
            st_lg_pres_check_on(lg, c);
        } else if (c->phase == ST_LG_PRES_ON) {
            c->duplicates++;
        } else {
            st_lg_pres_stray(lg, c, "available presence to the hub", from);
        }
    } else if (strcmp(type, "unavailable") == 0) {
        st_lg_pres_stray(lg, c, "unavailable presence to the hub", from);
    }
}

static bool st_lg_pres_stanza(struct st_lg *lg, struct st_lg_sess *s, const char *el, size_t len)
{
    struct st_lg_pres *c = lg->mode_state;
    if (c == NULL || c->phase == ST_LG_PRES_DONE)
        return true;
    if (s->extra) {
        if (s == c->hub)
            st_lg_pres_hub_stanza(lg, c, s, el, len);
        return true;
    }
    /* a contact: only presence from the hub matters */
    char type[16], from[512];
    if (!st_lg_is(el, len, "presence") || !st_lg_attr(el, len, "from", from, sizeof from) ||
        st_lg_jid_user(lg, from) != lg->o.hub_user)
        return true;
    long u = s->index - lg->o.first_user;
    bool typed = st_lg_attr(el, len, "type", type, sizeof type);
    if (typed && strcmp(type, "subscribe") == 0) {
        if (c->phase == ST_LG_PRES_SETUP_SUBS) {
            c->subs_in++;
            st_lg_send(s,
                       "<presence to='%s' type='subscribed'/>"
                       "<presence to='%s' type='subscribe'/>",
                       c->hub_bare, c->hub_bare);
        } else {
            st_lg_pres_stray(lg, c, "subscribe to a contact", s->jid);
        }
    } else if (!typed) {
        if (c->phase == ST_LG_PRES_ON && c->seen_on[u] != c->mark) {
            c->seen_on[u] = c->mark;
            c->n_on++;
            st_lg_pres_check_on(lg, c);
        } else if (c->phase == ST_LG_PRES_ON) {
            c->duplicates++;
        } else {
            st_lg_pres_stray(lg, c, "available presence to a contact", s->jid);
        }
    } else if (strcmp(type, "unavailable") == 0) {
        if (c->phase == ST_LG_PRES_OFF && c->seen_off[u] != c->mark) {
            c->seen_off[u] = c->mark;
            c->n_off++;
            c->t_last_off = st_lg_now();
            st_lg_pres_check_off(lg, c);
        } else if (c->phase == ST_LG_PRES_OFF) {
            c->duplicates++;
        } else {
            st_lg_pres_stray(lg, c, "unavailable presence to a contact", s->jid);
        }
    }
    return true;
}

/* Prints p50, p99 and max in ms of one time (seconds at offset off in every round); v is
   scratch room for n values. Returns the p50 in seconds. */
static double st_lg_pres_quantiles(const struct st_lg_pres *c, int n, size_t off, double *v,
                                   const char *key)
{
    for (int i = 0; i < n; i++)
        memcpy(&v[i], (const char *)&c->r[i] + off, sizeof v[i]);
    qsort(v, (size_t)n, sizeof *v, st_lg_cmp_double);
    printf("%s_p50_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f\n", key,
           1e3 * st_lg_quantile(v, (size_t)n, 0.5), key, 1e3 * st_lg_quantile(v, (size_t)n, 0.99),
           key, 1e3 * st_lg_quantile(v, (size_t)n, 1.0));
    return st_lg_quantile(v, (size_t)n, 0.5);
}

static void st_lg_pres_report(struct st_lg *lg)
{
    struct st_lg_pres *c = lg->mode_state;
    if (!c)
        return;
    int n = c->rounds_done, users = lg->o.users;
    double tick = (double)sysconf(_SC_CLK_TCK);
    double *v = st_lg_xcalloc((size_t)n, sizeof *v);
    long long cpu_base = 0, cpu_login = 0, cpu_on = 0, cpu_off = 0;
    double ccpu_base = 0, ccpu_cycle = 0;
    for (int i = 0; i < n; i++) {
        cpu_base += c->r[i].cpu_base;
        cpu_login += c->r[i].cpu_login;
        cpu_on += c->r[i].cpu_on;
        cpu_off += c->r[i].cpu_off;
        ccpu_base += c->r[i].ccpu_base;
        ccpu_cycle += c->r[i].ccpu_cycle;
    }
    printf("presence_contacts=%d hub_user=%d setup=%s setup_s=%.1f roster_items=%d "
           "roster_both=%d roster_polls=%ld\n",
           users, lg->o.hub_user, lg->o.pres_setup ? "xmpp" : "none", c->setup_s, c->roster_items,
           c->roster_both, c->roster_polls);
    printf("presence_rounds=%d presence_rounds_done=%d presence_stray=%ld "
           "presence_duplicates=%ld presence_ok=%d\n",
           lg->o.pres_rounds, n, c->stray, c->duplicates, c->error[0] ? 0 : 1);
    if (c->error[0])
        printf("presence_error=\"%s\"\n", c->error);
    st_lg_pres_quantiles(c, n, offsetof(struct st_lg_pres_round, base_login_s), v, "base_login");
    st_lg_pres_quantiles(c, n, offsetof(struct st_lg_pres_round, login_s), v, "hub_login");
    double on50 =
        st_lg_pres_quantiles(c, n, offsetof(struct st_lg_pres_round, on_s), v, "on_fanout");
    double off50 =
        st_lg_pres_quantiles(c, n, offsetof(struct st_lg_pres_round, off_s), v, "off_fanout");
    /* on: the hub's presence to every contact and every contact's to the hub; off: one each */
    printf("on_stanzas_per_s=%.0f off_stanzas_per_s=%.0f\n", on50 > 0 ? 2.0 * users / on50 : 0,
           off50 > 0 ? users / off50 : 0);
    if (lg->o.server_pid > 0 && n > 0) {
        double per = 1e3 / tick / n;
        double cycle = (double)(cpu_login + cpu_on + cpu_off) * per;
        printf("server_cpu_ms_per_cycle=%.2f server_cpu_ms_login=%.2f server_cpu_ms_on=%.2f "
               "server_cpu_ms_off=%.2f\n",
               cycle, (double)cpu_login * per, (double)cpu_on * per, (double)cpu_off * per);
        printf("server_cpu_ms_per_base_cycle=%.2f server_cpu_ms_presence=%.2f "
               "server_cpu_us_per_contact=%.1f\n",
               (double)cpu_base * per, cycle - (double)cpu_base * per,
               1e3 * (cycle - (double)cpu_base * per) / users);
        printf("server_rss_before_rounds_kib=%ld server_rss_after_rounds_kib=%ld\n",
               c->rss_before_rounds, c->rss_after_rounds);
    }
    if (n > 0)
        printf("client_cpu_ms_per_cycle=%.2f client_cpu_ms_per_base_cycle=%.2f\n",
               1e3 * ccpu_cycle / n, 1e3 * ccpu_base / n);
    free(v);
    event_free(c->timer);
    free(c->seen_on);
    free(c->seen_off);
    free(c->hub_seen);
    free(c->r);
    free(c);
    lg->mode_state = NULL;
}

static const struct st_lg_mode st_lg_mode_presence = {
    .name = "presence",
    .run_cb = st_lg_pres_run,
    .stanza_cb = st_lg_pres_stanza,
    .report_cb = st_lg_pres_report,
    .bound_cb = st_lg_pres_bound,
    .end_cb = st_lg_pres_end,
};

static const struct st_lg_mode *const st_lg_modes[] = {&st_lg_mode_login, &st_lg_mode_chat,
                                                       &st_lg_mode_presence};

/* ---------------------------------------------------------------------------------------- */
/* Command line                                                                             */

static void st_lg_usage(FILE *f)
{
    fprintf(f, "usage: loadgen [options]\n"
               "  --host ADDR          server address (127.0.0.1)\n"
               "  --port N             server port (5222)\n"
               "  --domain D           XMPP domain, also the TLS SNI (localhost)\n"
               "  --users N            sessions to open (100)\n"
               "  --first-user N       number of the first user (1)\n"
               "  --user-format F      user name format with one %%d (bench%%d)\n"
               "  --password P         password of every user (bench)\n"
               "  --resource R         resource to bind (loadgen)\n"
               "  --concurrency K      logins in flight at once (100)\n"
               "  --ramp R             at most R new connections per second (0 = no limit)\n"
               "  --hold S             seconds to stay idle after the logins (5)\n"
               "  --timeout S          seconds a login may take (60)\n"
               "  --server-pid PID     read the server's VmRSS and CPU time from /proc\n"
               "  --direct-tls         TLS from the first byte (XEP-0368) instead of STARTTLS\n"
               "  --plain              SASL PLAIN instead of SCRAM-SHA-256\n"
               "  --plus TYPE          SCRAM-SHA-256-PLUS with channel binding TYPE\n"
               "                       (tls-exporter or tls-server-end-point)\n"
               "  --plain-fallback     SASL PLAIN when SCRAM-SHA-256 is not offered\n"
               "  --mode M             login (default), chat or presence\n"
               "  --rate R             chat: messages per second, all users together (1000)\n"
               "  --inflight K         chat: keep K messages in flight instead of --rate\n"
               "                       (saturation; 0 = use --rate)\n"
               "  --duration S         chat: seconds of sending, warm-up included (10)\n"
               "  --warmup S           chat: seconds at the start left out of the figures (0)\n"
               "  --body-size B        chat: padding bytes per body (32)\n"
               "  --hub-user N         presence: user number of the hub, whose contacts the\n"
               "                       --users sessions are (first-user + users)\n"
               "  --rounds K           presence: login/logout cycles of the hub measured (20)\n"
               "  --no-setup           presence: the subscriptions exist already: only check\n"
               "                       the hub's roster (default: subscribe over XMPP first)\n"
               "  --step-timeout S     presence: seconds one step (or the setup) may take (120)\n"
               "  --gap S              presence: seconds of quiet between two steps (0.5)\n"
               "  --verbose            say why each failed session failed (stderr)\n");
}

static double st_lg_num(const char *arg, const char *name, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || *end || end == arg || v < min || v > max) {
        fprintf(stderr, "loadgen: bad value for --%s: %s (%g..%g)\n", name, arg, min, max);
        exit(1);
    }
    return v;
}

static void st_lg_parse(struct st_lg *lg, int argc, char **argv)
{
    enum {
        O_HOST = 256,
        O_PORT,
        O_DOMAIN,
        O_USERS,
        O_FIRST,
        O_UFMT,
        O_PASS,
        O_RES,
        O_CONC,
        O_RAMP,
        O_HOLD,
        O_TIMEOUT,
        O_PID,
        O_DTLS,
        O_PLAIN,
        O_PLUS,
        O_PLAINFB,
        O_MODE,
        O_RATE,
        O_DUR,
        O_INFL,
        O_WARM,
        O_BODY,
        O_HUB,
        O_ROUNDS,
        O_NOSETUP,
        O_STEPTO,
        O_GAP,
        O_VERBOSE,
        O_HELP
    };
    static const struct option longopts[] = {
        {"host", 1, NULL, O_HOST},
        {"port", 1, NULL, O_PORT},
        {"domain", 1, NULL, O_DOMAIN},
        {"users", 1, NULL, O_USERS},
        {"first-user", 1, NULL, O_FIRST},
        {"user-format", 1, NULL, O_UFMT},
        {"password", 1, NULL, O_PASS},
        {"resource", 1, NULL, O_RES},
        {"concurrency", 1, NULL, O_CONC},
        {"ramp", 1, NULL, O_RAMP},
        {"hold", 1, NULL, O_HOLD},
        {"timeout", 1, NULL, O_TIMEOUT},
        {"server-pid", 1, NULL, O_PID},
        {"direct-tls", 0, NULL, O_DTLS},
        {"plain", 0, NULL, O_PLAIN},
        {"plus", 1, NULL, O_PLUS},
        {"plain-fallback", 0, NULL, O_PLAINFB},
        {"mode", 1, NULL, O_MODE},
        {"rate", 1, NULL, O_RATE},
        {"duration", 1, NULL, O_DUR},
        {"inflight", 1, NULL, O_INFL},
        {"warmup", 1, NULL, O_WARM},
        {"body-size", 1, NULL, O_BODY},
        {"hub-user", 1, NULL, O_HUB},
        {"rounds", 1, NULL, O_ROUNDS},
        {"no-setup", 0, NULL, O_NOSETUP},
        {"step-timeout", 1, NULL, O_STEPTO},
        {"gap", 1, NULL, O_GAP},
        {"verbose", 0, NULL, O_VERBOSE},
        {"help", 0, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct st_lg_opts *o = &lg->o;
    *o = (struct st_lg_opts){
        .host = "127.0.0.1",
        .port = 5222,
        .domain = "localhost",
        .user_format = "bench%d",
        .password = "bench",
        .resource = "loadgen",
        .mode = "login",
        .users = 100,
        .first_user = 1,
        .concurrency = 100,
        .hold = 5,
        .timeout = 60,
        .sasl = ST_LG_SASL_SCRAM,
        .chat_rate = 1000,
        .chat_duration = 10,
        .chat_body = 32,
        .hub_user = -1,
        .pres_rounds = 20,
        .pres_setup = true,
        .pres_timeout = 120,
        .pres_gap = 0.5,
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case O_HOST:
            o->host = optarg;
            break;
        case O_PORT:
            o->port = (int)st_lg_num(optarg, "port", 1, 65535);
            break;
        case O_DOMAIN:
            o->domain = optarg;
            break;
        case O_USERS:
            o->users = (int)st_lg_num(optarg, "users", 1, 1000000);
            break;
        case O_FIRST:
            o->first_user = (int)st_lg_num(optarg, "first-user", 0, INT_MAX / 2);
            break;
        case O_UFMT:
            o->user_format = optarg;
            break;
        case O_PASS:
            o->password = optarg;
            break;
        case O_RES:
            o->resource = optarg;
            break;
        case O_CONC:
            o->concurrency = (int)st_lg_num(optarg, "concurrency", 1, 1000000);
            break;
        case O_RAMP:
            o->ramp = st_lg_num(optarg, "ramp", 0, 1e9);
            break;
        case O_HOLD:
            o->hold = st_lg_num(optarg, "hold", 0, 86400);
            break;
        case O_TIMEOUT:
            o->timeout = st_lg_num(optarg, "timeout", 1, 86400);
            break;
        case O_PID:
            o->server_pid = (long)st_lg_num(optarg, "server-pid", 1, 1e9);
            break;
        case O_DTLS:
            o->direct_tls = true;
            break;
        case O_PLAIN:
            o->sasl = ST_LG_SASL_PLAIN;
            break;
        case O_PLUS:
            if (strcmp(optarg, "tls-exporter") != 0 && strcmp(optarg, "tls-server-end-point") != 0) {
                fprintf(stderr, "loadgen: --plus takes tls-exporter or tls-server-end-point\n");
                exit(2);
            }
            o->plus = optarg;
            o->sasl = ST_LG_SASL_SCRAM;
            break;
        case O_PLAINFB:
            o->sasl = ST_LG_SASL_SCRAM_OR_PLAIN;
            break;
        case O_MODE:
            o->mode = optarg;
            break;
        case O_RATE:
            o->chat_rate = st_lg_num(optarg, "rate", 0.001, 1e9);
            break;
        case O_DUR:
            o->chat_duration = st_lg_num(optarg, "duration", 0, 86400);
            break;
        case O_INFL:
            o->chat_inflight = (int)st_lg_num(optarg, "inflight", 0, 1000000);
            break;
        case O_WARM:
            o->chat_warmup = st_lg_num(optarg, "warmup", 0, 86400);
            break;
        case O_BODY:
            o->chat_body = (int)st_lg_num(optarg, "body-size", 0, 65536);
            break;
        case O_HUB:
            o->hub_user = (int)st_lg_num(optarg, "hub-user", 0, INT_MAX / 2);
            break;
        case O_ROUNDS:
            o->pres_rounds = (int)st_lg_num(optarg, "rounds", 1, 100000);
            break;
        case O_NOSETUP:
            o->pres_setup = false;
            break;
        case O_STEPTO:
            o->pres_timeout = st_lg_num(optarg, "step-timeout", 1, 86400);
            break;
        case O_GAP:
            o->pres_gap = st_lg_num(optarg, "gap", 0, 3600);
            break;
        case O_VERBOSE:
            o->verbose = true;
            break;
        case O_HELP:
        case 'h':
            st_lg_usage(stdout);
            exit(0);
        default:
            st_lg_usage(stderr);
            exit(1);
        }
    }
    if (optind < argc) {
        st_lg_usage(stderr);
        exit(1);
    }
    /* the format reaches snprintf: allow exactly one %d and nothing else */
    const char *pct = strchr(o->user_format, '%');
    if (!pct || pct[1] != 'd' || strchr(pct + 2, '%')) {
        fprintf(stderr, "loadgen: --user-format needs exactly one %%d\n");
        exit(1);
    }
    for (const char *p = o->user_format; *p; p++)
        if (*p == ',' || *p == '=' || *p == '\'' || *p == '<' || *p == '&' || *p == '"') {
            fprintf(stderr, "loadgen: --user-format may not hold , = ' \" < &\n");
            exit(1);
        }
    lg->mode = NULL;
    for (size_t i = 0; i < sizeof st_lg_modes / sizeof st_lg_modes[0]; i++)
        if (strcmp(st_lg_modes[i]->name, o->mode) == 0)
            lg->mode = st_lg_modes[i];
    if (!lg->mode) {
        fprintf(stderr, "loadgen: unknown --mode %s\n", o->mode);
        exit(1);
    }
    if (o->hub_user < 0)
        o->hub_user = o->first_user + o->users;
    if (o->hub_user >= o->first_user && o->hub_user < o->first_user + o->users) {
        fprintf(stderr, "loadgen: --hub-user may not be one of the --users sessions\n");
        exit(1);
    }
    if (strpbrk(o->domain, "'\"<&") || strpbrk(o->resource, "'\"<&")) {
        fprintf(stderr, "loadgen: --domain and --resource may not hold ' \" < &\n");
        exit(1);
    }
}

static void st_lg_raise_nofile(const struct st_lg *lg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)lg->o.users + 32 > rl.rlim_cur)
        fprintf(stderr, "loadgen: warning: %d users but only %llu file descriptors\n", lg->o.users,
                (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    struct st_lg *lg = st_lg_xcalloc(1, sizeof *lg);
    st_lg_parse(lg, argc, argv);
    st_lg_raise_nofile(lg);

    struct sockaddr_in *sin = (struct sockaddr_in *)&lg->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&lg->addr;
    if (inet_pton(AF_INET, lg->o.host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)lg->o.port);
        lg->addr_len = sizeof *sin;
    } else if (inet_pton(AF_INET6, lg->o.host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)lg->o.port);
        lg->addr_len = sizeof *sin6;
    } else {
        fprintf(stderr, "loadgen: --host must be a numeric address: %s\n", lg->o.host);
        return 1;
    }

    lg->ssl = SSL_CTX_new(TLS_client_method());
    if (!lg->ssl) {
        fprintf(stderr, "loadgen: SSL_CTX_new failed\n");
        return 2;
    }
    /* benchmark peers use throwaway self-signed certificates: no verification */
    SSL_CTX_set_verify(lg->ssl, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_min_proto_version(lg->ssl, TLS1_2_VERSION);
    /* every session does a full handshake, like real clients logging in for the first time */
    SSL_CTX_set_session_cache_mode(lg->ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(lg->ssl, SSL_OP_NO_TICKET);
    /* idle sessions give their read/write buffers back: 10,000 sessions stay small */
    SSL_CTX_set_mode(lg->ssl, SSL_MODE_RELEASE_BUFFERS);

    lg->base = event_base_new();
    if (!lg->base) {
        fprintf(stderr, "loadgen: event_base_new failed\n");
        return 2;
    }
    lg->login_lat = st_lg_xcalloc((size_t)lg->o.users, sizeof *lg->login_lat);
    lg->online = st_lg_xcalloc((size_t)lg->o.users, sizeof *lg->online);
    lg->by_user = st_lg_xcalloc((size_t)lg->o.users, sizeof *lg->by_user);
    lg->rss_before = st_lg_rss_kib(lg->o.server_pid);
    if (lg->o.server_pid > 0 && lg->rss_before < 0) {
        fprintf(stderr, "loadgen: cannot read /proc/%ld/status\n", lg->o.server_pid);
        return 1;
    }
    lg->cpu_login_before = st_lg_cpu_ticks(lg->o.server_pid);
    lg->t_begin = lg->t_last_tick = st_lg_now();
    lg->tokens = lg->o.ramp > 0 ? 1 : 0;

    lg->tick = event_new(lg->base, -1, EV_PERSIST, st_lg_tick, lg);
    struct timeval tv = {0, 10000};
    event_add(lg->tick, &tv);
    st_lg_start_more(lg);
    event_base_dispatch(lg->base);

    event_free(lg->tick);
    st_lg_close_all(lg);
    if (lg->flush_ev)
        event_free(lg->flush_ev);
    free(lg->flush);
    event_base_free(lg->base);
    SSL_CTX_free(lg->ssl);
    free(lg->login_lat);
    free(lg->online);
    free(lg->by_user);
    int rc = lg->failed > 0 ? 3 : lg->exit_code;
    OPENSSL_cleanse(lg->scram_cache, sizeof lg->scram_cache);
    free(lg);
    return rc;
}
