/* Little-endian integers of the store's files (index, manifest, pcap
 * record headers), whatever the host's byte order. */
#ifndef TP_STORE_LE_H
#define TP_STORE_LE_H

#include <stdint.h>

static inline void tp_le_put16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)v;
	q[1] = (uint8_t)(v >> 8);
}

static inline void tp_le_put32(uint8_t *q, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		q[i] = (uint8_t)(v >> (8 * i));
}

static inline void tp_le_put64(uint8_t *q, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		q[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t tp_le_get16(const uint8_t *q)
{
	return (uint16_t)(q[0] | q[1] << 8);
}

static inline uint32_t tp_le_get32(const uint8_t *q)
{
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
	       (uint32_t)q[3] << 24;
}

static inline uint64_t tp_le_get64(const uint8_t *q)
{
	return (uint64_t)tp_le_get32(q) | (uint64_t)tp_le_get32(q + 4) << 32;
}

#endif
