/* tapir's configuration.
 *
 * One static table, one row per key: its dotted name, its type, where it
 * lives in struct tp_config, its default as text and its documentation.
 * The table drives everything else: the defaults are the default texts run
 * through the same parsers as the user's values; the YAML loader and
 * `--set key=value` look keys up in it; tp_config_validate re-checks every
 * row's bounds; tp_config_write_doc prints it as docs/configuration.md.
 *
 * A YAML file is a mapping of sections to mappings of keys:
 *
 *     decode:
 *       vxlan_ports: [4789, 8472]
 *     dedup:
 *       window: 5ms
 *
 * A dotted key at any level is the same thing (`dedup.window: 5ms`).
 * Loading is all or nothing: on any error the caller's struct is left as it
 * was, and err holds one message that names the file, the line, the key and
 * the expected form. */
#include "util/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <string.h>

#include "util/log.h"
#include "util/mem.h"

enum key_type {
	KT_BOOL,
	KT_COUNT,     /* whole number */
	KT_SIZE,      /* bytes, with binary multiples */
	KT_DURATION,  /* nanoseconds inside, text with a unit */
	KT_PORTS,     /* uint16_t array + uint8_t count */
	KT_ENUM,      /* index into names[] */
	KT_STRING,    /* char array, NUL-terminated */
	KT_ZONES,     /* the zones/rules structure (YAML only) */
};

struct ld;
/* Loader of a structured key (a list of records, such as zones) that no
 * scalar syntax expresses. */
typedef int key_load_fn(struct ld *ld, struct fy_node *key,
			struct fy_node *val);
static key_load_fn load_zones;

#define K_POW2 0x1u   /* count must be a power of two */

struct key {
	const char *name;
	enum key_type type;
	size_t off;                /* the field in struct tp_config */
	size_t width;              /* its size in bytes */
	size_t aux;                /* KT_PORTS: offset of the uint8_t count */
	uint64_t min, max;         /* bounds of numbers, sizes and durations */
	unsigned flags;
	const char *const *names;  /* KT_ENUM, NULL-terminated */
	key_load_fn *load;         /* KT_ZONES: reads the YAML value */
	const char *def;
	const char *doc;
};

#define FIELD(f)                                      \
	.off = offsetof(struct tp_config, f),         \
	.width = sizeof(((struct tp_config *)0)->f)

#define NS_US 1000ull
#define NS_MS 1000000ull
#define NS_S 1000000000ull
#define NS_M (60 * NS_S)
#define NS_H (60 * NS_M)
#define NS_D (24 * NS_H)
#define KIB 1024ull
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

static const char *const log_format_names[] = {
	[TP_FMT_JSON] = "json",
	[TP_FMT_ZEEK] = "zeek",
	NULL,
};

static const struct key keys[] = {
	{
		.name = "decode.vxlan_ports", .type = KT_PORTS,
		FIELD(decode.vxlan_ports),
		.aux = offsetof(struct tp_config, decode.n_vxlan_ports),
		.def = "4789",
		.doc = "UDP destination ports whose payload is decoded as "
		       "VXLAN. AWS VPC Traffic Mirroring and Azure vTAP send "
		       "to 4789; Linux `vxlan` devices created without "
		       "`dstport` use 8472. At most 8 ports, and a port may "
		       "not also be a Geneve port.",
	},
	{
		.name = "decode.geneve_ports", .type = KT_PORTS,
		FIELD(decode.geneve_ports),
		.aux = offsetof(struct tp_config, decode.n_geneve_ports),
		.def = "6081",
		.doc = "UDP destination ports whose payload is decoded as "
		       "Geneve. AWS Gateway Load Balancers send to 6081. At "
		       "most 8 ports.",
	},
	{
		.name = "decode.vxlan_strict", .type = KT_BOOL,
		FIELD(decode.vxlan_strict),
		.def = "false",
		.doc = "Refuse VXLAN headers whose reserved bits are not zero "
		       "(RFC 7348) and count them as invalid. Off by default: "
		       "extensions such as VXLAN-GBP carry a group policy id "
		       "in those bits around a plain Ethernet frame.",
	},
	{
		.name = "decode.verify_checksums", .type = KT_BOOL,
		FIELD(decode.verify_checksums),
		.def = "false",
		.doc = "Verify IP, ICMP and GRE checksums and count the packets "
		       "that fail. Off by default: a mirror copy truncated to "
		       "the session's packet length or the target's MTU never "
		       "carries a valid checksum, and a packet captured on a "
		       "host that leaves checksums to its NIC carries none.",
	},
	{
		.name = "decode.max_tunnel_depth", .type = KT_COUNT,
		FIELD(decode.max_tunnels),
		.min = 1, .max = TP_MAX_TUNNELS,
		.def = "8",
		.doc = "How many tunnel headers one packet may nest. A Gateway "
		       "Load Balancer endpoint that receives a VPC mirror "
		       "delivers Geneve around VXLAN, which is 2; deeper "
		       "packets are counted as an anomaly and not decoded "
		       "further.",
	},
	{
		.name = "decode.defrag_memory", .type = KT_SIZE,
		FIELD(decode.defrag_mem_cap),
		.min = 64 * KIB, .max = 16 * GIB,
		.def = "32MiB",
		.doc = "Memory that IPv4 and IPv6 fragment reassembly may hold, "
		       "per worker. When it is full, further fragments are "
		       "refused and counted (`fragment_memory_cap`) and the "
		       "datagrams already held are kept. At least 64KiB, the "
		       "largest IP datagram.",
	},
	{
		.name = "decode.defrag_timeout", .type = KT_DURATION,
		FIELD(decode.defrag_timeout_ns),
		.min = NS_S, .max = 10 * NS_M,
		.def = "30s",
		.doc = "How long the fragments of an incomplete datagram are "
		       "kept, in packet time (Linux's `ipfrag_time` is also "
		       "30s).",
	},
	{
		.name = "dedup.enabled", .type = KT_BOOL,
		FIELD(dedup_enabled),
		.def = "true",
		.doc = "Drop and count the second copy of a packet that was "
		       "mirrored twice: when both ends of a conversation are "
		       "mirrored, every packet arrives once from each end's "
		       "network interface. Copies are compared by their inner "
		       "IP packet, ignoring the TTL and the IP checksum, within "
		       "one zone.",
	},
	{
		.name = "dedup.window", .type = KT_DURATION,
		FIELD(dedup_window_ns),
		.min = NS_US, .max = NS_S,
		.def = "5ms",
		.doc = "How long after a packet its copy still counts as a "
		       "duplicate, in packet time. The second copy of a "
		       "both-sides mirror arrives within about 1 ms in one "
		       "availability zone and within a few ms across zones or "
		       "through a load balancer; a TCP retransmission comes no "
		       "sooner than the 200 ms minimum retransmission timeout, "
		       "or 10 ms for a tail-loss probe, and almost always "
		       "differs in its IP id or TCP timestamp anyway. 5ms "
		       "keeps both margins. At most 1s.",
	},
	{
		.name = "dedup.table_size", .type = KT_COUNT,
		FIELD(dedup_table_size),
		.min = 1024, .max = 1u << 24, .flags = K_POW2,
		.def = "262144",
		.doc = "Slots in each worker's table of recently seen packets "
		       "(16 bytes each, in buckets of four). Keep the packets "
		       "of one window under a quarter of it: the default holds "
		       "5 ms of 13 million packets/s per worker. A packet pushed "
		       "out before its window ends is counted "
		       "(`dedup_evictions`), and a copy of it arriving later is "
		       "not recognized.",
	},
	{
		.name = "mirror.max_sessions", .type = KT_COUNT,
		FIELD(max_sessions),
		.min = 4, .max = 16777216,
		.def = "65536",
		.doc = "Mirror sessions (outer source and VNI, ERSPAN session, "
		       "GWLB endpoint) tracked with their own counters. Packets "
		       "of sessions beyond this are counted together under the "
		       "session `overflow`.",
	},
	{
		.name = "flow.tcp_timeout", .type = KT_DURATION,
		FIELD(tcp_timeout_ns),
		.min = NS_S, .max = NS_D,
		.def = "5m",
		.doc = "A TCP flow with no packet for this long is closed and "
		       "logged (Zeek's `tcp_inactivity_timeout`).",
	},
	{
		.name = "flow.udp_timeout", .type = KT_DURATION,
		FIELD(udp_timeout_ns),
		.min = NS_S, .max = NS_D,
		.def = "1m",
		.doc = "Inactivity timeout of UDP flows (Zeek's "
		       "`udp_inactivity_timeout`).",
	},
	{
		.name = "flow.icmp_timeout", .type = KT_DURATION,
		FIELD(icmp_timeout_ns),
		.min = NS_S, .max = NS_D,
		.def = "1m",
		.doc = "Inactivity timeout of ICMP and ICMPv6 flows (Zeek's "
		       "`icmp_inactivity_timeout`).",
	},
	{
		.name = "flow.other_timeout", .type = KT_DURATION,
		FIELD(other_timeout_ns),
		.min = NS_S, .max = NS_D,
		.def = "1m",
		.doc = "Inactivity timeout of flows of any other IP protocol "
		       "(SCTP, GRE that is not terminated, ESP, ...).",
	},
	{
		.name = "flow.tcp_attempt_timeout", .type = KT_DURATION,
		FIELD(tcp_attempt_timeout_ns),
		.min = NS_S, .max = NS_D,
		.def = "5s",
		.doc = "A TCP connection attempt (SYN with no answer) is "
		       "logged and closed this long after it began, so that a "
		       "retried SYN later starts a new record (Zeek's "
		       "`tcp_attempt_delay`).",
	},
	{
		.name = "flow.tcp_close_delay", .type = KT_DURATION,
		FIELD(tcp_close_delay_ns),
		.min = NS_S, .max = NS_D,
		.def = "5s",
		.doc = "A TCP connection that both sides closed, or that one "
		       "side reset, is logged this long after the close; late "
		       "packets within it still count (Zeek's "
		       "`tcp_close_delay` and `tcp_reset_delay`).",
	},
	{
		.name = "flow.max_flows", .type = KT_COUNT,
		FIELD(max_flows),
		.min = 1, .max = 1000000000,
		.def = "1000000",
		.doc = "Flows held at once over all workers. When the table is "
		       "full, a TCP connection that has already closed is logged "
		       "early, else the least recently active flow; each is "
		       "counted (`flows_evicted` in stats.log).",
	},
	{
		.name = "log.format", .type = KT_ENUM,
		FIELD(log_format),
		.names = log_format_names,
		.def = "json",
		.doc = "`json`: one JSON object per line, with Zeek's field "
		       "names. `zeek`: Zeek's tab-separated format with the "
		       "`#fields` and `#types` header that zeek-cut reads.",
	},
	{
		.name = "log.dir", .type = KT_STRING,
		FIELD(log_dir),
		.def = "./tapir-logs",
		.doc = "Directory that the logs are written into.",
	},
	{
		.name = "workers", .type = KT_COUNT,
		FIELD(workers),
		.min = 1, .max = 64,
		.def = "1",
		.doc = "Worker threads. Packets are spread over them by a "
		       "symmetric hash of the inner flow, so each flow and both "
		       "mirrored copies of it stay on one worker; the records "
		       "written are the same for any number.",
	},
	{
		.name = "zones", .type = KT_ZONES,
		.load = load_zones,
		.def = "",
		.doc = "Rules that put mirror sessions into zones; see [Zones "
		       "and match rules](#zones-and-match-rules). Only in the "
		       "file: `--set` cannot express a list of rules.",
	},
};

