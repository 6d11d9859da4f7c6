/* tcp.log: one record per TCP flow at its end with Wireshark's
 * tcp.analysis counts per direction (orig_ = sent by the originator),
 * the handshake split, Wireshark's initial RTT and ACK RTT statistics.
 * The counts are those of `tshark -e tcp.analysis.<flag>`; an ACK RTT
 * belongs to the direction that sent the ACK. */
#include <stdbool.h>
#include <string.h>

#include "flow/tcp-analysis.h"
#include "output/logs.h"

/* Per-direction fields, in this order, for orig_ then resp_. */
#define DIR_FIELDS(p)                                                    \
	{p "retransmissions", TP_FT_COUNT},                               \
	{p "fast_retransmissions", TP_FT_COUNT},                          \
	{p "spurious_retransmissions", TP_FT_COUNT},                      \
	{p "out_of_order", TP_FT_COUNT},                                  \
	{p "lost_segments", TP_FT_COUNT},                                 \
	{p "acked_unseen", TP_FT_COUNT},                                  \
	{p "dup_acks", TP_FT_COUNT},                                      \
	{p "zero_windows", TP_FT_COUNT},                                  \
	{p "zero_window_probes", TP_FT_COUNT},                            \
	{p "window_full", TP_FT_COUNT},                                   \
	{p "keep_alives", TP_FT_COUNT},                                   \
	{p "window_updates", TP_FT_COUNT},                                \
	{p "ack_rtt_n", TP_FT_COUNT},                                     \
	{p "ack_rtt_min", TP_FT_INTERVAL},                                \
	{p "ack_rtt_avg", TP_FT_INTERVAL},                                \
	{p "ack_rtt_max", TP_FT_INTERVAL}

enum { NDIR = TP_TCPA_NCOUNT + 4 };

enum {
	F_TS, F_UID, F_ORIG_H, F_ORIG_P, F_RESP_H, F_RESP_P,
	F_INITIAL_RTT, F_HS_CLIENT_RTT, F_HS_SERVER_RTT, F_APP_RESPONSE,
	F_FAILURE,
	F_ORIG0, F_RESP0 = F_ORIG0 + NDIR,
};

static const struct tp_field tcp_fields[] = {
	{"ts", TP_FT_TIME},
	{"uid", TP_FT_STRING},
	{"id.orig_h", TP_FT_ADDR},
	{"id.orig_p", TP_FT_PORT},
	{"id.resp_h", TP_FT_ADDR},
	{"id.resp_p", TP_FT_PORT},
	{"initial_rtt", TP_FT_INTERVAL},     /* tcp.analysis.initial_rtt */
	{"hs_client_rtt", TP_FT_INTERVAL},   /* SYN-ACK -> ACK */
	{"hs_server_rtt", TP_FT_INTERVAL},   /* SYN -> SYN-ACK */
	{"app_response", TP_FT_INTERVAL},    /* request byte -> response byte */
	{"failure", TP_FT_STRING},           /* unanswered, rejected */
	DIR_FIELDS("orig_"),
	DIR_FIELDS("resp_"),
};

_Static_assert(sizeof(tcp_fields) / sizeof(tcp_fields[0]) ==
		       F_RESP0 + NDIR,
	       "tcp.log fields");

const struct tp_log_schema tp_tcp_schema = {
	.path = "tcp",
	.fields = tcp_fields,
	.nfields = sizeof(tcp_fields) / sizeof(tcp_fields[0]),
};

/* An event count that stayed 0 is left unset (absent from a JSON record,
 * "-" in TSV), as Zeek leaves &optional fields: most flows have none of
 * these events, and the records stay short. */
static void put_nz(struct tp_rec *r, unsigned f, uint64_t v)
{
	if (v)
		tp_rec_uint(r, f, v);
}

