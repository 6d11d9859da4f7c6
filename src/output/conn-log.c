/* conn.log: Zeek's fields and semantics, plus community_id and the mirror
 * session the flow came through. */
#include <stdio.h>
#include <string.h>

#include "app/app-flow.h"
#include "flow/community-id.h"
#include "flow/conn.h"
#include "output/logs.h"

enum {
	F_TS, F_UID, F_ORIG_H, F_ORIG_P, F_RESP_H, F_RESP_P, F_PROTO,
	F_SERVICE, F_DURATION, F_ORIG_BYTES, F_RESP_BYTES, F_CONN_STATE,
	F_MISSED_BYTES, F_HISTORY, F_ORIG_PKTS, F_ORIG_IP_BYTES, F_RESP_PKTS,
	F_RESP_IP_BYTES, F_TUNNEL_PARENTS, F_IP_PROTO, F_COMMUNITY_ID, F_VNI,
	F_MIRROR_SESSION, F_ZONE, F_OUTER_SRC, F_NDPI_RISKS,
	F_TCP0, /* TP_TCP_CONN_NFIELDS headline TCP analytics (tcp-log.c) */
};

static const struct tp_field conn_fields[] = {
	[F_TS] = {"ts", TP_FT_TIME},
	[F_UID] = {"uid", TP_FT_STRING},
	[F_ORIG_H] = {"id.orig_h", TP_FT_ADDR},
	[F_ORIG_P] = {"id.orig_p", TP_FT_PORT},
	[F_RESP_H] = {"id.resp_h", TP_FT_ADDR},
	[F_RESP_P] = {"id.resp_p", TP_FT_PORT},
	[F_PROTO] = {"proto", TP_FT_ENUM},
	[F_SERVICE] = {"service", TP_FT_STRING},
	[F_DURATION] = {"duration", TP_FT_INTERVAL},
	[F_ORIG_BYTES] = {"orig_bytes", TP_FT_COUNT},
	[F_RESP_BYTES] = {"resp_bytes", TP_FT_COUNT},
	[F_CONN_STATE] = {"conn_state", TP_FT_STRING},
	[F_MISSED_BYTES] = {"missed_bytes", TP_FT_COUNT},
	[F_HISTORY] = {"history", TP_FT_STRING},
	[F_ORIG_PKTS] = {"orig_pkts", TP_FT_COUNT},
	[F_ORIG_IP_BYTES] = {"orig_ip_bytes", TP_FT_COUNT},
	[F_RESP_PKTS] = {"resp_pkts", TP_FT_COUNT},
	[F_RESP_IP_BYTES] = {"resp_ip_bytes", TP_FT_COUNT},
	[F_TUNNEL_PARENTS] = {"tunnel_parents", TP_FT_SET_STRING},
	[F_IP_PROTO] = {"ip_proto", TP_FT_COUNT},
	[F_COMMUNITY_ID] = {"community_id", TP_FT_STRING},
	[F_VNI] = {"vni", TP_FT_COUNT},
	[F_MIRROR_SESSION] = {"mirror_session", TP_FT_STRING},
	[F_ZONE] = {"zone", TP_FT_STRING},
	[F_OUTER_SRC] = {"outer_src", TP_FT_ADDR},
	[F_NDPI_RISKS] = {"ndpi_risks", TP_FT_SET_STRING},
	TP_TCP_CONN_FIELDS(F_TCP0),
};

const struct tp_log_schema tp_conn_schema = {
	.path = "conn",
	.fields = conn_fields,
	.nfields = sizeof(conn_fields) / sizeof(conn_fields[0]),
};

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
	case 58:
		return "icmp";
	default:
		return "unknown_transport";
	}
}

void tp_conn_log_write(struct tp_rec *r, const struct tp_flow *f,
		       struct tp_sessions *s)
{
	const struct tp_conn *c = &f->conn;
	uint8_t o = c->orig_side, re = (uint8_t)(o ^ 1);
	char cid[64], hist[TP_CONN_HISTORY_MAX + 1];
	uint64_t dur = f->last_ns - f->first_ns;

	tp_rec_begin(r);
	tp_rec_time(r, F_TS, f->first_ns);
	tp_rec_flow_id(r, F_UID, f);
	tp_rec_str(r, F_PROTO, proto_name(f->key.proto));
	const char *service = tp_app_service(f);
	if (service)
		tp_rec_str(r, F_SERVICE, service);
	/* As Zeek: duration and byte counts only once time has passed. */
	if (dur > 0) {
		tp_rec_interval(r, F_DURATION, dur);
		tp_rec_uint(r, F_ORIG_BYTES, tp_conn_bytes(c, 0));
		tp_rec_uint(r, F_RESP_BYTES, tp_conn_bytes(c, 1));
	}
	tp_rec_str(r, F_CONN_STATE, tp_conn_state(c, f->key.proto));
	tp_rec_uint(r, F_MISSED_BYTES, c->missed_bytes);
	if (tp_conn_history(c, hist, sizeof(hist)) > 0)
		tp_rec_str(r, F_HISTORY, hist);
	tp_rec_uint(r, F_ORIG_PKTS, c->d[0].pkts);
	tp_rec_uint(r, F_ORIG_IP_BYTES, c->d[0].ip_bytes);
	tp_rec_uint(r, F_RESP_PKTS, c->d[1].pkts);
	tp_rec_uint(r, F_RESP_IP_BYTES, c->d[1].ip_bytes);
	tp_rec_uint(r, F_IP_PROTO, f->key.proto);
	tp_community_id(f->key.ipver, &f->key.a[o], &f->key.a[re],
			f->key.port[o], f->key.port[re], f->key.proto, 0, cid);
	tp_rec_str(r, F_COMMUNITY_ID, cid);
	if (f->has_vni)
		tp_rec_uint(r, F_VNI, f->vni);
	if (f->session != TP_SESSION_DIRECT) {
		struct tp_session *ss = tp_session_get(s, f->session);
		tp_rec_str(r, F_MIRROR_SESSION, ss->name);
		tp_rec_str(r, F_ZONE, tp_zone_name(s, f->key.zone));
		tp_rec_addr(r, F_OUTER_SRC, &ss->outer_src);
	} else {
		tp_rec_str(r, F_ZONE, tp_zone_name(s, f->key.zone));
	}
	const char *risks[64];
	size_t nrisks = tp_app_risks(f, risks, 64);
	if (nrisks)
		tp_rec_strset(r, F_NDPI_RISKS, risks, nrisks);
	if (f->tcpa)
		tp_tcp_conn_write(r, F_TCP0, f);
	tp_rec_end(r);
}