#define NKEYS TP_ARRAY_SIZE(keys)

/* ---- messages ---------------------------------------------------------- */

static void TP_PRINTF(3, 4) put(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!buf || n == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

/* A user's text, safe to quote in a message: printable ASCII only, and cut
 * short if long. */
static const char *quote(const char *s, size_t len, char *buf, size_t n)
{
	size_t i, o = 0, max = n - 4;

	for (i = 0; i < len && o < max; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

#define QUOTE_MAX 72

/* ---- numbers ----------------------------------------------------------- */

__extension__ typedef unsigned __int128 u128;

struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit duration_units[] = {
	{"ns", 1},     {"us", NS_US}, {"\xc2\xb5s", NS_US}, {"ms", NS_MS},
	{"s", NS_S},   {"sec", NS_S}, {"m", NS_M},  {"min", NS_M},
	{"h", NS_H},   {"d", NS_D},   {NULL, 0},
};

static const struct unit size_units[] = {
	{"b", 1},
	{"k", KIB},         {"kb", KIB},        {"kib", KIB},
	{"m", MIB},         {"mb", MIB},        {"mib", MIB},
	{"g", GIB},         {"gb", GIB},        {"gib", GIB},
	{"t", 1024 * GIB},  {"tb", 1024 * GIB}, {"tib", 1024 * GIB},
	{NULL, 0},
};

/* A decimal number with an optional fraction and unit ("1.5s", "64MiB",
 * "300"); a bare number is in units of bare_mult.  The fraction is exact to
 * the smallest unit and truncated below it.  0 or -1. */
static int parse_scaled(const char *s, const struct unit *units,
			uint64_t bare_mult, uint64_t *out)
{
	uint64_t ip = 0, fp = 0, fscale = 1, mult = bare_mult;
	const char *p = s;
	bool digits = false;

	while (*p >= '0' && *p <= '9') {
		if (__builtin_mul_overflow(ip, 10, &ip) ||
		    __builtin_add_overflow(ip, (uint64_t)(*p - '0'), &ip))
			return -1;
		p++;
		digits = true;
	}
	if (!digits)
		return -1;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			/* 18 digits are below any unit tapir has. */
			if (fscale < 1000000000000000000ull) {
				fp = fp * 10 + (uint64_t)(*p - '0');
				fscale *= 10;
			}
		}
	}
	while (*p == ' ')
		p++;
	if (*p) {
		const struct unit *u;
		for (u = units; u->name; u++)
			if (strcasecmp(p, u->name) == 0)
				break;
		if (!u->name)
			return -1;
		mult = u->mult;
	}

	uint64_t v;
	if (__builtin_mul_overflow(ip, mult, &v))
		return -1;
	uint64_t frac = (uint64_t)((u128)fp * mult / fscale);
	if (__builtin_add_overflow(v, frac, &v))
		return -1;
	*out = v;
	return 0;
}

/* A whole number, decimal, or hexadecimal with 0x when hex is set.  0 or
 * -1. */
static int parse_uint(const char *s, bool hex, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (hex && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		p += 2;
		if (!*p)
			return -1;
		for (; *p; p++) {
			unsigned d;
			if (*p >= '0' && *p <= '9')
				d = (unsigned)(*p - '0');
			else if (*p >= 'a' && *p <= 'f')
				d = (unsigned)(*p - 'a' + 10);
			else if (*p >= 'A' && *p <= 'F')
				d = (unsigned)(*p - 'A' + 10);
			else
				return -1;
			if (v >> 60)
				return -1;
			v = v << 4 | d;
		}
		*out = v;
		return 0;
	}
	if (!*p)
		return -1;
	for (; *p; p++) {
		if (!(*p >= '0' && *p <= '9'))
			return -1;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -1;
	}
	*out = v;
	return 0;
}

/* Shortest exact text of a duration: "5m", "250ms", "1500ms". */
static const char *fmt_duration(uint64_t ns, char *buf, size_t n)
{
	static const struct unit u[] = {
		{"d", NS_D}, {"h", NS_H}, {"m", NS_M}, {"s", NS_S},
		{"ms", NS_MS}, {"us", NS_US}, {"ns", 1},
	};
	size_t i = 0;

	if (ns == 0) {
		put(buf, n, "0s");
		return buf;
	}
	while (ns % u[i].mult)
		i++;
	put(buf, n, "%llu%s", (unsigned long long)(ns / u[i].mult), u[i].name);
	return buf;
}

/* Shortest exact text of a size: "32MiB", "1536KiB", "100". */
static const char *fmt_size(uint64_t b, char *buf, size_t n)
{
	static const struct unit u[] = {
		{"TiB", 1024 * GIB}, {"GiB", GIB}, {"MiB", MIB}, {"KiB", KIB},
	};

	for (size_t i = 0; i < TP_ARRAY_SIZE(u); i++) {
		if (b && b % u[i].mult == 0) {
			put(buf, n, "%llu%s", (unsigned long long)(b / u[i].mult),
			    u[i].name);
			return buf;
		}
	}
	put(buf, n, "%llu", (unsigned long long)b);
	return buf;
}

static const char *fmt_number(const struct key *k, uint64_t v, char *buf,
			      size_t n)
{
	if (k->type == KT_DURATION)
		return fmt_duration(v, buf, n);
	if (k->type == KT_SIZE)
		return fmt_size(v, buf, n);
	put(buf, n, "%llu", (unsigned long long)v);
	return buf;
}

/* ---- fields ------------------------------------------------------------ */

static void *field(const struct key *k, struct tp_config *cfg)
{
	return (char *)cfg + k->off;
}

static const void *cfield(const struct key *k, const struct tp_config *cfg)
{
	return (const char *)cfg + k->off;
}

static void put_uint(void *p, size_t width, uint64_t v)
{
	switch (width) {
	case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	case 8: memcpy(p, &v, 8); break;
	default: TP_BUG_ON(1);
	}
}

static uint64_t get_uint(const void *p, size_t width)
{
	switch (width) {
	case 1: { uint8_t x; memcpy(&x, p, 1); return x; }
	case 2: { uint16_t x; memcpy(&x, p, 2); return x; }
	case 4: { uint32_t x; memcpy(&x, p, 4); return x; }
	case 8: { uint64_t x; memcpy(&x, p, 8); return x; }
	default: TP_BUG_ON(1);
	}
	return 0;
}

/* ---- value parsers, shared by defaults, YAML and --set ------------------ */

/* What a key's value looks like, for "expected ..." and the doc. */
static const char *form(const struct key *k, char *buf, size_t n)
{
	char a[32], b[32];

	switch (k->type) {
	case KT_BOOL:
		return "true or false";
	case KT_COUNT:
		if (k->flags & K_POW2)
			put(buf, n, "a power of two from %s to %s",
			    fmt_number(k, k->min, a, sizeof(a)),
			    fmt_number(k, k->max, b, sizeof(b)));
		else
			put(buf, n, "a whole number from %s to %s",
			    fmt_number(k, k->min, a, sizeof(a)),
			    fmt_number(k, k->max, b, sizeof(b)));
		return buf;
	case KT_SIZE:
		return "a size like 64MiB, 512k or 1G";
	case KT_DURATION:
		return "a duration like 30s, 5m or 250ms";
	case KT_PORTS:
		return "a list of ports like [4789, 8472]";
	case KT_ENUM: {
		size_t o = 0;
		put(buf, n, "one of ");
		for (const char *const *e = k->names; *e; e++) {
			o = strlen(buf);
			put(buf + o, n - o, "%s%s", e == k->names ? "" : ", ",
			    *e);
		}
		return buf;
	}
	case KT_STRING:
		return "a path";
	case KT_ZONES:
		return "a list of zones, each with a name and match entries";
	}
	return "a value";
}

/* Bounds of a number; "got" is the user's text for the message. */
static int check_number(const struct key *k, uint64_t v, const char *got,
			char *why, size_t n)
{
	char a[32], b[32], f[96];

	if (k->type == KT_COUNT && (k->flags & K_POW2) && v >= k->min &&
	    v <= k->max && (v & (v - 1)) != 0) {
		uint64_t lo = 1ull << (63 - __builtin_clzll(v));
		put(why, n, "expected a power of two like %llu or %llu, got "
		    "'%s'", (unsigned long long)lo,
		    (unsigned long long)(lo << 1), got);
		return -1;
	}
	if (v < k->min || v > k->max) {
		if (k->type == KT_COUNT)
			put(why, n, "expected %s, got '%s'",
			    form(k, f, sizeof(f)), got);
		else
			put(why, n, "expected a %s from %s to %s, got '%s'",
			    k->type == KT_SIZE ? "size" : "duration",
			    fmt_number(k, k->min, a, sizeof(a)),
			    fmt_number(k, k->max, b, sizeof(b)), got);
		return -1;
	}
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};

	for (size_t i = 0; i < TP_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int parse_port(const char *s, uint16_t *out, char *why, size_t n)
{
	char q[QUOTE_MAX];
	uint64_t v;

	if (parse_uint(s, false, &v) < 0 || v < 1 || v > 65535) {
		put(why, n, "expected a port from 1 to 65535, got '%s'",
		    quote(s, strlen(s), q, sizeof(q)));
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

/* Append one port to a key's list; a repeated port is kept once. */
static int add_port(const struct key *k, struct tp_config *cfg, uint16_t port,
		    char *why, size_t n)
{
	uint16_t *ports = field(k, cfg);
	uint8_t *np = (uint8_t *)cfg + k->aux;
	size_t max = k->width / sizeof(uint16_t);

	for (size_t i = 0; i < *np; i++)
		if (ports[i] == port)
			return 0;
	if (*np >= max) {
		put(why, n, "expected at most %zu ports", max);
		return -1;
	}
	ports[(*np)++] = port;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* "4789", "4789, 8472", "[4789,8472]", "" or "[]" (no port). */
static int parse_port_list(const struct key *k, const char *text,
			   struct tp_config *cfg, char *why, size_t n)
{
	char buf[512], *s, *item, *save = NULL;
	size_t len = strlen(text);

	if (len >= sizeof(buf)) {
		put(why, n, "expected at most %zu ports",
		    k->width / sizeof(uint16_t));
		return -1;
	}
	memcpy(buf, text, len + 1);
	s = trim(buf);
	len = strlen(s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s[len - 1] = '\0';
		s = trim(s + 1);
	}
	*((uint8_t *)cfg + k->aux) = 0;
	if (!*s)
		return 0;
	/* strtok_r would merge empty items; "4789,,8472" is a typo. */
	for (item = s; item; item = save) {
		uint16_t port;
		save = strchr(item, ',');
		if (save)
			*save++ = '\0';
		if (parse_port(trim(item), &port, why, n) < 0 ||
		    add_port(k, cfg, port, why, n) < 0)
			return -1;
	}
	return 0;
}

/* Parse text as the value of k into cfg.  0, or -1 with "expected ..., got
 * ..." in why. */
static int apply_text(const struct key *k, const char *text,
		      struct tp_config *cfg, char *why, size_t n)
{
	char q[QUOTE_MAX], f[96];
	size_t len = strlen(text);
	uint64_t v;
	int rc = -1;

	quote(text, len, q, sizeof(q));
	switch (k->type) {
	case KT_BOOL: {
		bool b;
		if (parse_bool(text, &b) == 0) {
			*(bool *)field(k, cfg) = b;
			return 0;
		}
		break;
	}
	case KT_COUNT:
		if (parse_uint(text, false, &v) == 0) {
			if (check_number(k, v, q, why, n) < 0)
				return -1;
			put_uint(field(k, cfg), k->width, v);
			return 0;
		}
		break;
	case KT_SIZE:
	case KT_DURATION:
		if (k->type == KT_SIZE)
			rc = parse_scaled(text, size_units, 1, &v);
		else
			rc = parse_scaled(text, duration_units, NS_S, &v);
		if (rc == 0) {
			if (check_number(k, v, q, why, n) < 0)
				return -1;
			put_uint(field(k, cfg), k->width, v);
			return 0;
		}
		break;
	case KT_PORTS:
		return parse_port_list(k, text, cfg, why, n);
	case KT_ENUM:
		for (size_t i = 0; k->names[i]; i++) {
			if (strcasecmp(text, k->names[i]) == 0) {
				put_uint(field(k, cfg), k->width, i);
				return 0;
			}
		}
		break;
	case KT_STRING:
		if (len == 0) {
			put(why, n, "expected %s, got nothing",
			    form(k, f, sizeof(f)));
			return -1;
		}
		if (len >= k->width) {
			put(why, n, "expected %s shorter than %zu bytes, got "
			    "'%s'", form(k, f, sizeof(f)), k->width, q);
			return -1;
		}
		memcpy(field(k, cfg), text, len + 1);
		return 0;
	case KT_ZONES:
		put(why, n, "zones can only be set in the configuration file "
		    "(a list of rules does not fit in --set); put them under "
		    "'zones:' in the YAML file given with -c");
		return -1;
	}
	if (len == 0)
		put(why, n, "expected %s, got nothing", form(k, f, sizeof(f)));
	else
		put(why, n, "expected %s, got '%s'", form(k, f, sizeof(f)), q);
	return -1;
}

/* ---- key lookup -------------------------------------------------------- */

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* A section is a name that some key's name starts with, then a dot. */
static bool is_section(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, name, len) == 0 &&
		    keys[i].name[len] == '.')
			return true;
	return false;
}

static const char *first_key_of(const char *section)
{
	size_t len = strlen(section);

	for (size_t i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, section, len) == 0 &&
		    keys[i].name[len] == '.')
			return keys[i].name;
	return section;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			best = TP_MIN(best, up + 1);
			best = TP_MIN(best, row[j - 1] + 1);
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *leaf(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

/* The candidate closest to name, or NULL if none is close enough to be
 * what was meant.  A candidate with the same last component counts as one
 * edit away ("window" or "flow.window" for "dedup.window"). */
static const char *suggest(const char *name, const char *const *cands,
			   size_t ncands)
{
	size_t best = SIZE_MAX, limit = TP_MAX(1, TP_MIN(3, strlen(name) / 3));
	const char *pick = NULL;

	for (size_t i = 0; i < ncands; i++) {
		size_t d = edit_distance(name, cands[i]);
		if (strcmp(leaf(name), leaf(cands[i])) == 0)
			d = TP_MIN(d, 1);
		if (d < best) {
			best = d;
			pick = cands[i];
		}
	}
	return best <= limit ? pick : NULL;
}

/* Every key and section name, for suggestions; out holds 2 * NKEYS. */
static size_t key_candidates(const char **out, char (*sections)[32])
{
	size_t n = 0, ns = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const char *dot = strchr(keys[i].name, '.');
		out[n++] = keys[i].name;
		if (!dot || (size_t)(dot - keys[i].name) >= 32)
			continue;
		snprintf(sections[ns], 32, "%.*s", (int)(dot - keys[i].name),
			 keys[i].name);
		bool dup = false;
		for (size_t j = 0; j < ns; j++)
			dup |= strcmp(sections[j], sections[ns]) == 0;
		if (!dup)
			out[n++] = sections[ns++];
	}
	return n;
}

static void unknown_key_msg(const char *name, const char *const *cands,
			    size_t ncands, char *buf, size_t n)
{
	char q[QUOTE_MAX];
	const char *s = suggest(name, cands, ncands);

	quote(name, strlen(name), q, sizeof(q));
	if (s)
		put(buf, n, "unknown key '%s' (did you mean '%s'?)", q, s);
	else
		put(buf, n, "unknown key '%s' (the keys are listed in "
		    "docs/configuration.md)", q);
}

/* ---- YAML loading ------------------------------------------------------ */

/* A YAML scalar longer than this is no value tapir takes. */
#define TEXT_MAX 4352

struct ld {
	struct tp_config *cfg;
	const char *name;          /* shown as "config NAME" */
	char *err;
	size_t errlen;
	int seen_line[NKEYS];      /* where each key was set, 0 if not yet */
};

/* Where n starts (1-based), or 0 if unknown.  libfyaml keeps positions
 * on scalar tokens only: a mapping or list is placed at its first key or
 * item. */
static void where(struct fy_node *n, int *line, int *col)
{
	struct fy_token *t = NULL;
	const struct fy_mark *m;
	void *it;

	*line = *col = 0;
	for (int depth = 0; n && depth < 16; depth++) {
		it = NULL;
		if (fy_node_is_scalar(n)) {
			t = fy_node_get_scalar_token(n);
			break;
		} else if (fy_node_is_mapping(n)) {
			struct fy_node_pair *np = fy_node_mapping_iterate(n, &it);
			n = np ? fy_node_pair_key(np) : NULL;
		} else {
			n = fy_node_sequence_iterate(n, &it);
		}
	}
	if (!t)
		return;
	m = fy_token_start_mark(t);
	if (!m)
		return;
	*line = m->line + 1;
	*col = m->column + 1;
}

/* An empty value ("key:" with nothing after it). */
static bool is_nothing(struct fy_node *n)
{
	return !n || (fy_node_is_scalar(n) && !fy_node_is_alias(n) &&
		      fy_node_get_style(n) == FYNS_PLAIN &&
		      fy_node_get_scalar_length(n) == 0);
}

/* Report at node at (or, when at is not a scalar, at fallback). */
static int TP_PRINTF(4, 5) ld_fail(struct ld *ld, struct fy_node *at,
				   struct fy_node *fallback,
				   const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int line, col;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	where(at, &line, &col);
	if (!line)
		where(fallback, &line, &col);
	if (line)
		put(ld->err, ld->errlen, "config %s:%d:%d: %s", ld->name, line,
		    col, msg);
	else
		put(ld->err, ld->errlen, "config %s: %s", ld->name, msg);
	return -EINVAL;
}

static const char *shape(struct fy_node *n)
{
	if (is_nothing(n))
		return "nothing";
	switch (fy_node_get_type(n)) {
	case FYNT_SEQUENCE:
		return "a list";
	case FYNT_MAPPING:
		return "a mapping";
	default:
		return "a value";
	}
}

/* The text of a scalar, NUL-terminated in buf; -1 if n is not a plain
 * scalar (the caller reports what it is). */
static int scalar_text(struct fy_node *n, char *buf, size_t bufsz,
		       size_t *lenp)
{
	const char *s;
	size_t len;

	if (!n || !fy_node_is_scalar(n) || fy_node_is_alias(n))
		return -1;
	s = fy_node_get_scalar(n, &len);
	if (!s)
		return -1;
	if (len >= bufsz)
		len = bufsz - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*lenp = len;
	return 0;
}

/* Scalar text of n as the value of what; reports a non-scalar, an alias,
 * an over-long value or an embedded NUL. */
static int need_scalar(struct ld *ld, const char *what, const char *expect,
		       struct fy_node *kn, struct fy_node *vn, char *buf,
		       size_t bufsz)
{
	char q[QUOTE_MAX];
	size_t len;

	if (vn && fy_node_is_alias(vn))
		return ld_fail(ld, vn, kn, "key '%s': YAML aliases (*name) are "
			       "not supported; write the value out", what);
	if (scalar_text(vn, buf, bufsz, &len) < 0)
		return ld_fail(ld, vn, kn, "key '%s': expected %s, got %s",
			       what, expect, shape(vn));
	if (len == bufsz - 1)
		return ld_fail(ld, vn, kn, "key '%s': expected %s, got a "
			       "value of more than %zu bytes", what, expect,
			       bufsz - 2);
	if (strlen(buf) != len)
		return ld_fail(ld, vn, kn, "key '%s': expected %s, got '%s' "
			       "with a NUL byte in it", what, expect,
			       quote(buf, len, q, sizeof(q)));
	return 0;
}

static const char *const zone_keys[] = {"name", "match"};
static const char *const match_keys[] = {"vni", "outer_src", "gwlb_endpoint"};

static bool valid_zone_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

/* "10.0.1.0/24", "2001:db8::/32" or a bare address, into the 128-bit form
 * (IPv4 v4-mapped, its prefix length plus 96).  0, or -1 with why. */
static int parse_cidr(const char *text, struct tp_addr *a, uint8_t *plen,
		      char *why, size_t n)
{
	char buf[64], q[QUOTE_MAX], fix[64];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	uint64_t bits;
	bool v4;

	quote(text, strlen(text), q, sizeof(q));
	if (alen >= sizeof(buf))
		goto bad;
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, buf, a->b + 12) == 1) {
		a->b[10] = a->b[11] = 0xff;
		v4 = true;
	} else if (inet_pton(AF_INET6, buf, a->b) == 1) {
		v4 = false;
	} else {
		goto bad;
	}
	if (slash) {
		if (parse_uint(slash + 1, false, &bits) < 0 ||
		    bits > (v4 ? 32u : 128u))
			goto bad;
	} else {
		bits = v4 ? 32 : 128;
	}
	*plen = (uint8_t)(bits + (v4 ? 96 : 0));

	/* Host bits set is most often a typo for the network's address. */
	struct tp_addr net = *a;
	for (unsigned i = *plen; i < 128; i++)
		net.b[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	if (memcmp(&net, a, sizeof(net)) != 0) {
		if (v4)
			inet_ntop(AF_INET, net.b + 12, fix, sizeof(fix));
		else
			inet_ntop(AF_INET6, net.b, fix, sizeof(fix));
		put(why, n, "'%s' has bits set after the /%llu prefix; did you "
		    "mean '%s/%llu'?", q, (unsigned long long)bits, fix,
		    (unsigned long long)bits);
		return -1;
	}
	return 0;
bad:
	put(why, n, "expected an address or prefix like 10.0.1.0/24 or "
	    "2001:db8::/32, got '%s'", q);
	return -1;
}

/* One match entry mn into r; at names where to point for an entry that
 * has no position of its own ({}). */
static int load_match(struct ld *ld, struct fy_node *mn, struct fy_node *at,
		      const char *path, struct tp_zone_rule *r)
{
	struct fy_node_pair *np;
	void *it = NULL;
	char text[TEXT_MAX], kname[80], sub[256], why[256], q[QUOTE_MAX];
	struct fy_node *first = NULL;

	memset(r, 0, sizeof(*r));
	while ((np = fy_node_mapping_iterate(mn, &it))) {
		struct fy_node *kn = fy_node_pair_key(np);
		struct fy_node *vn = fy_node_pair_value(np);
		uint64_t v;
		int rc;

		if (!first)
			first = kn;
		rc = need_scalar(ld, path, "a key such as vni or outer_src",
				 kn, kn, kname, sizeof(kname));
		if (rc)
			return rc;
		snprintf(sub, sizeof(sub), "%s.%s", path, kname);
		if (strcmp(kname, "vni") == 0) {
			rc = need_scalar(ld, sub, "a number", kn, vn, text,
					 sizeof(text));
			if (rc)
				return rc;
			if (parse_uint(text, true, &v) < 0 || v > UINT32_MAX)
				return ld_fail(ld, vn, kn, "key '%s': expected "
					       "a VNI, GRE key or ERSPAN "
					       "session id from 0 to "
					       "4294967295 (decimal or 0x "
					       "hex), got '%s'", sub,
					       quote(text, strlen(text), q,
						     sizeof(q)));
			r->has_vni = true;
			r->vni = (uint32_t)v;
		} else if (strcmp(kname, "outer_src") == 0) {
			rc = need_scalar(ld, sub, "an address or prefix", kn,
					 vn, text, sizeof(text));
			if (rc)
				return rc;
			if (parse_cidr(text, &r->src, &r->src_plen, why,
				       sizeof(why)) < 0)
				return ld_fail(ld, vn, kn, "key '%s': %s", sub,
					       why);
			r->has_src = true;
		} else if (strcmp(kname, "gwlb_endpoint") == 0) {
			rc = need_scalar(ld, sub, "a number", kn, vn, text,
					 sizeof(text));
			if (rc)
				return rc;
			if (parse_uint(text, true, &v) < 0)
				return ld_fail(ld, vn, kn, "key '%s': expected "
					       "a 64-bit endpoint id "
					       "(0x hex or decimal), got '%s'",
					       sub, quote(text, strlen(text), q,
							  sizeof(q)));
			r->has_gwlb_endpoint = true;
			r->gwlb_endpoint = v;
		} else {
			const char *s = suggest(kname, match_keys,
						TP_ARRAY_SIZE(match_keys));
			quote(sub, strlen(sub), q, sizeof(q));
			if (s)
				return ld_fail(ld, kn, NULL, "unknown key '%s' "
					       "(did you mean '%s'?)", q, s);
			return ld_fail(ld, kn, NULL, "unknown key '%s' (a "
				       "match entry takes vni, outer_src and "
				       "gwlb_endpoint)", q);
		}
	}
	if (!r->has_vni && !r->has_src && !r->has_gwlb_endpoint)
		return ld_fail(ld, first, at, "key '%s': a match entry needs "
			       "at least one of vni, outer_src, gwlb_endpoint",
			       path);
	return 0;
}

/* zones: replaces any zones set before; zone 0 stays "default". */
static int load_zones(struct ld *ld, struct fy_node *zkn, struct fy_node *zvn)
{
	struct tp_config *cfg = ld->cfg;
	struct fy_node *item;
	void *it = NULL;
	char path[96], text[TEXT_MAX], q[QUOTE_MAX];
	int rc, zi = 0;

	cfg->nzones = 1;
	cfg->nrules = 0;
	memset(cfg->zones[1], 0, sizeof(cfg->zones) - sizeof(cfg->zones[0]));
	memset(cfg->rules, 0, sizeof(cfg->rules));
	if (is_nothing(zvn))
		return 0;
	if (!fy_node_is_sequence(zvn))
		return ld_fail(ld, zvn, zkn, "key 'zones': expected a list of "
			       "zones, each with a name and match entries, "
			       "got %s", shape(zvn));

	while ((item = fy_node_sequence_iterate(zvn, &it))) {
		struct fy_node *name_k = NULL, *name_v = NULL;
		struct fy_node *match_k = NULL, *match_v = NULL;
		struct fy_node_pair *np;
		void *pit = NULL;

		snprintf(path, sizeof(path), "zones[%d]", zi++);
		if (!fy_node_is_mapping(item))
			return ld_fail(ld, item, zkn, "key '%s': expected a "
				       "zone (name: and match:), got %s", path,
				       shape(item));
		while ((np = fy_node_mapping_iterate(item, &pit))) {
			struct fy_node *kn = fy_node_pair_key(np);
			char kname[80], sub[256];

			rc = need_scalar(ld, path, "a key name or match",
					 kn, kn, kname, sizeof(kname));
			if (rc)
				return rc;
			if (strcmp(kname, "name") == 0) {
				name_k = kn;
				name_v = fy_node_pair_value(np);
			} else if (strcmp(kname, "match") == 0) {
				match_k = kn;
				match_v = fy_node_pair_value(np);
			} else {
				const char *s = suggest(kname, zone_keys,
							TP_ARRAY_SIZE(zone_keys));
				snprintf(sub, sizeof(sub), "%s.%s", path, kname);
				quote(sub, strlen(sub), q, sizeof(q));
				if (s)
					return ld_fail(ld, kn, NULL, "unknown key "
						       "'%s' (did you mean "
						       "'%s'?)", q, s);
				return ld_fail(ld, kn, NULL, "unknown key '%s' "
					       "(a zone takes name and match)",
					       q);
			}
		}
		if (!name_k)
			return ld_fail(ld, match_k, zkn, "key '%s': a zone needs "
				       "a name", path);
		snprintf(path + strlen(path), sizeof(path) - strlen(path),
			 ".name");
		rc = need_scalar(ld, path, "a zone name", name_k, name_v, text,
				 sizeof(text));
		if (rc)
			return rc;
		path[strlen(path) - 5] = '\0';
		quote(text, strlen(text), q, sizeof(q));
		if (!valid_zone_name(text) || strlen(text) >= sizeof(cfg->zones[0]))
			return ld_fail(ld, name_v, name_k, "key '%s.name': "
				       "expected a zone name of 1 to %zu "
				       "letters, digits, '-', '_' or '.', got "
				       "'%s'", path, sizeof(cfg->zones[0]) - 1,
				       q);
		for (uint32_t z = 0; z < cfg->nzones; z++)
			if (strcmp(cfg->zones[z], text) == 0)
				return ld_fail(ld, name_v, name_k, "key "
					       "'%s.name': zone '%s' %s", path,
					       q, z == 0 ? "is reserved for "
					       "sessions that match no rule" :
					       "is defined twice");
		if (cfg->nzones >= TP_MAX_ZONES)
			return ld_fail(ld, name_v, name_k, "key '%s': at most "
				       "%d zones besides 'default'", path,
				       TP_MAX_ZONES - 1);
		uint16_t zone = (uint16_t)cfg->nzones;
		memcpy(cfg->zones[zone], text, strlen(text) + 1);
		cfg->nzones++;

		if (!match_k || !match_v || !fy_node_is_sequence(match_v) ||
		    fy_node_sequence_item_count(match_v) == 0)
			return ld_fail(ld, match_v, match_k ? match_k : name_k,
				       "key '%s.match': zone '%s' needs a list "
				       "of match entries like '- vni: 4000' or "
				       "'- outer_src: 10.0.1.0/24'", path, q);

		struct fy_node *mn;
		void *mit = NULL;
		int mi = 0;
		while ((mn = fy_node_sequence_iterate(match_v, &mit))) {
			char mpath[128];
			snprintf(mpath, sizeof(mpath), "%s.match[%d]", path,
				 mi++);
			if (!fy_node_is_mapping(mn))
				return ld_fail(ld, mn, match_k, "key '%s': "
					       "expected a match entry like "
					       "'vni: 4000', got %s", mpath,
					       shape(mn));
			if (cfg->nrules >= TP_MAX_ZONE_RULES)
				return ld_fail(ld, mn, match_k, "key '%s': at "
					       "most %d match entries over all "
					       "zones", mpath,
					       TP_MAX_ZONE_RULES);
			struct tp_zone_rule *r = &cfg->rules[cfg->nrules];
			rc = load_match(ld, mn, match_k, mpath, r);
			if (rc)
				return rc;
			r->zone = zone;
			cfg->nrules++;
		}
	}
	return 0;
}

static int load_value(struct ld *ld, const struct key *k, struct fy_node *kn,
		      struct fy_node *vn)
{
	char text[TEXT_MAX], why[512], f[96];
	int rc;

	if (k->load)
		return k->load(ld, kn, vn);

	if (k->type == KT_PORTS && vn && fy_node_is_sequence(vn)) {
		struct fy_node *item;
		void *it = NULL;

		*((uint8_t *)ld->cfg + k->aux) = 0;
		while ((item = fy_node_sequence_iterate(vn, &it))) {
			uint16_t port;
			rc = need_scalar(ld, k->name, "a port from 1 to 65535",
					 kn, item, text, sizeof(text));
			if (rc)
				return rc;
			if (parse_port(text, &port, why, sizeof(why)) < 0 ||
			    add_port(k, ld->cfg, port, why, sizeof(why)) < 0)
				return ld_fail(ld, item, kn, "key '%s': %s",
					       k->name, why);
		}
		return 0;
	}

	rc = need_scalar(ld, k->name, form(k, f, sizeof(f)), kn, vn, text,
			 sizeof(text));
	if (rc)
		return rc;
	if (apply_text(k, text, ld->cfg, why, sizeof(why)) < 0)
		return ld_fail(ld, vn, kn, "key '%s': %s", k->name, why);
	return 0;
}

static int load_map(struct ld *ld, struct fy_node *map, const char *prefix)
{
	struct fy_node_pair *np;
	void *it = NULL;
	const char *cands[2 * NKEYS];
	char sections[NKEYS][32];
	size_t ncands = key_candidates(cands, sections);
	int rc;

	while ((np = fy_node_mapping_iterate(map, &it))) {
		struct fy_node *kn = fy_node_pair_key(np);
		struct fy_node *vn = fy_node_pair_value(np);
		char kname[128], path[256], msg[512];
		const struct key *k;

		rc = need_scalar(ld, prefix ? prefix : "(top level)",
				 "a key name", kn, kn, kname, sizeof(kname));
		if (rc)
			return rc;
		if (prefix)
			snprintf(path, sizeof(path), "%s.%s", prefix, kname);
		else
			snprintf(path, sizeof(path), "%s", kname);

		k = find_key(path);
		if (k) {
			size_t i = (size_t)(k - keys);
			int line, col;
			if (ld->seen_line[i])
				return ld_fail(ld, kn, NULL, "key '%s' is given "
					       "twice (first on line %d)",
					       k->name, ld->seen_line[i]);
			where(kn, &line, &col);
			ld->seen_line[i] = line ? line : -1;
			rc = load_value(ld, k, kn, vn);
			if (rc)
				return rc;
		} else if (is_section(path)) {
			if (is_nothing(vn))
				continue;   /* an empty section */
			if (!fy_node_is_mapping(vn))
				return ld_fail(ld, vn, kn, "key '%s' is a "
					       "section: expected keys under "
					       "it such as '%s', got %s", path,
					       first_key_of(path), shape(vn));
			rc = load_map(ld, vn, path);
			if (rc)
				return rc;
		} else {
			unknown_key_msg(path, cands, ncands, msg, sizeof(msg));
			return ld_fail(ld, kn, NULL, "%s", msg);
		}
	}
	return 0;
}

struct diag_capture {
	char first[256];
};

static void diag_output(struct fy_diag *diag, void *user, const char *buf,
			size_t len)
{
	struct diag_capture *dc = user;

	(void)diag;
	if (!dc->first[0] && len > 1)
		quote(buf, strcspn(buf, "\n") < len ? strcspn(buf, "\n") : len,
		      dc->first, sizeof(dc->first));
}

/* True if text holds no YAML content: blank lines and comments only
 * (libfyaml reports such a stream as a failed load). */
static bool blank_yaml(const char *s, size_t len)
{
	bool comment = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' || s[i] == '\r')
			comment = false;
		else if (comment)
			continue;
		else if (s[i] == '#')
			comment = true;
		else if (s[i] != ' ' && s[i] != '\t')
			return false;
	}
	return true;
}

static int syntax_error(struct ld *ld, struct fy_diag *diag,
			const struct diag_capture *dc)
{
	struct fy_diag_error *e;
	void *it = NULL;
	char q[256];

	e = fy_diag_errors_iterate(diag, &it);
	if (e && e->msg) {
		quote(e->msg, strlen(e->msg), q, sizeof(q));
		if (e->line > 0)
			put(ld->err, ld->errlen, "config %s:%d:%d: invalid YAML: "
			    "%s", ld->name, e->line, e->column, q);
		else
			put(ld->err, ld->errlen, "config %s: invalid YAML: %s",
			    ld->name, q);
	} else {
		put(ld->err, ld->errlen, "config %s: invalid YAML%s%s",
		    ld->name, dc->first[0] ? ": " : "", dc->first);
	}
	return -EINVAL;
}

/* Offset of the first byte that YAML does not allow, or len: a control
 * character other than tab, newline and carriage return, or a byte that is
 * not part of well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF).  Checked before libfyaml sees the text: 0.7.12
 * loops forever on some invalid UTF-8 in a directive line ("%ab\xff") and
 * crashes on some NUL bytes. */
static size_t text_bad_offset(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
			    c == 0x7f)
				return i;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return i;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (n >= len - i)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return i;
		i += n + 1;
	}
	return len;
}

