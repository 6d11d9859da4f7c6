/* Pipeline: the fronts (decode, sessions, fingerprint, dispatch), and the
 * set-up, stats, rotation, health and tear-down of workers and logs. */
#include "dispatch/pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "decode/defrag.h"
#include "dispatch/worker.h"
#include "flow/conn.h"
#include "flow/flow.h"
#include "mirror/dedup.h"
#include "mirror/session.h"
#include "output/logs.h"
#include "output/stats.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#define TICK_NS 1000000000ull
/* Ring of a file reader: deep enough to ride out a slow worker moment. */
#define READ_RING_ORDER 16
/* Packet bytes of one batch handled on the front's thread. */
#define FRONT_BYTES (TP_WORKER_BATCH * 2048 + TP_WITEM_MAX_BYTES)

/* A decoding thread's state.  Cache-line aligned: its counters are written
 * by one thread and read by the stats. */
struct tp_front {
	_Alignas(64) struct tp_pipeline *pl;
	unsigned id;
	struct tp_dec dec;
	struct tp_pipeline_totals t;     /* this front's share */
	struct tp_session_count *sess;   /* by session index */
	uint32_t nsess;
	uint64_t next_tick_ns;
	uint8_t rx_kind;
	struct tp_rx_stats rx;
	_Atomic uint64_t beat;
	bool ended;
	struct tp_store_writer *store;   /* NULL: store.dir is "", or closed */
	struct tp_store_stats store_done;  /* the counters of a closed store */
	int store_rc;                    /* its first error, once closed */
	/* One worker on this thread: items wait here to be handled as a
	 * batch. */
	struct tp_witem batch[TP_WORKER_BATCH];
	unsigned nbatch;
	/* ... with their packet bytes (app.enabled) */
	uint8_t *bbuf;
	size_t bused;
};

struct tp_pipeline {
	const struct tp_config *cfg;
	bool live;
	struct tp_sessions *sessions;
	struct tp_log *conn_log, *weird_log, *loss_log, *tcp_log;
	struct tp_rec loss_rec;
	struct tp_weird *weird;
	struct tp_app_shared *app;       /* app logs; NULL: app.enabled off */
	unsigned nfronts, nworkers;
	bool threaded;
	struct tp_front *fronts;
	struct tp_worker *workers;
	struct tp_retention *retention;  /* NULL: no store, or no limits */
	uint64_t start_ns;
	/* stats: the previous record's TCP counters, for the interval */
	uint64_t stats_ns, stats_acks, stats_gaps;
	uint64_t stats_open_ns;          /* stats.log's current file */
	/* health: what each thread's beat was at the last check */
	uint64_t health_ns;
	uint64_t *beats;
	uint64_t *beat_ns;
	uint64_t loss_ns, loss_seen, loss_lost;
	char overload[128];              /* the last window's verdict, or "" */
	bool finished;
};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A relaxed read of a counter that another thread writes. */
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void on_event(void *arg, const struct tp_pkt *p, enum tp_event ev,
		     const char *addl)
{
	struct tp_front *f = arg;
	f->t.events++;
	if (f->pl->weird)
		tp_weird_packet(f->pl->weird, p, ev, addl);
}

static int front_init(struct tp_pipeline *pl, struct tp_front *f,
		      unsigned id)
{
	f->pl = pl;
	f->id = id;
	f->nsess = pl->cfg->max_sessions;
	f->sess = tp_calloc(f->nsess, sizeof(*f->sess));
	if (!f->sess || tp_dec_init(&f->dec, &pl->cfg->decode) < 0)
		return -ENOMEM;
	if (pl->cfg->app_enabled) {
		f->bbuf = tp_malloc(FRONT_BYTES);
		if (!f->bbuf)
			return -ENOMEM;
	}
	f->dec.on_event = on_event;
	f->dec.on_event_arg = f;
	if (pl->cfg->store_dir[0]) {
		f->store = tp_store_writer_new(pl->cfg, id, pl->sessions);
		if (!f->store)
			return -errno;
	}
	return 0;
}

/* Close the front's store, keeping its counters.  0, or the -errno of the
 * store's first failed write. */