/* The originator's first payload byte to the responder's first after it. */
static bool app_response(const struct tp_tcpa *a, uint8_t o, uint64_t *ns)
{
	if (!a->data_ns[o] || !a->reply_ns[o ^ 1])
		return false;
	*ns = a->reply_ns[o ^ 1] - a->data_ns[o];
	return true;
}

static void put_dir(struct tp_rec *r, unsigned f0, const struct tp_tcpa *a,
		    uint8_t side)
{
	const struct tp_tcpa_stats *st = &a->st[side];
	uint32_t n = a->d[side].rtt_n;

	for (unsigned i = 0; i < TP_TCPA_NCOUNT; i++)
		put_nz(r, f0 + i, st->count[i]);
	if (n) {
		tp_rec_uint(r, f0 + TP_TCPA_NCOUNT, n);
		tp_rec_interval(r, f0 + TP_TCPA_NCOUNT + 1,
				(uint64_t)st->rtt_min_us * 1000);
		tp_rec_interval(r, f0 + TP_TCPA_NCOUNT + 2,
				st->rtt_sum_ns / n);
		tp_rec_interval(r, f0 + TP_TCPA_NCOUNT + 3,
				(uint64_t)st->rtt_max_us * 1000);
	}
}

void tp_tcp_conn_write(struct tp_rec *r, unsigned f0, const struct tp_flow *f)
{
	const struct tp_tcpa *a = f->tcpa;
	const struct tp_tcpa_stats *st = a->st;
	uint8_t o = f->conn.orig_side, re = (uint8_t)(o ^ 1);
	uint64_t ns;

	if (a->have & TP_TCPA_HAVE_FIRST_RTT)
		tp_rec_interval(r, f0, (uint64_t)a->first_rtt_us * 1000);
	if (app_response(a, o, &ns))
		tp_rec_interval(r, f0 + 1, ns);
	put_nz(r, f0 + 2, st[o].count[TP_TCPA_N_RETRANSMISSION]);
	put_nz(r, f0 + 3, st[re].count[TP_TCPA_N_RETRANSMISSION]);
	put_nz(r, f0 + 4, st[o].count[TP_TCPA_N_LOST_SEGMENT]);
	put_nz(r, f0 + 5, st[re].count[TP_TCPA_N_LOST_SEGMENT]);
	put_nz(r, f0 + 6, (uint64_t)st[0].count[TP_TCPA_N_ZERO_WINDOW] +
				  st[1].count[TP_TCPA_N_ZERO_WINDOW]);
}

void tp_tcp_log_write(struct tp_rec *r, const struct tp_flow *f,
		      const struct tp_tcpa *a)
{
	uint8_t o = f->conn.orig_side, re = (uint8_t)(o ^ 1);

	tp_rec_begin(r);
	tp_rec_time(r, F_TS, f->first_ns);
	tp_rec_flow_id(r, F_UID, f);
	if (a->have & TP_TCPA_HAVE_FIRST_RTT)
		tp_rec_interval(r, F_INITIAL_RTT,
				(uint64_t)a->first_rtt_us * 1000);
	if (a->have & TP_TCPA_HAVE_HS_CLIENT)
		tp_rec_interval(r, F_HS_CLIENT_RTT,
				(uint64_t)a->hs_client_us * 1000);
	if (a->have & TP_TCPA_HAVE_HS_SERVER)
		tp_rec_interval(r, F_HS_SERVER_RTT,
				(uint64_t)a->hs_server_us * 1000);
	uint64_t ns;
	if (app_response(a, o, &ns))
		tp_rec_interval(r, F_APP_RESPONSE, ns);
	if (a->have & TP_TCPA_REJECTED)
		tp_rec_str(r, F_FAILURE, "rejected");
	else if (tp_tcpa_syn_unanswered(a))
		tp_rec_str(r, F_FAILURE, "unanswered");
	put_dir(r, F_ORIG0, a, o);
	put_dir(r, F_RESP0, a, re);
	tp_rec_end(r);
}
