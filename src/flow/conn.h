/* Connection semantics of conn.log, the way Zeek computes them: who is the
 * originator, the TCP endpoint state machine, the history letters, byte
 * counts from sequence numbers, content gaps (missed_bytes), conn_state. */
#ifndef TP_FLOW_CONN_H
#define TP_FLOW_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"
#include "flow/conn-t.h"

/* For the first packet of a new flow: true when the sender of p should be
 * the responder.  TCP without a bare SYN and UDP from a likely server port
 * (the ports Zeek's default analyzers register) to one that is not; never
 * for ICMP, whose (type, counterpart) key already pairs request and reply. */
bool tp_conn_first_is_resp(const struct tp_pkt *p);

/* True when port (host order) is one of the likely server ports of the
 * transport proto (6 or 17). */
bool tp_conn_likely_server_port(uint8_t proto, uint16_t port);

/* Initialise c for a flow whose originator is canonical side orig_side.
 * If the first packet then comes from the other side, the history starts
 * with '^' (the roles were flipped when the flow was created). */
void tp_conn_init(struct tp_conn *c, uint8_t orig_side);

/* Account one packet arriving from canonical key side `side` (0/1): packet
 * and IP byte counts (p->ip_len, the wire length), the TCP endpoint state
 * machine, history letters, TCP byte counts by sequence numbers with wrap,
 * content gaps, UDP/ICMP payload sums.  May flip roles (history '^').
 * A TCP packet whose header options were cut off by the capture (tcp_hlen
 * over 20 and no tcp_opts, as the decoder leaves it) is not counted at all,
 * as Zeek drops it.  Returns true when the packet extends
 * the connection's duration: always, except for TCP once both sides have
 * closed (the trailing ACK of a teardown) and for a dropped packet. */
bool tp_conn_update(struct tp_conn *c, uint8_t side, const struct tp_pkt *p);

/* True when TCP packet p, arriving on an existing flow, starts a new
 * connection on the same 5-tuple (Zeek's IsReuse): a SYN whose sequence
 * number is not the originator's ISN (SYN-ACK: the responder's, when only
 * the responder was seen), or any SYN once one side has closed.  The caller
 * ends the old flow and starts a new one. */
bool tp_conn_is_reuse(const struct tp_conn *c, const struct tp_pkt *p);

/* Record that analysis of c stopped short (a limit was reached, e.g. the
 * tunnel nesting cap): history letter 'X', once. */
void tp_conn_note_partial(struct tp_conn *c);

/* Zeek conn_state string (S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR
 * OTH) for a flow of IP protocol proto.  Static storage. */
const char *tp_conn_state(const struct tp_conn *c, uint8_t proto);

/* orig_bytes (dir 0) / resp_bytes (dir 1) as Zeek reports them: TCP from
 * sequence numbers (SYN and FIN octets excluded), UDP/ICMP payload sums.
 * Zeek logs them only when the duration is non-zero. */
uint64_t tp_conn_bytes(const struct tp_conn *c, int dir);

/* The TCP endpoint state of direction dir (enum tp_tcp_state). */
uint8_t tp_conn_tcp_state(const struct tp_conn *c, int dir);

/* The history string into buf (NUL-terminated, truncated to size - 1);
 * returns its length.  TP_CONN_HISTORY_MAX + 1 bytes always suffice. */
size_t tp_conn_history(const struct tp_conn *c, char *buf, size_t size);

/* Zeek's ICMP/ICMPv6 counterpart mapping for flow keys: given type/code,
 * the (orig_p, resp_p) pair Zeek logs, (type, counterpart type) for
 * request/reply types and (type, code) for one-way types. */
void tp_icmp_ports(uint8_t ipver, uint8_t type, uint8_t code,
		   uint16_t *orig_p, uint16_t *resp_p, bool *is_one_way);

#endif