/* 1-based line and column (in characters) of byte off. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = *col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Offset of the first explicit key indicator ("? " where a node starts,
 * outside comments and quoted text), or len.  tapir's keys are plain
 * names, so it has no use for explicit keys, and libfyaml 0.7.12 corrupts
 * its heap on some ("? 4:\t:").  Text that it stops by mistake: a line
 * of a block scalar or of a quoted string that begins with "? ". */
static size_t explicit_key_offset(const char *s, size_t len)
{
	char quote = 0;      /* inside '...' or "..." */
	char prev = '\n';    /* last non-blank character of the line */
	bool comment = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		/* At the start of a line, even one inside quotes: a quote
		 * that is really an apostrophe must not hide what follows. */
		if (c == '?' && (i == 0 || s[i - 1] == '\n' ||
				 (prev == '\n' && is_blank(s[i - 1]))) &&
		    (i + 1 == len || is_blank(s[i + 1])))
			return i;
		if (quote) {
			if (c == '\n' || c == '\r')
				prev = '\n';
			else if (!is_blank(c))
				prev = 'x';
			if (quote == '"' && c == '\\')
				i++;
			else if (c == quote && quote == '\'' && i + 1 < len &&
				 s[i + 1] == '\'')
				i++;
			else if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '\n' || c == '\r') {
			comment = false;
			prev = '\n';
			continue;
		}
		if (comment || c == ' ' || c == '\t')
			continue;

		/* A node starts after a blank or a flow indicator, once the
		 * line so far holds only indicators. */
		bool after_sep = i == 0 || is_blank(s[i - 1]) ||
				 s[i - 1] == '[' || s[i - 1] == '{' ||
				 s[i - 1] == ',';
		bool node_start = after_sep &&
				  (prev == '\n' || prev == '-' || prev == '?' ||
				   prev == ':' || prev == '[' || prev == '{' ||
				   prev == ',');
		if (c == '#' && (i == 0 || is_blank(s[i - 1]))) {
			comment = true;
			prev = c;
			continue;
		}
		if ((c == '\'' || c == '"') && node_start) {
			quote = c;
			continue;
		}
		if (c == '?' && node_start && (i + 1 == len || is_blank(s[i + 1])))
			return i;
		prev = c;
	}
	return len;
}

