/* stats.log and capture_loss.log. */
#include "output/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "decode/defrag.h"
#include "output/logs.h"
#include "util/log.h"
#include "util/mem.h"

enum { C_TS, C_TS_DELTA, C_PEER, C_GAPS, C_ACKS, C_PERCENT_LOST };

static const struct tp_field capture_loss_fields[] = {
	[C_TS] = {"ts", TP_FT_TIME},
	[C_TS_DELTA] = {"ts_delta", TP_FT_INTERVAL},
	[C_PEER] = {"peer", TP_FT_STRING},
	[C_GAPS] = {"gaps", TP_FT_COUNT},
	[C_ACKS] = {"acks", TP_FT_COUNT},
	[C_PERCENT_LOST] = {"percent_lost", TP_FT_DOUBLE},
};

const struct tp_log_schema tp_capture_loss_schema = {
	.path = "capture_loss",
	.fields = capture_loss_fields,
	.nfields = sizeof(capture_loss_fields) / sizeof(capture_loss_fields[0]),
};

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int write_capture_loss(const struct tp_stats_input *in, uint64_t gaps,
			      uint64_t acks)
{
	const struct tp_pipeline_totals *t = in->totals;
	struct tp_log *log = tp_log_open(in->cfg->log_dir,
					 &tp_capture_loss_schema,
					 in->cfg->log_format, t->first_ns);
	struct tp_rec r;
	if (!log)
		return -errno;
	if (tp_rec_init(&r, log, 4096) < 0) {
		tp_log_close(log, t->last_ns);
		return -ENOMEM;
	}
	tp_rec_begin(&r);
	tp_rec_time(&r, C_TS, t->last_ns);
	tp_rec_interval(&r, C_TS_DELTA, t->last_ns - t->first_ns);
	tp_rec_str(&r, C_PEER, "tapir");
	tp_rec_uint(&r, C_GAPS, gaps);
	tp_rec_uint(&r, C_ACKS, acks);
	tp_rec_double(&r, C_PERCENT_LOST,
		      acks ? 100.0 * (double)gaps / (double)acks : 0.0);
	tp_rec_end(&r);
	tp_rec_fini(&r);
	return tp_log_close(log, t->last_ns);
}

static uint64_t session_dups(const struct tp_stats_input *in, uint32_t idx)
{
	uint64_t n = 0;
	for (unsigned w = 0; w < in->nworkers; w++)
		if (idx < in->workers[w].nsession_dups)
			n += in->workers[w].session_dups[idx];
	return n;
}

int tp_stats_write(const struct tp_stats_input *in)
{
	const struct tp_pipeline_totals *t = in->totals;
	char path[4352];
	uint64_t gaps = 0, acks = 0, wpk = 0;

	for (unsigned i = 0; i < in->nworkers; i++) {
		gaps += in->workers[i].gaps;
		acks += in->workers[i].acks;
		wpk += in->workers[i].packets;
	}
	int rc = write_capture_loss(in, gaps, acks);
	if (rc < 0)
		tp_log_error("writing capture_loss.log: %s", strerror(-rc));

	snprintf(path, sizeof(path), "%s/stats.log", in->cfg->log_dir);
	FILE *f = fopen(path, "a");
	if (!f) {
		tp_log_error("cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f,
		"{\"ts\":%" PRIu64 ".%06" PRIu64 ",\"peer\":\"tapir\","
		"\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"ip_packets\":%" PRIu64 ",\"non_ip\":%" PRIu64
		",\"tunnelled\":%" PRIu64 ",\"truncated\":%" PRIu64
		",\"fragments_held\":%" PRIu64 ",\"reassembled\":%" PRIu64
		",\"not_flowed\":%" PRIu64 ",\"decode_failed\":%" PRIu64
		",\"duplicates\":%" PRIu64 ",\"dedup_evictions\":%" PRIu64
		",\"flow_packets\":%" PRIu64 ",\"flows\":%" PRIu64
		",\"flows_evicted\":%" PRIu64 ",\"peak_flows\":%" PRIu64
		",\"defrag_memory\":%" PRIu64 ",\"memory\":%" PRIu64
		",\"tcp_acks\":%" PRIu64 ",\"tcp_gaps\":%" PRIu64,
		t->last_ns / UINT64_C(1000000000), (t->last_ns % UINT64_C(1000000000)) / 1000,
		t->packets, t->bytes, t->ip_packets, t->non_ip, t->tunnelled,
		t->truncated, t->fragments_held, t->reassembled, t->not_flowed,
		t->decode_failed, t->duplicates, t->dedup_evictions, wpk,
		t->flows, t->flows_evicted, t->peak_flows,
		in->dec->defrag ? tp_defrag_mem(in->dec->defrag) : 0, tp_mem_in_use(), acks, gaps);

	fprintf(f, ",\"events\":{");
	bool first = true;
	for (unsigned e = 0; e < TP_EV__COUNT; e++) {
		if (!in->dec->events[e])
			continue;
		fprintf(f, "%s", first ? "" : ",");
		json_str(f, tp_event_name((enum tp_event)e));
		fprintf(f, ":%" PRIu64, in->dec->events[e]);
		first = false;
	}
	fprintf(f, "},\"encap\":{");
	static const char *const encap_names[TP_ENCAP__COUNT] = {
		"none", "vxlan", "geneve", "gre", "erspan1", "erspan2",
		"erspan3", "ipip",
	};
	first = true;
	for (unsigned e = 1; e < TP_ENCAP__COUNT; e++) {
		if (!in->dec->by_encap[e])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",",
			encap_names[e], in->dec->by_encap[e]);
		first = false;
	}
	fprintf(f, "},\"sessions\":[");
	uint32_t n = tp_sessions_count(in->sessions);
	first = true;
	for (uint32_t i = 0; i < n; i++) {
		struct tp_session *s = tp_session_get(in->sessions, i);
		char a[64];
		if (i <= 1 && s->packets == 0)
			continue;
		fprintf(f, "%s{\"name\":", first ? "" : ",");
		json_str(f, s->name);
		fprintf(f, ",\"outer_src\":\"%s\",\"zone\":",
			i == TP_SESSION_DIRECT ? "-" : tp_addr_str(&s->outer_src, a));
		json_str(f, tp_zone_name(in->sessions, s->zone));
		fprintf(f,
			",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
			",\"truncated\":%" PRIu64 ",\"duplicates\":%" PRIu64
			",\"anomalies\":%" PRIu64 "}",
			s->packets, s->bytes, s->truncated,
			session_dups(in, i), s->anomalies);
		first = false;
	}
	fprintf(f, "]}\n");
	if (fclose(f) != 0) {
		tp_log_error("writing %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}
