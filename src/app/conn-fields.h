/* The fields a connection's app log record opens and closes with, as
 * Zeek's ssl.log and ssh.log do: ts, uid and the id.* 4-tuple (originator
 * first), and tapir's community_id last. */
#ifndef TP_APP_CONN_FIELDS_H
#define TP_APP_CONN_FIELDS_H

#include "app/app.h"
#include "flow/community-id.h"
#include "output/logs.h"

/* ts, uid, id.orig_h, id.orig_p, id.resp_h, id.resp_p into the six fields
 * from `first`. */
static inline void tp_app_rec_conn(struct tp_rec *r, unsigned first,
				   const struct tp_flow *f, uint64_t ts_ns)
{
	uint8_t o = f->conn.orig_side, re = (uint8_t)(o ^ 1);
	char uid[24];

	tp_rec_time(r, first, ts_ns);
	tp_rec_str(r, first + 1, tp_flow_uid_str(f, uid));
	tp_rec_addr(r, first + 2, &f->key.a[o]);
	tp_rec_uint(r, first + 3, f->key.port[o]);
	tp_rec_addr(r, first + 4, &f->key.a[re]);
	tp_rec_uint(r, first + 5, f->key.port[re]);
}

static inline void tp_app_rec_community_id(struct tp_rec *r, unsigned field,
					   const struct tp_flow *f)
{
	uint8_t o = f->conn.orig_side, re = (uint8_t)(o ^ 1);
	char cid[64];

	tp_community_id(f->key.ipver, &f->key.a[o], &f->key.a[re],
			f->key.port[o], f->key.port[re], f->key.proto, 0, cid);
	tp_rec_str(r, field, cid);
}

#define TP_APP_CONN_FIELDS                                                  \
	{"ts", TP_FT_TIME}, {"uid", TP_FT_STRING},                          \
	{"id.orig_h", TP_FT_ADDR}, {"id.orig_p", TP_FT_PORT},               \
	{"id.resp_h", TP_FT_ADDR}, {"id.resp_p", TP_FT_PORT}

#endif
