/* SSH (RFC 4253) → ssh.log, with Zeek's fields and semantics and the
 * HASSH fields of Salesforce's hassh package for Zeek.
 *
 * Each side first sends its identification line:
 *
 *   SSH-protoversion-softwareversion SP comments CR LF
 *
 * (a server may send other lines before it), then binary packets:
 *
 *   +---------------+---------+------------------+---------+-------+
 *   | packet_length | pad_len | payload          | padding | MAC   |
 *   |   uint32      | byte    | type byte + data |         |       |
 *   +---------------+---------+------------------+---------+-------+
 *
 * In the clear: KEXINIT (20: cookie, ten name-lists), the key exchange
 * (30-49; the server's reply carries its host key as the first string),
 * NEWKEYS (21).  After its NEWKEYS a side is encrypted and only the sizes
 * of what it sends are seen: Zeek infers the outcome of the user
 * authentication from them (SSH.cc, ProcessEncrypted), and so does this
 * parser, one data call standing for one TCP segment as Zeek's
 * DeliverStream does. */
#include "app/ssh.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/conn-fields.h"
#include "app/fingerprint.h"
#include "app/inventory.h"
#include "app/software.h"
#include "util/cursor.h"
#include "util/log.h"
#include "util/mem.h"

enum {
	F_TS, F_UID, F_ORIG_H, F_ORIG_P, F_RESP_H, F_RESP_P, F_VERSION,
	F_AUTH_SUCCESS, F_AUTH_ATTEMPTS, F_CLIENT, F_SERVER, F_CIPHER_ALG,
	F_MAC_ALG, F_COMPRESSION_ALG, F_KEX_ALG, F_HOST_KEY_ALG, F_HOST_KEY,
	F_HASSH_VERSION, F_HASSH, F_HASSH_SERVER, F_CSHKA, F_HASSH_ALGORITHMS,
	F_SSHKA, F_HASSH_SERVER_ALGORITHMS, F_COMMUNITY_ID,
};

static const struct tp_field ssh_fields[] = {
	TP_APP_CONN_FIELDS,
	[F_VERSION] = {"version", TP_FT_COUNT},
	[F_AUTH_SUCCESS] = {"auth_success", TP_FT_BOOL},
	[F_AUTH_ATTEMPTS] = {"auth_attempts", TP_FT_COUNT},
	[F_CLIENT] = {"client", TP_FT_STRING},
	[F_SERVER] = {"server", TP_FT_STRING},
	[F_CIPHER_ALG] = {"cipher_alg", TP_FT_STRING},
	[F_MAC_ALG] = {"mac_alg", TP_FT_STRING},
	[F_COMPRESSION_ALG] = {"compression_alg", TP_FT_STRING},
	[F_KEX_ALG] = {"kex_alg", TP_FT_STRING},
	[F_HOST_KEY_ALG] = {"host_key_alg", TP_FT_STRING},
	[F_HOST_KEY] = {"host_key", TP_FT_STRING},
	[F_HASSH_VERSION] = {"hasshVersion", TP_FT_STRING},
	[F_HASSH] = {"hassh", TP_FT_STRING},
	[F_HASSH_SERVER] = {"hasshServer", TP_FT_STRING},
	[F_CSHKA] = {"cshka", TP_FT_STRING},
	[F_HASSH_ALGORITHMS] = {"hasshAlgorithms", TP_FT_STRING},
	[F_SSHKA] = {"sshka", TP_FT_STRING},
	[F_HASSH_SERVER_ALGORITHMS] = {"hasshServerAlgorithms",
				       TP_FT_STRING},
	[F_COMMUNITY_ID] = {"community_id", TP_FT_STRING},
};

const struct tp_log_schema tp_ssh_schema = {
	.path = "ssh",
	.fields = ssh_fields,
	.nfields = TP_ARRAY_SIZE(ssh_fields),
};

enum {
	MSG_KEXINIT = 20,
	MSG_NEWKEYS = 21,
	MSG_KEXDH_REPLY = 31,        /* also KEX_ECDH_REPLY, KEX_DH_GEX_GROUP */
	MSG_KEX_DH_GEX_REPLY = 33,
};

#define SSH_LINE_MAX 1024            /* identification line (RFC: 255) */
#define SSH_PRE_LINES 32             /* server lines before it */
#define SSH_PKT_MAX (256u * 1024)    /* largest packet read (RFC: 35000) */