static int front_close_store(struct tp_front *f)
{
	if (f->store) {
		tp_store_stats(f->store, &f->store_done);
		f->store_rc = tp_store_writer_free(f->store);
		f->store = NULL;
	}
	return f->store_rc;
}

/* 0, or the -errno of the store's first failed write. */
static int front_fini(struct tp_front *f)
{
	int rc = front_close_store(f);
	tp_free(f->sess, (size_t)f->nsess * sizeof(*f->sess));
	if (f->bbuf)
		tp_free(f->bbuf, FRONT_BYTES);
	f->bbuf = NULL;
	tp_dec_fini(&f->dec);
	return rc;
}

static struct tp_pipeline *pipeline_new(const struct tp_config *cfg,
					unsigned nfronts, bool live, char *err,
					size_t errlen)
{
	struct tp_pipeline *pl = tp_calloc(1, sizeof(*pl));
	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pl->cfg = cfg;
	pl->live = live;
	pl->start_ns = wall_ns();
	if (mkdir(cfg->log_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create log directory %s: %s",
			 cfg->log_dir, strerror(errno));
		goto fail;
	}
	pl->conn_log = tp_log_open(cfg->log_dir, &tp_conn_schema,
				   cfg->log_format, pl->start_ns);
	pl->tcp_log = tp_log_open(cfg->log_dir, &tp_tcp_schema,
				  cfg->log_format, pl->start_ns);
	pl->weird_log = tp_log_open(cfg->log_dir, &tp_weird_schema,
				    cfg->log_format, pl->start_ns);
	pl->loss_log = tp_log_open(cfg->log_dir, &tp_capture_loss_schema,
				   cfg->log_format, pl->start_ns);
	if (!pl->conn_log || !pl->tcp_log || !pl->weird_log || !pl->loss_log) {
		snprintf(err, errlen, "cannot write logs in %s: %s",
			 cfg->log_dir, strerror(errno));
		goto fail;
	}
	if (!live) {
		/* One stats record per read, as the file's own. */
		char path[4352];
		snprintf(path, sizeof(path), "%s/stats.log", cfg->log_dir);
		unlink(path);
	}
	pl->stats_open_ns = pl->start_ns;
	pl->weird = tp_weird_new(pl->weird_log, 25, 1000);
	pl->sessions = tp_sessions_new(cfg, cfg->max_sessions);
	if (cfg->app_enabled)
		pl->app = tp_app_shared_new(cfg, pl->weird, pl->start_ns);
	if (!pl->weird || !pl->sessions || (cfg->app_enabled && !pl->app) ||
	    tp_rec_init(&pl->loss_rec, pl->loss_log, 4096) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	pl->nfronts = nfronts;
	pl->fronts = tp_calloc_aligned(64, nfronts * sizeof(*pl->fronts));
	if (!pl->fronts) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < nfronts; i++) {
		int r = front_init(pl, &pl->fronts[i], i);
		if (r < 0) {
			if (pl->fronts[i].sess && r != -ENOMEM)
				snprintf(err, errlen,
					 "cannot write the packet store in "
					 "%s: %s", cfg->store_dir,
					 strerror(-r));
			else
				snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}

	if (cfg->store_dir[0] && tp_retention_wanted(cfg)) {
		/* tapir run: a pass a second on a thread of its own;
		 * tapir read: one pass at the end. */
		pl->retention = tp_retention_new(cfg);
		if (!pl->retention ||
		    (live && tp_retention_start(pl->retention, TICK_NS) < 0)) {
			snprintf(err, errlen, "cannot start the store's "
				 "retention");
			goto fail;
		}
	}

	pl->nworkers = cfg->workers ? cfg->workers : 1;
	pl->threaded = live || pl->nworkers > 1;
	/* Cache-line aligned: each worker writes its own counters and ring
	 * ends, and must not share a line with another thread's data. */
	pl->workers = tp_calloc_aligned(64, pl->nworkers * sizeof(*pl->workers));
	pl->beats = tp_calloc(nfronts + pl->nworkers, sizeof(*pl->beats));
	pl->beat_ns = tp_calloc(nfronts + pl->nworkers, sizeof(*pl->beat_ns));
	if (!pl->workers || !pl->beats || !pl->beat_ns) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	unsigned order = READ_RING_ORDER;
	if (live)
		for (order = 10; (1u << order) < cfg->queue_size; order++)
			;
	for (unsigned i = 0; i < pl->nworkers; i++) {
		uint64_t share = cfg->max_flows / pl->nworkers + 1;
		if (tp_worker_init(&pl->workers[i], i, cfg, pl->sessions,
				   pl->conn_log, pl->tcp_log, share) < 0 ||
		    (cfg->app_enabled &&
		     !(pl->workers[i].app = tp_app_new(cfg, pl->app,
						       pl->nworkers))) ||
		    (pl->threaded &&
		     tp_worker_start(&pl->workers[i], order, nfronts) < 0)) {
			snprintf(err, errlen, "cannot start worker %u", i);
			goto fail;
		}
	}
	return pl;
fail:
	tp_pipeline_free(pl);
	return NULL;
}

struct tp_pipeline *tp_pipeline_new(const struct tp_config *cfg, char *err,
				    size_t errlen)
{
	return pipeline_new(cfg, 1, false, err, errlen);
}

struct tp_pipeline *tp_pipeline_new_live(const struct tp_config *cfg,
					 unsigned nfronts, char *err,
					 size_t errlen)
{
	return pipeline_new(cfg, nfronts ? nfronts : 1, true, err, errlen);
}

struct tp_front *tp_pipeline_front(struct tp_pipeline *pl, unsigned i)
{
	return i < pl->nfronts ? &pl->fronts[i] : NULL;
}

static void flush_batch(struct tp_front *f)
{
	if (f->nbatch) {
		tp_worker_handle_batch(&f->pl->workers[0], f->batch, f->nbatch);
		f->nbatch = 0;
	}
	f->bused = 0;
}

static void dispatch(struct tp_front *f, const struct tp_witem *it)
{
	struct tp_pipeline *pl = f->pl;
	if (!pl->threaded) {
		/* The frame's bytes do not outlive it: the batch keeps a
		 * copy. */
		if (it->nbytes && f->bused + it->nbytes > FRONT_BYTES)
			flush_batch(f);
		struct tp_witem *slot = &f->batch[f->nbatch++];
		*slot = *it;
		if (it->nbytes) {
			memcpy(f->bbuf + f->bused, it->bytes, it->nbytes);
			slot->bytes = f->bbuf + f->bused;
			f->bused += it->nbytes;
		}
		if (f->nbatch == TP_WORKER_BATCH)
			flush_batch(f);
		return;
	}
	unsigned i = (unsigned)(((uint64_t)it->hash * pl->nworkers) >> 32);
	if (!pl->live) {
		tp_worker_push(&pl->workers[i], f->id, it);
		return;
	}
	if (!tp_worker_try_push(&pl->workers[i], f->id, it)) {
		f->t.queue_drops++;
		if (it->session < f->nsess)
			f->sess[it->session].queue_drops++;
	}
}

static void broadcast(struct tp_front *f, enum tp_witem_kind kind, uint64_t ts)
{
	struct tp_pipeline *pl = f->pl;
	struct tp_witem it;
	memset(&it, 0, sizeof(it));
	it.kind = (uint8_t)kind;
	it.ts_ns = ts;
	flush_batch(f);
	for (unsigned i = 0; i < pl->nworkers; i++) {
		if (!pl->threaded) {
			tp_worker_handle(&pl->workers[i], &it);
			continue;
		}
		/* A tick that does not fit is dropped: the next one, or the
		 * packets themselves, advance the worker's clock. */
		if (pl->live)
			tp_worker_try_push(&pl->workers[i], f->id, &it);
		else
			tp_worker_push(&pl->workers[i], f->id, &it);
		tp_worker_publish(&pl->workers[i], f->id);
	}
}

static void tick(struct tp_front *f, uint64_t now_ns)
{
	if (f->next_tick_ns == 0) {
		f->next_tick_ns = now_ns + TICK_NS;
	} else if (now_ns >= f->next_tick_ns) {
		broadcast(f, TP_WI_TICK, now_ns);
		tp_defrag_expire(&f->dec, now_ns);
		f->next_tick_ns = now_ns + TICK_NS;
	}
}

static bool is_transport(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 1 || proto == 58 ||
	       proto == 132;
}

/* A frame that reaches no flow still goes into the store, indexed by its
 * inner addresses and protocol when it has an IP packet (ports unknown:
 * an IP fragment, or a transport header cut short). */
static void store_frame(struct tp_front *f, const uint8_t *raw,
			uint32_t raw_len, const struct tp_pkt *p, uint32_t sid,
			uint16_t zone)
{
	struct tp_flow_key key;
	uint8_t side;
	struct tp_store_meta m = {.session = sid, .key = &key};

	if (!f->store)
		return;
	if (p->ipver) {
		m.has_flow = true;
		m.hash = tp_flow_key_make(&key, &side, &p->src, 0, &p->dst, 0,
					  p->proto, p->ipver, zone);
	}
	tp_store_packet(f->store, raw, raw_len, p, &m);
}

void tp_front_packet(struct tp_front *f, struct tp_pkt *p)
{
	struct tp_pipeline_totals *t = &f->t;
	struct tp_witem it;
	/* The frame as received, for the store: decoding may move p->data
	 * to a reassembly buffer. */
	const uint8_t *raw = p->data;
	uint32_t raw_len = p->caplen;

	tp_pkt_reset(p);
	enum tp_dec_rc rc = tp_decode(&f->dec, p);

	t->packets++;
	t->bytes += p->wirelen;
	if (t->first_ns == 0 || p->ts_ns < t->first_ns)
		t->first_ns = p->ts_ns;
	if (p->ts_ns > t->last_ns)
		t->last_ns = p->ts_ns;
	if (p->ntun)
		t->tunnelled++;
	/* A tunnel payload from a socket counts its outer headers in wirelen
	 * (capture/udp.c) but never had them in its bytes. */
	uint32_t outer = p->first ? (p->outer_ipver == 6 ? 48 : 28) : 0;
	bool truncated = p->truncated || p->caplen + outer < p->wirelen;
	if (truncated)
		t->truncated++;

	uint32_t sid = tp_session_of(f->pl->sessions, p);
	struct tp_session *ss = tp_session_get(f->pl->sessions, sid);
	if (sid < f->nsess) {
		struct tp_session_count *sc = &f->sess[sid];
		sc->packets++;
		sc->bytes += p->wirelen;
		sc->truncated += truncated;
		sc->anomalies += p->nevents;
	}

	tick(f, p->ts_ns);

	if (p->held) {
		t->fragments_held++;
		store_frame(f, raw, raw_len, p, sid, ss->zone);
		return;
	}
	if (p->reassembled)
		t->reassembled++;
	if (p->ipver == 0) {
		if (rc == TP_DEC_OK)
			t->non_ip++;
		else
			t->decode_failed++;
		store_frame(f, raw, raw_len, p, sid, ss->zone);
		return;
	}
	t->ip_packets++;
	if ((is_transport(p->proto) && !p->l4) ||
	    (rc != TP_DEC_OK && !p->l4)) {
		t->not_flowed++;
		store_frame(f, raw, raw_len, p, sid, ss->zone);
		return;
	}

	memset(&it, 0, sizeof(it));
	uint16_t sport = p->sport, dport = p->dport;
	if (p->proto == 1 || p->proto == 58) {
		bool one_way;
		tp_icmp_ports(p->ipver, (uint8_t)p->sport, (uint8_t)p->dport,
			      &sport, &dport, &one_way);
	} else if (!is_transport(p->proto)) {
		sport = dport = 0;
	}
	it.kind = TP_WI_PACKET;
	it.ts_ns = p->ts_ns;
	it.session = sid;
	it.hash = tp_flow_key_make(&it.key, &it.side, &p->src, sport, &p->dst,
				   dport, p->proto, p->ipver, ss->zone);
	if (f->pl->cfg->dedup_enabled)
		it.dedup = tp_dedup_hash(p, ss->zone);
	if (ss->has_id) {
		it.has_vni = 1;
		it.vni = ss->id;
	}
	it.encap = ss->encap;
	it.ip_len = p->ip_len;
	it.ip_cap = p->ip_cap;
	it.ip_hlen = p->ip_hlen;
	it.payload_len = p->payload_len;
	it.payload_cap = p->payload_cap;
	it.seq = p->seq;
	it.ack = p->ack;
	it.sport = p->sport;
	it.dport = p->dport;
	it.tcp_win = p->tcp_win;
	it.tcp_flags = p->tcp_flags;
	it.tcp_hlen = p->tcp_hlen;
	it.truncated = p->truncated;
	it.ttl = p->ttl;
	it.syn_wscale = (p->tcp_flags & TP_TH_SYN)
				? tp_tcp_wscale(p->tcp_opts, p->tcp_opts_len)
				: -2;
	if (f->bbuf && (p->proto == 6 || p->proto == 17) && p->ip &&
	    p->payload >= p->ip && p->payload - p->ip <= UINT16_MAX) {
		it.bytes = p->ip;
		it.nbytes = p->ip_cap < TP_WITEM_MAX_BYTES ? p->ip_cap
							    : TP_WITEM_MAX_BYTES;
		it.l4_off = (uint16_t)(p->payload - p->ip);
	}
	if (f->store) {
		struct tp_store_meta m = {
			.has_flow = true, .ports_known = true,
			.hash = it.hash, .key = &it.key, .session = sid,
		};
		tp_store_packet(f->store, raw, raw_len, p, &m);
	}
	dispatch(f, &it);
}

void tp_pipeline_packet(struct tp_pipeline *pl, struct tp_pkt *p)
{
	tp_front_packet(&pl->fronts[0], p);
}

void tp_front_flush(struct tp_front *f, uint64_t now_ns)
{
	struct tp_pipeline *pl = f->pl;
	if (now_ns)
		tick(f, now_ns);
	if (now_ns && f->store)
		tp_store_tick(f->store, now_ns);
	if (!pl->threaded)
		return;
	for (unsigned i = 0; i < pl->nworkers; i++)
		tp_worker_publish(&pl->workers[i], f->id);
}

void tp_front_set_rx(struct tp_front *f, enum tp_source_kind kind,
		     const struct tp_rx_stats *st)
{
	f->rx_kind = (uint8_t)kind;
	__atomic_store_n(&f->rx.drops, st->drops, __ATOMIC_RELAXED);
	__atomic_store_n(&f->rx.truncated, st->truncated, __ATOMIC_RELAXED);
	__atomic_store_n(&f->rx.errors, st->errors, __ATOMIC_RELAXED);
}

void tp_front_beat(struct tp_front *f)
{
	atomic_fetch_add_explicit(&f->beat, 1, memory_order_relaxed);
}

/* ---- counters ---------------------------------------------------------- */

static void add_front(struct tp_pipeline_totals *t, const struct tp_front *f)
{
	const struct tp_pipeline_totals *s = &f->t;
	t->packets += PEEK(s->packets);
	t->bytes += PEEK(s->bytes);
	t->ip_packets += PEEK(s->ip_packets);
	t->non_ip += PEEK(s->non_ip);
	t->tunnelled += PEEK(s->tunnelled);
	t->truncated += PEEK(s->truncated);
	t->fragments_held += PEEK(s->fragments_held);
	t->reassembled += PEEK(s->reassembled);
	t->not_flowed += PEEK(s->not_flowed);
	t->decode_failed += PEEK(s->decode_failed);
	t->queue_drops += PEEK(s->queue_drops);
	t->events += PEEK(s->events);
	uint64_t first = PEEK(s->first_ns), last = PEEK(s->last_ns);
	if (first && (t->first_ns == 0 || first < t->first_ns))
		t->first_ns = first;
	if (last > t->last_ns)
		t->last_ns = last;
	if (f->pl->cfg->store_dir[0]) {
		struct tp_store_stats ss = f->store_done;
		if (f->store)
			tp_store_stats(f->store, &ss);
		t->store_w.packets += ss.packets;
		t->store_w.bytes += ss.bytes;
		t->store_w.segments += ss.segments;
		t->store_w.errors += ss.errors;
	}
	uint64_t drops = PEEK(f->rx.drops);
	if (f->rx_kind == TP_SRC_AFPACKET)
		t->ring_drops += drops;
	else
		t->socket_drops += drops;
	t->rx_truncated += PEEK(f->rx.truncated);
	t->rx_errors += PEEK(f->rx.errors);
	for (unsigned e = 0; e < TP_EV__COUNT; e++)
		t->by_event[e] += PEEK(f->dec.events[e]);
	for (unsigned e = 0; e < TP_ENCAP__COUNT; e++)
		t->by_encap[e] += PEEK(f->dec.by_encap[e]);
	if (f->dec.defrag)
		t->defrag_memory += tp_defrag_mem(f->dec.defrag);
}

void tp_pipeline_totals(const struct tp_pipeline *pl,
			struct tp_pipeline_totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < pl->nfronts; i++)
		add_front(t, &pl->fronts[i]);
	for (unsigned i = 0; i < pl->nworkers; i++) {
		const struct tp_worker *w = &pl->workers[i];
		struct tp_flow_stats st;
		if (!w->flows)
			continue;
		tp_flow_stats(w->flows, &st);
		t->duplicates += PEEK(w->duplicates);
		t->dedup_evictions += w->dedup ? tp_dedup_evictions(w->dedup) : 0;
		t->flow_packets += PEEK(w->packets);
		t->tcp_acks += PEEK(w->acks);
		t->tcp_gaps += PEEK(w->gaps);
		t->flows += st.ended;
		t->flows_evicted += st.evicted;
		t->peak_flows += st.peak;
		if (w->app) {
			struct tp_app_stats as;
			tp_app_stats(w->app, &as);
			uint64_t *dst = (uint64_t *)&t->app;
			const uint64_t *src = (const uint64_t *)&as;
			for (size_t k = 0; k < sizeof(as) / 8; k++)
				dst[k] += src[k];
		}
	}
	t->sessions = pl->sessions ? tp_sessions_count(pl->sessions) - 2 : 0;
	t->store = pl->cfg->store_dir[0] != 0;
	if (pl->retention)
		tp_retention_stats(pl->retention, &t->retention);
}

