/* The logs tapir writes and their schemas (Zeek's field names). */
#ifndef TP_OUTPUT_LOGS_H
#define TP_OUTPUT_LOGS_H

#include "decode/decode.h"
#include "flow/flow-t.h"
#include "flow/tcp-analysis.h"
#include "mirror/session.h"
#include "output/writer.h"

extern const struct tp_log_schema tp_conn_schema;
extern const struct tp_log_schema tp_tcp_schema;
extern const struct tp_log_schema tp_weird_schema;
extern const struct tp_log_schema tp_capture_loss_schema;

/* Append one conn.log record for a flow that ended. */
void tp_conn_log_write(struct tp_rec *r, const struct tp_flow *f,
		       struct tp_sessions *s);

/* Append one tcp.log record (TCP analytics, flow/tcp-analysis.h) for a
 * TCP flow that ended. */
void tp_tcp_log_write(struct tp_rec *r, const struct tp_flow *f,
		      const struct tp_tcpa *a);

/* The headline TCP analytics that conn.log carries as extra fields, from
 * field f0 on: TP_TCP_CONN_FIELDS(f0) in its schema, tp_tcp_conn_write()
 * for a flow with TCP analytics. */
#define TP_TCP_CONN_FIELDS(f0)                                          \
	[(f0) + 0] = {"tcp_initial_rtt", TP_FT_INTERVAL},                 \
	[(f0) + 1] = {"tcp_app_response", TP_FT_INTERVAL},                \
	[(f0) + 2] = {"orig_tcp_rtx", TP_FT_COUNT},                       \
	[(f0) + 3] = {"resp_tcp_rtx", TP_FT_COUNT},                       \
	[(f0) + 4] = {"orig_tcp_lost", TP_FT_COUNT},                      \
	[(f0) + 5] = {"resp_tcp_lost", TP_FT_COUNT},                      \
	[(f0) + 6] = {"tcp_zero_windows", TP_FT_COUNT}
#define TP_TCP_CONN_NFIELDS 7
void tp_tcp_conn_write(struct tp_rec *r, unsigned f0, const struct tp_flow *f);

/* Zeek's id text: prefix + 17 base62 digits of a 128-bit hash of
 * seed[0..n) (the same seed, the same id); buf holds 24 bytes. */
char *tp_id_str(char prefix, const void *seed, size_t n, char *buf);
/* Zeek's uid text ("C" + base62) of a flow; buf holds 24 bytes. */
char *tp_flow_uid_str(const struct tp_flow *f, char *buf);

/* The fields uid id.orig_h id.orig_p id.resp_h id.resp_p of flow f, at
 * schema indexes uid_field to uid_field + 4 (every Zeek log that names a
 * connection has them in that order). */
void tp_rec_flow_id(struct tp_rec *r, unsigned uid_field,
		    const struct tp_flow *f);

/* weird.log, with Zeek's sampling: the first `threshold` events of a name
 * are written, then one in every `rate`; counters keep the exact count. */
struct tp_weird;
struct tp_weird *tp_weird_new(struct tp_log *log, uint32_t threshold,
			      uint32_t rate);
void tp_weird_free(struct tp_weird *w);
/* An event raised while decoding p (any thread; serialised inside). */
void tp_weird_packet(struct tp_weird *w, const struct tp_pkt *p,
		     enum tp_event ev, const char *addl);
/* Append the buffered lines to weird.log (before it is rotated). */
void tp_weird_flush(struct tp_weird *w);
/* An anomaly an application parser found in flow f (any thread): Zeek's
 * weird name, addl may be NULL, source names the parser ("HTTP"). */
void tp_weird_flow(struct tp_weird *w, uint64_t ts_ns, const struct tp_flow *f,
		   const char *name, const char *addl, const char *source);

#endif