/* Parse text (NUL-terminated, len bytes) into ld->cfg. */
static int load_yaml(struct ld *ld, const char *text, size_t len)
{
	struct diag_capture dc = {{0}};
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag = NULL;
	struct fy_parser *fyp = NULL;
	struct fy_document *doc = NULL, *doc2 = NULL;
	struct fy_node *root;
	int rc = -ENOMEM;

	size_t bad = text_bad_offset((const unsigned char *)text, len);
	if (bad < len) {
		unsigned char c = (unsigned char)text[bad];
		int line, col;

		line_col(text, bad, &line, &col);
		if (c < 0x80)
			put(ld->err, ld->errlen, "config %s:%d:%d: invalid YAML: "
			    "control character 0x%02x (only tab and newline "
			    "are allowed)", ld->name, line, col, c);
		else
			put(ld->err, ld->errlen, "config %s:%d:%d: invalid YAML: "
			    "not UTF-8 text (byte 0x%02x)", ld->name, line, col,
			    c);
		return -EINVAL;
	}
	bad = explicit_key_offset(text, len);
	if (bad < len) {
		int line, col;

		line_col(text, bad, &line, &col);
		put(ld->err, ld->errlen, "config %s:%d:%d: explicit keys ('? "
		    "key') are not supported; write 'key: value'", ld->name,
		    line, col);
		return -EINVAL;
	}

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_output;
	dcfg.user = &dc;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		goto oom;
	fy_diag_set_collect_errors(diag, true);

	struct fy_parse_cfg pcfg = {
		.flags = FYPCF_QUIET | FYPCF_JSON_NONE,
		.diag = diag,
	};
	fyp = fy_parser_create(&pcfg);
	if (!fyp || fy_parser_set_string(fyp, text, len) != 0)
		goto oom;

	doc = fy_parse_load_document(fyp);
	if (fy_diag_got_error(diag)) {
		if (!doc && blank_yaml(text, len)) {
			rc = 0;
			goto out;
		}
		rc = syntax_error(ld, diag, &dc);
		goto out;
	}
	if (!doc) {
		rc = 0;   /* an empty stream: nothing to change */
		goto out;
	}
	doc2 = fy_parse_load_document(fyp);
	if (fy_diag_got_error(diag)) {
		rc = syntax_error(ld, diag, &dc);
		goto out;
	}
	if (doc2) {
		put(ld->err, ld->errlen, "config %s: holds more than one YAML "
		    "document (a second '---'); put every key into one",
		    ld->name);
		rc = -EINVAL;
		goto out;
	}

	root = fy_document_root(doc);
	if (!root || (fy_node_is_scalar(root) && !fy_node_is_alias(root) &&
		      fy_node_get_scalar_length(root) == 0)) {
		rc = 0;
		goto out;
	}
	if (!fy_node_is_mapping(root)) {
		rc = ld_fail(ld, root, NULL, "expected a mapping of keys such "
			     "as 'decode:' and 'flow:' at the top level, got %s",
			     shape(root));
		goto out;
	}
	rc = load_map(ld, root, NULL);
	goto out;

oom:
	put(ld->err, ld->errlen, "config %s: out of memory", ld->name);
out:
	if (doc2)
		fy_parse_document_destroy(fyp, doc2);
	if (doc)
		fy_parse_document_destroy(fyp, doc);
	if (fyp)
		fy_parser_destroy(fyp);
	if (diag)
		fy_diag_destroy(diag);
	return rc;
}