static void session_sum(void *arg, uint32_t idx, struct tp_session_count *c,
			uint64_t *dups)
{
	const struct tp_pipeline *pl = arg;
	memset(c, 0, sizeof(*c));
	*dups = 0;
	for (unsigned i = 0; i < pl->nfronts; i++) {
		const struct tp_front *f = &pl->fronts[i];
		if (idx >= f->nsess)
			continue;
		c->packets += PEEK(f->sess[idx].packets);
		c->bytes += PEEK(f->sess[idx].bytes);
		c->truncated += PEEK(f->sess[idx].truncated);
		c->anomalies += PEEK(f->sess[idx].anomalies);
		c->queue_drops += PEEK(f->sess[idx].queue_drops);
	}
	for (unsigned w = 0; w < pl->nworkers; w++)
		if (idx < pl->workers[w].nsession_dups)
			*dups += PEEK(pl->workers[w].session_dups[idx]);
}

static void stats_record(struct tp_pipeline *pl, FILE *f, uint64_t ts_ns,
			 const struct tp_pipeline_totals *t)
{
	struct tp_stats_input in = {
		.cfg = pl->cfg,
		.totals = t,
		.sessions = pl->sessions,
		.session = session_sum,
		.arg = pl,
		.ts_ns = ts_ns,
		.uptime_ns = pl->live ? wall_ns() - pl->start_ns : 0,
	};
	tp_stats_json(&in, f);
}

