/* The logs tapir writes and their schemas (Zeek's field names). */
#ifndef TP_OUTPUT_LOGS_H
#define TP_OUTPUT_LOGS_H

#include "decode/decode.h"
#include "flow/flow-t.h"
#include "mirror/session.h"
#include "output/writer.h"

extern const struct tp_log_schema tp_conn_schema;
extern const struct tp_log_schema tp_weird_schema;
extern const struct tp_log_schema tp_capture_loss_schema;

/* Append one conn.log record for a flow that ended. */
void tp_conn_log_write(struct tp_rec *r, const struct tp_flow *f,
		       struct tp_sessions *s);

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
