/* IPv4 and IPv6 fragment reassembly, per decoder thread, on packet time,
 * under a memory cap.  A completed datagram is handed back as a fresh IP
 * packet (header + whole payload) that the IP decoder decodes again. */
#ifndef TP_DECODE_DEFRAG_H
#define TP_DECODE_DEFRAG_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"

struct tp_defrag;

/* Constructor; NULL on allocation failure.  Reads cap and timeout from cfg. */
struct tp_defrag *tp_defrag_new(const struct tp_decode_cfg *cfg);
void tp_defrag_free(struct tp_defrag *df);

/* Offer an IPv4 fragment: ip points at its header, ip_cap bytes present.
 * Returns 1 with *out / *out_len set to the reassembled datagram (IPv4
 * header with total length set and MF / offset cleared, then the payload),
 * valid until the next call on df; 0 when the fragment is held; -1 when it
 * is dropped (the event is raised on p). */
int tp_defrag_v4(struct tp_dec *d, struct tp_pkt *p, const uint8_t *ip,
		 uint32_t ip_cap, const uint8_t **out, uint32_t *out_len);

/* Offer an IPv6 fragment.  ip is the IPv6 header; next_hdr, frag_off (in
 * bytes), more and ident come from the fragment header; data / data_len are
 * the fragment's payload after the fragment header.  On 1 the output is a
 * 40-byte IPv6 header (payload length set, next header = next_hdr) and the
 * reassembled payload. */
int tp_defrag_v6(struct tp_dec *d, struct tp_pkt *p, const uint8_t *ip,
		 uint8_t next_hdr, uint32_t frag_off, bool more, uint32_t ident,
		 const uint8_t *data, uint32_t data_len, const uint8_t **out,
		 uint32_t *out_len);

/* Drop chains older than the timeout at packet time now_ns (counted). */
void tp_defrag_expire(struct tp_dec *d, uint64_t now_ns);

/* Bytes currently held. */
uint64_t tp_defrag_mem(const struct tp_defrag *df);

#endif