int tp_pipeline_write_stats(struct tp_pipeline *pl, uint64_t now_ns)
{
	struct tp_pipeline_totals t;
	char path[4352];

	tp_pipeline_totals(pl, &t);
	if (!pl->live)
		now_ns = t.last_ns;
	uint64_t from = pl->stats_ns ? pl->stats_ns
				     : (pl->live ? pl->start_ns : t.first_ns);
	tp_capture_loss_record(&pl->loss_rec, now_ns,
			       now_ns > from ? now_ns - from : 0,
			       t.tcp_gaps - pl->stats_gaps,
			       t.tcp_acks - pl->stats_acks);
	tp_rec_flush(&pl->loss_rec);
	pl->stats_ns = now_ns;
	pl->stats_gaps = t.tcp_gaps;
	pl->stats_acks = t.tcp_acks;

	snprintf(path, sizeof(path), "%s/stats.log", pl->cfg->log_dir);
	FILE *f = fopen(path, "a");
	if (!f) {
		int e = errno;
		tp_log_error("cannot write %s: %s", path, strerror(e));
		return -e;
	}
	stats_record(pl, f, now_ns, &t);
	if (fclose(f) != 0) {
		int e = errno;
		tp_log_error("writing %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

size_t tp_pipeline_stats_json(struct tp_pipeline *pl, char *buf, size_t n)
{
	struct tp_pipeline_totals t;
	char *text = NULL;
	size_t len = 0;

	tp_pipeline_totals(pl, &t);
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		if (n)
			buf[0] = 0;
		return 0;
	}
	stats_record(pl, f, wall_ns(), &t);
	fclose(f);
	if (n) {
		size_t k = len < n ? len : n - 1;
		memcpy(buf, text, k);
		buf[k] = 0;
	}
	free(text);
	return len;
}

int tp_pipeline_rotate(struct tp_pipeline *pl, uint64_t now_ns, bool reopen)
{
	char from[4352], to[4352];
	int rc = 0, r;

	if ((r = tp_log_rotate(pl->conn_log, now_ns, reopen)) < 0)
		rc = r;
	/* Lines still buffered belong to the file being closed. */
	tp_weird_flush(pl->weird);
	if ((r = tp_log_rotate(pl->tcp_log, now_ns, reopen)) < 0 && !rc)
		rc = r;
	if ((r = tp_log_rotate(pl->weird_log, now_ns, reopen)) < 0 && !rc)
		rc = r;
	if ((r = tp_log_rotate(pl->loss_log, now_ns, reopen)) < 0 && !rc)
		rc = r;
	if ((r = tp_app_shared_rotate(pl->app, now_ns, reopen)) < 0 && !rc)
		rc = r;
	snprintf(from, sizeof(from), "%s/stats.log", pl->cfg->log_dir);
	tp_log_rotated_name(to, sizeof(to), pl->cfg->log_dir, "stats",
			    pl->stats_open_ns, now_ns);
	if (rename(from, to) < 0 && errno != ENOENT && !rc)
		rc = -errno;
	pl->stats_open_ns = now_ns;
	return rc;
}

bool tp_pipeline_check_health(struct tp_pipeline *pl, uint64_t now_ns,
			      char *why, size_t n)
{
	bool ok = true;
	unsigned nthreads = pl->nfronts + pl->nworkers;

	if (pl->finished) {
		snprintf(why, n, "stopping");
		return false;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		uint64_t b = i < pl->nfronts
				     ? atomic_load(&pl->fronts[i].beat)
				     : atomic_load(&pl->workers[i - pl->nfronts].beat);
		if (b != pl->beats[i] || pl->beat_ns[i] == 0) {
			pl->beats[i] = b;
			pl->beat_ns[i] = now_ns;
		} else if (ok && now_ns - pl->beat_ns[i] > pl->cfg->health_stuck_ns) {
			if (i < pl->nfronts)
				snprintf(why, n, "receive thread %u stuck", i);
			else
				snprintf(why, n, "worker %u stuck",
					 i - pl->nfronts);
			ok = false;
		}
	}

	struct tp_pipeline_totals t;
	tp_pipeline_totals(pl, &t);
	uint64_t lost = t.socket_drops + t.ring_drops + t.queue_drops;
	uint64_t seen = t.packets + t.socket_drops + t.ring_drops;
	uint64_t window = pl->cfg->health_loss_window_ns;
	if (pl->loss_ns == 0 || now_ns - pl->loss_ns >= window) {
		/* A new window; judge the one that ended, and keep the
		 * verdict until the next one ends. */
		uint64_t dl = lost - pl->loss_lost, ds = seen - pl->loss_seen;
		pl->overload[0] = 0;
		if (pl->loss_ns && ds &&
		    dl * 100 > ds * pl->cfg->health_max_loss_percent)
			snprintf(pl->overload, sizeof(pl->overload),
				 "overloaded: lost %" PRIu64 " of %" PRIu64
				 " packets in %.0f s", dl, ds,
				 (double)(now_ns - pl->loss_ns) / 1e9);
		pl->loss_ns = now_ns;
		pl->loss_lost = lost;
		pl->loss_seen = seen;
	}
	if (pl->overload[0]) {
		if (ok)
			snprintf(why, n, "%s", pl->overload);
		ok = false;
	}
	return ok;
}

/* ---- end --------------------------------------------------------------- */

void tp_pipeline_finish(struct tp_pipeline *pl)
{
	if (pl->finished)
		return;
	pl->finished = true;
	if (pl->threaded) {
		/* The fronts' threads have stopped: their rings are this
		 * thread's to end. */
		for (unsigned i = 0; i < pl->nworkers; i++)
			for (unsigned r = 0; r < pl->nfronts; r++)
				tp_worker_end(&pl->workers[i], r);
		for (unsigned i = 0; i < pl->nworkers; i++)
			tp_worker_join(&pl->workers[i]);
	} else {
		broadcast(&pl->fronts[0], TP_WI_END, pl->fronts[0].t.last_ns);
	}
	if (!pl->live) {
		/* tapir read: the last segments close and retention has its
		 * pass before the stats record, which counts both.  (Live,
		 * the HTTP server may still read the writers' counters; they
		 * close in tp_pipeline_free.) */
		for (unsigned i = 0; i < pl->nfronts; i++)
			front_close_store(&pl->fronts[i]);
		if (pl->retention)
			tp_retention_pass(pl->retention, wall_ns());
	}
	tp_pipeline_write_stats(pl, wall_ns());
}

int tp_pipeline_free(struct tp_pipeline *pl)
{
	int rc = 0, store_rc = 0;
	if (!pl)
		return 0;
	if (pl->workers) {
		for (unsigned i = 0; i < pl->nworkers; i++) {
			if (pl->workers[i].running)
				for (unsigned r = 0; r < pl->nfronts; r++)
					tp_worker_end(&pl->workers[i], r);
			tp_worker_join(&pl->workers[i]);
			tp_worker_fini(&pl->workers[i]);
		}
		tp_free(pl->workers, pl->nworkers * sizeof(*pl->workers));
	}
	if (pl->fronts) {
		for (unsigned i = 0; i < pl->nfronts; i++) {
			int r = front_fini(&pl->fronts[i]);
			if (r < 0 && !store_rc)
				store_rc = r;
		}
		tp_free(pl->fronts, pl->nfronts * sizeof(*pl->fronts));
	}
	unsigned nthreads = pl->nfronts + pl->nworkers;
	tp_free(pl->beats, nthreads * sizeof(*pl->beats));
	tp_free(pl->beat_ns, nthreads * sizeof(*pl->beat_ns));
	tp_retention_free(pl->retention);
	tp_weird_free(pl->weird);
	tp_rec_fini(&pl->loss_rec);
	uint64_t now = wall_ns();
	int r1 = tp_log_close(pl->conn_log, now);
	int r2 = tp_log_close(pl->weird_log, now);
	int r3 = tp_log_close(pl->loss_log, now);
	int r5 = tp_log_close(pl->tcp_log, now);
	int r4 = tp_app_shared_free(pl->app, now);
	rc = r1 ? r1 : r2 ? r2 : r3 ? r3 : r4 ? r4 : r5 ? r5 : store_rc;
	tp_sessions_free(pl->sessions);
	tp_free(pl, sizeof(*pl));
	return rc;
}
