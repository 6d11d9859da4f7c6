/* The passive inventory: known_hosts.log, known_services.log,
 * known_certs.log and software.log with the semantics of Zeek's
 * policy/protocols/conn/known-hosts.zeek, known-services.zeek,
 * policy/protocols/ssl/known-certs.zeek and base/frameworks/software.
 *
 *   worker ── sighting ──► local cache ──miss──► shared table (mutex)
 *   (packet time ts)        (known and          ├ known entry: logged, candidate
 *                            still fresh?)      └ software: pending sightings
 *   worker clocks ──► min over workers ──► what every worker went past is
 *                                          logged, in packet-time order
 *
 * Workers see disjoint flows but a host reaches several of them, and they
 * run at their own pace.  So a sighting is not logged when it is seen: it
 * waits in the shared table until every worker's clock has passed its
 * time by a grace period (a flow's end reports what it saw as late as its
 * inactivity timeout, so the grace is the longest flow timeout), and then
 * the records are decided in packet-time order.  The decision for a key
 * (host; host, port and service; host and certificate) only needs the
 * time it was last logged and the earliest sighting due a new record, so
 * pending known sightings cost one entry per key, however many there are.
 * Software needs its sightings in order (a version that changes and
 * changes back is logged each time, as Zeek does), so they are kept until
 * decided.  A key that is known and fresh (logged at L, seen at t with
 * L <= t < L + expiry) can never give a record, whatever the other workers
 * still have pending: the worker remembers it in a local cache and takes
 * no lock for it again.  All the memory is counted against
 * inventory.memory; what does not fit is not tracked and counted. */
#include "app/inventory.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "app/app-flow.h"
#include "app/app.h"
#include "app/software.h"
#include "output/writer.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/netlist.h"

/* ---- schemas (Zeek's columns) ------------------------------------------ */

enum { KH_TS, KH_HOST };
static const struct tp_field kh_fields[] = {
	[KH_TS] = {"ts", TP_FT_TIME},
	[KH_HOST] = {"host", TP_FT_ADDR},
};
const struct tp_log_schema tp_known_hosts_schema = {
	.path = "known_hosts", .fields = kh_fields, .nfields = 2,
};

enum { KS_TS, KS_HOST, KS_PORT, KS_PROTO, KS_SERVICE };
static const struct tp_field ks_fields[] = {
	[KS_TS] = {"ts", TP_FT_TIME},
	[KS_HOST] = {"host", TP_FT_ADDR},
	[KS_PORT] = {"port_num", TP_FT_PORT},
	[KS_PROTO] = {"port_proto", TP_FT_ENUM},
	[KS_SERVICE] = {"service", TP_FT_SET_STRING},
};
const struct tp_log_schema tp_known_services_schema = {
	.path = "known_services", .fields = ks_fields, .nfields = 5,
};

enum { KC_TS, KC_HOST, KC_PORT, KC_SUBJECT, KC_ISSUER, KC_SERIAL };
static const struct tp_field kc_fields[] = {
	[KC_TS] = {"ts", TP_FT_TIME},
	[KC_HOST] = {"host", TP_FT_ADDR},
	[KC_PORT] = {"port_num", TP_FT_PORT},
	[KC_SUBJECT] = {"subject", TP_FT_STRING},
	[KC_ISSUER] = {"issuer_subject", TP_FT_STRING},
	[KC_SERIAL] = {"serial", TP_FT_STRING},
};
const struct tp_log_schema tp_known_certs_schema = {
	.path = "known_certs", .fields = kc_fields, .nfields = 6,
};

enum {
	SW_TS, SW_HOST, SW_HOST_P, SW_TYPE, SW_NAME, SW_MAJOR, SW_MINOR,
	SW_MINOR2, SW_MINOR3, SW_ADDL, SW_UNPARSED, SW_URL,
};
static const struct tp_field sw_fields[] = {
	[SW_TS] = {"ts", TP_FT_TIME},
	[SW_HOST] = {"host", TP_FT_ADDR},
	[SW_HOST_P] = {"host_p", TP_FT_PORT},
	[SW_TYPE] = {"software_type", TP_FT_ENUM},
	[SW_NAME] = {"name", TP_FT_STRING},
	[SW_MAJOR] = {"version.major", TP_FT_COUNT},
	[SW_MINOR] = {"version.minor", TP_FT_COUNT},
	[SW_MINOR2] = {"version.minor2", TP_FT_COUNT},
	[SW_MINOR3] = {"version.minor3", TP_FT_COUNT},
	[SW_ADDL] = {"version.addl", TP_FT_STRING},
	[SW_UNPARSED] = {"unparsed_version", TP_FT_STRING},
	[SW_URL] = {"url", TP_FT_STRING},
};
const struct tp_log_schema tp_software_schema = {
	.path = "software", .fields = sw_fields, .nfields = 12,
};

