/* A store query from the user's words: see query-args.h. */
#include "store/query-args.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int tp_query_parse_time(const char *s, uint64_t now_ns, uint64_t *ns)
{
	char *end;
	if (!*s)
		return -1;
	/* A duration before now. */
	errno = 0;
	double v = strtod(s, &end);
	if (!errno && end != s && v >= 0 && strlen(end) == 1 &&
	    strchr("smhd", *end)) {
		double mul = *end == 's' ? 1 : *end == 'm' ? 60
					 : *end == 'h' ? 3600 : 86400;
		double d = v * mul * 1e9;
		if (d > (double)now_ns)
			return -1;
		*ns = now_ns - (uint64_t)d;
		return 0;
	}
	if (!errno && end != s && *end == 0 && v >= 0 && v < 1e10) {
		/* Exact to the nanosecond: a double is not. */
		uint64_t sec = strtoull(s, &end, 10), frac = 0, scale = 1000000000;
		if (*end == '.')
			for (end++; *end >= '0' && *end <= '9'; end++)
				if (scale /= 10)
					frac += (uint64_t)(*end - '0') * scale;
		if (*end)
			return -1;
		*ns = sec * 1000000000ull + frac;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!p)
		return -1;
	double frac = 0;
	if (*p == '.') {
		frac = strtod(p, &end);
		p = end;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return -1;
	time_t t = timegm(&tm);
	if (t < 0)
		return -1;
	*ns = (uint64_t)t * 1000000000ull + (uint64_t)(frac * 1e9 + 0.5);
	return 0;
}

int tp_query_compile(const char *bpf, struct bpf_program *prog, char *err,
		     size_t errlen)
{
	pcap_t *pd = pcap_open_dead(DLT_RAW, 262144);
	if (!pd) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int rc = 0;
	if (pcap_compile(pd, prog, bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "the BPF part of the expression is not "
			 "valid: %s\n  BPF: %s", pcap_geterr(pd), bpf);
		rc = -EINVAL;
	}
	pcap_close(pd);
	return rc;
}

int tp_query_parse_limit(const char *s, uint64_t *packets, uint64_t *bytes)
{
	size_t n = strspn(s, "0123456789");
	*packets = *bytes = 0;
	if (n == 0)
		return -1;
	if (s[n] == 0) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 10);
		if (errno || *end || v == 0)
			return -1;
		*packets = v;
		return 0;
	}
	/* A unit is needed: "10" alone is packets. */
	if (tp_config_parse_size(s, bytes) < 0 || *bytes == 0)
		return -1;
	return 0;
}

static void add_port(uint16_t *ports, uint8_t *n, uint16_t port)
{
	for (unsigned i = 0; i < *n; i++)
		if (ports[i] == port)
			return;
	if (*n < 8)
		ports[(*n)++] = port;
}

/* The store keeps a UDP listener's datagrams with an outer IP and UDP
 * header made from the addresses and ports the socket gave, so the
 * listener's port says what its payload is, as it did when tapir run
 * received it. */
static void decode_cfg(struct tp_decode_cfg *d, const struct tp_config *cfg)
{
	*d = cfg->decode;
	for (uint32_t s = 0; s < cfg->nsources; s++) {
		const struct tp_source_cfg *sc = &cfg->sources[s];
		if (sc->kind != TP_SRC_UDP)
			continue;
		if (sc->encap == TP_ENCAP_VXLAN)
			add_port(d->vxlan_ports, &d->n_vxlan_ports, sc->port);
		else if (sc->encap == TP_ENCAP_GENEVE)
			add_port(d->geneve_ports, &d->n_geneve_ports, sc->port);
	}
}

int tp_query_req_init(struct tp_query_req *r, const struct tp_config *cfg,
		      const struct tp_query_args *a, uint64_t now_ns,
		      char *err, size_t errlen)
{
	struct tp_query *q = &r->q;
	const char *o = a->opt ? a->opt : "--";
	int rc;

	memset(r, 0, sizeof(*r));
	q->dir = cfg->store_dir;
	decode_cfg(&r->decode, cfg);
	q->decode = &r->decode;
	q->text = a->expr;
	q->since_ns = 0;
	q->until_ns = UINT64_MAX;
	if (a->limit && tp_query_parse_limit(a->limit, &q->limit,
					     &q->limit_bytes) < 0) {
		snprintf(err, errlen, "%slimit '%s': give a number of packets, "
			 "1 or more, or of bytes with a unit (10MB, 512k)", o,
			 a->limit);
		return -EINVAL;
	}
	if (a->since && tp_query_parse_time(a->since, now_ns, &q->since_ns) < 0) {
		snprintf(err, errlen, "%ssince '%s' is not a time: give "
			 "seconds since the epoch, 2024-05-01T12:00:00Z or a "
			 "duration before now like 2h", o, a->since);
		return -EINVAL;
	}
	if (a->until && tp_query_parse_time(a->until, now_ns, &q->until_ns) < 0) {
		snprintf(err, errlen, "%suntil '%s' is not a time: give "
			 "seconds since the epoch, 2024-05-01T12:00:00Z or a "
			 "duration before now like 30m", o, a->until);
		return -EINVAL;
	}
	if (q->since_ns > q->until_ns) {
		snprintf(err, errlen, "%ssince %s is after %suntil %s: no "
			 "packet can match", o, a->since, o, a->until);
		return -EINVAL;
	}
	if ((rc = tp_expr_parse(a->expr, &q->expr, err, errlen)) < 0)
		return rc;
	if (q->expr.bpf[0]) {
		/* Compiled again by tp_query_run; here so that a mistake is
		 * told before any output starts. */
		struct bpf_program prog;
		if ((rc = tp_query_compile(q->expr.bpf, &prog, err, errlen)) < 0)
			return rc;
		pcap_freecode(&prog);
	}
	rc = tp_flow_terms_init(&r->flow, cfg, &q->expr,
				a->logs ? a->logs : cfg->log_dir, &q->since_ns,
				&q->until_ns, err, errlen);
	if (rc < 0)
		return rc;
	if (tp_flow_terms_any(&r->flow))
		q->flow = &r->flow;
	return 0;
}

void tp_query_req_fini(struct tp_query_req *r)
{
	tp_flow_terms_fini(&r->flow);
}
