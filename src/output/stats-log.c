/* stats.log and capture_loss.log. */
#include "output/stats.h"

#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

void tp_capture_loss_record(struct tp_rec *r, uint64_t ts_ns,
			    uint64_t delta_ns, uint64_t gaps, uint64_t acks)
{
	tp_rec_begin(r);
	tp_rec_time(r, C_TS, ts_ns);
	tp_rec_interval(r, C_TS_DELTA, delta_ns);
	tp_rec_str(r, C_PEER, "tapir");
	tp_rec_uint(r, C_GAPS, gaps);
	tp_rec_uint(r, C_ACKS, acks);
	tp_rec_double(r, C_PERCENT_LOST,
		      acks ? 100.0 * (double)gaps / (double)acks : 0.0);
	tp_rec_end(r);
}

static const char *const encap_names[TP_ENCAP__COUNT] = {
	"none", "vxlan", "geneve", "gre", "erspan1", "erspan2", "erspan3",
	"ipip",
};

/* "store": the writers' counters and retention's removals, by reason. */
static void store_json(FILE *f, const struct tp_pipeline_totals *t)
{
	const struct tp_retention_stats *r = &t->retention;
	uint64_t segs = 0, bytes = 0;

	for (int k = 0; k < TP_RET__COUNT; k++) {
		segs += r->segments[k];
		bytes += r->bytes[k];
	}
	fprintf(f,
		",\"store\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"segments\":%" PRIu64 ",\"write_errors\":%" PRIu64
		",\"size\":%" PRIu64 ",\"removed_segments\":%" PRIu64
		",\"removed_bytes\":%" PRIu64,
		t->store_w.packets, t->store_w.bytes, t->store_w.segments,
		t->store_w.errors, r->store_bytes, segs, bytes);
	fprintf(f, ",\"removed\":{");
	for (int k = 0; k < TP_RET__COUNT; k++)
		fprintf(f, "%s\"%s\":{\"segments\":%" PRIu64
			",\"bytes\":%" PRIu64 "}", k ? "," : "",
			tp_retention_reason_name((enum tp_retention_reason)k),
			r->segments[k], r->bytes[k]);
	fprintf(f, "},\"orphans_removed\":%" PRIu64
		",\"retention_errors\":%" PRIu64 "}",
		r->orphans, r->errors);
}

