/* tapir stats: ask a running `tapir run` for its counters (GET /api/stats
 * on http.listen) and print them, raw or as a short summary.
 *
 * The summary knows nothing of the counters' names: it prints every
 * top-level number (nested objects flattened to "a.b"), and every array of
 * objects (the sessions) as a table with one column per numeric field, so
 * that a counter added to the server shows up here unchanged.  The JSON is
 * read with service/json-scan.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "commands.h"
#include "service/json-scan.h"
#include "service/sock.h"
#include "tp-build.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#define STATS_TIMEOUT_MS 5000
#define STATS_MAX_REPLY (64u << 20)

static void stats_usage(FILE *out)
{
	fprintf(out,
		"usage: tapir stats [options]\n\n"
		"Print the counters of the tapir running on this host (or at\n"
		"--url): packets, bytes, drops by cause, duplicates, flows and\n"
		"per mirror session.  It asks GET /api/stats on http.listen.\n\n"
		"options:\n"
		"  -c, --config FILE    YAML configuration file (for http.listen)\n"
		"      --set KEY=VALUE  override one configuration key\n"
		"      --url URL        ask http://HOST:PORT instead\n"
		"      --json           print the JSON as the server sent it\n"
		"  -h, --help           this text\n\n"
		"Exit status: 0, 1 when no tapir answers, 2 on a usage error.\n");
}

/* --- Where to ask --- */

struct target {
	char host[256];   /* for the Host header and messages */
	char port[8];
	char shown[300];  /* "127.0.0.1:8080" */
};

/* "http://HOST[:PORT][/]" */
static int parse_url(const char *url, struct target *t)
{
	const char *p = url, *host, *host_end, *port = "80";
	size_t port_len = 2;

	if (!strncmp(p, "http://", 7))
		p += 7;
	else if (strstr(p, "://"))
		return -EINVAL;
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return -EINVAL;
		p = host_end + 1;
	} else {
		host = p;
		host_end = p + strcspn(p, ":/");
		p = host_end;
	}
	if (*p == ':') {
		port = ++p;
		port_len = strspn(p, "0123456789");
		p += port_len;
	}
	if ((*p && strcmp(p, "/")) || host_end == host || port_len == 0 ||
	    port_len >= sizeof(t->port) ||
	    (size_t)(host_end - host) >= sizeof(t->host))
		return -EINVAL;
	snprintf(t->host, sizeof(t->host), "%.*s", (int)(host_end - host),
		 host);
	snprintf(t->port, sizeof(t->port), "%.*s", (int)port_len, port);
	snprintf(t->shown, sizeof(t->shown),
		 strchr(t->host, ':') ? "[%s]:%s" : "%s:%s", t->host, t->port);
	return 0;
}

/* The whole reply of one GET: 0 with *buf (tp_malloc'd, *cap bytes,
 * NUL-terminated, *len used), or -errno. */