enum ssh_phase {
	PH_BANNER,
	PH_PACKETS,
	PH_ENCRYPTED,
	PH_DONE,
};

/* The ten name-lists of a KEXINIT, in order. */
enum {
	NL_KEX, NL_HOSTKEY, NL_ENC_CS, NL_ENC_SC, NL_MAC_CS, NL_MAC_SC,
	NL_CMP_CS, NL_CMP_SC, NL_LANG_CS, NL_LANG_SC, NL_N,
};

struct ssh_dir {
	enum ssh_phase phase;
	char *line;                  /* SSH_LINE_MAX, while in PH_BANNER */
	uint16_t line_n;
	uint8_t pre_lines;
	uint8_t hdr[6];
	uint8_t hdr_n;
	uint32_t pkt_left;           /* bytes of the packet still to come */
	bool keep;
	uint8_t *pkt;
	size_t pkt_len, pkt_cap;
	uint8_t *kexinit;            /* this side's KEXINIT payload */
	size_t kexinit_len;
};

struct ssh_state {
	struct ssh_dir d[2];
	uint64_t ts_ns;
	bool seen, logged, done;
	char *banner[2];             /* client (orig), server (resp) */
	uint8_t version;             /* 0 unknown or undefined */
	bool have_version;
	bool algs_done;
	char *alg[5];                /* cipher, mac, compression, kex, hostkey */
	char host_key[TP_FP_MD5_COLONS];
	char hassh[TP_FP_MD5_HEX], hassh_server[TP_FP_MD5_HEX];
	char *hassh_algs, *hassh_server_algs, *cshka, *sshka;
	/* Zeek's size-based authentication inference. */
	bool auth_decided, skipped_banner, saw_client_encrypted;
	bool have_auth;
	bool auth_success;
	uint32_t auth_attempts;
	int64_t service_accept_size, userauth_failure_size;
};

enum { ALG_CIPHER, ALG_MAC, ALG_CMP, ALG_KEX, ALG_HOSTKEY };