static const char *const sw_type_names[] = {
	[TP_SW_HTTP_BROWSER] = "HTTP::BROWSER",
	[TP_SW_HTTP_SERVER] = "HTTP::SERVER",
	[TP_SW_HTTP_APPSERVER] = "HTTP::APPSERVER",
	[TP_SW_SSH_CLIENT] = "SSH::CLIENT",
	[TP_SW_SSH_SERVER] = "SSH::SERVER",
};

/* ---- the shared table --------------------------------------------------- */

enum { K_HOST = 1, K_SERVICE, K_CERT };

#define KEY_MAX 192              /* kind, address, port/proto/service or fp */
#define VAL_MAX 2048             /* a certificate's port and names */
#define LCACHE 4096              /* worker cache slots (power of two) */
#define MAX_WORKERS 256
#define SWEEP_NS (60ull * 1000000000ull)
#define GRACE_EXTRA_NS (2ull * 1000000000ull)

/* A known host, service or certificate. */
struct kentry {
	struct kentry *next;         /* hash chain */
	uint64_t hash;
	uint64_t logged;             /* ts of its last record, 0: none */
	uint64_t cand;               /* earliest sighting due a record, 0: none */
	char *val;                   /* the candidate's values (certificates) */
	uint32_t val_len;
	uint16_t key_len;
	uint8_t key[];               /* kind, address (16), the rest */
};

/* An unparsed software string and Zeek's parse of it, shared by the
 * sightings and the table entries that hold it. */
struct swstr {
	struct swstr *next;
	uint64_t hash;
	uint32_t refs;
	uint32_t len;
	struct tp_sw_desc d;
	char s[];
};

/* A software sighting waiting for its turn. */
struct swev {
	uint64_t ts;
	struct tp_addr host;
	uint16_t port;
	uint8_t type;
	struct swstr *sw;
};

/* What a host runs (Zeek's Software::tracked[host], created at `created`
 * and dropped whole an expiry later). */
struct swent {
	struct swent *next;
	struct swstr *sw;            /* its name and the version last logged */
};
struct swhost {
	struct swhost *next;
	uint64_t hash;
	struct tp_addr a;
	uint64_t created;
	struct swent *ents;
};

struct tp_inv {
	pthread_mutex_t mu;
	const struct tp_config *cfg;
	struct tp_netlist local;
	bool on[4];                  /* by K_*, and [0]: software */
	uint64_t expiry, grace;
	struct tp_app_logs *logs;

	uint64_t mem, mem_cap;
	uint64_t kmask;
	struct kentry **kb;          /* known entries by hash */
	struct kentry **pend;        /* entries with a candidate */
	size_t npend, cpend;
	uint64_t smask;
	struct swstr **sb;           /* interned software strings */
	struct swhost **hb;          /* software by host */
	struct swev *ev;             /* pending software sightings */
	size_t nev, cev;

	unsigned nworkers, registered;
	uint64_t clock[MAX_WORKERS];
	uint64_t done;               /* known: decided up to here */
	uint64_t sw_done;            /* software: decided up to here */
	uint64_t swept;
};

/* A worker's memory of keys known and fresh. */
struct lslot {
	uint64_t hash, logged;
};

struct tp_inv_worker {
	struct tp_inv *inv;
	unsigned id;
	struct tp_inv_stats st;
	struct lslot cache[LCACHE];
};

static void *inv_alloc(struct tp_inv *inv, size_t n)
{
	if (inv->mem + n > inv->mem_cap)
		return NULL;
	void *p = tp_calloc(1, n);
	if (p)
		inv->mem += n;
	return p;
}