static int http_get(int fd, const struct target *t, const char *path,
		    char **buf, size_t *len, size_t *cap)
{
	char req[600];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.0\r\nHost: %s\r\n"
			 "User-Agent: tapir-stats/%s\r\n"
			 "Accept: application/json\r\n\r\n",
			 path, t->shown, TP_VERSION);
	struct pollfd pfd = {.fd = fd};

	for (int off = 0; off < n;) {
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, STATS_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		ssize_t w = send(fd, req + off, (size_t)(n - off),
				 MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (w > 0)
			off += (int)w;
	}
	*cap = 16384;
	*len = 0;
	*buf = tp_malloc(*cap);
	if (!*buf)
		return -ENOMEM;
	for (;;) {
		if (*len + 1 == *cap) {
			if (*cap >= STATS_MAX_REPLY)
				return -EFBIG;
			char *nb = tp_realloc(*buf, *cap, *cap * 2);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap *= 2;
		}
		pfd.events = POLLIN;
		if (poll(&pfd, 1, STATS_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		ssize_t r = recv(fd, *buf + *len, *cap - *len - 1, 0);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		*len += (size_t)r;
	}
	(*buf)[*len] = '\0';
	return 0;
}

/* --- The summary --- */

static void human(char *buf, size_t n, const char *key, const char *num)
{
	double v = strtod(num, NULL);
	size_t kl = strlen(key);

	buf[0] = '\0';
	if (kl >= 5 && !strcmp(key + kl - 5, "bytes") && v >= 1000) {
		const char *u[] = {"kB", "MB", "GB", "TB", "PB"};
		int i = -1;
		while (v >= 1000 && i < 4) {
			v /= 1000;
			i++;
		}
		snprintf(buf, n, "  (%.1f %s)", v, u[i]);
	} else if (!strcmp(key, "uptime") && v >= 60 && v < 1e15) {
		/* The bound: casting a larger double is undefined. */
		unsigned long s = (unsigned long)v;
		snprintf(buf, n, "  (%lud %02luh %02lum %02lus)", s / 86400,
			 s / 3600 % 24, s / 60 % 60, s % 60);
	}
}

static void print_row(FILE *out, const char *key, const char *val,
		      bool is_num)
{
	char extra[64] = "";

	if (is_num)
		human(extra, sizeof(extra), key, val);
	fprintf(out, "  %-24s %s%s\n", key, val, extra);
}

/* Numbers and strings of an object, nested objects as "prefix.key". */
static void print_object(FILE *out, struct tp_json_cur *c, const char *prefix)
{
	char key[128], path[256], val[256];

	tp_json_eat(c, '{');
	while (!c->bad && !tp_json_peek(c, '}')) {
		tp_json_str(c, key, sizeof(key));
		tp_json_eat(c, ':');
		snprintf(path, sizeof(path), "%s%s%s", prefix,
			 prefix[0] ? "." : "", key);
		if (tp_json_is_num(c)) {
			tp_json_num(c, val, sizeof(val));
			print_row(out, path, val, true);
		} else if (tp_json_peek(c, '"')) {
			tp_json_str(c, val, sizeof(val));
			print_row(out, path, val, false);
		} else if (tp_json_peek(c, '{') && c->depth < 8) {
			c->depth++;
			print_object(out, c, path);
			c->depth--;
		} else {
			tp_json_skip(c); /* arrays: see print_tables */
		}
		if (!tp_json_peek(c, '}'))
			tp_json_eat(c, ',');
	}
	tp_json_eat(c, '}');
}

#define MAX_COLS 12

/* An array of objects as a table: the first string field names the row,
 * then one column per numeric field (in order of first appearance). */
static void print_table(FILE *out, const char *title, struct tp_json_cur *c)
{
	char cols[MAX_COLS][48], key[48], val[32], name[96];
	int ncols = 0, rows = 0;
	const char *start;

	/* Pass 1: the columns. */
	tp_json_ws(c);
	start = c->p;
	tp_json_eat(c, '[');
	while (!c->bad && !tp_json_peek(c, ']')) {
		tp_json_eat(c, '{');
		while (!c->bad && !tp_json_peek(c, '}')) {
			tp_json_str(c, key, sizeof(key));
			tp_json_eat(c, ':');
			if (tp_json_is_num(c)) {
				int i;
				for (i = 0; i < ncols; i++)
					if (!strcmp(cols[i], key))
						break;
				if (i == ncols && ncols < MAX_COLS)
					snprintf(cols[ncols++], sizeof(cols[0]),
						 "%s", key);
			}
			tp_json_skip(c);
			if (!tp_json_peek(c, '}'))
				tp_json_eat(c, ',');
		}
		tp_json_eat(c, '}');
		rows++;
		if (!tp_json_peek(c, ']'))
			tp_json_eat(c, ',');
	}
	tp_json_eat(c, ']');
	if (c->bad)
		return;

	fprintf(out, "%s (%d)\n", title, rows);
	if (!rows)
		return;
	fprintf(out, "  %-24s", "");
	for (int i = 0; i < ncols; i++)
		fprintf(out, " %14.14s", cols[i]);
	fprintf(out, "\n");

	/* Pass 2: the rows. */
	struct tp_json_cur r;
	tp_json_init(&r, start, (size_t)(c->end - start));
	tp_json_eat(&r, '[');
	while (!r.bad && !tp_json_peek(&r, ']')) {
		char cell[MAX_COLS][32];
		for (int i = 0; i < ncols; i++)
			snprintf(cell[i], sizeof(cell[i]), "-");
		name[0] = '\0';
		tp_json_eat(&r, '{');
		while (!r.bad && !tp_json_peek(&r, '}')) {
			tp_json_str(&r, key, sizeof(key));
			tp_json_eat(&r, ':');
			if (tp_json_is_num(&r)) {
				tp_json_num(&r, val, sizeof(val));
				for (int i = 0; i < ncols; i++)
					if (!strcmp(cols[i], key))
						snprintf(cell[i], sizeof(cell[i]),
							 "%s", val);
			} else if (tp_json_peek(&r, '"') && !name[0]) {
				tp_json_str(&r, name, sizeof(name));
			} else {
				tp_json_skip(&r);
			}
			if (!tp_json_peek(&r, '}'))
				tp_json_eat(&r, ',');
		}
		tp_json_eat(&r, '}');
		fprintf(out, "  %-24s", name[0] ? name : "?");
		for (int i = 0; i < ncols; i++)
			fprintf(out, " %14s", cell[i]);
		fprintf(out, "\n");
		if (!tp_json_peek(&r, ']'))
			tp_json_eat(&r, ',');
	}
}

/* The arrays of objects of the top-level object, each as a table. */
static void print_tables(FILE *out, struct tp_json_cur *c)
{
	char key[128];

	tp_json_eat(c, '{');
	while (!c->bad && !tp_json_peek(c, '}')) {
		tp_json_str(c, key, sizeof(key));
		tp_json_eat(c, ':');
		struct tp_json_cur look = *c;
		bool table = false;
		if (tp_json_eat(&look, '[')) {
			tp_json_ws(&look);
			table = look.p < look.end &&
				(*look.p == '{' || *look.p == ']');
		}
		if (table)
			print_table(out, key, c);
		else
			tp_json_skip(c);
		if (!tp_json_peek(c, '}'))
			tp_json_eat(c, ',');
	}
	tp_json_eat(c, '}');
}

int tp_stats_summary(FILE *out, const char *body, size_t len, size_t *bad_at)
{
	struct tp_json_cur c;

	tp_json_init(&c, body, len);
	print_object(out, &c, "");
	if (!c.bad) {
		tp_json_init(&c, body, len);
		print_tables(out, &c);
	}
	if (c.bad) {
		*bad_at = (size_t)(c.p - body);
		return -EINVAL;
	}
	return 0;
}

/* --- The command --- */

static int resolve(struct target *t, const char *url,
		   const struct tp_config *cfg, struct addrinfo **res)
{
	char err[512];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};

	if (url) {
		if (parse_url(url, t) < 0) {
			fprintf(stderr,
				"tapir stats: --url '%s': expected "
				"http://HOST:PORT\n", url);
			return TP_EXIT_USAGE;
		}
	} else {
		struct tp_sock_addr a;
		if (!cfg->http_listen[0]) {
			fprintf(stderr,
				"tapir stats: http.listen is off in the "
				"configuration; give the one tapir runs with "
				"(-c FILE), or --url http://HOST:PORT\n");
			return TP_EXIT_USAGE;
		}
		if (tp_sock_parse(cfg->http_listen, &a, err, sizeof(err)) < 0) {
			fprintf(stderr, "tapir stats: http.listen: %s\n", err);
			return TP_EXIT_USAGE;
		}
		/* All addresses: ask over loopback.  A wildcard listener is
		 * dual-stack, so IPv4 loopback reaches either kind. */
		if (a.any) {
			snprintf(t->host, sizeof(t->host), "127.0.0.1");
		} else {
			tp_sock_format(&a, t->shown, sizeof(t->shown));
			const char *h = t->shown, *e = strrchr(t->shown, ':');
			if (*h == '[') {
				h++;
				e--;
			}
			snprintf(t->host, sizeof(t->host), "%.*s",
				 (int)(e - h), h);
		}
		snprintf(t->port, sizeof(t->port), "%u", tp_sock_port(&a));
		snprintf(t->shown, sizeof(t->shown),
			 strchr(t->host, ':') ? "[%s]:%s" : "%s:%s", t->host,
			 t->port);
		hints.ai_flags |= AI_NUMERICHOST;
	}
	int rc = getaddrinfo(t->host, t->port, &hints, res);
	if (rc) {
		fprintf(stderr, "tapir stats: %s: %s\n", t->shown,
			gai_strerror(rc));
		return TP_EXIT_FAIL;
	}
	return TP_EXIT_OK;
}

int tp_cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"set", required_argument, NULL, 's'},
		{"url", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct tp_config cfg;
	struct target t = {0};
	struct addrinfo *res = NULL;
	const char *url = NULL;
	bool json = false;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int c, fd = -ECONNREFUSED, rc;

	argv[0] = (char *)"tapir stats";
	rc = tp_cli_config_file(&cfg, argc, argv, "c:h", opts);
	if (rc != TP_EXIT_OK)
		return rc;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			break;
		case 's':
			if (tp_cli_set(&cfg, NULL, optarg) != TP_EXIT_OK)
				return TP_EXIT_USAGE;
			break;
		case 'u':
			url = optarg;
			break;
		case 'J':
			json = true;
			break;
		case 'h':
			stats_usage(stdout);
			return TP_EXIT_OK;
		default:
			fprintf(stderr, "tapir stats: see 'tapir stats --help'\n");
			return TP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tapir stats: unexpected argument '%s'\n\n",
			argv[optind]);
		stats_usage(stderr);
		return TP_EXIT_USAGE;
	}

	rc = resolve(&t, url, &cfg, &res);
	if (rc != TP_EXIT_OK)
		return rc;
	/* The first address's error is the one reported. */
	int first_err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = tp_sock_connect_tcp(ai->ai_addr, ai->ai_addrlen,
					 STATS_TIMEOUT_MS);
		if (fd >= 0)
			break;
		if (!first_err)
			first_err = -fd;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (first_err == ECONNREFUSED)
			fprintf(stderr,
				"tapir stats: no tapir running at %s "
				"(connection refused)\n", t.shown);
		else
			fprintf(stderr, "tapir stats: cannot connect to %s: %s\n",
				t.shown, strerror(first_err));
		return TP_EXIT_FAIL;
	}

	rc = http_get(fd, &t, "/api/stats", &buf, &len, &cap);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "tapir stats: %s: %s\n", t.shown,
			rc == -ETIMEDOUT ? "no answer within 5 s"
					 : strerror(-rc));
		rc = TP_EXIT_FAIL;
		goto out;
	}

	int status = 0;
	char *body = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1 || !body) {
		fprintf(stderr, "tapir stats: %s did not answer in HTTP\n",
			t.shown);
		rc = TP_EXIT_FAIL;
		goto out;
	}
	body += 4;
	size_t blen = len - (size_t)(body - buf);
	if (status != 200) {
		fprintf(stderr, "tapir stats: %s answered %d: %.*s\n", t.shown,
			status, (int)strcspn(body, "\r\n"), body);
		rc = TP_EXIT_FAIL;
		goto out;
	}
	if (json) {
		fwrite(body, 1, blen, stdout);
		if (!blen || body[blen - 1] != '\n')
			putchar('\n');
		rc = TP_EXIT_OK;
	} else {
		size_t bad_at;
		printf("tapir at %s\n", t.shown);
		rc = TP_EXIT_OK;
		if (tp_stats_summary(stdout, body, blen, &bad_at) < 0) {
			fprintf(stderr,
				"tapir stats: %s answered something that is not "
				"a JSON object (near byte %zu); --json prints it "
				"as it is\n", t.shown, bad_at);
			rc = TP_EXIT_FAIL;
		}
	}
out:
	tp_free(buf, cap);
	return rc;
}
