/* The service side of `tapir run` (src/service/): the HTTP server on an
 * ephemeral loopback port, asked with a plain socket (/healthz as the
 * health source changes, /api/stats small and larger than the first
 * buffer, 404, 405, HEAD, "stopping"); the TCP health ports accepting,
 * refusing (ECONNREFUSED) and recovering on the same port; the log
 * directory's lock against a second open and a forked child; dropping root
 * to "nobody" in a forked child (skipped when not root): the directory, the
 * lock and root's logs become nobody's, another user's file and a link's
 * target do not, and root cannot be had back. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "service/service.h"

/* --- A fake pipeline --- */

static struct {
	atomic_bool healthy;
	char why[64];
	const char *json;
	atomic_int stats_calls;
} F;

static bool fake_healthy(void *arg, char *why, size_t n)
{
	(void)arg;
	if (atomic_load(&F.healthy))
		return true;
	snprintf(why, n, "%s", F.why);
	return false;
}

static size_t fake_stats(void *arg, char *buf, size_t n)
{
	(void)arg;
	atomic_fetch_add(&F.stats_calls, 1);
	return (size_t)snprintf(buf, n, "%s", F.json);
}

static const struct tp_health_source source = {
	.healthy = fake_healthy,
	.stats_json = fake_stats,
};

static int setup(void **state)
{
	(void)state;
	atomic_store(&F.healthy, true);
	snprintf(F.why, sizeof(F.why), "no source has received for 5 s");
	F.json = "{}";
	atomic_store(&F.stats_calls, 0);
	return 0;
}

/* --- A minimal HTTP client --- */

struct resp {
	int status;
	char head[1024];
	char *body;
	size_t body_len;
};

/* A blocking TCP connection to a: the fd, or -errno. */
static int connect_to(const void *a, socklen_t len)
{
	int fd = socket(((const struct sockaddr *)a)->sa_family,
			SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, a, len) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

static int connect_lo(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	return connect_to(&a, sizeof(a));
}

static int connect_lo6(uint16_t port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6,
				 .sin6_port = htons(port),
				 .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	return connect_to(&a, sizeof(a));
}

static void http(uint16_t port, const char *method, const char *path,
		 struct resp *r)
{
	char req[256], *buf;
	size_t cap = 1 << 20, len = 0;
	int fd = connect_lo(port);

	assert_true(fd >= 0);
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
			 "Content-Length: 0\r\n\r\n", method, path);
	assert_int_equal(write(fd, req, (size_t)n), n);
	buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		ssize_t got = read(fd, buf + len, cap - 1 - len);
		assert_true(got >= 0);
		if (got == 0)
			break;
		len += (size_t)got;
		assert_true(len < cap - 1);
	}
	close(fd);
	buf[len] = '\0';
	memset(r, 0, sizeof(*r));
	assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
	char *end = strstr(buf, "\r\n\r\n");
	assert_non_null(end);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(end - buf), buf);
	r->body_len = len - (size_t)(end + 4 - buf);
	r->body = malloc(r->body_len + 1);
	assert_non_null(r->body);
	memcpy(r->body, end + 4, r->body_len);
	r->body[r->body_len] = '\0';
	free(buf);
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

static void assert_header(const struct resp *r, const char *line)
{
	if (!strcasestr(r->head, line))
		fail_msg("no header '%s' in:\n%s", line, r->head);
}

/* method path answers status, with body when not NULL, and with the header
 * line when not NULL. */
static void expect(uint16_t port, const char *method, const char *path,
		   int status, const char *body, const char *header)
{
	struct resp r;

	http(port, method, path, &r);
	assert_int_equal(r.status, status);
	if (body) {
		assert_int_equal(r.body_len, strlen(body));
		assert_string_equal(r.body, body);
	}
	if (header)
		assert_header(&r, header);
	resp_free(&r);
}

/* A server on listen (port 0: one the kernel picks); its port in *port. */
static struct tp_httpd *httpd_on(const char *listen, uint16_t *port)
{
	char err[256] = "";
	struct tp_httpd *h = tp_httpd_start(listen, &source, err, sizeof(err));

	assert_non_null(h);
	*port = tp_httpd_port(h);
	assert_true(*port != 0);
	return h;
}

/* --- HTTP server --- */

