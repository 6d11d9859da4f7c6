/* Pipeline: the decoding thread's half (decode, sessions, fingerprint,
 * dispatch) and the set-up and tear-down of workers and logs. */
#include "dispatch/pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "decode/defrag.h"
#include "dispatch/worker.h"
#include "flow/conn.h"
#include "flow/flow.h"
#include "mirror/dedup.h"
#include "mirror/session.h"
#include "output/logs.h"
#include "output/stats.h"
#include "util/log.h"
#include "util/mem.h"

#define TICK_NS 1000000000ull
#define RING_ORDER 14

struct tp_pipeline {
	const struct tp_config *cfg;
	struct tp_dec dec;
	struct tp_sessions *sessions;
	struct tp_log *conn_log, *weird_log;
	struct tp_weird *weird;
	unsigned nworkers;
	bool threaded;
	struct tp_worker *workers;
	/* One worker: items wait here to be handled as a batch. */
	struct tp_witem batch[TP_WORKER_BATCH];
	unsigned nbatch;
	uint64_t next_tick_ns;
	struct tp_pipeline_totals t;
	bool finished;
};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_event(void *arg, const struct tp_pkt *p, enum tp_event ev,
		     const char *addl)
{
	struct tp_pipeline *pl = arg;
	pl->t.events++;
	if (pl->weird)
		tp_weird_packet(pl->weird, p, ev, addl);
}

struct tp_pipeline *tp_pipeline_new(const struct tp_config *cfg, char *err,
				    size_t errlen)
{
	struct tp_pipeline *pl = tp_calloc(1, sizeof(*pl));
	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pl->cfg = cfg;
	if (mkdir(cfg->log_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create log directory %s: %s",
			 cfg->log_dir, strerror(errno));
		goto fail;
	}
	pl->conn_log = tp_log_open(cfg->log_dir, &tp_conn_schema,
				   cfg->log_format, wall_ns());
	pl->weird_log = tp_log_open(cfg->log_dir, &tp_weird_schema,
				    cfg->log_format, wall_ns());
	if (!pl->conn_log || !pl->weird_log) {
		snprintf(err, errlen, "cannot write logs in %s: %s",
			 cfg->log_dir, strerror(errno));
		goto fail;
	}
	pl->weird = tp_weird_new(pl->weird_log, 25, 1000);
	pl->sessions = tp_sessions_new(cfg, cfg->max_sessions);
	if (!pl->weird || !pl->sessions ||
	    tp_dec_init(&pl->dec, &cfg->decode) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pl->dec.on_event = on_event;
	pl->dec.on_event_arg = pl;

	pl->nworkers = cfg->workers ? cfg->workers : 1;
	pl->threaded = pl->nworkers > 1;
	/* Cache-line aligned: each worker writes its own counters and ring
	 * end, and must not share a line with another thread's data. */
	pl->workers = tp_calloc_aligned(64, pl->nworkers * sizeof(*pl->workers));
	if (!pl->workers) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < pl->nworkers; i++) {
		uint64_t share = cfg->max_flows / pl->nworkers + 1;
		if (tp_worker_init(&pl->workers[i], i, cfg, pl->sessions,
				   pl->conn_log, share) < 0 ||
		    (pl->threaded &&
		     tp_worker_start(&pl->workers[i], RING_ORDER) < 0)) {
			snprintf(err, errlen, "cannot start worker %u", i);
			goto fail;
		}
	}
	return pl;
fail:
	tp_pipeline_free(pl);
	return NULL;
}

static void flush_batch(struct tp_pipeline *pl)
{
	if (pl->nbatch) {
		tp_worker_handle_batch(&pl->workers[0], pl->batch, pl->nbatch);
		pl->nbatch = 0;
	}
}

static void dispatch(struct tp_pipeline *pl, const struct tp_witem *it)
{
	if (!pl->threaded) {
		pl->batch[pl->nbatch++] = *it;
		if (pl->nbatch == TP_WORKER_BATCH)
			flush_batch(pl);
		return;
	}
	unsigned i = (unsigned)(((uint64_t)it->hash * pl->nworkers) >> 32);
	tp_worker_push(&pl->workers[i], it);
}

static void broadcast(struct tp_pipeline *pl, enum tp_witem_kind kind,
		      uint64_t ts)
{
	struct tp_witem it;
	memset(&it, 0, sizeof(it));
	it.kind = (uint8_t)kind;
	it.ts_ns = ts;
	flush_batch(pl);
	for (unsigned i = 0; i < pl->nworkers; i++) {
		if (pl->threaded) {
			tp_worker_push(&pl->workers[i], &it);
			tp_worker_publish(&pl->workers[i]);
		} else {
			tp_worker_handle(&pl->workers[i], &it);
		}
	}
}

static bool is_transport(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 1 || proto == 58 ||
	       proto == 132;
}