/* ---- public ------------------------------------------------------------ */

void tp_config_default(struct tp_config *cfg)
{
	char why[256];

	memset(cfg, 0, sizeof(*cfg));
	/* Fields that no key names keep the decoder's own defaults. */
	tp_decode_cfg_default(&cfg->decode);
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type == KT_ZONES)
			continue;
		int rc = apply_text(&keys[i], keys[i].def, cfg, why,
				    sizeof(why));
		TP_BUG_ON(rc != 0);
	}
	cfg->nzones = 1;
	snprintf(cfg->zones[0], sizeof(cfg->zones[0]), "default");
	cfg->nrules = 0;
}

int tp_config_load_string(struct tp_config *cfg, const char *name,
			  const char *buf, size_t len, char *err,
			  size_t errlen)
{
	struct ld *ld = NULL;
	char *text = NULL;
	int rc = -ENOMEM;

	ld = tp_calloc(1, sizeof(*ld));
	text = tp_malloc(len + 1);
	if (!ld || !text)
		goto oom;
	ld->cfg = tp_malloc(sizeof(*cfg));
	if (!ld->cfg)
		goto oom;
	memcpy(text, buf, len);
	text[len] = '\0';
	memcpy(ld->cfg, cfg, sizeof(*cfg));
	ld->name = name;
	ld->err = err;
	ld->errlen = errlen;

	rc = load_yaml(ld, text, len);
	if (rc == 0)
		memcpy(cfg, ld->cfg, sizeof(*cfg));
	goto out;
oom:
	put(err, errlen, "config %s: out of memory", name);
out:
	if (ld && ld->cfg)
		tp_free(ld->cfg, sizeof(*cfg));
	tp_free(ld, sizeof(*ld));
	tp_free(text, len + 1);
	return rc;
}