void tp_stats_json(const struct tp_stats_input *in, FILE *f)
{
	const struct tp_pipeline_totals *t = in->totals;

	fprintf(f,
		"{\"ts\":%" PRIu64 ".%06" PRIu64 ",\"peer\":\"tapir\"",
		in->ts_ns / UINT64_C(1000000000),
		(in->ts_ns % UINT64_C(1000000000)) / 1000);
	if (in->uptime_ns)
		fprintf(f, ",\"uptime\":%.3f", (double)in->uptime_ns / 1e9);
	fprintf(f,
		",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"ip_packets\":%" PRIu64 ",\"non_ip\":%" PRIu64
		",\"tunnelled\":%" PRIu64 ",\"truncated\":%" PRIu64
		",\"fragments_held\":%" PRIu64 ",\"reassembled\":%" PRIu64
		",\"not_flowed\":%" PRIu64 ",\"decode_failed\":%" PRIu64
		",\"socket_drops\":%" PRIu64 ",\"ring_drops\":%" PRIu64
		",\"queue_drops\":%" PRIu64 ",\"rx_truncated\":%" PRIu64
		",\"rx_errors\":%" PRIu64
		",\"duplicates\":%" PRIu64 ",\"dedup_evictions\":%" PRIu64
		",\"flow_packets\":%" PRIu64 ",\"flows\":%" PRIu64
		",\"flows_evicted\":%" PRIu64 ",\"peak_flows\":%" PRIu64
		",\"defrag_memory\":%" PRIu64 ",\"memory\":%" PRIu64
		",\"tcp_acks\":%" PRIu64 ",\"tcp_gaps\":%" PRIu64,
		t->packets, t->bytes, t->ip_packets, t->non_ip, t->tunnelled,
		t->truncated, t->fragments_held, t->reassembled, t->not_flowed,
		t->decode_failed, t->socket_drops, t->ring_drops,
		t->queue_drops, t->rx_truncated, t->rx_errors, t->duplicates,
		t->dedup_evictions, t->flow_packets, t->flows,
		t->flows_evicted, t->peak_flows, t->defrag_memory,
		tp_mem_in_use(), t->tcp_acks, t->tcp_gaps);
	const struct tp_app_stats *a = &t->app;
	fprintf(f,
		",\"app\":{\"flows\":%" PRIu64 ",\"parsed\":%" PRIu64
		",\"given_up\":%" PRIu64 ",\"ndpi_flows\":%" PRIu64
		",\"ndpi_known\":%" PRIu64 ",\"weirds\":%" PRIu64
		",\"reassembly_held\":%" PRIu64
		",\"reassembly_overlaps\":%" PRIu64
		",\"reassembly_gaps\":%" PRIu64
		",\"reassembly_gap_bytes\":%" PRIu64
		",\"reassembly_depth_hits\":%" PRIu64
		",\"reassembly_memcap_hits\":%" PRIu64
		",\"reassembly_memory\":%" PRIu64
		",\"inventory_records\":%" PRIu64
		",\"inventory_late\":%" PRIu64
		",\"inventory_memcap_hits\":%" PRIu64,
		a->flows, a->parsed, a->given_up, a->ndpi_flows, a->ndpi_known,
		a->weirds, a->reasm_held, a->reasm_overlaps, a->reasm_gaps,
		a->reasm_gap_bytes, a->reasm_depth_hits, a->reasm_memcap_hits,
		a->reasm_memory, a->inv_records, a->inv_late,
		a->inv_memcap_hits);
	fprintf(f,
		",\"files\":{\"files\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"missing_bytes\":%" PRIu64 ",\"decoded\":%" PRIu64
		",\"decode_capped\":%" PRIu64 ",\"decode_errors\":%" PRIu64
		",\"sniffed\":%" PRIu64 "}}",
		a->files.files, a->files.bytes, a->files.missing_bytes,
		a->files.decoded, a->files.decode_capped,
		a->files.decode_errors, a->files.sniffed);

	if (t->store)
		store_json(f, t);
	fprintf(f, ",\"events\":{");
	bool first = true;
	for (unsigned e = 0; e < TP_EV__COUNT; e++) {
		if (!t->by_event[e])
			continue;
		fprintf(f, "%s", first ? "" : ",");
		json_str(f, tp_event_name((enum tp_event)e));
		fprintf(f, ":%" PRIu64, t->by_event[e]);
		first = false;
	}
	fprintf(f, "},\"encap\":{");
	first = true;
	for (unsigned e = 1; e < TP_ENCAP__COUNT; e++) {
		if (!t->by_encap[e])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",",
			encap_names[e], t->by_encap[e]);
		first = false;
	}
	fprintf(f, "},\"sessions\":[");
	uint32_t n = tp_sessions_count(in->sessions);
	first = true;
	for (uint32_t i = 0; i < n; i++) {
		struct tp_session *s = tp_session_get(in->sessions, i);
		struct tp_session_count c;
		uint64_t dups;
		char a[64];
		in->session(in->arg, i, &c, &dups);
		if (i <= 1 && c.packets == 0)
			continue;
		fprintf(f, "%s{\"name\":", first ? "" : ",");
		json_str(f, s->name);
		fprintf(f, ",\"outer_src\":\"%s\",\"zone\":",
			i == TP_SESSION_DIRECT ? "-" : tp_addr_str(&s->outer_src, a));
		json_str(f, tp_zone_name(in->sessions, s->zone));
		fprintf(f,
			",\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
			",\"truncated\":%" PRIu64 ",\"duplicates\":%" PRIu64
			",\"anomalies\":%" PRIu64 ",\"queue_drops\":%" PRIu64
			"}",
			c.packets, c.bytes, c.truncated, dups, c.anomalies,
			c.queue_drops);
		first = false;
	}
	fprintf(f, "]}\n");
}