static char *strndup_tp(const char *s, size_t n)
{
	char *d = tp_malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Zeek's set_version: the major versions of both lines, where "1.99"
 * speaks 2. */
static void set_version(struct ssh_state *st)
{
	const char *c = st->banner[0], *s = st->banner[1];
	if (!c || !s || strlen(c) <= 4 || strlen(s) <= 4)
		return;
	bool c99 = strlen(c) > 7 && c[6] == '9' && c[7] == '9';
	bool s99 = strlen(s) > 7 && s[6] == '9' && s[7] == '9';
	st->have_version = true;
	if (c[4] == '1' && s[4] == '2')
		st->version = c99 ? 2 : 0;
	else if (c[4] == '2' && s[4] == '1')
		st->version = s99 ? 2 : 0;
	else if (c[4] == '1' && s[4] == '1')
		st->version = s99 ? (c99 ? 2 : 1) : 1;
	else if (c[4] == '2' && s[4] == '2')
		st->version = 2;
	else
		st->have_version = false;
}

static void write_log(struct ssh_state *st, struct tp_app_ctx *ctx)
{
	static const unsigned alg_field[5] = {
		F_CIPHER_ALG, F_MAC_ALG, F_COMPRESSION_ALG, F_KEX_ALG,
		F_HOST_KEY_ALG,
	};
	struct tp_rec *r;

	st->logged = true;
	if (!(r = tp_app_rec(ctx->logs, &tp_ssh_schema)))
		return;
	tp_rec_begin(r);
	tp_app_rec_conn(r, F_TS, ctx->flow, st->ts_ns);
	if (st->have_version)
		tp_rec_uint(r, F_VERSION, st->version);
	if (st->have_auth)
		tp_rec_bool(r, F_AUTH_SUCCESS, st->auth_success);
	tp_rec_uint(r, F_AUTH_ATTEMPTS, st->auth_attempts);
	if (st->banner[0])
		tp_rec_str(r, F_CLIENT, st->banner[0]);
	if (st->banner[1])
		tp_rec_str(r, F_SERVER, st->banner[1]);
	for (int i = 0; i < 5; i++)
		if (st->alg[i])
			tp_rec_str(r, alg_field[i], st->alg[i]);
	if (st->host_key[0])
		tp_rec_str(r, F_HOST_KEY, st->host_key);
	/* In schema order. */
	if (st->hassh_algs || st->hassh_server_algs)
		tp_rec_str(r, F_HASSH_VERSION, "1.1");
	if (st->hassh_algs)
		tp_rec_str(r, F_HASSH, st->hassh);
	if (st->hassh_server_algs)
		tp_rec_str(r, F_HASSH_SERVER, st->hassh_server);
	if (st->hassh_algs) {
		tp_rec_str(r, F_CSHKA, st->cshka ? st->cshka : "");
		tp_rec_str(r, F_HASSH_ALGORITHMS, st->hassh_algs);
	}
	if (st->hassh_server_algs) {
		tp_rec_str(r, F_SSHKA, st->sshka ? st->sshka : "");
		tp_rec_str(r, F_HASSH_SERVER_ALGORITHMS,
			   st->hassh_server_algs);
	}
	tp_app_rec_community_id(r, F_COMMUNITY_ID, ctx->flow);
	tp_rec_end(r);
}

/* The name-lists of a KEXINIT payload (type byte included); false when
 * it is cut short or a list holds bytes that are no US-ASCII names. */
static bool kexinit_lists(const uint8_t *p, size_t n,
			  struct tp_fp_namelist l[NL_N])
{
	struct tp_cur c;
	tp_cur_init(&c, p, n);
	tp_cur_skip(&c, 1 + 16);
	for (int i = 0; i < NL_N; i++) {
		size_t ln = tp_cur_be32(&c);
		const uint8_t *s = tp_cur_take(&c, ln);
		if (!s)
			return false;
		for (size_t k = 0; k < ln; k++)
			if (s[k] <= 0x20 || s[k] >= 0x7f)
				return false;
		l[i].s = (const char *)s;
		l[i].n = ln;
	}
	return true;
}

/* Zeek's find_alg: the first of the client's names the server has too. */
static void find_alg(const struct tp_fp_namelist *cl,
		     const struct tp_fp_namelist *sv, char *out, size_t n)
{
	const char *p = cl->s, *end = cl->s + cl->n;
	while (p < end) {
		const char *q = memchr(p, ',', (size_t)(end - p));
		size_t len = (size_t)((q ? q : end) - p);
		const char *a = sv->s, *aend = sv->s + sv->n;
		while (a < aend) {
			const char *b = memchr(a, ',', (size_t)(aend - a));
			size_t al = (size_t)((b ? b : aend) - a);
			if (al == len && len && memcmp(a, p, len) == 0) {
				snprintf(out, n, "%.*s", (int)len, p);
				return;
			}
			a += al + 1;
		}
		p += len + 1;
	}
	snprintf(out, n, "Algorithm negotiation failed");
}

static char *bidirectional(const struct tp_fp_namelist *c,
			   const struct tp_fp_namelist *s, int cs, int sc)
{
	char a[256], b[256], out[600];
	find_alg(&c[cs], &s[cs], a, sizeof(a));
	find_alg(&c[sc], &s[sc], b, sizeof(b));
	if (strcmp(a, b) == 0)
		return tp_strdup(a);
	snprintf(out, sizeof(out), "To server: %s, to client: %s", a, b);
	return tp_strdup(out);
}

static char *list_dup(const struct tp_fp_namelist *l)
{
	return strndup_tp(l->s, l->n);
}

static void kexinit(struct ssh_state *st, struct tp_app_ctx *ctx,
		    enum tp_app_dir dir, const uint8_t *p, size_t n)
{
	struct tp_fp_namelist l[NL_N];
	struct ssh_dir *d = &st->d[dir];

	if (!kexinit_lists(p, n, l)) {
		ctx->weird(ctx, "SSH_malformed_kexinit", NULL);
		return;
	}
	if (d->kexinit)
		return;              /* a re-key: the first one counts */
	if (!(d->kexinit = tp_malloc(n)))
		return;
	memcpy(d->kexinit, p, n);
	d->kexinit_len = n;
	if (dir == TP_APP_ORIG) {
		st->hassh_algs = tp_fp_hassh(&l[NL_KEX], &l[NL_ENC_CS],
					     &l[NL_MAC_CS], &l[NL_CMP_CS],
					     st->hassh);
		st->cshka = list_dup(&l[NL_HOSTKEY]);
	} else {
		st->hassh_server_algs = tp_fp_hassh(&l[NL_KEX], &l[NL_ENC_SC],
						    &l[NL_MAC_SC],
						    &l[NL_CMP_SC],
						    st->hassh_server);
		st->sshka = list_dup(&l[NL_HOSTKEY]);
	}
	struct ssh_dir *cd = &st->d[TP_APP_ORIG], *sd = &st->d[TP_APP_RESP];
	if (st->algs_done || !cd->kexinit || !sd->kexinit)
		return;
	struct tp_fp_namelist c[NL_N], s[NL_N];
	if (!kexinit_lists(cd->kexinit, cd->kexinit_len, c) ||
	    !kexinit_lists(sd->kexinit, sd->kexinit_len, s))
		return;
	char buf[256];
	st->algs_done = true;
	st->alg[ALG_CIPHER] = bidirectional(c, s, NL_ENC_CS, NL_ENC_SC);
	st->alg[ALG_MAC] = bidirectional(c, s, NL_MAC_CS, NL_MAC_SC);
	st->alg[ALG_CMP] = bidirectional(c, s, NL_CMP_CS, NL_CMP_SC);
	find_alg(&c[NL_KEX], &s[NL_KEX], buf, sizeof(buf));
	st->alg[ALG_KEX] = tp_strdup(buf);
	find_alg(&c[NL_HOSTKEY], &s[NL_HOSTKEY], buf, sizeof(buf));
	st->alg[ALG_HOSTKEY] = tp_strdup(buf);
}

/* The server's key exchange reply: its first field is the host key. */
static void kex_reply(struct ssh_state *st, const uint8_t *p, size_t n)
{
	struct tp_cur c;
	bool gex = st->alg[ALG_KEX] &&
		   strstr(st->alg[ALG_KEX], "group-exchange");
	if (st->host_key[0] || n < 1 ||
	    p[0] != (gex ? MSG_KEX_DH_GEX_REPLY : MSG_KEXDH_REPLY))
		return;
	tp_cur_init(&c, p + 1, n - 1);
	size_t kn = tp_cur_be32(&c);
	const uint8_t *k = tp_cur_take(&c, kn);
	if (k && kn)
		tp_fp_md5_colons(k, kn, st->host_key);
}

/* Zeek's ssh_auth_attempted handler. */
static void auth_attempted(struct ssh_state *st, struct tp_app_ctx *ctx,
			   bool ok)
{
	const char *cmp = st->alg[ALG_CMP];
	if (st->have_auth && st->auth_success)
		return;
	/* Sizes say nothing when the stream is compressed. */
	if (cmp && (!strcmp(cmp, "zlib") || !strcmp(cmp, "zlib@openssh.com")))
		return;
	st->have_auth = true;
	st->auth_success = ok;
	st->auth_attempts++;
	if (ok && !st->logged) {
		write_log(st, ctx);
		st->done = true;
	}
}

/* Zeek's ProcessEncrypted, on the length of one segment. */
static void encrypted_segment(struct ssh_state *st, struct tp_app_ctx *ctx,
			      enum tp_app_dir dir, int64_t len)
{
	if (st->auth_decided || !st->have_version || st->version != 2)
		return;
	if (dir == TP_APP_ORIG) {
		st->saw_client_encrypted = true;
		return;
	}
	if (!st->saw_client_encrypted)
		return;
	if (!st->service_accept_size) {
		st->service_accept_size = len;
		return;
	}
	if (!st->userauth_failure_size &&
	    len + 16 == st->service_accept_size) {
		st->auth_decided = true;
		auth_attempted(st, ctx, true);
		return;
	}
	if (!st->userauth_failure_size) {
		if (!st->skipped_banner && len - st->service_accept_size > 256) {
			st->skipped_banner = true;
			return;
		}
		st->userauth_failure_size = len;
		return;
	}
	if (len == st->userauth_failure_size) {
		auth_attempted(st, ctx, false);
		return;
	}
	if (len - st->service_accept_size == -16) {
		st->auth_decided = true;
		auth_attempted(st, ctx, true);
	}
}

static void packet(struct ssh_state *st, struct tp_app_ctx *ctx,
		   enum tp_app_dir dir, uint8_t type, const uint8_t *p,
		   size_t n)
{
	switch (type) {
	case MSG_KEXINIT:
		kexinit(st, ctx, dir, p, n);
		break;
	case MSG_NEWKEYS:
		st->d[dir].phase = PH_ENCRYPTED;
		break;
	case MSG_KEXDH_REPLY:
	case MSG_KEX_DH_GEX_REPLY:
		if (dir == TP_APP_RESP && p)
			kex_reply(st, p, n);
		break;
	default:
		break;
	}
}

/* An identification line is complete (without its CR LF). */
static void banner_line(struct ssh_state *st, struct tp_app_ctx *ctx,
			enum tp_app_dir dir)
{
	struct ssh_dir *d = &st->d[dir];

	if (d->line_n < 4 || memcmp(d->line, "SSH-", 4) != 0) {
		/* RFC 4253 4.2: a server may send other lines first. */
		if (dir == TP_APP_RESP && ++d->pre_lines <= SSH_PRE_LINES) {
			d->line_n = 0;
			return;
		}
		ctx->weird(ctx, "malformed_ssh_identification", NULL);
		d->phase = PH_DONE;
		return;
	}
	if (!memchr(d->line + 4, '-', d->line_n - 4))
		ctx->weird(ctx, "malformed_ssh_version", NULL);
	st->seen = true;
	tp_strfree(st->banner[dir]);
	st->banner[dir] = strndup_tp(d->line, d->line_n);
	set_version(st);
	if (ctx->software && st->banner[dir]) {
		/* Zeek's policy/protocols/ssh/software.zeek. */
		char sw[SSH_LINE_MAX + 1];
		tp_software_ssh_clean(st->banner[dir], dir == TP_APP_ORIG, sw,
				      sizeof(sw));
		ctx->software(ctx, dir == TP_APP_ORIG ? TP_SW_SSH_CLIENT
						      : TP_SW_SSH_SERVER,
			      sw);
	}
	d->phase = PH_PACKETS;
	/* SSH-1 packets are not read: the banners are all it logs. */
	if (d->line[4] == '1' && !(d->line_n > 7 && d->line[6] == '9' &&
				   d->line[7] == '9'))
		d->phase = PH_DONE;
}

static size_t banner_bytes(struct ssh_state *st, struct tp_app_ctx *ctx,
			   enum tp_app_dir dir, const uint8_t *b, size_t n)
{
	struct ssh_dir *d = &st->d[dir];
	size_t i = 0;

	if (!d->line && !(d->line = tp_malloc(SSH_LINE_MAX))) {
		ctx->weird(ctx, "SSH_no_memory", NULL);
		d->phase = PH_DONE;
		return n;
	}
	while (i < n && d->phase == PH_BANNER) {
		uint8_t ch = b[i++];
		if (ch == '\n') {
			if (d->line_n && d->line[d->line_n - 1] == '\r')
				d->line_n--;
			banner_line(st, ctx, dir);
			continue;
		}
		if (d->line_n >= SSH_LINE_MAX) {
			ctx->weird(ctx, "SSH_identification_too_long", NULL);
			d->phase = PH_DONE;
			break;
		}
		d->line[d->line_n++] = (char)ch;
	}
	if (d->phase != PH_BANNER) {
		tp_free(d->line, SSH_LINE_MAX);
		d->line = NULL;
	}
	return i;
}

static size_t packet_bytes(struct ssh_state *st, struct tp_app_ctx *ctx,
			   enum tp_app_dir dir, const uint8_t *b, size_t n)
{
	struct ssh_dir *d = &st->d[dir];
	size_t i = 0;

	while (i < n && d->phase == PH_PACKETS && !st->done) {
		if (d->hdr_n < 6) {
			d->hdr[d->hdr_n++] = b[i++];
			if (d->hdr_n < 6)
				continue;
			uint32_t plen = tp_load_be32(d->hdr);
			if (plen < 2 || plen > SSH_PKT_MAX ||
			    d->hdr[4] >= plen) {
				char addl[48];
				snprintf(addl, sizeof(addl), "length %u",
					 plen);
				ctx->weird(ctx, "SSH_invalid_packet_length",
					   addl);
				d->phase = PH_DONE;
				break;
			}
			/* The type byte is in hdr: plen - 2 to come. */
			d->pkt_left = plen - 2;
			uint8_t type = d->hdr[5];
			d->keep = type == MSG_KEXINIT ||
				  type == MSG_KEXDH_REPLY ||
				  type == MSG_KEX_DH_GEX_REPLY;
			d->pkt_len = 0;
			size_t need = (size_t)plen - 1;
			if (d->keep && need > d->pkt_cap) {
				uint8_t *q = tp_realloc(d->pkt, d->pkt_cap,
							need);
				if (!q) {
					ctx->weird(ctx, "SSH_no_memory", NULL);
					d->keep = false;
				} else {
					d->pkt = q;
					d->pkt_cap = need;
				}
			}
			if (d->keep)
				d->pkt[d->pkt_len++] = type;
		} else {
			size_t k = TP_MIN(n - i, (size_t)d->pkt_left);
			if (d->keep)
				memcpy(d->pkt + d->pkt_len, b + i, k);
			d->pkt_len += k;
			d->pkt_left -= (uint32_t)k;
			i += k;
		}
		if (d->hdr_n == 6 && d->pkt_left == 0) {
			d->hdr_n = 0;
			/* The payload is what precedes the padding. */
			size_t pay = tp_load_be32(d->hdr) - 1 - d->hdr[4];
			packet(st, ctx, dir, d->hdr[5],
			       d->keep ? d->pkt : NULL,
			       d->keep ? TP_MIN(pay, d->pkt_len) : 0);
		}
	}
	if (d->phase != PH_PACKETS) {
		/* Nothing more is read in the clear this way. */
		tp_free(d->pkt, d->pkt_cap);
		d->pkt = NULL;
		d->pkt_cap = 0;
	}
	return i;
}

static void ssh_data(void *stp, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		     const uint8_t *b, size_t n)
{
	struct ssh_state *st = stp;
	struct ssh_dir *d = &st->d[dir];

	if (!st->ts_ns)
		st->ts_ns = ctx->ts_ns;
	while (n > 0 && !st->done) {
		size_t k;
		switch (d->phase) {
		case PH_BANNER:
			k = banner_bytes(st, ctx, dir, b, n);
			break;
		case PH_PACKETS:
			k = packet_bytes(st, ctx, dir, b, n);
			break;
		case PH_ENCRYPTED:
			/* The rest of this segment, as Zeek counts it. */
			encrypted_segment(st, ctx, dir, (int64_t)n);
			return;
		default:
			return;
		}
		b += k;
		n -= k;
	}
}

static void ssh_gap(void *stp, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		    uint64_t n)
{
	struct ssh_state *st = stp;
	(void)n;
	(void)dir;
	/* As Zeek: after a hole nothing more is read, either way. */
	if (!st->done && st->d[0].phase != PH_DONE)
		ctx->weird(ctx, "SSH_content_gap", NULL);
	st->d[0].phase = st->d[1].phase = PH_DONE;
}

static void ssh_end(void *stp, struct tp_app_ctx *ctx)
{
	struct ssh_state *st = stp;
	if (st->seen && !st->logged)
		write_log(st, ctx);
	st->done = true;
}

static void ssh_init(void *stp)
{
	memset(stp, 0, sizeof(struct ssh_state));
}

static void ssh_fini(void *stp)
{
	struct ssh_state *st = stp;
	for (int i = 0; i < 2; i++) {
		tp_free(st->d[i].line, SSH_LINE_MAX);
		tp_free(st->d[i].pkt, st->d[i].pkt_cap);
		tp_free(st->d[i].kexinit, st->d[i].kexinit_len);
		tp_strfree(st->banner[i]);
	}
	for (int i = 0; i < 5; i++)
		tp_strfree(st->alg[i]);
	tp_strfree(st->hassh_algs);
	tp_strfree(st->hassh_server_algs);
	tp_strfree(st->cshka);
	tp_strfree(st->sshka);
	memset(st, 0, sizeof(*st));
}

static bool ssh_probe(const uint8_t *b, size_t n, enum tp_app_dir dir)
{
	(void)dir;
	return n >= 4 && memcmp(b, "SSH-", 4) == 0;
}

const struct tp_app_ops tp_app_ssh = {
	.name = "ssh",
	.ipproto = 6,
	.state_size = sizeof(struct ssh_state),
	.probe = ssh_probe,
	.init = ssh_init,
	.data = ssh_data,
	.gap = ssh_gap,
	.end = ssh_end,
	.fini = ssh_fini,
};
