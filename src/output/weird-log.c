/* weird.log: one line per anomaly event, sampled as Zeek samples weirds
 * (the first N of a name, then one in every M).  Packet-level events have
 * no connection yet, so they carry the addresses decoded so far and no
 * uid, as Zeek's flow and net weirds do. */
#include <pthread.h>
#include <string.h>

#include "output/logs.h"
#include "util/mem.h"

enum {
	W_TS, W_UID, W_ORIG_H, W_ORIG_P, W_RESP_H, W_RESP_P, W_NAME, W_ADDL,
	W_NOTICE, W_PEER, W_SOURCE,
};

static const struct tp_field weird_fields[] = {
	[W_TS] = {"ts", TP_FT_TIME},
	[W_UID] = {"uid", TP_FT_STRING},
	[W_ORIG_H] = {"id.orig_h", TP_FT_ADDR},
	[W_ORIG_P] = {"id.orig_p", TP_FT_PORT},
	[W_RESP_H] = {"id.resp_h", TP_FT_ADDR},
	[W_RESP_P] = {"id.resp_p", TP_FT_PORT},
	[W_NAME] = {"name", TP_FT_STRING},
	[W_ADDL] = {"addl", TP_FT_STRING},
	[W_NOTICE] = {"notice", TP_FT_BOOL},
	[W_PEER] = {"peer", TP_FT_STRING},
	[W_SOURCE] = {"source", TP_FT_STRING},
};

const struct tp_log_schema tp_weird_schema = {
	.path = "weird",
	.fields = weird_fields,
	.nfields = sizeof(weird_fields) / sizeof(weird_fields[0]),
};

struct tp_weird {
	pthread_mutex_t mu;
	struct tp_rec rec;
	uint32_t threshold, rate;
	uint64_t seen[TP_EV__COUNT];
	/* The parsers' weird names (string constants) and their counts. */
	struct {
		const char *name;
		uint64_t n;
	} flow_seen[128];
	unsigned nflow_seen;
};

struct tp_weird *tp_weird_new(struct tp_log *log, uint32_t threshold,
			      uint32_t rate)
{
	struct tp_weird *w = tp_calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	if (tp_rec_init(&w->rec, log, 64 * 1024) < 0) {
		tp_free(w, sizeof(*w));
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	w->threshold = threshold;
	w->rate = rate ? rate : 1;
	return w;
}

void tp_weird_free(struct tp_weird *w)
{
	if (!w)
		return;
	tp_rec_fini(&w->rec);
	pthread_mutex_destroy(&w->mu);
	tp_free(w, sizeof(*w));
}

void tp_weird_packet(struct tp_weird *w, const struct tp_pkt *p,
		     enum tp_event ev, const char *addl)
{
	pthread_mutex_lock(&w->mu);
	uint64_t n = ++w->seen[ev];
	if (n > w->threshold && (n - w->threshold) % w->rate != 0) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	struct tp_rec *r = &w->rec;
	tp_rec_begin(r);
	tp_rec_time(r, W_TS, p->ts_ns);
	if (p->ipver) {
		tp_rec_addr(r, W_ORIG_H, &p->src);
		if (p->l4)
			tp_rec_uint(r, W_ORIG_P, p->sport);
		tp_rec_addr(r, W_RESP_H, &p->dst);
		if (p->l4)
			tp_rec_uint(r, W_RESP_P, p->dport);
	}
	tp_rec_str(r, W_NAME, tp_event_name(ev));
	if (addl && addl[0])
		tp_rec_str(r, W_ADDL, addl);
	tp_rec_bool(r, W_NOTICE, false);
	tp_rec_str(r, W_PEER, "tapir");
	tp_rec_str(r, W_SOURCE, p->ntun ? "tunnel" : "packet");
	tp_rec_end(r);
	pthread_mutex_unlock(&w->mu);
}

/* How often name was seen, this time included. */
static uint64_t flow_count(struct tp_weird *w, const char *name)
{
	for (unsigned i = 0; i < w->nflow_seen; i++)
		if (w->flow_seen[i].name == name ||
		    strcmp(w->flow_seen[i].name, name) == 0)
			return ++w->flow_seen[i].n;
	if (w->nflow_seen == sizeof(w->flow_seen) / sizeof(w->flow_seen[0]))
		return 1;
	w->flow_seen[w->nflow_seen].name = name;
	w->flow_seen[w->nflow_seen].n = 1;
	w->nflow_seen++;
	return 1;
}

void tp_weird_flow(struct tp_weird *w, uint64_t ts_ns, const struct tp_flow *f,
		   const char *name, const char *addl, const char *source)
{
	pthread_mutex_lock(&w->mu);
	uint64_t n = flow_count(w, name);
	if (n > w->threshold && (n - w->threshold) % w->rate != 0) {
		pthread_mutex_unlock(&w->mu);
		return;
	}
	struct tp_rec *r = &w->rec;
	tp_rec_begin(r);
	tp_rec_time(r, W_TS, ts_ns);
	tp_rec_flow_id(r, W_UID, f);
	tp_rec_str(r, W_NAME, name);
	if (addl && addl[0])
		tp_rec_str(r, W_ADDL, addl);
	tp_rec_bool(r, W_NOTICE, false);
	tp_rec_str(r, W_PEER, "tapir");
	tp_rec_str(r, W_SOURCE, source);
	tp_rec_end(r);
	pthread_mutex_unlock(&w->mu);
}

void tp_weird_flush(struct tp_weird *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	tp_rec_flush(&w->rec);
	pthread_mutex_unlock(&w->mu);
}