static void test_healthz(void **state)
{
	uint16_t port;

	(void)state;
	struct tp_httpd *h = httpd_on("127.0.0.1:0", &port);

	expect(port, "GET", "/healthz", 200, "ok\n", "Content-Type: text/plain");
	atomic_store(&F.healthy, false);
	expect(port, "GET", "/healthz", 503, "no source has received for 5 s\n",
	       "Content-Type: text/plain");
	atomic_store(&F.healthy, true);
	expect(port, "GET", "/healthz", 200, "ok\n", NULL);
	/* HEAD: the GET route, no body. */
	expect(port, "HEAD", "/healthz", 200, "", NULL);
	/* Shutting down: 503 whatever the pipeline says. */
	tp_httpd_set_stopping(h);
	expect(port, "GET", "/healthz", 503, "stopping\n", NULL);

	tp_httpd_stop(h);
	/* The port is closed with the server. */
	assert_int_equal(connect_lo(port), -ECONNREFUSED);
}

static void test_stats(void **state)
{
	struct resp r;
	uint16_t port;
	const char *small =
		"{\"packets\":1200,\"bytes\":345600,\"duplicates\":17,"
		"\"sessions\":[{\"name\":\"10.0.1.10/1000\",\"packets\":1200,"
		"\"queue_drops\":0}]}";

	(void)state;
	struct tp_httpd *h = httpd_on(":0", &port);

	F.json = small;
	http(port, "GET", "/api/stats", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, small);
	assert_header(&r, "Content-Type: application/json");
	assert_int_equal(atomic_load(&F.stats_calls), 1);
	resp_free(&r);

	/* 100 sessions: about 6 kB, more than the first 4 kB buffer, so
	 * stats_json is asked twice and the whole answer arrives. */
	size_t cap = 16384, len = 0;
	char *big = malloc(cap);
	assert_non_null(big);
	len += (size_t)snprintf(big + len, cap - len,
				"{\"packets\":99,\"sessions\":[");
	for (int i = 0; i < 100; i++)
		len += (size_t)snprintf(big + len, cap - len,
					"%s{\"name\":\"10.0.%d.1/%d\","
					"\"packets\":%d,\"queue_drops\":%d}",
					i ? "," : "", i, 1000 + i, i * 10, i);
	len += (size_t)snprintf(big + len, cap - len, "]}");
	assert_true(len > 4096 && len < cap);
	F.json = big;
	atomic_store(&F.stats_calls, 0);
	http(port, "GET", "/api/stats", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, len);
	assert_string_equal(r.body, big);
	assert_int_equal(atomic_load(&F.stats_calls), 2);
	resp_free(&r);

	tp_httpd_stop(h);
	free(big);
}

static void test_not_found_and_method(void **state)
{
	uint16_t port;

	(void)state;
	struct tp_httpd *h = httpd_on("127.0.0.1:0", &port);

	expect(port, "GET", "/nope", 404, NULL, NULL);
	expect(port, "GET", "/healthz/", 404, NULL, NULL);
	expect(port, "GET", "/", 404, NULL, NULL);
	expect(port, "POST", "/healthz", 405, NULL, "Allow: GET, HEAD");
	expect(port, "DELETE", "/api/stats", 405, NULL, NULL);
	assert_int_equal(atomic_load(&F.stats_calls), 0);

	tp_httpd_stop(h);
}

static void test_httpd_errors(void **state)
{
	char err[256] = "";

	(void)state;
	assert_null(tp_httpd_start("8080", &source, err, sizeof(err)));
	assert_non_null(strstr(err, "'8080' is not an address to listen on"));
	assert_null(tp_httpd_start("::1:8080", &source, err, sizeof(err)));
	assert_non_null(strstr(err, "IPv6 address goes in brackets"));
	assert_null(tp_httpd_start("127.0.0.1:99999", &source, err,
				   sizeof(err)));

	/* The port of another server: a message that names it. */
	uint16_t port;
	struct tp_httpd *h = httpd_on("127.0.0.1:0", &port);
	char listen[32], want[96];
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	snprintf(want, sizeof(want),
		 "cannot listen on TCP %s: Address already in use", listen);
	assert_null(tp_httpd_start(listen, &source, err, sizeof(err)));
	assert_non_null(strstr(err, want));
	tp_httpd_stop(h);
}

/* --- TCP health ports --- */

/* A port free right now on all addresses. */
static uint16_t free_port(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	close(fd);
	return ntohs(a.sin6_port);
}

/* 0 when a connection is accepted and then closed by the other end (EOF),
 * else -errno of the connect. */
