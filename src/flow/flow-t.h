/* Flow table types.  A flow is keyed by the inner 5-tuple plus the zone
 * (never the VNI or the outer tuple), in a canonical order so that both
 * directions and both mirrored copies find the same entry. */
#ifndef TP_FLOW_FLOW_T_H
#define TP_FLOW_FLOW_T_H

#include <stdint.h>

#include "decode/packet-t.h"
#include "flow/conn-t.h"

struct tp_app_flow;

struct tp_flow_key {
	struct tp_addr a[2];    /* a[0] <= a[1] (with ports as tie-break) */
	uint16_t port[2];
	uint8_t proto;
	uint8_t ipver;
	uint16_t zone;
};

struct tp_flow {
	struct tp_flow *hnext;          /* hash chain */
	struct tp_flow *prev, *next;    /* activity list, oldest first */
	struct tp_flow_key key;
	uint64_t first_ns, last_ns;
	uint64_t phase_ns;              /* entered its timeout class (flow.c) */
	uint32_t hash;
	uint32_t session;               /* mirror session index, first packet */
	uint32_t vni;                   /* VNI / tunnel id of the first packet */
	uint8_t has_vni;
	uint8_t encap;                  /* enum tp_encap of the first packet */
	uint8_t tclass;                 /* timeout class (flow.c) */
	uint8_t service;                /* reserved for application classification */
	struct tp_app_flow *app;        /* application state (app/app.c), or NULL */
	struct tp_conn conn;
};

#endif
