/* Bounds-checked, big-endian reads over packet bytes with a sticky error
 * flag (after tcpdump's extract.h and Arkime's bsb.h).  A read past the end
 * sets `err` and yields 0; callers test `err` once after a run of reads. */
#ifndef TP_UTIL_CURSOR_H
#define TP_UTIL_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_cur {
	const uint8_t *p;   /* base of the buffer */
	size_t len;         /* bytes present from p */
	size_t off;         /* read position */
	bool err;           /* a read went past len */
};

static inline void tp_cur_init(struct tp_cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
	c->err = false;
}

static inline size_t tp_cur_left(const struct tp_cur *c)
{
	return c->off <= c->len ? c->len - c->off : 0;
}

static inline bool tp_cur_has(const struct tp_cur *c, size_t n)
{
	return !c->err && tp_cur_left(c) >= n;
}

/* Pointer to the next n bytes without consuming them; NULL if absent. */
static inline const uint8_t *tp_cur_peek(struct tp_cur *c, size_t n)
{
	if (!tp_cur_has(c, n)) {
		c->err = true;
		return NULL;
	}
	return c->p + c->off;
}

static inline const uint8_t *tp_cur_take(struct tp_cur *c, size_t n)
{
	const uint8_t *q = tp_cur_peek(c, n);
	if (q)
		c->off += n;
	return q;
}

static inline void tp_cur_skip(struct tp_cur *c, size_t n)
{
	(void)tp_cur_take(c, n);
}

static inline uint8_t tp_cur_u8(struct tp_cur *c)
{
	const uint8_t *q = tp_cur_take(c, 1);
	return q ? q[0] : 0;
}

static inline uint16_t tp_cur_be16(struct tp_cur *c)
{
	const uint8_t *q = tp_cur_take(c, 2);
	return q ? (uint16_t)(q[0] << 8 | q[1]) : 0;
}

static inline uint32_t tp_cur_be24(struct tp_cur *c)
{
	const uint8_t *q = tp_cur_take(c, 3);
	return q ? (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2] : 0;
}

static inline uint32_t tp_cur_be32(struct tp_cur *c)
{
	const uint8_t *q = tp_cur_take(c, 4);
	return q ? (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
		   (uint32_t)q[2] << 8 | q[3] : 0;
}

static inline uint64_t tp_cur_be64(struct tp_cur *c)
{
	uint64_t hi = tp_cur_be32(c);
	return hi << 32 | tp_cur_be32(c);
}

/* Little-endian 32-bit read (BSD loopback headers, pcap headers). */
static inline uint32_t tp_cur_le32(struct tp_cur *c)
{
	const uint8_t *q = tp_cur_take(c, 4);
	return q ? (uint32_t)q[3] << 24 | (uint32_t)q[2] << 16 |
		   (uint32_t)q[1] << 8 | q[0] : 0;
}

/* Unchecked big-endian loads for bytes already proven present. */
static inline uint16_t tp_load_be16(const uint8_t *q)
{
	return (uint16_t)(q[0] << 8 | q[1]);
}

static inline uint32_t tp_load_be32(const uint8_t *q)
{
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
	       (uint32_t)q[2] << 8 | q[3];
}

#endif