/* Config files are small; a bigger one is the wrong file. */
#define FILE_MAX (1u << 20)

int tp_config_load_file(struct tp_config *cfg, const char *path, char *err,
			size_t errlen)
{
	FILE *f;
	char *buf = NULL;
	size_t len;
	int rc;

	f = fopen(path, "rb");
	if (!f) {
		rc = -errno;
		put(err, errlen, "config %s: cannot open: %s", path,
		    strerror(-rc));
		return rc;
	}
	buf = tp_malloc(FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		put(err, errlen, "config %s: out of memory", path);
		return -ENOMEM;
	}
	len = fread(buf, 1, FILE_MAX + 1, f);
	if (ferror(f)) {
		rc = errno ? -errno : -EIO;
		put(err, errlen, "config %s: cannot read: %s", path,
		    strerror(-rc));
		goto out;
	}
	if (len > FILE_MAX) {
		put(err, errlen, "config %s: larger than %u KiB; is this the "
		    "configuration file?", path, FILE_MAX / 1024);
		rc = -EFBIG;
		goto out;
	}
	rc = tp_config_load_string(cfg, path, buf, len, err, errlen);
out:
	tp_free(buf, FILE_MAX + 1);
	fclose(f);
	return rc;
}

int tp_config_set(struct tp_config *cfg, const char *assignment, char *err,
		  size_t errlen)
{
	char name[128], why[512], q[QUOTE_MAX];
	const char *eq = strchr(assignment, '=');
	const struct key *k;
	size_t nlen;

	if (!eq) {
		put(err, errlen, "'%s': expected key=value, e.g. "
		    "flow.udp_timeout=30s",
		    quote(assignment, strlen(assignment), q, sizeof(q)));
		return -EINVAL;
	}
	nlen = (size_t)(eq - assignment);
	while (nlen && (assignment[nlen - 1] == ' ' ||
			assignment[nlen - 1] == '\t'))
		nlen--;
	while (nlen && (*assignment == ' ' || *assignment == '\t')) {
		assignment++;
		nlen--;
	}
	if (nlen >= sizeof(name))
		nlen = sizeof(name) - 1;
	memcpy(name, assignment, nlen);
	name[nlen] = '\0';

	k = find_key(name);
	if (!k) {
		const char *cands[2 * NKEYS];
		char sections[NKEYS][32];
		size_t nc = key_candidates(cands, sections);
		if (is_section(name)) {
			put(err, errlen, "'%s' is a section; set one of its "
			    "keys, e.g. %s=...", name, first_key_of(name));
		} else {
			unknown_key_msg(name, cands, nc, err, errlen);
		}
		return -EINVAL;
	}

	/* The value is parsed into a copy so a refused one changes nothing. */
	struct tp_config *tmp = tp_malloc(sizeof(*tmp));
	char *val = tp_strdup(eq + 1);
	int rc = 0;
	if (!tmp || !val) {
		put(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	memcpy(tmp, cfg, sizeof(*tmp));
	if (apply_text(k, trim(val), tmp, why, sizeof(why)) < 0) {
		put(err, errlen, "key '%s': %s", k->name, why);
		rc = -EINVAL;
		goto out;
	}
	memcpy(cfg, tmp, sizeof(*cfg));
out:
	tp_free(tmp, sizeof(*tmp));
	tp_strfree(val);
	return rc;
}

int tp_config_validate(const struct tp_config *cfg, char *err, size_t errlen)
{
	char why[512], got[64];

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const void *p = cfield(k, cfg);

		switch (k->type) {
		case KT_COUNT:
		case KT_SIZE:
		case KT_DURATION: {
			uint64_t v = get_uint(p, k->width);
			if (check_number(k, v, fmt_number(k, v, got, sizeof(got)),
					 why, sizeof(why)) < 0)
				goto bad;
			break;
		}
		case KT_PORTS: {
			const uint16_t *ports = p;
			uint8_t np = *((const uint8_t *)cfg + k->aux);
			if (np > k->width / sizeof(uint16_t)) {
				put(why, sizeof(why), "expected at most %zu "
				    "ports", k->width / sizeof(uint16_t));
				goto bad;
			}
			for (size_t j = 0; j < np; j++) {
				if (ports[j] == 0) {
					put(why, sizeof(why), "expected a port "
					    "from 1 to 65535, got '0'");
					goto bad;
				}
			}
			break;
		}
		case KT_ENUM: {
			uint64_t v = get_uint(p, k->width), n = 0;
			while (k->names[n])
				n++;
			if (v >= n) {
				put(why, sizeof(why), "no such value %llu",
				    (unsigned long long)v);
				goto bad;
			}
			break;
		}
		case KT_STRING:
			if (!memchr(p, '\0', k->width) || !*(const char *)p) {
				put(why, sizeof(why), "expected a path, got "
				    "nothing");
				goto bad;
			}
			break;
		case KT_BOOL:
		case KT_ZONES:
			break;
		}
		continue;
bad:
		put(err, errlen, "config: key '%s': %s", k->name, why);
		return -EINVAL;
	}

	/* A port names one encapsulation. */
	const struct tp_decode_cfg *d = &cfg->decode;
	for (size_t i = 0; i < d->n_vxlan_ports; i++) {
		for (size_t j = 0; j < d->n_geneve_ports; j++) {
			if (d->vxlan_ports[i] == d->geneve_ports[j]) {
				put(err, errlen, "config: port %u is in both "
				    "decode.vxlan_ports and decode.geneve_ports; "
				    "a port carries one encapsulation, remove "
				    "it from one list",
				    (unsigned)d->vxlan_ports[i]);
				return -EINVAL;
			}
		}
	}

	if (cfg->nzones < 1 || cfg->nzones > TP_MAX_ZONES ||
	    strcmp(cfg->zones[0], "default") != 0) {
		put(err, errlen, "config: zone 0 must be 'default' and there "
		    "may be at most %d zones", TP_MAX_ZONES);
		return -EINVAL;
	}
	if (cfg->nrules > TP_MAX_ZONE_RULES) {
		put(err, errlen, "config: at most %d zone match entries",
		    TP_MAX_ZONE_RULES);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->nrules; i++) {
		const struct tp_zone_rule *r = &cfg->rules[i];
		if (r->zone >= cfg->nzones || r->src_plen > 128) {
			put(err, errlen, "config: zone match entry %u names "
			    "zone %u of %u", i, (unsigned)r->zone,
			    cfg->nzones);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- documentation ----------------------------------------------------- */

static const char *type_name(const struct key *k)
{
	switch (k->type) {
	case KT_BOOL: return "bool";
	case KT_COUNT: return "count";
	case KT_SIZE: return "size";
	case KT_DURATION: return "duration";
	case KT_PORTS: return "port list";
	case KT_ENUM: return "enum";
	case KT_STRING: return "string";
	case KT_ZONES: return "zones";
	}
	return "?";
}

/* The default as YAML (and as shown in the doc). */
static const char *yaml_default(const struct key *k, char *buf, size_t n)
{
	if (k->type == KT_PORTS) {
		put(buf, n, "[%s]", k->def);
		return buf;
	}
	if (k->type == KT_ZONES)
		return "[]";
	return k->def;
}

static const char *range_text(const struct key *k, char *buf, size_t n)
{
	char a[32], b[32], f[96];

	switch (k->type) {
	case KT_COUNT:
	case KT_SIZE:
	case KT_DURATION:
		if (k->flags & K_POW2)
			return form(k, buf, n);
		put(buf, n, "%s to %s", fmt_number(k, k->min, a, sizeof(a)),
		    fmt_number(k, k->max, b, sizeof(b)));
		return buf;
	case KT_BOOL:
		return "true/false, yes/no, on/off";
	case KT_PORTS:
		return "1 to 65535, at most 8";
	case KT_ENUM:
		put(buf, n, "%s", form(k, f, sizeof(f)) + strlen("one of "));
		return buf;
	case KT_STRING:
		return "any non-empty path";
	case KT_ZONES:
		return "see [Zones and match rules](#zones-and-match-rules)";
	}
	return "";
}

/* GitHub's anchor for a heading: lower case, spaces to '-', other
 * punctuation but '-' and '_' dropped. */
static const char *anchor(const char *heading, char *buf, size_t n)
{
	size_t o = 0;

	for (const char *p = heading; *p && o + 1 < n; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			buf[o++] = (char)(c - 'A' + 'a');
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			 c == '-' || c == '_')
			buf[o++] = c;
		else if (c == ' ')
			buf[o++] = '-';
	}
	buf[o] = '\0';
	return buf;
}

/* The section of a dotted key ("dedup" for "dedup.window"), "" for a key
 * at the top level. */
static const char *section_of(const struct key *k, char *buf, size_t n)
{
	const char *dot = strchr(k->name, '.');

	put(buf, n, "%.*s", dot ? (int)(dot - k->name) : 0, k->name);
	return buf;
}

void tp_config_write_doc(FILE *out)
{
	char buf[128], rng[128], sec[32], cur[32], a[64];

	fputs("# Configuration\n"
	      "\n"
	      "<!-- Written by tp_config_write_doc() from the key table in "
	      "src/util/config.c.\n"
	      "     Change the table, then regenerate this file with\n"
	      "     build/tests/unit/test-config --write-doc "
	      "docs/configuration.md -->\n"
	      "\n"
	      "tapir takes its settings from three places, each overriding "
	      "the one before:\n"
	      "\n"
	      "1. the defaults below, built into the binary;\n"
	      "2. one YAML file, given with `-c FILE`;\n"
	      "3. `--set key=value` on the command line, in the order "
	      "given.\n"
	      "\n"
	      "A key's dotted name is its path in the file: `dedup.window` "
	      "is\n"
	      "\n"
	      "```yaml\n"
	      "dedup:\n"
	      "  window: 5ms\n"
	      "```\n"
	      "\n"
	      "and may also be written `dedup.window: 5ms`. An unknown key, "
	      "a value of the\n"
	      "wrong type and a value out of range are refused with the "
	      "file, line, key and\n"
	      "expected form, and nothing from a file with an error is "
	      "applied. The file\n"
	      "is plain YAML (UTF-8) of mappings, lists and values; "
	      "aliases (`*a`) and\n"
	      "explicit keys (`? key`) are refused.\n"
	      "\n"
	      "## Values\n"
	      "\n"
	      "| type | written as |\n"
	      "|---|---|\n"
	      "| bool | `true` or `false`; also `yes`/`no`, `on`/`off` |\n"
	      "| count | a whole number: `65536` |\n"
	      "| size | bytes, with an optional binary multiple: `32MiB`, "
	      "`512k`, `1G`, `1.5GiB`, `65536`; `k`, `KB` and `KiB` all mean "
	      "1024 |\n"
	      "| duration | a number and a unit, `ns`, `us`, `ms`, `s`, `m`, "
	      "`h` or `d`: `250ms`, `1.5s`, `5m`; a bare number is seconds |\n"
	      "| port list | a YAML list `[4789, 8472]` or a comma list "
	      "`4789,8472` (the form for `--set`); `[]` for none |\n"
	      "| enum | one of the names listed for the key |\n"
	      "| string | text; quote it if it contains `: ` or starts with "
	      "a YAML indicator such as `*`, `&` or `!` |\n"
	      "\n"
	      "Durations are measured in packet time (the packets' own "
	      "timestamps), so a\n"
	      "capture file and live traffic behave alike.\n"
	      "\n"
	      "## Keys\n"
	      "\n"
	      "| key | type | default |\n"
	      "|---|---|---|\n",
	      out);
	for (size_t i = 0; i < NKEYS; i++) {
		char h[80];
		put(h, sizeof(h), "`%s`", keys[i].name);
		fprintf(out, "| [`%s`](#%s) | %s | `%s` |\n", keys[i].name,
			anchor(h, a, sizeof(a)), type_name(&keys[i]),
			yaml_default(&keys[i], buf, sizeof(buf)));
	}

	cur[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		section_of(k, sec, sizeof(sec));
		if (i == 0 || strcmp(sec, cur) != 0) {
			if (sec[0])
				fprintf(out, "\n## `%s`\n", sec);
			else
				fputs("\n## Other keys\n", out);
			put(cur, sizeof(cur), "%s", sec);
		}
		fprintf(out, "\n### `%s`\n\n", k->name);
		fprintf(out, "- type: %s\n", type_name(k));
		fprintf(out, "- default: `%s`\n",
			yaml_default(k, buf, sizeof(buf)));
		fprintf(out, "- values: %s\n", range_text(k, rng, sizeof(rng)));
		fprintf(out, "\n%s\n", k->doc);
	}

	fputs("\n## Zones and match rules\n"
	      "\n"
	      "A mirror session is where a packet came from: (outer source "
	      "address, VNI) for\n"
	      "VXLAN and Geneve, (outer source address, session id) for "
	      "ERSPAN, the endpoint id\n"
	      "for a Gateway Load Balancer. Zones group sessions: flows and "
	      "deduplication are\n"
	      "kept per zone, so the two copies of a packet that one VPC "
	      "mirrors through two\n"
	      "sessions meet in one flow, while the same addresses in two "
	      "VPCs stay apart.\n"
	      "\n"
	      "```yaml\n"
	      "zones:\n"
	      "  - name: prod-vpc\n"
	      "    match:                       # any one entry puts a session "
	      "in the zone\n"
	      "      - vni: 4000\n"
	      "      - outer_src: 10.0.1.0/24\n"
	      "      - outer_src: 10.0.2.0/24   # both must match\n"
	      "        vni: 4001\n"
	      "      - gwlb_endpoint: 0x1234abcd5678ef01\n"
	      "  - name: staging-vpc\n"
	      "    match:\n"
	      "      - outer_src: 2001:db8:100::/56\n"
	      "```\n"
	      "\n"
	      "- `name`: 1 to 63 letters, digits, `-`, `_` or `.`; it "
	      "appears in every record\n"
	      "  of the zone. `default` is taken: it is zone 0, which holds "
	      "every session that\n"
	      "  no entry matches.\n"
	      "- `match`: a list of entries; a session belongs to the zone "
	      "if any entry\n"
	      "  matches it, and an entry matches if all of its criteria "
	      "do:\n"
	      "  - `vni`: the VXLAN or Geneve VNI, GRE key or ERSPAN "
	      "session id (decimal or `0x`\n"
	      "    hex, 0 to 4294967295);\n"
	      "  - `outer_src`: an IPv4 or IPv6 prefix of the outer source "
	      "address (for AWS\n"
	      "    mirroring, the primary address of the mirrored "
	      "interface); a bare address\n"
	      "    is a /32 or /128; the bits after the prefix must be "
	      "zero;\n"
	      "  - `gwlb_endpoint`: the 64-bit Gateway Load Balancer "
	      "endpoint id from the Geneve\n"
	      "    option (`0x` hex or decimal).\n"
	      "- Entries are tried in the order written, over all zones; "
	      "the first that matches\n"
	      "  decides. At most 63 zones besides `default`, and 256 "
	      "entries.\n"
	      "- `zones` in a file replaces the zones of any earlier source; "
	      "`--set` cannot\n"
	      "  set them.\n",
	      out);

	fputs("\n## Every key with its default\n"
	      "\n"
	      "This file is the configuration tapir runs with when given "
	      "none.\n"
	      "\n"
	      "```yaml\n",
	      out);
	cur[0] = '\0';
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		section_of(k, sec, sizeof(sec));
		if (sec[0] && strcmp(sec, cur) != 0)
			fprintf(out, "%s:\n", sec);
		put(cur, sizeof(cur), "%s", sec);
		if (sec[0])
			fprintf(out, "  %s: %s\n", k->name + strlen(sec) + 1,
				yaml_default(k, buf, sizeof(buf)));
		else
			fprintf(out, "%s: %s\n", k->name,
				yaml_default(k, buf, sizeof(buf)));
	}
	fputs("```\n", out);
}