static void inv_free(struct tp_inv *inv, void *p, size_t n)
{
	if (!p)
		return;
	tp_free(p, n);
	inv->mem -= n;
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1024;
	while (p < n)
		p <<= 1;
	return p;
}

struct tp_inv *tp_inv_new(const struct tp_config *cfg,
			  struct tp_app_logs *logs, unsigned nworkers)
{
	char why[256];
	struct tp_inv *inv = NULL;

	if (!cfg->inventory_known_hosts && !cfg->inventory_known_services &&
	    !cfg->inventory_known_certs && !cfg->inventory_software)
		goto fail;
	if (!(inv = tp_calloc(1, sizeof(*inv))))
		goto fail;
	pthread_mutex_init(&inv->mu, NULL);
	inv->cfg = cfg;
	inv->logs = logs;
	if (tp_netlist_parse(cfg->site_local_nets, &inv->local, why,
			     sizeof(why)) < 0) {
		/* The configuration checked it already. */
		tp_log_error("site.local_nets: %s", why);
		goto fail;
	}
	inv->on[0] = cfg->inventory_software;
	inv->on[K_HOST] = cfg->inventory_known_hosts;
	inv->on[K_SERVICE] = cfg->inventory_known_services;
	inv->on[K_CERT] = cfg->inventory_known_certs;
	inv->expiry = cfg->inventory_expiry_ns;
	uint64_t g = cfg->tcp_timeout_ns;
	if (cfg->udp_timeout_ns > g)
		g = cfg->udp_timeout_ns;
	if (cfg->other_timeout_ns > g)
		g = cfg->other_timeout_ns;
	inv->grace = g + GRACE_EXTRA_NS;
	inv->nworkers = nworkers ? nworkers : 1;
	if (inv->nworkers > MAX_WORKERS)
		inv->nworkers = MAX_WORKERS;
	inv->mem_cap = cfg->inventory_memory;
	/* Buckets for about one entry per 256 bytes of the cap. */
	size_t nb = pow2_at_least((size_t)(inv->mem_cap / 256 / 4));
	inv->kmask = nb - 1;
	inv->smask = nb / 4 - 1;
	inv->kb = tp_calloc(nb, sizeof(*inv->kb));
	inv->sb = tp_calloc(nb / 4, sizeof(*inv->sb));
	inv->hb = tp_calloc(nb / 4, sizeof(*inv->hb));
	if (!inv->kb || !inv->sb || !inv->hb)
		goto fail;
	return inv;
fail:
	if (inv) {
		if (inv->kb)
			tp_free(inv->kb, (inv->kmask + 1) * sizeof(*inv->kb));
		if (inv->sb)
			tp_free(inv->sb, (inv->smask + 1) * sizeof(*inv->sb));
		if (inv->hb)
			tp_free(inv->hb, (inv->smask + 1) * sizeof(*inv->hb));
		pthread_mutex_destroy(&inv->mu);
		tp_free(inv, sizeof(*inv));
	}
	tp_app_logs_free(logs);
	return NULL;
}

/* ---- known hosts, services, certificates -------------------------------- */

static size_t kentry_size(const struct kentry *e)
{
	return sizeof(*e) + e->key_len;
}

static void kentry_free(struct tp_inv *inv, struct kentry *e)
{
	inv_free(inv, e->val, e->val_len);
	inv_free(inv, e, kentry_size(e));
}

static struct kentry *klookup(struct tp_inv *inv, uint64_t h,
			      const uint8_t *key, size_t klen, bool add)
{
	struct kentry **b = &inv->kb[h & inv->kmask];
	for (struct kentry *e = *b; e; e = e->next)
		if (e->hash == h && e->key_len == klen &&
		    memcmp(e->key, key, klen) == 0)
			return e;
	if (!add)
		return NULL;
	struct kentry *e = inv_alloc(inv, sizeof(*e) + klen);
	if (!e)
		return NULL;
	e->hash = h;
	e->key_len = (uint16_t)klen;
	memcpy(e->key, key, klen);
	e->next = *b;
	*b = e;
	return e;
}

/* Room for one more element in the array *arr of n used out of *cap
 * (elements of size sz), doubling it within the cap.  false: no room. */
