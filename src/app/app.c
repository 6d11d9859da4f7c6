/* The application framework: which parser a flow gets, its reassembly,
 * the parsers' records and weirds, nDPI for the rest.
 *
 *   packet ─► nDPI (until it knows, at most app.ndpi_packets packets)
 *          └► TCP: reassembly ─► in-order bytes ─┐
 *             UDP: the datagram ─────────────────┴► probing ─► parser
 *                                                  (port first, then every
 *                                                   probe; given up after
 *                                                   app.inspect_bytes)
 *
 * A flow gets application state (struct tp_app_flow) at its first TCP or
 * UDP packet; the parser's state, nDPI's and the held segments are freed
 * as soon as they are not needed, the small rest (service, risks) at the
 * flow's end after conn.log was written. */
#include "app/app-flow.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/inventory.h"
#include "app/files.h"
#include "app/ndpi.h"
#include "app/ssh.h"
#include "app/tls.h"
#include "flow/conn.h"
#include "flow/reassembly.h"
#include "output/logs.h"
#include "output/writer.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_LOGS 16

/* The parsers, with the ports Zeek registers each analyzer on: a flow to
 * one of them tries that parser's probe first.  A port_only parser is
 * tried on its ports alone (its probe could not tell it from noise; Zeek
 * too finds DNS by port). */
static const struct parser {
	const struct tp_app_ops *ops;
	uint16_t ports[8];       /* 0-terminated */
	bool port_only;
} parsers[] = {
	{&tp_app_dns, {53, 137, 5353, 5355}, true},
	{&tp_app_dns_tcp, {53}, true},
	{&tp_app_http, {80, 81, 631, 1080, 3128, 8000, 8080, 8888}, false},
	{&tp_app_tls, {443, 563, 585, 636, 993, 995, 5223}, false},
	{&tp_app_ssh, {22}, false},
};
#define NPARSERS (sizeof(parsers) / sizeof(parsers[0]))

/* ---- logs -------------------------------------------------------------- */

struct tp_app_shared {
	pthread_mutex_t mu;
	const struct tp_config *cfg;
	struct tp_weird *weird;
	uint64_t open_ns;
	unsigned n;
	struct {
		const struct tp_log_schema *schema;
		struct tp_log *log;
	} e[MAX_LOGS];
	struct tp_inv *inv;          /* made by the first worker */
	bool inv_made;
};

struct tp_app_logs {
	struct tp_app_shared *shared;
	unsigned n;
	struct {
		const struct tp_log_schema *schema;
		struct tp_rec rec;
		bool failed;
	} e[MAX_LOGS];
	uint64_t open_failures;
};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct tp_app_shared *tp_app_shared_new(const struct tp_config *cfg,
					struct tp_weird *w, uint64_t open_ns)
{
	struct tp_app_shared *s = tp_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	s->cfg = cfg;
	s->weird = w;
	s->open_ns = open_ns;
	return s;
}

/* The file of schema, opened on first use.  NULL if it cannot be. */
static struct tp_log *shared_log(struct tp_app_shared *s,
				 const struct tp_log_schema *schema)
{
	struct tp_log *log = NULL;
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->n; i++)
		if (s->e[i].schema == schema) {
			log = s->e[i].log;
			goto out;
		}
	if (s->n == MAX_LOGS)
		goto out;
	log = tp_log_open(s->cfg->log_dir, schema, s->cfg->log_format,
			  wall_ns());
	if (!log) {
		tp_log_error("cannot write %s/%s.log: %s", s->cfg->log_dir,
			     schema->path, strerror(errno));
		goto out;
	}
	s->e[s->n].schema = schema;
	s->e[s->n].log = log;
	s->n++;
out:
	pthread_mutex_unlock(&s->mu);
	return log;
}

