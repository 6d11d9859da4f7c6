/* A flow's identity in every log that names a connection: Zeek's uid
 * text and the uid id.orig_h id.orig_p id.resp_h id.resp_p fields.  Apart
 * from conn.log's writer so that a parser's log needs no more of it. */
#include <xxhash.h>

#include "output/logs.h"

char *tp_id_str(char prefix, const void *seed, size_t n, char *buf)
{
	static const char digits[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	XXH128_hash_t u = XXH3_128bits(seed, n);
	char tmp[24];
	int k = 0;
	uint64_t v = u.high64;
	for (int i = 0; i < 11; i++, v /= 62)
		tmp[k++] = digits[v % 62];
	uint32_t w = (uint32_t)u.low64;
	for (int i = 0; i < 6; i++, w /= 62)
		tmp[k++] = digits[w % 62];
	buf[0] = prefix;
	for (int i = 0; i < k; i++)
		buf[1 + i] = tmp[k - 1 - i];
	buf[1 + k] = '\0';
	return buf;
}

char *tp_flow_uid_str(const struct tp_flow *f, char *buf)
{
	/* 96 bits from the key and the first packet time: the same flow
	 * gets the same uid whatever the number of workers or the run. */
	struct {
		struct tp_flow_key k;
		uint64_t ts;
	} seed = {f->key, f->first_ns};
	return tp_id_str('C', &seed, sizeof(seed), buf);
}

void tp_rec_flow_id(struct tp_rec *r, unsigned uid_field,
		    const struct tp_flow *f)
{
	uint8_t o = f->conn.orig_side, re = (uint8_t)(o ^ 1);
	char uid[24];
	tp_rec_str(r, uid_field, tp_flow_uid_str(f, uid));
	tp_rec_addr(r, uid_field + 1, &f->key.a[o]);
	tp_rec_uint(r, uid_field + 2, f->key.port[o]);
	tp_rec_addr(r, uid_field + 3, &f->key.a[re]);
	tp_rec_uint(r, uid_field + 4, f->key.port[re]);
}