void tp_pipeline_packet(struct tp_pipeline *pl, struct tp_pkt *p)
{
	struct tp_pipeline_totals *t = &pl->t;
	struct tp_witem it;

	tp_pkt_reset(p);
	enum tp_dec_rc rc = tp_decode(&pl->dec, p);

	t->packets++;
	t->bytes += p->wirelen;
	if (t->first_ns == 0 || p->ts_ns < t->first_ns)
		t->first_ns = p->ts_ns;
	if (p->ts_ns > t->last_ns)
		t->last_ns = p->ts_ns;
	if (p->ntun)
		t->tunnelled++;
	bool truncated = p->truncated || p->caplen < p->wirelen;
	if (truncated)
		t->truncated++;

	uint32_t sid = tp_session_of(pl->sessions, p);
	struct tp_session *ss = tp_session_get(pl->sessions, sid);
	ss->packets++;
	ss->bytes += p->wirelen;
	ss->truncated += truncated;
	ss->anomalies += p->nevents;

	if (pl->next_tick_ns == 0)
		pl->next_tick_ns = p->ts_ns + TICK_NS;
	else if (p->ts_ns >= pl->next_tick_ns) {
		broadcast(pl, TP_WI_TICK, p->ts_ns);
		tp_defrag_expire(&pl->dec, p->ts_ns);
		pl->next_tick_ns = p->ts_ns + TICK_NS;
	}

	if (p->held) {
		t->fragments_held++;
		return;
	}
	if (p->reassembled)
		t->reassembled++;
	if (p->ipver == 0) {
		if (rc == TP_DEC_OK)
			t->non_ip++;
		else
			t->decode_failed++;
		return;
	}
	t->ip_packets++;
	if ((is_transport(p->proto) && !p->l4) ||
	    (rc != TP_DEC_OK && !p->l4)) {
		t->not_flowed++;
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
	if (pl->cfg->dedup_enabled)
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
	it.ipver = p->ipver;
	it.proto = p->proto;
	it.tcp_flags = p->tcp_flags;
	it.tcp_hlen = p->tcp_hlen;
	it.truncated = p->truncated;
	it.ttl = p->ttl;
	if (p->tcp_opts) {
		it.has_opts = 1;
		it.tcp_opts_len = p->tcp_opts_len;
		memcpy(it.tcp_opts, p->tcp_opts, p->tcp_opts_len);
	}
	dispatch(pl, &it);
}

static void gather(struct tp_pipeline *pl)
{
	struct tp_pipeline_totals *t = &pl->t;
	t->duplicates = t->dedup_evictions = t->flows = 0;
	t->flows_evicted = t->peak_flows = 0;
	for (unsigned i = 0; i < pl->nworkers; i++) {
		struct tp_worker *w = &pl->workers[i];
		struct tp_flow_stats st;
		if (!w->flows)
			continue;
		tp_flow_stats(w->flows, &st);
		t->duplicates += w->duplicates;
		t->dedup_evictions += w->dedup ? tp_dedup_evictions(w->dedup) : 0;
		t->flows += st.ended;
		t->flows_evicted += st.evicted;
		t->peak_flows += st.peak;
	}
	t->sessions = pl->sessions ? tp_sessions_count(pl->sessions) - 2 : 0;
}

void tp_pipeline_finish(struct tp_pipeline *pl)
{
	if (pl->finished)
		return;
	pl->finished = true;
	if (pl->threaded) {
		for (unsigned i = 0; i < pl->nworkers; i++)
			tp_worker_join(&pl->workers[i]);
	} else {
		broadcast(pl, TP_WI_END, pl->t.last_ns);
	}
	gather(pl);

	struct tp_stats_input in = {
		.cfg = pl->cfg,
		.dec = &pl->dec,
		.sessions = pl->sessions,
		.totals = &pl->t,
		.workers = pl->workers,
		.nworkers = pl->nworkers,
	};
	tp_stats_write(&in);
}

void tp_pipeline_totals(const struct tp_pipeline *pl,
			struct tp_pipeline_totals *t)
{
	*t = pl->t;
}

int tp_pipeline_free(struct tp_pipeline *pl)
{
	int rc = 0;
	if (!pl)
		return 0;
	if (pl->workers) {
		for (unsigned i = 0; i < pl->nworkers; i++) {
			tp_worker_join(&pl->workers[i]);
			tp_worker_fini(&pl->workers[i]);
		}
		tp_free(pl->workers, pl->nworkers * sizeof(*pl->workers));
	}
	tp_weird_free(pl->weird);
	int r1 = tp_log_close(pl->conn_log, wall_ns());
	int r2 = tp_log_close(pl->weird_log, wall_ns());
	rc = r1 ? r1 : r2;
	tp_sessions_free(pl->sessions);
	tp_dec_fini(&pl->dec);
	tp_free(pl, sizeof(*pl));
	return rc;
}