static bool grow(struct tp_inv *inv, void **arr, size_t n, size_t *cap,
		 size_t sz)
{
	if (n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 256;
	if (inv->mem + (nc - *cap) * sz > inv->mem_cap)
		return false;
	void *np = tp_realloc(*arr, *cap * sz, nc * sz);
	if (!np)
		return false;
	inv->mem += (nc - *cap) * sz;
	*arr = np;
	*cap = nc;
	return true;
}

static bool pend_push(struct tp_inv *inv, struct kentry *e)
{
	if (!grow(inv, (void **)&inv->pend, inv->npend, &inv->cpend,
		  sizeof(*inv->pend)))
		return false;
	inv->pend[inv->npend++] = e;
	return true;
}

/* A sighting of key at ts, with the values a record would carry. */
static void known(struct tp_inv_worker *w, const uint8_t *key, size_t klen,
		  uint64_t ts, const char *val, size_t vlen)
{
	struct tp_inv *inv = w->inv;
	uint64_t h = XXH3_64bits(key, klen);
	uint64_t exp = inv->expiry;
	struct lslot *c = &w->cache[h & (LCACHE - 1)];

	if (c->hash == h && c->logged <= ts && ts - c->logged < exp)
		return;
	pthread_mutex_lock(&inv->mu);
	struct kentry *e = klookup(inv, h, key, klen, true);
	if (!e) {
		w->st.memcap_hits++;
		goto out;
	}
	if (e->logged && ts < e->logged) {
		/* Its record was decided before this sighting came. */
		w->st.late++;
		goto out;
	}
	if (e->logged && ts - e->logged < exp) {
		c->hash = h;
		c->logged = e->logged;
		goto out;
	}
	if (ts <= inv->done)
		w->st.late++;
	/* The earliest candidate wins; at the same time, the smaller
	 * values, so that the choice does not depend on arrival. */
	if (e->cand && (ts > e->cand ||
			(ts == e->cand &&
			 (vlen > e->val_len ||
			  (vlen == e->val_len &&
			   (!vlen || memcmp(val, e->val, vlen) >= 0))))))
		goto out;
	char *nv = NULL;
	if (vlen && !(nv = inv_alloc(inv, vlen))) {
		w->st.memcap_hits++;
		goto out;
	}
	if (vlen)
		memcpy(nv, val, vlen);
	if (!e->cand && !pend_push(inv, e)) {
		inv_free(inv, nv, vlen);
		w->st.memcap_hits++;
		goto out;
	}
	inv_free(inv, e->val, e->val_len);
	e->val = nv;
	e->val_len = (uint32_t)vlen;
	e->cand = ts;
out:
	pthread_mutex_unlock(&inv->mu);
}

static size_t key_addr(uint8_t *key, uint8_t kind, const struct tp_addr *a)
{
	key[0] = kind;
	memcpy(key + 1, a->b, 16);
	return 17;
}

bool tp_inv_is_local(const struct tp_inv_worker *w, const struct tp_addr *a)
{
	return w && tp_netlist_has(&w->inv->local, a);
}

void tp_inv_host(struct tp_inv_worker *w, uint64_t ts,
		 const struct tp_addr *host)
{
	uint8_t key[KEY_MAX];
	if (!w || !w->inv->on[K_HOST] || !tp_inv_is_local(w, host))
		return;
	known(w, key, key_addr(key, K_HOST, host), ts, NULL, 0);
}

void tp_inv_service(struct tp_inv_worker *w, uint64_t ts,
		    const struct tp_addr *host, uint16_t port, uint8_t proto,
		    const char *service)
{
	uint8_t key[KEY_MAX];
	if (!w || !w->inv->on[K_SERVICE] || !tp_inv_is_local(w, host))
		return;
	size_t n = key_addr(key, K_SERVICE, host);
	key[n++] = (uint8_t)(port >> 8);
	key[n++] = (uint8_t)port;
	key[n++] = proto;
	size_t sl = strlen(service);
	if (sl > KEY_MAX - n)
		sl = KEY_MAX - n;
	memcpy(key + n, service, sl);
	known(w, key, n + sl, ts, NULL, 0);
}

void tp_inv_cert(struct tp_inv_worker *w, uint64_t ts,
		 const struct tp_addr *host, uint16_t port, const char *fp,
		 const char *subject, const char *issuer, const char *serial)
{
	uint8_t key[KEY_MAX];
	char val[VAL_MAX];
	if (!w || !w->inv->on[K_CERT] || !tp_inv_is_local(w, host))
		return;
	size_t n = key_addr(key, K_CERT, host);
	size_t fl = strlen(fp);
	if (fl > KEY_MAX - n)
		fl = KEY_MAX - n;
	memcpy(key + n, fp, fl);
	/* port, then the three names, each NUL-terminated. */
	size_t v = 0;
	val[v++] = (char)(port >> 8);
	val[v++] = (char)port;
	const char *names[3] = {subject, issuer, serial};
	for (int i = 0; i < 3; i++) {
		const char *s = names[i] ? names[i] : "";
		size_t sl = strlen(s);
		if (sl > (VAL_MAX - 2) / 3 - 1)
			sl = (VAL_MAX - 2) / 3 - 1;
		memcpy(val + v, s, sl);
		v += sl;
		val[v++] = '\0';
	}
	known(w, key, n + fl, ts, val, v);
}

static void write_known(struct tp_inv *inv, struct tp_inv_worker *w,
			const struct kentry *e)
{
	static const struct tp_log_schema *const schema[] = {
		[K_HOST] = &tp_known_hosts_schema,
		[K_SERVICE] = &tp_known_services_schema,
		[K_CERT] = &tp_known_certs_schema,
	};
	uint8_t kind = e->key[0];
	struct tp_addr a;
	struct tp_rec *r = tp_app_rec(inv->logs, schema[kind]);
	if (!r)
		return;
	memcpy(a.b, e->key + 1, 16);
	tp_rec_begin(r);
	tp_rec_time(r, 0, e->cand);
	tp_rec_addr(r, 1, &a);
	if (kind == K_SERVICE) {
		char svc[KEY_MAX + 1];
		size_t sl = e->key_len - 20u;
		memcpy(svc, e->key + 20, sl);
		svc[sl] = '\0';
		const char *set[1] = {svc};
		tp_rec_uint(r, KS_PORT, (uint16_t)(e->key[17] << 8 | e->key[18]));
		tp_rec_str(r, KS_PROTO, e->key[19] == 17 ? "udp" : "tcp");
		tp_rec_strset(r, KS_SERVICE, set, 1);
	} else if (kind == K_CERT && e->val_len >= 2) {
		const char *p = e->val + 2, *end = e->val + e->val_len;
		tp_rec_uint(r, KC_PORT,
			    (uint16_t)((uint8_t)e->val[0] << 8 |
				       (uint8_t)e->val[1]));
		for (unsigned f = KC_SUBJECT; f <= KC_SERIAL && p < end; f++) {
			if (*p)
				tp_rec_str(r, f, p);
			p += strlen(p) + 1;
		}
	}
	tp_rec_end(r);
	w->st.records++;
}

static int kcmp(const void *x, const void *y)
{
	const struct kentry *a = *(struct kentry *const *)x;
	const struct kentry *b = *(struct kentry *const *)y;
	if (a->cand != b->cand)
		return a->cand < b->cand ? -1 : 1;
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = memcmp(a->key, b->key, n);
	if (c)
		return c;
	return (int)a->key_len - (int)b->key_len;
}

/* Move the n elements (of size sz, at most 64 bytes) of arr that are due
 * by limit to its front; returns how many. */
static size_t due_first(void *arr, size_t n, size_t sz,
			bool (*due)(const void *el, uint64_t limit),
			uint64_t limit)
{
	unsigned char *a = arr, t[64];
	size_t nd = 0;
	for (size_t i = 0; i < n; i++)
		if (due(a + i * sz, limit)) {
			memcpy(t, a + i * sz, sz);
			memcpy(a + i * sz, a + nd * sz, sz);
			memcpy(a + nd * sz, t, sz);
			nd++;
		}
	return nd;
}

static bool kentry_due(const void *el, uint64_t limit)
{
	return (*(struct kentry *const *)el)->cand <= limit;
}

/* Decide the candidates up to limit. */
static void decide_known(struct tp_inv *inv, struct tp_inv_worker *w,
			 uint64_t limit)
{
	size_t nd = due_first(inv->pend, inv->npend, sizeof(*inv->pend),
			      kentry_due, limit);
	if (!nd)
		return;
	qsort(inv->pend, nd, sizeof(*inv->pend), kcmp);
	for (size_t i = 0; i < nd; i++) {
		struct kentry *e = inv->pend[i];
		write_known(inv, w, e);
		e->logged = e->cand;
		e->cand = 0;
		inv_free(inv, e->val, e->val_len);
		e->val = NULL;
		e->val_len = 0;
	}
	inv->npend -= nd;
	memmove(inv->pend, inv->pend + nd, inv->npend * sizeof(*inv->pend));
}

/* ---- software ----------------------------------------------------------- */

static size_t swstr_size(const struct swstr *s)
{
	return sizeof(*s) + s->len + 1;
}

static void swstr_put(struct tp_inv *inv, struct swstr *s)
{
	if (--s->refs)
		return;
	struct swstr **p = &inv->sb[s->hash & inv->smask];
	while (*p != s)
		p = &(*p)->next;
	*p = s->next;
	inv_free(inv, s, swstr_size(s));
}

/* The interned string s and its parse (parsed on first sight), with a
 * reference for the caller.  NULL when it does not fit. */
static struct swstr *swstr_get(struct tp_inv *inv, const char *str)
{
	size_t len = strlen(str);
	if (len > TP_SW_PARSE_MAX)
		len = TP_SW_PARSE_MAX;
	uint64_t h = XXH3_64bits(str, len);
	struct swstr **b = &inv->sb[h & inv->smask];
	for (struct swstr *s = *b; s; s = s->next)
		if (s->hash == h && s->len == len &&
		    memcmp(s->s, str, len) == 0) {
			s->refs++;
			return s;
		}
	struct swstr *s = inv_alloc(inv, sizeof(*s) + len + 1);
	if (!s)
		return NULL;
	s->hash = h;
	s->len = (uint32_t)len;
	memcpy(s->s, str, len);
	s->s[len] = '\0';
	tp_software_parse(s->s, &s->d);
	s->refs = 1;
	s->next = *b;
	*b = s;
	return s;
}

void tp_inv_software(struct tp_inv_worker *w, uint64_t ts,
		     const struct tp_addr *host, uint16_t port,
		     enum tp_sw_type type, const char *unparsed)
{
	if (!w || !w->inv->on[0] || !unparsed || !tp_inv_is_local(w, host))
		return;
	struct tp_inv *inv = w->inv;
	pthread_mutex_lock(&inv->mu);
	if (!grow(inv, (void **)&inv->ev, inv->nev, &inv->cev,
		  sizeof(*inv->ev))) {
		w->st.memcap_hits++;
		goto out;
	}
	struct swstr *s = swstr_get(inv, unparsed);
	if (!s) {
		w->st.memcap_hits++;
		goto out;
	}
	if (ts <= inv->sw_done)
		w->st.late++;
	inv->ev[inv->nev++] = (struct swev){
		.ts = ts, .host = *host, .port = port, .type = (uint8_t)type,
		.sw = s,
	};
out:
	pthread_mutex_unlock(&inv->mu);
}

static int evcmp(const void *x, const void *y)
{
	const struct swev *a = x, *b = y;
	int c;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if ((c = memcmp(&a->host, &b->host, sizeof(a->host))))
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return strcmp(a->sw->s, b->sw->s);
}

static struct swhost *swhost_get(struct tp_inv *inv, const struct tp_addr *a)
{
	uint64_t h = XXH3_64bits(a, sizeof(*a));
	struct swhost **b = &inv->hb[h & inv->smask];
	for (struct swhost *x = *b; x; x = x->next)
		if (x->hash == h && memcmp(&x->a, a, sizeof(*a)) == 0)
			return x;
	struct swhost *x = inv_alloc(inv, sizeof(*x));
	if (!x)
		return NULL;
	x->hash = h;
	x->a = *a;
	x->next = *b;
	*b = x;
	return x;
}

static void swhost_clear(struct tp_inv *inv, struct swhost *x)
{
	while (x->ents) {
		struct swent *e = x->ents;
		x->ents = e->next;
		swstr_put(inv, e->sw);
		inv_free(inv, e, sizeof(*e));
	}
	x->created = 0;
}

static void write_software(struct tp_inv *inv, struct tp_inv_worker *w,
			   const struct swev *ev)
{
	struct tp_rec *r = tp_app_rec(inv->logs, &tp_software_schema);
	const struct tp_sw_desc *d = &ev->sw->d;
	if (!r)
		return;
	tp_rec_begin(r);
	tp_rec_time(r, SW_TS, ev->ts);
	tp_rec_addr(r, SW_HOST, &ev->host);
	if (ev->port)
		tp_rec_uint(r, SW_HOST_P, ev->port);
	tp_rec_str(r, SW_TYPE, sw_type_names[ev->type]);
	tp_rec_str(r, SW_NAME, d->name);
	const uint64_t v[4] = {d->v.major, d->v.minor, d->v.minor2,
			       d->v.minor3};
	for (unsigned i = 0; i < 4; i++)
		if (d->v.have & (TP_SWV_MAJOR << i))
			tp_rec_uint(r, SW_MAJOR + i, v[i]);
	if (d->v.have & TP_SWV_ADDL)
		tp_rec_str(r, SW_ADDL, d->v.addl);
	tp_rec_str(r, SW_UNPARSED, ev->sw->s);
	tp_rec_end(r);
	w->st.records++;
}

/* Zeek's Software::register for one sighting, in time order. */
static void register_software(struct tp_inv *inv, struct tp_inv_worker *w,
			      const struct swev *ev)
{
	struct swhost *x = swhost_get(inv, &ev->host);
	if (!x) {
		w->st.memcap_hits++;
		return;
	}
	if (x->created && ev->ts - x->created >= inv->expiry)
		swhost_clear(inv, x);
	if (!x->created)
		x->created = ev->ts ? ev->ts : 1;
	struct swent *e = x->ents;
	for (; e; e = e->next)
		if (strcmp(e->sw->d.name, ev->sw->d.name) == 0)
			break;
	if (e && tp_software_cmp(&e->sw->d.v, &ev->sw->d.v) == 0)
		return;
	if (!e) {
		if (!(e = inv_alloc(inv, sizeof(*e)))) {
			w->st.memcap_hits++;
			return;
		}
		e->next = x->ents;
		x->ents = e;
	} else {
		swstr_put(inv, e->sw);
	}
	e->sw = ev->sw;
	e->sw->refs++;
	write_software(inv, w, ev);
}

static bool swev_due(const void *el, uint64_t limit)
{
	return ((const struct swev *)el)->ts <= limit;
}

static void decide_software(struct tp_inv *inv, struct tp_inv_worker *w,
			    uint64_t limit)
{
	size_t nd = due_first(inv->ev, inv->nev, sizeof(*inv->ev), swev_due,
			      limit);
	if (!nd)
		return;
	qsort(inv->ev, nd, sizeof(*inv->ev), evcmp);
	for (size_t i = 0; i < nd; i++) {
		register_software(inv, w, &inv->ev[i]);
		swstr_put(inv, inv->ev[i].sw);
	}
	inv->nev -= nd;
	memmove(inv->ev, inv->ev + nd, inv->nev * sizeof(*inv->ev));
}

/* ---- clocks ------------------------------------------------------------- */

/* Forget what has expired before limit: its next sighting is logged
 * anyway. */
static void sweep(struct tp_inv *inv, uint64_t limit)
{
	for (size_t i = 0; i <= inv->kmask; i++)
		for (struct kentry **p = &inv->kb[i]; *p;) {
			struct kentry *e = *p;
			/* (an entry with neither is one whose candidate
			 * could not be queued) */
			if (!e->cand &&
			    (!e->logged || limit - e->logged >= inv->expiry)) {
				*p = e->next;
				kentry_free(inv, e);
			} else {
				p = &e->next;
			}
		}
	for (size_t i = 0; i <= inv->smask; i++)
		for (struct swhost **p = &inv->hb[i]; *p;) {
			struct swhost *x = *p;
			if (x->created && limit - x->created >= inv->expiry) {
				*p = x->next;
				swhost_clear(inv, x);
				inv_free(inv, x, sizeof(*x));
			} else {
				p = &x->next;
			}
		}
}

static uint64_t minus(uint64_t t, uint64_t d)
{
	if (t == UINT64_MAX)
		return t;
	return t > d ? t - d : 0;
}

/* Decide what every worker has gone past.  Under the lock. */
static void decide(struct tp_inv *inv, struct tp_inv_worker *w)
{
	uint64_t wm = UINT64_MAX;
	if (inv->registered < inv->nworkers)
		return;
	for (unsigned i = 0; i < inv->nworkers; i++)
		if (inv->clock[i] < wm)
			wm = inv->clock[i];
	uint64_t klim = minus(wm, inv->grace);
	uint64_t slim = minus(wm, GRACE_EXTRA_NS);
	if (klim > inv->done || klim == UINT64_MAX) {
		decide_known(inv, w, klim);
		inv->done = klim;
	}
	if (slim > inv->sw_done || slim == UINT64_MAX) {
		decide_software(inv, w, slim);
		inv->sw_done = slim;
	}
	if (klim != UINT64_MAX && klim - inv->swept >= SWEEP_NS) {
		sweep(inv, klim);
		inv->swept = klim;
	}
	tp_app_logs_flush(inv->logs);
}

void tp_inv_clock(struct tp_inv_worker *w, uint64_t now_ns)
{
	if (!w)
		return;
	struct tp_inv *inv = w->inv;
	pthread_mutex_lock(&inv->mu);
	if (now_ns > inv->clock[w->id])
		inv->clock[w->id] = now_ns;
	decide(inv, w);
	pthread_mutex_unlock(&inv->mu);
}

struct tp_inv_worker *tp_inv_worker_new(struct tp_inv *inv)
{
	if (!inv)
		return NULL;
	struct tp_inv_worker *w = tp_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->inv = inv;
	pthread_mutex_lock(&inv->mu);
	if (inv->registered == inv->nworkers) {
		pthread_mutex_unlock(&inv->mu);
		tp_free(w, sizeof(*w));
		return NULL;
	}
	w->id = inv->registered++;
	pthread_mutex_unlock(&inv->mu);
	return w;
}

void tp_inv_worker_free(struct tp_inv_worker *w)
{
	if (!w)
		return;
	tp_inv_clock(w, UINT64_MAX);
	tp_free(w, sizeof(*w));
}

void tp_inv_stats(const struct tp_inv_worker *w, struct tp_inv_stats *st)
{
	if (w)
		*st = w->st;
	else
		memset(st, 0, sizeof(*st));
}

void tp_inv_free(struct tp_inv *inv)
{
	if (!inv)
		return;
	/* What is still pending is written (workers that never started
	 * count as ended). */
	struct tp_inv_worker last;
	memset(&last, 0, sizeof(last));
	last.inv = inv;
	pthread_mutex_lock(&inv->mu);
	for (unsigned i = 0; i < inv->nworkers; i++)
		inv->clock[i] = UINT64_MAX;
	inv->registered = inv->nworkers;
	decide(inv, &last);
	pthread_mutex_unlock(&inv->mu);
	for (size_t i = 0; i <= inv->kmask; i++)
		while (inv->kb[i]) {
			struct kentry *e = inv->kb[i];
			inv->kb[i] = e->next;
			kentry_free(inv, e);
		}
	for (size_t i = 0; i <= inv->smask; i++)
		while (inv->hb[i]) {
			struct swhost *x = inv->hb[i];
			inv->hb[i] = x->next;
			swhost_clear(inv, x);
			inv_free(inv, x, sizeof(*x));
		}
	if (inv->pend)
		tp_free(inv->pend, inv->cpend * sizeof(*inv->pend));
	if (inv->ev)
		tp_free(inv->ev, inv->cev * sizeof(*inv->ev));
	tp_free(inv->kb, (inv->kmask + 1) * sizeof(*inv->kb));
	tp_free(inv->sb, (inv->smask + 1) * sizeof(*inv->sb));
	tp_free(inv->hb, (inv->smask + 1) * sizeof(*inv->hb));
	tp_app_logs_free(inv->logs);
	pthread_mutex_destroy(&inv->mu);
	tp_free(inv, sizeof(*inv));
}