int tp_app_shared_rotate(struct tp_app_shared *s, uint64_t now_ns,
			 bool reopen)
{
	int rc = 0;
	if (!s)
		return 0;
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < s->n; i++) {
		int r = tp_log_rotate(s->e[i].log, now_ns, reopen);
		if (r < 0 && !rc)
			rc = r;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int tp_app_shared_free(struct tp_app_shared *s, uint64_t close_ns)
{
	int rc = 0;
	if (!s)
		return 0;
	/* The inventory writes what it still holds first. */
	tp_inv_free(s->inv);
	for (unsigned i = 0; i < s->n; i++) {
		int r = tp_log_close(s->e[i].log, close_ns);
		if (r < 0 && !rc)
			rc = r;
	}
	pthread_mutex_destroy(&s->mu);
	tp_free(s, sizeof(*s));
	return rc;
}

struct tp_rec *tp_app_rec(struct tp_app_logs *logs,
			  const struct tp_log_schema *schema)
{
	for (unsigned i = 0; i < logs->n; i++)
		if (logs->e[i].schema == schema)
			return logs->e[i].failed ? NULL : &logs->e[i].rec;
	if (logs->n == MAX_LOGS) {
		logs->open_failures++;
		return NULL;
	}
	unsigned i = logs->n++;
	logs->e[i].schema = schema;
	struct tp_log *log = shared_log(logs->shared, schema);
	if (!log || tp_rec_init(&logs->e[i].rec, log, 64 * 1024) < 0) {
		logs->e[i].failed = true;
		logs->open_failures++;
		return NULL;
	}
	return &logs->e[i].rec;
}

struct tp_app_logs *tp_app_logs_new(struct tp_app_shared *s)
{
	struct tp_app_logs *logs = tp_calloc(1, sizeof(*logs));
	if (logs)
		logs->shared = s;
	return logs;
}

void tp_app_logs_flush(struct tp_app_logs *logs)
{
	for (unsigned i = 0; i < logs->n; i++)
		if (!logs->e[i].failed)
			tp_rec_flush(&logs->e[i].rec);
}

void tp_app_logs_free(struct tp_app_logs *logs)
{
	if (!logs)
		return;
	for (unsigned i = 0; i < logs->n; i++)
		if (!logs->e[i].failed)
			tp_rec_fini(&logs->e[i].rec);
	tp_free(logs, sizeof(*logs));
}

/* ---- per worker -------------------------------------------------------- */

enum { ST_PROBE = 0, ST_PARSE, ST_DONE };

/* What the inventory was told of a flow. */
#define INV_HOSTS 0x1u                /* its handshake's hosts */
#define INV_SERVICE 0x2u              /* its responder's service */

struct tp_app_flow {
	struct tp_reasm rs;               /* by canonical key side */
	const struct tp_app_ops *ops;     /* ST_PARSE */
	void *st;                         /* the parser's state */
	struct tp_ndpi_flow *nd;          /* while nDPI classifies */
	uint64_t risk;                    /* nDPI's flow risks */
	uint32_t probed[2];               /* bytes the probes saw, by app dir */
	uint16_t ndpi_pkts;
	uint8_t ndpi_started;
	uint8_t state;
	uint8_t inv;                      /* INV_* */
	char service[23];
};

struct tp_app {
	const struct tp_config *cfg;
	struct tp_app_shared *shared;
	struct tp_app_logs logs;
	struct tp_reasm_ctx rx;
	struct tp_ndpi *ndpi;
	/* the packet being handled */
	struct tp_flow *cur;
	struct tp_app_ctx ctx;
	struct tp_app_stats st;
	struct tp_inv_worker *inv;
};

static void on_weird(struct tp_app_ctx *ctx, const char *name,
		     const char *addl)
{
	struct tp_app *a = ctx->priv;
	struct tp_app_flow *af = a->cur->app;
	char src[16] = "";
	a->st.weirds++;
	if (af && af->ops) {
		size_t i = 0;
		for (; af->ops->name[i] && i + 1 < sizeof(src); i++)
			src[i] = (char)toupper((unsigned char)af->ops->name[i]);
		src[i] = 0;
	}
	if (a->shared->weird)
		tp_weird_flow(a->shared->weird, ctx->ts_ns, a->cur, name, addl,
			      src[0] ? src : "app");
}

static uint8_t app_dir(const struct tp_flow *f, int side)
{
	return side == f->conn.orig_side ? TP_APP_ORIG : TP_APP_RESP;
}

/* ---- the passive inventory's sightings (app/known.c) ------------------- */

/* Zeek's has_active_service: a TCP responder that answered the
 * handshake (or is past it), a UDP responder that sent something. */
static bool active_service(const struct tp_flow *f)
{
	const struct tp_conn *c = &f->conn;
	if (f->key.proto == 17)
		return c->d[1].pkts > 0;
	if (f->key.proto != 6)
		return false;
	uint8_t r = tp_conn_tcp_state(c, 1);
	if (r == TP_TCP_ESTABLISHED || r == TP_TCP_CLOSED ||
	    r == TP_TCP_PARTIAL)
		return true;
	char h[TP_CONN_HISTORY_MAX + 1];
	tp_conn_history(c, h, sizeof(h));
	return strchr(h, 'h') != NULL;
}

/* Zeek's known_services_done: at the protocol's confirmation when the
 * responder is active then, else at the flow's end (ending). */
static void inv_service(struct tp_app *a, const struct tp_flow *f,
			struct tp_app_flow *af, uint64_t ts, bool ending)
{
	if (!a->inv || (af->inv & INV_SERVICE))
		return;
	const struct tp_addr *resp = &f->key.a[f->conn.orig_side ^ 1];
	if (!tp_inv_is_local(a->inv, resp) || !active_service(f)) {
		if (ending)
			af->inv |= INV_SERVICE;
		return;
	}
	af->inv |= INV_SERVICE;
	uint16_t port = f->key.port[f->conn.orig_side ^ 1];
	const char *svc = af->service;
	/* Zeek leaves out FTP data connections. */
	if (strcmp(svc, "ftp-data") == 0)
		return;
	if (!svc[0]) {
		tp_inv_service(a->inv, ts, resp, port, f->key.proto, "");
		return;
	}
	for (const char *p = svc; *p;) {
		char one[sizeof(af->service)];
		size_t n = strcspn(p, ",");
		memcpy(one, p, n);
		one[n] = '\0';
		if (n)
			tp_inv_service(a->inv, ts, resp, port, f->key.proto,
				       one);
		p += n + (p[n] == ',');
	}
}

/* Zeek's known-hosts: both endpoints of a TCP connection reached
 * ESTABLISHED through the originator's SYN and the responder's SYN-ACK
 * (connection_established); both hosts are sightings at that packet. */
static void inv_hosts(struct tp_app *a, struct tp_flow *f,
		      struct tp_app_flow *af, uint64_t ts)
{
	const struct tp_conn *c = &f->conn;
	if (tp_conn_tcp_state(c, 0) != TP_TCP_ESTABLISHED ||
	    tp_conn_tcp_state(c, 1) != TP_TCP_ESTABLISHED)
		return;
	af->inv |= INV_HOSTS;
	char h[TP_CONN_HISTORY_MAX + 1];
	tp_conn_history(c, h, sizeof(h));
	if (!strchr(h, 'S') || !strchr(h, 'h'))
		return;
	tp_inv_host(a->inv, ts, &f->key.a[0]);
	tp_inv_host(a->inv, ts, &f->key.a[1]);
}

static void on_software(struct tp_app_ctx *ctx, int kind,
			const char *unparsed)
{
	struct tp_app *a = ctx->priv;
	const struct tp_flow *f = ctx->flow;
	bool server = kind == TP_SW_HTTP_SERVER ||
		      kind == TP_SW_HTTP_APPSERVER || kind == TP_SW_SSH_SERVER;
	uint8_t side = server ? f->conn.orig_side ^ 1 : f->conn.orig_side;
	tp_inv_software(a->inv, ctx->ts_ns, &f->key.a[side],
			server ? f->key.port[side] : 0, (enum tp_sw_type)kind,
			unparsed);
}

static void on_cert(struct tp_app_ctx *ctx, const char *fp,
		    const char *subject, const char *issuer, const char *serial)
{
	struct tp_app *a = ctx->priv;
	const struct tp_flow *f = ctx->flow;
	uint8_t side = f->conn.orig_side ^ 1;
	tp_inv_cert(a->inv, ctx->ts_ns, &f->key.a[side], f->key.port[side],
		    fp, subject, issuer, serial);
}

static void ndpi_stop(struct tp_app *a, struct tp_app_flow *af, bool giveup)
{
	char svc[sizeof(af->service)];
	uint64_t risk = 0;
	tp_ndpi_result(a->ndpi, af->nd, giveup, svc, sizeof(svc), &risk);
	if (!af->ops && svc[0]) {
		memcpy(af->service, svc, sizeof(svc));
		a->st.ndpi_known++;
		inv_service(a, a->cur, af, a->ctx.ts_ns, false);
	}
	af->risk = risk;
	tp_ndpi_flow_free(af->nd);
	af->nd = NULL;
}

/* Is a parser registered for the responder's port of f? */
static bool port_parser(const struct tp_flow *f)
{
	uint16_t resp_port = f->key.port[f->conn.orig_side ^ 1];
	for (size_t i = 0; i < NPARSERS; i++)
		if (parsers[i].ops->ipproto == f->key.proto)
			for (size_t k = 0; k < 8 && parsers[i].ports[k]; k++)
				if (parsers[i].ports[k] == resp_port)
					return true;
	return false;
}

static void ndpi_start(struct tp_app *a, struct tp_app_flow *af)
{
	af->ndpi_started = 1;
	af->nd = tp_ndpi_flow_new(a->ndpi);
	a->st.ndpi_flows += af->nd != NULL;
}

static const struct tp_app_ops *choose(const struct tp_flow *f, uint8_t dir,
				       const uint8_t *b, size_t n)
{
	uint8_t proto = f->key.proto;
	uint16_t resp_port = f->key.port[f->conn.orig_side ^ 1];
	/* The parser of the well-known port first, then any. */
	for (size_t i = 0; i < NPARSERS; i++) {
		const struct parser *ps = &parsers[i];
		if (ps->ops->ipproto != proto)
			continue;
		for (size_t k = 0; k < 8 && ps->ports[k]; k++)
			if (ps->ports[k] == resp_port &&
			    ps->ops->probe(b, n, (enum tp_app_dir)dir))
				return ps->ops;
	}
	for (size_t i = 0; i < NPARSERS; i++)
		if (parsers[i].ops->ipproto == proto && !parsers[i].port_only &&
		    parsers[i].ops->probe(b, n, (enum tp_app_dir)dir))
			return parsers[i].ops;
	return NULL;
}

/* No parser for this flow.  Its held segments are freed once the
 * reassembly call that got here returns. */
static void give_up(struct tp_app *a, struct tp_app_flow *af)
{
	af->state = ST_DONE;
	a->st.given_up++;
}

/* In-order bytes of app direction dir. */
static void deliver(struct tp_app *a, struct tp_app_flow *af, uint8_t dir,
		    const uint8_t *b, size_t n)
{
	if (af->state == ST_PARSE) {
		af->ops->data(af->st, &a->ctx, (enum tp_app_dir)dir, b, n);
		return;
	}
	if (af->state != ST_PROBE || !n)
		return;
	const struct tp_app_ops *ops = choose(a->cur, dir, b, n);
	if (!ops) {
		af->probed[dir] += (uint32_t)n;
		if (af->probed[dir] >= a->cfg->app_inspect_bytes)
			give_up(a, af);
		return;
	}
	af->st = tp_calloc(1, ops->state_size);
	if (!af->st) {
		give_up(a, af);
		return;
	}
	af->ops = ops;
	af->state = ST_PARSE;
	a->st.parsed++;
	snprintf(af->service, sizeof(af->service), "%s", ops->name);
	inv_service(a, a->cur, af, a->ctx.ts_ns, false);
	if (af->nd) {
		tp_ndpi_flow_free(af->nd);
		af->nd = NULL;
	}
	ops->init(af->st);
	/* Bytes of the other direction that went by before. */
	if (af->probed[dir ^ 1])
		ops->gap(af->st, &a->ctx, (enum tp_app_dir)(dir ^ 1),
			 af->probed[dir ^ 1]);
	ops->data(af->st, &a->ctx, (enum tp_app_dir)dir, b, n);
}

static void on_data(void *arg, int side, const uint8_t *b, size_t n)
{
	struct tp_app *a = arg;
	deliver(a, a->cur->app, app_dir(a->cur, side), b, n);
}

static void on_gap(void *arg, int side, uint64_t n)
{
	struct tp_app *a = arg;
	struct tp_app_flow *af = a->cur->app;
	uint8_t dir = app_dir(a->cur, side);
	if (af->state == ST_PARSE)
		af->ops->gap(af->st, &a->ctx, (enum tp_app_dir)dir, n);
	else if (af->state == ST_PROBE)
		/* A gap before a parser was chosen: it could not start in
		 * step with the stream. */
		give_up(a, af);
}

struct tp_app *tp_app_new(const struct tp_config *cfg,
			  struct tp_app_shared *s, unsigned nworkers)
{
	if (!cfg->app_enabled)
		return NULL;
	struct tp_app *a = tp_calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->cfg = cfg;
	a->shared = s;
	a->logs.shared = s;
	a->rx.data = on_data;
	a->rx.gap = on_gap;
	a->rx.arg = a;
	a->rx.depth = cfg->app_reassembly_depth;
	a->rx.mem_cap = cfg->app_reassembly_memory / (nworkers ? nworkers : 1);
	a->ctx.logs = &a->logs;
	a->ctx.weird = on_weird;
	a->ctx.priv = a;
	pthread_mutex_lock(&s->mu);
	if (!s->inv_made) {
		s->inv_made = true;
		struct tp_app_logs *il = tp_app_logs_new(s);
		s->inv = il ? tp_inv_new(cfg, il, nworkers) : NULL;
	}
	pthread_mutex_unlock(&s->mu);
	a->inv = tp_inv_worker_new(s->inv);
	if (a->inv) {
		a->ctx.software = on_software;
		a->ctx.cert = on_cert;
	}
	a->ctx.files = tp_files_new(cfg);
	if (!a->ctx.files)
		tp_log_warn("files: no memory: bodies are not logged as files");
	if (cfg->app_ndpi && tp_ndpi_available()) {
		a->ndpi = tp_ndpi_new();
		if (!a->ndpi)
			tp_log_warn("nDPI could not start: flows are not "
				    "classified");
	}
	return a;
}

void tp_app_flush(struct tp_app *a)
{
	tp_app_logs_flush(&a->logs);
}

void tp_app_clock(struct tp_app *a, uint64_t now_ns)
{
	tp_inv_clock(a->inv, now_ns);
}

void tp_app_free(struct tp_app *a)
{
	if (!a)
		return;
	for (unsigned i = 0; i < a->logs.n; i++)
		if (!a->logs.e[i].failed)
			tp_rec_fini(&a->logs.e[i].rec);
	tp_inv_worker_free(a->inv);
	tp_ndpi_free(a->ndpi);
	tp_files_free(a->ctx.files);
	tp_free(a, sizeof(*a));
}

/* The parsers' share of a packet: reassembly (TCP) or the datagram. */
static void parse_packet(struct tp_app *a, struct tp_app_flow *af,
			 struct tp_flow *f, uint8_t side, const struct tp_pkt *p,
			 const uint8_t *b, uint32_t n, uint32_t l4_off)
{
	uint32_t cap = n > l4_off ? n - l4_off : 0;
	if (cap > p->payload_cap)
		cap = p->payload_cap;
	const uint8_t *pay = b + l4_off;
	if (f->key.proto == 6) {
		tp_reasm_segment(&af->rs, &a->rx, side, p->seq, p->tcp_flags,
				 pay, cap, p->payload_len);
		if ((p->tcp_flags & TP_TH_ACK) && af->state != ST_DONE)
			tp_reasm_ack(&af->rs, &a->rx, side ^ 1, p->ack);
		if (af->state == ST_DONE)
			tp_reasm_free(&af->rs, &a->rx);
		return;
	}
	uint8_t dir = app_dir(f, side);
	if (cap < p->payload_len) {
		/* A datagram cut short by the mirror: not parsed. */
		if (af->state == ST_PARSE)
			af->ops->gap(af->st, &a->ctx, (enum tp_app_dir)dir,
				      p->payload_len);
		return;
	}
	deliver(a, af, dir, pay, cap);
}

void tp_app_packet(struct tp_app *a, struct tp_flow *f, uint8_t side,
		   const struct tp_pkt *p, const uint8_t *b, uint32_t n,
		   uint32_t l4_off)
{
	struct tp_app_flow *af = f->app;
	if (!n || (f->key.proto != 6 && f->key.proto != 17))
		return;
	if (!af) {
		af = tp_calloc(1, sizeof(*af));
		if (!af)
			return;
		f->app = af;
		a->st.flows++;
		/* A flow to a parser's port waits for that parser's verdict
		 * before nDPI spends anything on it; any other starts nDPI at
		 * its first packet. */
		if (a->ndpi && !port_parser(f))
			ndpi_start(a, af);
	}
	if (a->inv && f->key.proto == 6 && !(af->inv & INV_HOSTS))
		inv_hosts(a, f, af, p->ts_ns);
	if (af->state == ST_DONE && !af->nd)
		return;
	a->cur = f;
	a->ctx.ts_ns = p->ts_ns;
	a->ctx.flow = f;

	if (af->state != ST_DONE)
		parse_packet(a, af, f, side, p, b, n, l4_off);
	/* The port's parser did not take the bytes seen so far: nDPI
	 * starts with this packet. */
	if (a->ndpi && !af->ndpi_started && af->state != ST_PARSE &&
	    (af->probed[0] || af->probed[1] || af->state == ST_DONE))
		ndpi_start(a, af);
	if (af->nd) {
		bool done = tp_ndpi_packet(a->ndpi, af->nd, b, n, p->ts_ns);
		if (done || ++af->ndpi_pkts >= a->cfg->app_ndpi_packets)
			ndpi_stop(a, af, !done);
	}
}

void tp_app_flow_end(struct tp_app *a, struct tp_flow *f)
{
	struct tp_app_flow *af = f->app;
	if (!af)
		return;
	a->cur = f;
	a->ctx.ts_ns = f->last_ns;
	a->ctx.flow = f;
	if (af->state == ST_PARSE) {
		if (f->key.proto == 6)
			tp_reasm_flush(&af->rs, &a->rx);
		af->ops->end(af->st, &a->ctx);
	}
	if (af->nd)
		ndpi_stop(a, af, true);
	inv_service(a, f, af, f->last_ns, true);
}

void tp_app_flow_free(struct tp_app *a, struct tp_flow *f)
{
	struct tp_app_flow *af = f->app;
	if (!af)
		return;
	if (af->st) {
		af->ops->fini(af->st);
		tp_free(af->st, af->ops->state_size);
	}
	tp_reasm_free(&af->rs, &a->rx);
	tp_ndpi_flow_free(af->nd);
	tp_free(af, sizeof(*af));
	f->app = NULL;
}

const char *tp_app_service(const struct tp_flow *f)
{
	const struct tp_app_flow *af = f->app;
	return af && af->service[0] ? af->service : NULL;
}

size_t tp_app_risks(const struct tp_flow *f, const char **names, size_t max)
{
	const struct tp_app_flow *af = f->app;
	return af ? tp_ndpi_risk_names(af->risk, names, max) : 0;
}

void tp_app_stats(const struct tp_app *a, struct tp_app_stats *st)
{
	*st = a->st;
	st->reasm_held = a->rx.held;
	st->reasm_overlaps = a->rx.overlaps;
	st->reasm_gaps = a->rx.gaps;
	st->reasm_gap_bytes = a->rx.gap_bytes;
	st->reasm_depth_hits = a->rx.depth_hits;
	st->reasm_memcap_hits = a->rx.memcap_hits;
	st->reasm_memory = a->rx.mem_used;
	struct tp_inv_stats is;
	tp_inv_stats(a->inv, &is);
	st->inv_records = is.records;
	st->inv_late = is.late;
	st->inv_memcap_hits = is.memcap_hits;
	tp_files_stats(a->ctx.files, &st->files);
}