static int probe(uint16_t port)
{
	char b;
	int fd = connect_lo(port);
	if (fd < 0)
		return fd;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int rc = poll(&p, 1, 2000) == 1 && read(fd, &b, 1) == 0 ? 0 : -EPROTO;
	close(fd);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Probe until the answer is want; the seconds it took, or -1 after 3 s. */
static double wait_for(uint16_t port, int want)
{
	double t0 = now_s();
	while (now_s() - t0 < 3) {
		if (probe(port) == want)
			return now_s() - t0;
		usleep(20000);
	}
	return -1;
}

static void test_health_tcp(void **state)
{
	char err[256] = "";
	uint16_t ports[2] = {free_port(), 0};

	(void)state;
	ports[1] = free_port();
	if (ports[1] == ports[0])
		ports[1] = free_port();
	struct tp_health_tcp *t = tp_health_tcp_start(ports, 2, &source, err,
						      sizeof(err));
	assert_non_null(t);

	/* Healthy at start: accepted and closed at once, on both ports and
	 * over IPv6 too (dual-stack). */
	assert_int_equal(probe(ports[0]), 0);
	assert_int_equal(probe(ports[1]), 0);
	int fd6 = connect_lo6(ports[0]);
	if (fd6 != -EAFNOSUPPORT && fd6 != -EADDRNOTAVAIL) {
		assert_true(fd6 >= 0);
		close(fd6);
	}

	/* Unhealthy: refused within a check interval (250 ms), not left to
	 * time out. */
	atomic_store(&F.healthy, false);
	double took = wait_for(ports[0], -ECONNREFUSED);
	assert_true(took >= 0 && took < 1.0);
	assert_int_equal(probe(ports[1]), -ECONNREFUSED);

	/* Healthy again: the same ports listen again, no re-bind. */
	atomic_store(&F.healthy, true);
	took = wait_for(ports[0], 0);
	assert_true(took >= 0 && took < 1.0);
	assert_int_equal(wait_for(ports[1], 0) >= 0, 1);

	/* Down at shutdown: refused as soon as the call returns, although
	 * the pipeline still says healthy, and it stays so. */
	tp_health_tcp_down(t);
	assert_int_equal(probe(ports[0]), -ECONNREFUSED);
	assert_int_equal(probe(ports[1]), -ECONNREFUSED);
	usleep(600000);
	assert_int_equal(probe(ports[0]), -ECONNREFUSED);

	tp_health_tcp_stop(t);
	assert_int_equal(probe(ports[0]), -ECONNREFUSED);
}

static void test_health_tcp_start_unhealthy(void **state)
{
	char err[256] = "";
	uint16_t port = free_port(), zero = 0;

	(void)state;
	atomic_store(&F.healthy, false);
	struct tp_health_tcp *t = tp_health_tcp_start(&port, 1, &source, err,
						      sizeof(err));
	assert_non_null(t);
	/* The first check is made before start returns. */
	assert_int_equal(probe(port), -ECONNREFUSED);
	atomic_store(&F.healthy, true);
	assert_true(wait_for(port, 0) >= 0);
	tp_health_tcp_stop(t);

	assert_null(tp_health_tcp_start(&zero, 1, &source, err, sizeof(err)));
	assert_non_null(strstr(err, "port 0"));
}

static void test_health_tcp_port_taken(void **state)
{
	char err[256] = "";

	uint16_t port;

	(void)state;
	struct tp_httpd *h = httpd_on(":0", &port);
	assert_null(tp_health_tcp_start(&port, 1, &source, err, sizeof(err)));
	char want[80];
	snprintf(want, sizeof(want), "cannot listen on TCP [::]:%u: "
		 "Address already in use", port);
	assert_non_null(strstr(err, want));
	tp_httpd_stop(h);
}

/* --- The log directory's lock --- */

static void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_dir_lock(void **state)
{
	char base[64], dir[128], path[160], err[256] = "", want[256], buf[32];

	(void)state;
	snprintf(base, sizeof(base), "/tmp/tp-test-service.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/logs/tapir", base);

	/* Missing directories are made. */
	int fd = tp_dir_lock(dir, err, sizeof(err));
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/.tapir.lock", dir);
	int pf = open(path, O_RDONLY);
	assert_true(pf >= 0);
	ssize_t n = read(pf, buf, sizeof(buf) - 1);
	close(pf);
	assert_true(n > 0);
	buf[n] = '\0';
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	assert_string_equal(buf, pid);

	/* flock belongs to the open file description: a second open, even
	 * in this process, conflicts. */
	snprintf(want, sizeof(want), "another tapir (pid %ld) is running on %s",
		 (long)getpid(), dir);
	assert_int_equal(tp_dir_lock(dir, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, want);

	/* Another process: refused, naming us. */
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char e[256] = "";
		int rc = tp_dir_lock(dir, e, sizeof(e));
		_exit(rc == -EBUSY && !strcmp(e, want) ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	/* Released with the fd: the next tapir takes it and names itself. */
	close(fd);
	fd = tp_dir_lock(dir, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);

	/* A file where the directory should be. */
	snprintf(path, sizeof(path), "%s/file", base);
	pf = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(pf >= 0);
	close(pf);
	snprintf(path, sizeof(path), "%s/file/logs", base);
	assert_int_equal(tp_dir_lock(path, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "cannot create the log directory"));

	rm_rf(base);
}

/* --- Dropping root --- */

static void test_drop_privileges(void **state)
{
	char base[64], path[160], sub[128], err[256] = "";
	struct stat st;

	(void)state;
	/* Not root: nothing to do, whatever the user. */
	if (geteuid() != 0) {
		assert_int_equal(tp_drop_privileges("nobody", "/nonexistent",
						    err, sizeof(err)), 0);
		print_message("SKIP: dropping privileges needs root\n");
		skip();
	}
	struct passwd *pw = getpwnam("nobody");
	if (!pw) {
		print_message("SKIP: no user 'nobody'\n");
		skip();
	}
	uid_t nobody = pw->pw_uid;
	gid_t nogroup = pw->pw_gid;

	assert_int_equal(tp_drop_privileges("tapir-no-such-user", "/tmp", err,
					    sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "run.user 'tapir-no-such-user': no such "
				    "user"));
	/* "" stays root. */
	assert_int_equal(tp_drop_privileges("", "/tmp", err, sizeof(err)), 0);
	assert_int_equal(geteuid(), 0);

	snprintf(base, sizeof(base), "/tmp/tp-test-service.XXXXXX");
	assert_non_null(mkdtemp(base));
	int lock = tp_dir_lock(base, err, sizeof(err));
	assert_true(lock >= 0);
	close(lock);
	snprintf(sub, sizeof(sub), "%s/2024-01-01", base);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/conn.log", sub);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	/* Another user's file is not taken. */
	char other[160];
	snprintf(other, sizeof(other), "%s/other", base);
	fd = open(other, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chown(other, 4242, 4242), 0);
	/* A symbolic link is not followed: /etc/passwd stays root's. */
	char link[160];
	snprintf(link, sizeof(link), "%s/passwd", base);
	assert_int_equal(symlink("/etc/passwd", link), 0);

	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char e[256] = "";
		int code = 0;
		if (tp_drop_privileges("nobody", base, e, sizeof(e)) != 0)
			code = 1;
		else if (getuid() != nobody || geteuid() != nobody ||
			 getgid() != nogroup)
			code = 2;
		else if (setuid(0) == 0)
			code = 3;
		else if (stat(path, &st) < 0 || st.st_uid != nobody)
			code = 4;
		else if (open(path, O_WRONLY | O_APPEND) < 0)
			code = 5;           /* the log is writable for us */
		else if (open("/etc/shadow", O_RDONLY) >= 0)
			code = 6;           /* root's files are not */
		if (code)
			fprintf(stderr, "child: code %d: %s\n", code, e);
		_exit(code);
	}
	int ws;
	assert_int_equal(waitpid(child, &ws, 0), child);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);

	/* What the parent sees: the directory, the lock and the logs are
	 * nobody's; what the link points to is not. */
	const char *owned[] = {base, sub, path, NULL};
	char lockpath[128];
	snprintf(lockpath, sizeof(lockpath), "%s/.tapir.lock", base);
	for (int i = 0; owned[i]; i++) {
		assert_int_equal(stat(owned[i], &st), 0);
		assert_int_equal(st.st_uid, nobody);
	}
	assert_int_equal(stat(lockpath, &st), 0);
	assert_int_equal(st.st_uid, nobody);
	assert_int_equal(stat("/etc/passwd", &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(stat(other, &st), 0);
	assert_int_equal(st.st_uid, 4242);

	rm_rf(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_healthz, setup),
		cmocka_unit_test_setup(test_stats, setup),
		cmocka_unit_test_setup(test_not_found_and_method, setup),
		cmocka_unit_test_setup(test_httpd_errors, setup),
		cmocka_unit_test_setup(test_health_tcp, setup),
		cmocka_unit_test_setup(test_health_tcp_start_unhealthy, setup),
		cmocka_unit_test_setup(test_health_tcp_port_taken, setup),
		cmocka_unit_test_setup(test_dir_lock, setup),
		cmocka_unit_test_setup(test_drop_privileges, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
