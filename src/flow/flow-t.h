/* Flow table types.  A flow is keyed by the inner 5-tuple plus the zone
 * (never the VNI or the outer tuple), in a canonical order so that both
 * directions and both mirrored copies find the same entry. */
#ifndef TP_FLOW_FLOW_T_H
#define TP_FLOW_FLOW_T_H

#include <stdint.h>

#include "decode/packet-t.h"
#include "flow/conn-t.h"

struct tp_tcpa;
struct tp_app_flow;

struct tp_flow_key {
	struct tp_addr a[2];    /* a[0] <= a[1] (with ports as tie-break) */
	uint16_t port[2];
	uint8_t proto;
	uint8_t ipver;
	uint16_t zone;
};

/* Four cache lines, aligned (conn.c checks the size); its fields take 248
 * bytes. */
struct tp_flow {
	/* The flow table's links, as indices into its pool plus one (0:
	 * none), half the size of pointers: the hash chain, and the
	 * activity list, oldest first (flow.c). */
	_Alignas(64) uint32_t hnext;
	uint32_t prev, next;
	struct tp_flow_key key;
	uint32_t hash;
	uint64_t first_ns, last_ns;
	/* Entered its timeout class (flow.c): milliseconds after first_ns,
	 * rounded up, saturating at 49 days. */
	uint32_t phase_ms;
	/* Mirror session index of the first packet (< mirror.max_sessions,
	 * at most 2^24), and the timeout class (flow.c). */
	uint32_t session : 25;
	uint32_t has_vni : 1;
	uint32_t tclass : 3;
	struct tp_tcpa *tcpa;           /* TCP flows: analytics (flow.c) */
	struct tp_app_flow *app;        /* application state (app/app.c), or NULL */
	uint32_t vni;                   /* VNI / tunnel id of the first packet */
	struct tp_conn conn;
};

#endif
