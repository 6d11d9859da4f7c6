/* Unit tests of src/util/config.c: defaults, value syntax, YAML loading,
 * --set, zones, the messages a user sees, and docs/configuration.md.
 *
 * `test-config --write-doc FILE` writes the documentation instead of
 * testing. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "decode/decode.h"
#include "util/config.h"
#include "util/netlist.h"

#define NS_MS 1000000ull
#define NS_S 1000000000ull

static char err[1024];

static int load(struct tp_config *cfg, const char *yaml)
{
	err[0] = '\0';
	return tp_config_load_string(cfg, "t.yaml", yaml, strlen(yaml), err,
				     sizeof(err));
}

static int set(struct tp_config *cfg, const char *kv)
{
	err[0] = '\0';
	return tp_config_set(cfg, kv, err, sizeof(err));
}

/* A load that must fail with exactly msg; cfg must be left unchanged. */
static void load_fails(const char *yaml, const char *msg)
{
	struct tp_config *cfg = malloc(sizeof(*cfg));
	struct tp_config *before = malloc(sizeof(*before));

	assert_non_null(cfg);
	assert_non_null(before);
	tp_config_default(cfg);
	memcpy(before, cfg, sizeof(*cfg));
	assert_int_equal(load(cfg, yaml), -EINVAL);
	assert_string_equal(err, msg);
	assert_memory_equal(cfg, before, sizeof(*cfg));
	free(cfg);
	free(before);
}

static void set_fails(const char *kv, const char *msg)
{
	struct tp_config *cfg = malloc(sizeof(*cfg));
	struct tp_config *before = malloc(sizeof(*before));

	assert_non_null(cfg);
	assert_non_null(before);
	tp_config_default(cfg);
	memcpy(before, cfg, sizeof(*cfg));
	assert_int_equal(set(cfg, kv), -EINVAL);
	assert_string_equal(err, msg);
	assert_memory_equal(cfg, before, sizeof(*cfg));
	free(cfg);
	free(before);
}

static struct tp_config *new_default(void)
{
	struct tp_config *cfg = malloc(sizeof(*cfg));
	assert_non_null(cfg);
	tp_config_default(cfg);
	return cfg;
}

/* ---- defaults ---------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct tp_config *c = new_default();

	(void)state;
	assert_int_equal(c->decode.n_vxlan_ports, 1);
	assert_int_equal(c->decode.vxlan_ports[0], 4789);
	assert_int_equal(c->decode.n_geneve_ports, 1);
	assert_int_equal(c->decode.geneve_ports[0], 6081);
	assert_false(c->decode.vxlan_strict);
	assert_false(c->decode.verify_checksums);
	assert_int_equal(c->decode.max_tunnels, 8);
	assert_int_equal(c->decode.defrag_mem_cap, 32u << 20);
	assert_int_equal(c->decode.defrag_timeout_ns, 30 * NS_S);
	assert_true(c->dedup_enabled);
	assert_int_equal(c->dedup_window_ns, 5 * NS_MS);
	assert_int_equal(c->dedup_table_size, 262144);
	assert_int_equal(c->tcp_timeout_ns, 300 * NS_S);
	assert_int_equal(c->udp_timeout_ns, 60 * NS_S);
	assert_int_equal(c->icmp_timeout_ns, 60 * NS_S);
	assert_int_equal(c->other_timeout_ns, 60 * NS_S);
	assert_int_equal(c->max_flows, 1000000);
	assert_int_equal(c->workers, 1);
	assert_int_equal(c->log_format, TP_FMT_JSON);
	assert_string_equal(c->log_dir, "./tapir-logs");
	assert_int_equal(c->nzones, 1);
	assert_string_equal(c->zones[0], "default");
	assert_int_equal(c->nrules, 0);
	assert_int_equal(c->queue_size, 65536);
	assert_int_equal(c->rotate_interval_ns, 3600 * NS_S);
	assert_int_equal(c->stats_interval_ns, 60 * NS_S);
	assert_int_equal(c->n_health_tcp_ports, 1);
	assert_int_equal(c->health_tcp_ports[0], 4789);
	assert_string_equal(c->http_listen, "[::]:80");
	assert_string_equal(c->run_user, "nobody");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);
	free(c);
}

/* Two udp listeners on every address: VXLAN on 4789, Geneve on 6081. */
static void test_default_sources(void **state)
{
	struct tp_config *c = new_default();
	char buf[128];

	(void)state;
	assert_int_equal(c->nsources, 2);
	for (int i = 0; i < 2; i++) {
		const struct tp_source_cfg *s = &c->sources[i];
		assert_int_equal(s->kind, TP_SRC_UDP);
		assert_string_equal(s->addr, "::");
		assert_int_equal(s->threads, 1);
		assert_int_equal(s->buffer, 64ull << 20);
	}
	assert_int_equal(c->sources[0].port, 4789);
	assert_int_equal(c->sources[0].encap, TP_ENCAP_VXLAN);
	assert_int_equal(c->sources[1].port, 6081);
	assert_int_equal(c->sources[1].encap, TP_ENCAP_GENEVE);
	assert_string_equal(tp_config_source_text(&c->sources[0], buf,
						  sizeof(buf)),
			    "udp [::]:4789 vxlan");
	assert_string_equal(tp_config_source_text(&c->sources[1], buf,
						  sizeof(buf)),
			    "udp [::]:6081 geneve");
	free(c);
}

/* ---- value syntax ------------------------------------------------------ */

static uint64_t duration_of(const char *text)
{
	struct tp_config *c = new_default();
	char kv[128];
	uint64_t v;

	snprintf(kv, sizeof(kv), "flow.tcp_timeout=%s", text);
	assert_int_equal(set(c, kv), 0);
	v = c->tcp_timeout_ns;
	free(c);
	return v;
}

static void test_durations(void **state)
{
	(void)state;
	assert_int_equal(duration_of("5m"), 300 * NS_S);
	assert_int_equal(duration_of("1h"), 3600 * NS_S);
	assert_int_equal(duration_of("1.5s"), 1500 * NS_MS);
	assert_int_equal(duration_of("2500ms"), 2500 * NS_MS);
	assert_int_equal(duration_of("30"), 30 * NS_S);
	assert_int_equal(duration_of("2.25"), 2250 * NS_MS);
	assert_int_equal(duration_of("1d"), 86400 * NS_S);
	assert_int_equal(duration_of("90 s"), 90 * NS_S);
	assert_int_equal(duration_of("1000000us"), NS_S);
	assert_int_equal(duration_of("1000000000ns"), NS_S);

	struct tp_config *c = new_default();
	assert_int_equal(set(c, "dedup.window=300us"), 0);
	assert_int_equal(c->dedup_window_ns, 300000);
	assert_int_equal(set(c, "dedup.window=0.5ms"), 0);
	assert_int_equal(c->dedup_window_ns, 500000);
	assert_int_equal(set(c, "dedup.window=1s"), 0);
	assert_int_equal(c->dedup_window_ns, NS_S);
	free(c);
}

static void test_sizes(void **state)
{
	struct tp_config *c = new_default();

	(void)state;
	assert_int_equal(set(c, "decode.defrag_memory=64MiB"), 0);
	assert_int_equal(c->decode.defrag_mem_cap, 64ull << 20);
	assert_int_equal(set(c, "decode.defrag_memory=32M"), 0);
	assert_int_equal(c->decode.defrag_mem_cap, 32ull << 20);
	assert_int_equal(set(c, "decode.defrag_memory=1G"), 0);
	assert_int_equal(c->decode.defrag_mem_cap, 1ull << 30);
	assert_int_equal(set(c, "decode.defrag_memory=1.5GiB"), 0);
	assert_int_equal(c->decode.defrag_mem_cap, 3ull << 29);
	assert_int_equal(set(c, "decode.defrag_memory=512k"), 0);
	assert_int_equal(c->decode.defrag_mem_cap, 512ull << 10);
	assert_int_equal(set(c, "decode.defrag_memory=100000"), 0);
	assert_int_equal(c->decode.defrag_mem_cap, 100000);
	free(c);
}

static void test_bools_and_enum(void **state)
{
	struct tp_config *c = new_default();
	static const char *const yes[] = {"true", "yes", "on", "True", "ON"};
	static const char *const no[] = {"false", "no", "off", "FALSE", "Off"};
	char kv[64];

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		snprintf(kv, sizeof(kv), "decode.vxlan_strict=%s", yes[i]);
		assert_int_equal(set(c, kv), 0);
		assert_true(c->decode.vxlan_strict);
		snprintf(kv, sizeof(kv), "decode.vxlan_strict=%s", no[i]);
		assert_int_equal(set(c, kv), 0);
		assert_false(c->decode.vxlan_strict);
	}
	assert_int_equal(set(c, "log.format=zeek"), 0);
	assert_int_equal(c->log_format, TP_FMT_ZEEK);
	assert_int_equal(set(c, "log.format=json"), 0);
	assert_int_equal(c->log_format, TP_FMT_JSON);
	assert_int_equal(set(c, "log.dir=/var/log/tapir"), 0);
	assert_string_equal(c->log_dir, "/var/log/tapir");
	free(c);
}

static void test_port_lists(void **state)
{
	struct tp_config *c = new_default();

	(void)state;
	assert_int_equal(set(c, "decode.vxlan_ports=4789,8472"), 0);
	assert_int_equal(c->decode.n_vxlan_ports, 2);
	assert_int_equal(c->decode.vxlan_ports[0], 4789);
	assert_int_equal(c->decode.vxlan_ports[1], 8472);
	assert_int_equal(set(c, "decode.vxlan_ports=[ 1, 65535 ]"), 0);
	assert_int_equal(c->decode.n_vxlan_ports, 2);
	assert_int_equal(c->decode.vxlan_ports[0], 1);
	assert_int_equal(c->decode.vxlan_ports[1], 65535);
	/* A repeated port is kept once. */
	assert_int_equal(set(c, "decode.vxlan_ports=4789,4789"), 0);
	assert_int_equal(c->decode.n_vxlan_ports, 1);
	assert_int_equal(set(c, "decode.vxlan_ports=[]"), 0);
	assert_int_equal(c->decode.n_vxlan_ports, 0);

	assert_int_equal(load(c, "decode:\n  geneve_ports: [6081, 6082]\n"
			      "  vxlan_ports:\n    - 4789\n    - 8472\n"), 0);
	assert_int_equal(c->decode.n_geneve_ports, 2);
	assert_int_equal(c->decode.geneve_ports[1], 6082);
	assert_int_equal(c->decode.n_vxlan_ports, 2);
	assert_int_equal(c->decode.vxlan_ports[1], 8472);
	assert_int_equal(load(c, "decode.vxlan_ports: 4790\n"), 0);
	assert_int_equal(c->decode.n_vxlan_ports, 1);
	assert_int_equal(c->decode.vxlan_ports[0], 4790);
	free(c);
}

/* ---- YAML -------------------------------------------------------------- */

static void test_load_every_key(void **state)
{
	struct tp_config *c = new_default();
	const char *yaml =
		"# tapir\n"
		"decode:\n"
		"  vxlan_ports: [4789, 8472]\n"
		"  geneve_ports: [6081]\n"
		"  vxlan_strict: yes\n"
		"  verify_checksums: on\n"
		"  max_tunnel_depth: 3\n"
		"  defrag_memory: 64MiB\n"
		"  defrag_timeout: 15s\n"
		"dedup:\n"
		"  enabled: false\n"
		"  window: 2ms\n"
		"  table_size: 131072\n"
		"flow.tcp_timeout: 10m      # dotted keys work too\n"
		"flow:\n"
		"  udp_timeout: 30s\n"
		"  icmp_timeout: 45\n"
		"  other_timeout: 2m\n"
		"  max_flows: 2000000\n"
		"workers: 4\n"
		"log:\n"
		"  format: zeek\n"
		"  dir: \"/var/log/tapir: main\"\n";

	(void)state;
	assert_int_equal(load(c, yaml), 0);
	assert_string_equal(err, "");
	assert_int_equal(c->decode.n_vxlan_ports, 2);
	assert_int_equal(c->decode.vxlan_ports[1], 8472);
	assert_int_equal(c->decode.n_geneve_ports, 1);
	assert_true(c->decode.vxlan_strict);
	assert_true(c->decode.verify_checksums);
	assert_int_equal(c->decode.max_tunnels, 3);
	assert_int_equal(c->decode.defrag_mem_cap, 64ull << 20);
	assert_int_equal(c->decode.defrag_timeout_ns, 15 * NS_S);
	assert_false(c->dedup_enabled);
	assert_int_equal(c->dedup_window_ns, 2 * NS_MS);
	assert_int_equal(c->dedup_table_size, 131072);
	assert_int_equal(c->tcp_timeout_ns, 600 * NS_S);
	assert_int_equal(c->udp_timeout_ns, 30 * NS_S);
	assert_int_equal(c->icmp_timeout_ns, 45 * NS_S);
	assert_int_equal(c->other_timeout_ns, 120 * NS_S);
	assert_int_equal(c->max_flows, 2000000);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->log_format, TP_FMT_ZEEK);
	assert_string_equal(c->log_dir, "/var/log/tapir: main");
	/* A '?' in comments, quoted and plain text is text. */
	assert_int_equal(load(c, "# why ? because\n  # ? indented\n#? x\n"
			      "log.dir: \"/srv/what ? x\"   # ? too\n"
			      "log:\n  format: 'zeek' # it's ? fine\n"), 0);
	assert_string_equal(c->log_dir, "/srv/what ? x");
	assert_int_equal(load(c, "log.dir: /srv/a ? b\n"), 0);
	assert_string_equal(c->log_dir, "/srv/a ? b");
	assert_int_equal(load(c, "log.dir: '/srv/it''s ? here'\n"), 0);
	assert_string_equal(c->log_dir, "/srv/it's ? here");
	/* Windows line ends and a byte order mark. */
	assert_int_equal(load(c, "\xef\xbb\xbfworkers: 3\r\nflow:\r\n"
			      "  udp_timeout: 20s\r\n"), 0);
	assert_int_equal(c->workers, 3);
	assert_int_equal(c->udp_timeout_ns, 20 * NS_S);
	assert_int_equal(load(c, "log.dir: /srv/d\xc3\xa9j\xc3\xa0-vu\n"), 0);
	assert_string_equal(c->log_dir, "/srv/d\xc3\xa9j\xc3\xa0-vu");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);
	free(c);
}

static void test_empty_files(void **state)
{
	struct tp_config *c = new_default(), *d = new_default();

	(void)state;
	assert_int_equal(load(c, ""), 0);
	assert_int_equal(load(c, "# only a comment\n\n   # another\n"), 0);
	assert_int_equal(load(c, "---\n"), 0);
	assert_int_equal(load(c, "dedup:\nflow:\n  # nothing yet\n"), 0);
	assert_memory_equal(c, d, sizeof(*c));
	free(c);
	free(d);
}

static void test_unknown_key(void **state)
{
	(void)state;
	load_fails("dedup:\n  enabled: true\n  windw: 5ms\n",
		   "config t.yaml:3:3: unknown key 'dedup.windw' "
		   "(did you mean 'dedup.window'?)");
	load_fails("dedup.windw: 5ms\n",
		   "config t.yaml:1:1: unknown key 'dedup.windw' "
		   "(did you mean 'dedup.window'?)");
	/* The right name in the wrong section. */
	load_fails("flow:\n  window: 5ms\n",
		   "config t.yaml:2:3: unknown key 'flow.window' "
		   "(did you mean 'dedup.window'?)");
	load_fails("worker: 2\n",
		   "config t.yaml:1:1: unknown key 'worker' "
		   "(did you mean 'workers'?)");
	load_fails("decod:\n  vxlan_ports: [4789]\n",
		   "config t.yaml:1:1: unknown key 'decod' "
		   "(did you mean 'decode'?)");
	load_fails("colour: blue\n",
		   "config t.yaml:1:1: unknown key 'colour' (the keys are "
		   "listed in docs/configuration.md)");
}

static void test_bad_values(void **state)
{
	(void)state;
	load_fails("flow:\n  udp_timeout: abc\n",
		   "config t.yaml:2:16: key 'flow.udp_timeout': expected a "
		   "duration like 30s, 5m or 250ms, got 'abc'");
	load_fails("flow:\n  udp_timeout: 5 parsecs\n",
		   "config t.yaml:2:16: key 'flow.udp_timeout': expected a "
		   "duration like 30s, 5m or 250ms, got '5 parsecs'");
	load_fails("flow:\n  udp_timeout: -5s\n",
		   "config t.yaml:2:16: key 'flow.udp_timeout': expected a "
		   "duration like 30s, 5m or 250ms, got '-5s'");
	load_fails("flow:\n  udp_timeout:\n",
		   "config t.yaml:2:3: key 'flow.udp_timeout': expected a "
		   "duration like 30s, 5m or 250ms, got nothing");
	load_fails("dedup:\n  window: 2s\n",
		   "config t.yaml:2:11: key 'dedup.window': expected a "
		   "duration from 1us to 1s, got '2s'");
	load_fails("dedup:\n  table_size: 100000\n",
		   "config t.yaml:2:15: key 'dedup.table_size': expected a "
		   "power of two like 65536 or 131072, got '100000'");
	load_fails("dedup:\n  table_size: 100\n",
		   "config t.yaml:2:15: key 'dedup.table_size': expected a "
		   "power of two from 1024 to 16777216, got '100'");
	load_fails("workers: 0\n",
		   "config t.yaml:1:10: key 'workers': expected a whole "
		   "number from 1 to 64, got '0'");
	load_fails("workers: 4.5\n",
		   "config t.yaml:1:10: key 'workers': expected a whole "
		   "number from 1 to 64, got '4.5'");
	load_fails("decode:\n  max_tunnel_depth: 9\n",
		   "config t.yaml:2:21: key 'decode.max_tunnel_depth': "
		   "expected a whole number from 1 to 8, got '9'");
	load_fails("decode:\n  defrag_memory: 1k\n",
		   "config t.yaml:2:18: key 'decode.defrag_memory': expected "
		   "a size from 64KiB to 16GiB, got '1k'");
	load_fails("decode:\n  defrag_memory: lots\n",
		   "config t.yaml:2:18: key 'decode.defrag_memory': expected "
		   "a size like 64MiB, 512k or 1G, got 'lots'");
	load_fails("dedup:\n  enabled: maybe\n",
		   "config t.yaml:2:12: key 'dedup.enabled': expected true or "
		   "false, got 'maybe'");
	load_fails("log:\n  format: tsv\n",
		   "config t.yaml:2:11: key 'log.format': expected one of "
		   "json, zeek, got 'tsv'");
	load_fails("log:\n  dir: ''\n",
		   "config t.yaml:2:9: key 'log.dir': expected a path, got "
		   "nothing");
	load_fails("flow:\n  max_flows: 99999999999999999999999\n",
		   "config t.yaml:2:14: key 'flow.max_flows': expected a "
		   "whole number from 1 to 1000000000, got "
		   "'99999999999999999999999'");
}

/* site.local_nets: a CIDR list, checked when it is given. */
static void test_local_nets(void **state)
{
	struct tp_config *cfg = malloc(sizeof(*cfg));
	struct tp_netlist l;
	struct tp_addr a;
	char why[256];
	(void)state;
	assert_non_null(cfg);
	tp_config_default(cfg);
	assert_int_equal(tp_netlist_parse(cfg->site_local_nets, &l, why,
					  sizeof(why)), 0);
	assert_int_equal(l.n, 8);
	uint8_t v4[4] = {100, 127, 255, 1};
	tp_addr_from_v4(&a, v4);
	assert_true(tp_netlist_has(&l, &a));
	v4[1] = 128;
	tp_addr_from_v4(&a, v4);
	assert_false(tp_netlist_has(&l, &a));
	assert_int_equal(set(cfg, "site.local_nets=192.0.2.0/24, 2001:db8::/32"),
			 0);
	assert_string_equal(cfg->site_local_nets, "192.0.2.0/24, 2001:db8::/32");
	assert_int_equal(set(cfg, "site.local_nets="), 0);
	assert_int_equal(set(cfg, "site.local_nets=10.0.0.0/33"), -EINVAL);
	assert_string_equal(err, "key 'site.local_nets': expected networks "
			    "like 10.0.0.0/8 or fc00::/7, separated by commas "
			    "or spaces, got '10.0.0.0/33'");
	load_fails("site:\n  local_nets: 10.0.0.0/8 bogus\n",
		   "config t.yaml:2:15: key 'site.local_nets': expected "
		   "networks like 10.0.0.0/8 or fc00::/7, separated by commas "
		   "or spaces, got 'bogus'");
	load_fails("inventory:\n  expiry: 10s\n",
		   "config t.yaml:2:11: key 'inventory.expiry': expected a "
		   "duration from 1m to 365d, got '10s'");
	free(cfg);
}

static void test_bad_ports(void **state)
{
	(void)state;
	load_fails("decode:\n  vxlan_ports: [4789, 0]\n",
		   "config t.yaml:2:23: key 'decode.vxlan_ports': expected a "
		   "port from 1 to 65535, got '0'");
	load_fails("decode:\n  vxlan_ports:\n    - 4789\n    - 65536\n",
		   "config t.yaml:4:7: key 'decode.vxlan_ports': expected a "
		   "port from 1 to 65535, got '65536'");
	load_fails("decode:\n  geneve_ports: 6081,vxlan\n",
		   "config t.yaml:2:17: key 'decode.geneve_ports': expected a "
		   "port from 1 to 65535, got 'vxlan'");
	load_fails("decode:\n  vxlan_ports: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n",
		   "config t.yaml:2:41: key 'decode.vxlan_ports': expected at "
		   "most 8 ports");
	load_fails("decode:\n  vxlan_ports: [[4789]]\n",
		   "config t.yaml:2:18: key 'decode.vxlan_ports': expected a "
		   "port from 1 to 65535, got a list");
	set_fails("decode.vxlan_ports=4789,,8472",
		  "key 'decode.vxlan_ports': expected a port from 1 to "
		  "65535, got ''");
	set_fails("decode.geneve_ports=0",
		  "key 'decode.geneve_ports': expected a port from 1 "
		  "to 65535, got '0'");
	set_fails("app.file_hashes=md4",
		  "key 'app.file_hashes': expected md5, sha1 and sha256 "
		  "separated by commas, each once (or \"\" for no hashes), "
		  "got 'md4'");
	set_fails("app.file_hashes=md5,md5",
		  "key 'app.file_hashes': expected md5, sha1 and sha256 "
		  "separated by commas, each once (or \"\" for no hashes), "
		  "got 'md5,md5'");
	set_fails("app.file_hashes=sha1,",
		  "key 'app.file_hashes': expected a hash name after the "
		  "last comma in 'sha1,'");
	set_fails("app.file_decompress_max=100",
		  "key 'app.file_decompress_max': expected 0 or a size from "
		  "1KiB to 4GiB, got '100'");
}

/* app.file_hashes is kept in one order, whatever the user's. */
static void test_file_hashes(void **state)
{
	struct tp_config cfg;

	(void)state;
	tp_config_default(&cfg);
	assert_string_equal(cfg.app_file_hashes, "md5,sha1,sha256");
	assert_int_equal(set(&cfg, "app.file_hashes=sha256,md5"), 0);
	assert_string_equal(cfg.app_file_hashes, "md5,sha256");
	assert_int_equal(set(&cfg, "app.file_hashes=\"\""), 0);
	assert_string_equal(cfg.app_file_hashes, "");
	assert_int_equal(load(&cfg, "app:\n  file_hashes: sha1\n"), 0);
	assert_string_equal(cfg.app_file_hashes, "sha1");
}

static void test_shapes(void **state)
{
	(void)state;
	/* A list or mapping where a value is expected, and the reverse. */
	load_fails("workers: [1, 2]\n",
		   "config t.yaml:1:11: key 'workers': expected a whole number "
		   "from 1 to 64, got a list");
	load_fails("dedup:\n  window:\n    ms: 5\n",
		   "config t.yaml:3:5: key 'dedup.window': expected a duration "
		   "like 30s, 5m or 250ms, got a mapping");
	load_fails("dedup: 5ms\n",
		   "config t.yaml:1:8: key 'dedup' is a section: expected keys "
		   "under it such as 'dedup.enabled', got a value");
	load_fails("decode:\n  - vxlan_ports\n",
		   "config t.yaml:2:5: key 'decode' is a section: expected "
		   "keys under it such as 'decode.vxlan_ports', got a list");
	load_fails("- workers: 2\n",
		   "config t.yaml:1:3: expected a mapping of keys such as "
		   "'decode:' and 'flow:' at the top level, got a list");
	load_fails("just a word\n",
		   "config t.yaml:1:1: expected a mapping of keys such as "
		   "'decode:' and 'flow:' at the top level, got a value");
	load_fails("workers: &w 4\nflow.max_flows: *w\n",
		   "config t.yaml:2:18: key 'flow.max_flows': YAML aliases (*name) "
		   "are not supported; write the value out");
	load_fails("flow:\n  udp_timeout: 30s\nflow.udp_timeout: 40s\n",
		   "config t.yaml:3:1: key 'flow.udp_timeout' is given twice "
		   "(first on line 2)");
	load_fails("workers: 1\n---\nworkers: 2\n",
		   "config t.yaml: holds more than one YAML document (a second "
		   "'---'); put every key into one");
}

static void test_yaml_syntax(void **state)
{
	(void)state;
	load_fails("dedup:\n  window: 5ms\nflow:\n  udp_timeout: [30s\n"
		   "workers: 2\n",
		   "config t.yaml:6:1: invalid YAML: flow sequence without a "
		   "closing bracket");
	load_fails("workers: 1\nworkers: 2\n",
		   "config t.yaml:2:1: invalid YAML: duplicate key");
	load_fails("dedup:\n  window: 5ms\n enabled: true\n",
		   "config t.yaml:3:2: invalid YAML: invalid indentation in "
		   "mapping");
	/* Not UTF-8; libfyaml 0.7.12 also loops forever on this one. */
	load_fails("workers: 1\n%ort\xff\n",
		   "config t.yaml:2:5: invalid YAML: not UTF-8 text (byte "
		   "0xff)");
	load_fails("log.dir: \xc3\xa9t\xc3\n",
		   "config t.yaml:1:12: invalid YAML: not UTF-8 text (byte "
		   "0xc3)");
	load_fails("log.dir: \xed\xa0\x80\n",
		   "config t.yaml:1:10: invalid YAML: not UTF-8 text (byte "
		   "0xed)");
	/* A NUL byte; libfyaml 0.7.12 crashes on some. */
	{
		static const char nul[] = "workers: 1\nlog.dir: a\0b\n";
		struct tp_config *c = new_default();
		assert_int_equal(tp_config_load_string(c, "t.yaml", nul,
						       sizeof(nul) - 1, err,
						       sizeof(err)), -EINVAL);
		assert_string_equal(err, "config t.yaml:2:11: invalid YAML: "
				    "control character 0x00 (only tab and "
				    "newline are allowed)");
		free(c);
	}
	load_fails("workers: 1\x1b\n",
		   "config t.yaml:1:11: invalid YAML: control character 0x1b "
		   "(only tab and newline are allowed)");
	/* Explicit keys; libfyaml 0.7.12 corrupts its heap on this one. */
	load_fails("workers: 1\n? 4:\t:",
		   "config t.yaml:2:1: explicit keys ('? key') are not "
		   "supported; write 'key: value'");
	load_fails("dedup: {enabled: true, ? window: 5ms}\n",
		   "config t.yaml:1:24: explicit keys ('? key') are not "
		   "supported; write 'key: value'");
	/* An apostrophe in plain text does not hide a key after it. */
	load_fails("log.dir: /srv/it's\n? 4:\t:\n",
		   "config t.yaml:2:1: explicit keys ('? key') are not "
		   "supported; write 'key: value'");
	load_fails("log.dir: /srv\n  'x\n? 4:\t:\n",
		   "config t.yaml:3:1: explicit keys ('? key') are not "
		   "supported; write 'key: value'");
	load_fails("zones:\n  - ? name\n    : a\n",
		   "config t.yaml:2:5: explicit keys ('? key') are not "
		   "supported; write 'key: value'");
	load_fails("\t- a\n",
		   "config t.yaml:1:2: invalid YAML: plain scalar cannot start "
		   "with '-' followed by blank");
}

static void test_load_file(void **state)
{
	struct tp_config *c = new_default();
	char path[] = "/tmp/tapir-test-config-XXXXXX";
	const char *yaml = "flow:\n  udp_timeout: 30s\n  icmp_timeout: x\n";
	int fd;

	(void)state;
	assert_int_equal(tp_config_load_file(c, "/nonexistent/tapir.yaml", err,
					     sizeof(err)), -ENOENT);
	assert_string_equal(err, "config /nonexistent/tapir.yaml: cannot "
			    "open: No such file or directory");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	assert_int_equal(tp_config_load_file(c, path, err, sizeof(err)),
			 -EINVAL);
	char want[256];
	snprintf(want, sizeof(want), "config %s:3:17: key 'flow.icmp_timeout': "
		 "expected a duration like 30s, 5m or 250ms, got 'x'", path);
	assert_string_equal(err, want);
	/* All or nothing: the valid key before the error is not applied. */
	assert_int_equal(c->udp_timeout_ns, 60 * NS_S);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, 26), 26);
	close(fd);
	assert_int_equal(tp_config_load_file(c, path, err, sizeof(err)), 0);
	assert_int_equal(c->udp_timeout_ns, 30 * NS_S);
	unlink(path);
	free(c);
}

/* ---- --set ------------------------------------------------------------- */

static void test_set_after_file(void **state)
{
	struct tp_config *c = new_default();

	(void)state;
	assert_int_equal(load(c, "flow:\n  udp_timeout: 45s\n"
			      "  tcp_timeout: 10m\nworkers: 2\n"), 0);
	assert_int_equal(set(c, "flow.udp_timeout=30s"), 0);
	assert_int_equal(set(c, " workers = 8 "), 0);
	/* The later --set wins over the earlier one. */
	assert_int_equal(set(c, "workers=6"), 0);
	assert_int_equal(c->udp_timeout_ns, 30 * NS_S);
	assert_int_equal(c->tcp_timeout_ns, 600 * NS_S);
	assert_int_equal(c->workers, 6);
	free(c);
}

static void test_set_errors(void **state)
{
	(void)state;
	set_fails("flow.udp_timeout=abc",
		  "key 'flow.udp_timeout': expected a duration like "
		  "30s, 5m or 250ms, got 'abc'");
	set_fails("dedup.windw=5ms",
		  "unknown key 'dedup.windw' (did you mean "
		  "'dedup.window'?)");
	set_fails("workers",
		  "'workers': expected key=value, e.g. "
		  "flow.udp_timeout=30s");
	set_fails("dedup=off",
		  "'dedup' is a section; set one of its keys, e.g. "
		  "dedup.enabled=...");
	set_fails("zones=prod",
		  "key 'zones': zones can only be set in the "
		  "configuration file (a list of rules does not fit in --set); "
		  "put them under 'zones:' in the YAML file given with -c");
	set_fails("sources=udp:4789",
		  "key 'sources': sources can only be set in the "
		  "configuration file (a list of records does not fit in "
		  "--set); put them under 'sources:' in the YAML file given "
		  "with -c");
	set_fails("sources[0].listen=:4789",
		  "key 'sources': sources can only be set in the "
		  "configuration file (a list of records does not fit in "
		  "--set); put them under 'sources:' in the YAML file given "
		  "with -c");
	set_fails("workers=",
		  "key 'workers': expected a whole number from 1 to "
		  "64, got nothing");
	set_fails("workers=65",
		  "key 'workers': expected a whole number from 1 to "
		  "64, got '65'");
}

/* ---- zones ------------------------------------------------------------- */

static void test_zones(void **state)
{
	struct tp_config *c = new_default();
	const char *yaml =
		"zones:\n"
		"  - name: prod-vpc\n"
		"    match:\n"
		"      - vni: 4000            # any of these match entries\n"
		"      - outer_src: 10.0.1.0/24\n"
		"      - outer_src: 10.0.2.0/24\n"
		"        vni: 4001\n"
		"      - gwlb_endpoint: 0x1234abcd5678ef01\n"
		"  - name: staging\n"
		"    match:\n"
		"      - outer_src: 2001:db8:100::/56\n"
		"      - outer_src: 192.0.2.7\n"
		"      - gwlb_endpoint: 42\n"
		"        vni: 0x10\n";
	struct tp_addr a;

	(void)state;
	assert_int_equal(load(c, yaml), 0);
	assert_int_equal(c->nzones, 3);
	assert_string_equal(c->zones[0], "default");
	assert_string_equal(c->zones[1], "prod-vpc");
	assert_string_equal(c->zones[2], "staging");
	assert_int_equal(c->nrules, 7);

	const struct tp_zone_rule *r = c->rules;
	assert_int_equal(r[0].zone, 1);
	assert_true(r[0].has_vni);
	assert_int_equal(r[0].vni, 4000);
	assert_false(r[0].has_src);
	assert_false(r[0].has_gwlb_endpoint);

	memset(&a, 0, sizeof(a));
	a.b[10] = a.b[11] = 0xff;
	a.b[12] = 10, a.b[13] = 0, a.b[14] = 1, a.b[15] = 0;
	assert_int_equal(r[1].zone, 1);
	assert_true(r[1].has_src);
	assert_false(r[1].has_vni);
	assert_memory_equal(&r[1].src, &a, sizeof(a));
	assert_int_equal(r[1].src_plen, 96 + 24);

	a.b[14] = 2;
	assert_true(r[2].has_src && r[2].has_vni);
	assert_memory_equal(&r[2].src, &a, sizeof(a));
	assert_int_equal(r[2].src_plen, 120);
	assert_int_equal(r[2].vni, 4001);

	assert_true(r[3].has_gwlb_endpoint);
	assert_false(r[3].has_vni || r[3].has_src);
	assert_true(r[3].gwlb_endpoint == 0x1234abcd5678ef01ull);

	assert_int_equal(r[4].zone, 2);
	memset(&a, 0, sizeof(a));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:100::", a.b), 1);
	assert_memory_equal(&r[4].src, &a, sizeof(a));
	assert_int_equal(r[4].src_plen, 56);

	memset(&a, 0, sizeof(a));
	a.b[10] = a.b[11] = 0xff;
	a.b[12] = 192, a.b[13] = 0, a.b[14] = 2, a.b[15] = 7;
	assert_memory_equal(&r[5].src, &a, sizeof(a));
	assert_int_equal(r[5].src_plen, 128);

	assert_int_equal(r[6].zone, 2);
	assert_true(r[6].gwlb_endpoint == 42);
	assert_int_equal(r[6].vni, 16);
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);

	/* A later file's zones replace the earlier ones. */
	assert_int_equal(load(c, "zones:\n  - name: only\n    match:\n"
			      "      - vni: 7\n"), 0);
	assert_int_equal(c->nzones, 2);
	assert_string_equal(c->zones[1], "only");
	assert_int_equal(c->nrules, 1);
	assert_int_equal(c->rules[0].zone, 1);
	assert_int_equal(c->rules[0].vni, 7);
	free(c);
}

static void test_zone_errors(void **state)
{
	(void)state;
	load_fails("zones:\n  - name: a\n    match:\n"
		   "      - outer_src: 10.0.1.5/24\n",
		   "config t.yaml:4:20: key 'zones[0].match[0].outer_src': "
		   "'10.0.1.5/24' has bits set after the /24 prefix; did you "
		   "mean '10.0.1.0/24'?");
	load_fails("zones:\n  - name: a\n    match:\n"
		   "      - outer_src: 10.0.1.0/33\n",
		   "config t.yaml:4:20: key 'zones[0].match[0].outer_src': "
		   "expected an address or prefix like 10.0.1.0/24 or "
		   "2001:db8::/32, got '10.0.1.0/33'");
	load_fails("zones:\n  - name: a\n    match:\n"
		   "      - vni: 4294967296\n",
		   "config t.yaml:4:14: key 'zones[0].match[0].vni': expected "
		   "a VNI, GRE key or ERSPAN session id from 0 to 4294967295 "
		   "(decimal or 0x hex), got '4294967296'");
	load_fails("zones:\n  - name: a\n    match:\n      - vnii: 4\n",
		   "config t.yaml:4:9: unknown key 'zones[0].match[0].vnii' "
		   "(did you mean 'vni'?)");
	load_fails("zones:\n  - name: a\n    mach:\n      - vni: 4\n",
		   "config t.yaml:3:5: unknown key 'zones[0].mach' (did you "
		   "mean 'match'?)");
	load_fails("zones:\n  - name: default\n    match:\n      - vni: 4\n",
		   "config t.yaml:2:11: key 'zones[0].name': zone 'default' is "
		   "reserved for sessions that match no rule");
	load_fails("zones:\n  - name: a\n    match: [vni: 1]\n"
		   "  - name: a\n    match: [vni: 2]\n",
		   "config t.yaml:4:11: key 'zones[1].name': zone 'a' is "
		   "defined twice");
	load_fails("zones:\n  - name: prod vpc\n    match: [vni: 1]\n",
		   "config t.yaml:2:11: key 'zones[0].name': expected a zone "
		   "name of 1 to 63 letters, digits, '-', '_' or '.', got "
		   "'prod vpc'");
	load_fails("zones:\n  - name: a\n",
		   "config t.yaml:2:5: key 'zones[0].match': zone 'a' needs a "
		   "list of match entries like '- vni: 4000' or '- outer_src: "
		   "10.0.1.0/24'");
	load_fails("zones:\n  - match: [vni: 1]\n",
		   "config t.yaml:2:5: key 'zones[0]': a zone needs a name");
	load_fails("zones:\n  - name: a\n    match:\n      - {}\n",
		   "config t.yaml:3:5: key 'zones[0].match[0]': a match entry "
		   "needs at least one of vni, outer_src, gwlb_endpoint");
	load_fails("zones:\n  - name: a\n    match:\n      - 4000\n",
		   "config t.yaml:4:9: key 'zones[0].match[0]': expected a "
		   "match entry like 'vni: 4000', got a value");
	load_fails("zones:\n  name: a\n",
		   "config t.yaml:2:3: key 'zones': expected a list of zones, "
		   "each with a name and match entries, got a mapping");
	load_fails("zones:\n  - name: a\n    match:\n"
		   "      - gwlb_endpoint: vpce-123\n",
		   "config t.yaml:4:24: key 'zones[0].match[0].gwlb_endpoint': "
		   "expected a 64-bit endpoint id (0x hex or decimal), got "
		   "'vpce-123'");
}

static void test_zone_limits(void **state)
{
	size_t cap = 1 << 16, o = 0;
	char *yaml = malloc(cap);

	(void)state;
	assert_non_null(yaml);
	o += (size_t)snprintf(yaml + o, cap - o, "zones:\n");
	for (int z = 0; z < TP_MAX_ZONES; z++)
		o += (size_t)snprintf(yaml + o, cap - o,
				      "  - name: z%d\n    match: [vni: %d]\n",
				      z, z);
	load_fails(yaml, "config t.yaml:128:11: key 'zones[63]': at most 63 "
		   "zones besides 'default'");

	o = (size_t)snprintf(yaml, cap, "zones:\n  - name: z\n    match:\n");
	for (int i = 0; i <= TP_MAX_ZONE_RULES; i++)
		o += (size_t)snprintf(yaml + o, cap - o, "      - vni: %d\n", i);
	load_fails(yaml, "config t.yaml:260:9: key 'zones[0].match[256]': at "
		   "most 256 match entries over all zones");
	free(yaml);
}

/* ---- sources ----------------------------------------------------------- */

static void test_sources(void **state)
{
	struct tp_config *c = new_default();
	const char *yaml =
		"sources:\n"
		"  - kind: udp\n"
		"    listen: \":4789\"\n"
		"    threads: 4\n"
		"    buffer: 256MiB\n"
		"  - kind: udp\n"
		"    listen: \"10.0.0.5:6081\"\n"
		"  - kind: udp\n"
		"    listen: \"[2001:DB8:0::5]:6081\"\n"
		"    encap: vxlan              # not the port's default\n"
		"  - kind: udp\n"
		"    listen: 8472\n"
		"    encap: geneve\n"
		"    buffer: 64k\n"
		"  - kind: afpacket\n"
		"    interface: eth1\n"
		"    threads: 2\n"
		"  - kind: afpacket\n"
		"    interface: ens5.100\n"
		"    buffer: 1G\n"
		"  - kind: pcap\n"
		"    file: /var/tmp/mirror.pcap\n"
		"    speed: 2\n"
		"    loop: true\n"
		"  - {kind: pcap, file: b.pcap, speed: 0}\n"
		"  - {kind: pcap, file: c.pcap, speed: 0.25}\n"
		"  - {kind: pcap, file: d.pcap}\n";
	const struct tp_source_cfg *s;
	char buf[128];

	(void)state;
	assert_int_equal(load(c, yaml), 0);
	assert_string_equal(err, "");
	assert_int_equal(c->nsources, 10);
	s = c->sources;

	assert_int_equal(s[0].kind, TP_SRC_UDP);
	assert_string_equal(s[0].addr, "::");
	assert_int_equal(s[0].port, 4789);
	assert_int_equal(s[0].encap, TP_ENCAP_VXLAN);
	assert_int_equal(s[0].threads, 4);
	assert_int_equal(s[0].buffer, 256ull << 20);

	assert_string_equal(s[1].addr, "10.0.0.5");
	assert_int_equal(s[1].port, 6081);
	assert_int_equal(s[1].encap, TP_ENCAP_GENEVE);
	assert_int_equal(s[1].threads, 1);
	assert_int_equal(s[1].buffer, 64ull << 20);

	/* One address, one text: what inet_ntop writes. */
	assert_string_equal(s[2].addr, "2001:db8::5");
	assert_int_equal(s[2].port, 6081);
	assert_int_equal(s[2].encap, TP_ENCAP_VXLAN);
	assert_string_equal(tp_config_source_text(&s[2], buf, sizeof(buf)),
			    "udp [2001:db8::5]:6081 vxlan");

	assert_string_equal(s[3].addr, "::");
	assert_int_equal(s[3].port, 8472);
	assert_int_equal(s[3].encap, TP_ENCAP_GENEVE);
	assert_int_equal(s[3].buffer, 64 << 10);

	assert_int_equal(s[4].kind, TP_SRC_AFPACKET);
	assert_string_equal(s[4].interface, "eth1");
	assert_int_equal(s[4].threads, 2);
	assert_int_equal(s[4].buffer, 64ull << 20);
	assert_string_equal(tp_config_source_text(&s[4], buf, sizeof(buf)),
			    "afpacket eth1");
	assert_string_equal(s[5].interface, "ens5.100");
	assert_int_equal(s[5].threads, 1);
	assert_int_equal(s[5].buffer, 1ull << 30);

	assert_int_equal(s[6].kind, TP_SRC_PCAP);
	assert_string_equal(s[6].file, "/var/tmp/mirror.pcap");
	assert_int_equal(s[6].speed_permille, 2000);
	assert_true(s[6].loop);
	assert_int_equal(s[6].threads, 1);
	assert_string_equal(tp_config_source_text(&s[6], buf, sizeof(buf)),
			    "pcap /var/tmp/mirror.pcap");
	assert_int_equal(s[7].speed_permille, 0);
	assert_int_equal(s[8].speed_permille, 250);
	assert_int_equal(s[9].speed_permille, 1000);
	assert_false(s[9].loop);
	assert_int_equal(s[9].threads, 1);
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);

	/* A later file's sources replace the earlier ones; others stay. */
	assert_int_equal(load(c, "sources:\n  - {kind: afpacket, interface: "
			      "eth2}\n"), 0);
	assert_int_equal(c->nsources, 1);
	assert_string_equal(c->sources[0].interface, "eth2");
	assert_int_equal(load(c, "workers: 2\n"), 0);
	assert_int_equal(c->nsources, 1);
	assert_int_equal(load(c, "sources: []\n"), 0);
	assert_int_equal(c->nsources, 0);
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);
	free(c);
}

static void test_source_errors(void **state)
{
	(void)state;
	load_fails("sources:\n  - kind: pcapng\n    file: a.pcapng\n",
		   "config t.yaml:2:11: key 'sources[0].kind': expected udp, "
		   "afpacket or pcap, got 'pcapng'");
	load_fails("sources:\n  - kind:\n    listen: \":4789\"\n",
		   "config t.yaml:2:5: key 'sources[0].kind': expected udp, "
		   "afpacket or pcap, got nothing");
	load_fails("sources:\n  - listen: \":4789\"\n",
		   "config t.yaml:2:5: key 'sources[0]': a source needs a kind: "
		   "udp, afpacket or pcap");
	load_fails("sources:\n  - kind: udp\n    listen: \":4789\"\n"
		   "  - kind: afpacket\n    threads: 2\n",
		   "config t.yaml:4:5: key 'sources[1]': an afpacket source "
		   "needs interface, like interface: 'eth1'");
	load_fails("sources:\n  - kind: udp\n",
		   "config t.yaml:2:5: key 'sources[0]': a udp source needs "
		   "listen, like listen: ':4789'");
	load_fails("sources:\n  - kind: pcap\n    loop: true\n",
		   "config t.yaml:2:5: key 'sources[0]': a pcap source needs "
		   "file, like file: '/var/tmp/mirror.pcap'");
	load_fails("sources:\n  - kind: udp\n    listen: collector:4789\n",
		   "config t.yaml:3:13: key 'sources[0].listen': expected an "
		   "address and port like :4789, 10.0.0.5:4789 or "
		   "[2001:db8::5]:4789, got 'collector:4789'");
	load_fails("sources:\n  - kind: udp\n    listen: 2001:db8::5:4789\n",
		   "config t.yaml:3:13: key 'sources[0].listen': expected an "
		   "IPv6 address in brackets, then the port: [ADDR]:PORT, got "
		   "'2001:db8::5:4789'");
	load_fails("sources:\n  - kind: udp\n    listen: \"10.0.0.5:0\"\n",
		   "config t.yaml:3:14: key 'sources[0].listen': expected a "
		   "port from 1 to 65535 after the address, got '10.0.0.5:0'");
	load_fails("sources:\n  - kind: udp\n    listen: \"[10.0.0.5]:4789\"\n",
		   "config t.yaml:3:14: key 'sources[0].listen': expected an "
		   "address and port like :4789, 10.0.0.5:4789 or "
		   "[2001:db8::5]:4789, got '[10.0.0.5]:4789'");
	load_fails("sources:\n  - kind: udp\n    listen:\n",
		   "config t.yaml:3:5: key 'sources[0].listen': expected an "
		   "address and port like :4789, 10.0.0.5:4789 or "
		   "[2001:db8::5]:4789, got nothing");
	/* Unquoted, "[::]:4789" is a YAML list and then junk. */
	load_fails("sources:\n  - kind: udp\n    listen: [::]:4789\n",
		   "config t.yaml:3:17: invalid YAML: invalid value after "
		   "mapping (an address in brackets must be quoted: "
		   "\"[::]:4789\")");
	load_fails("sources:\n  - kind: udp\n    lisen: \":4789\"\n",
		   "config t.yaml:3:5: unknown key 'sources[0].lisen' (did you "
		   "mean 'listen'?)");
	load_fails("sources:\n  - kind: afpacket\n    interface: eth1\n"
		   "    thread: 2\n",
		   "config t.yaml:4:5: unknown key 'sources[0].thread' (did you "
		   "mean 'threads'?)");
	load_fails("sources:\n  - kind: udp\n    listen: \":4789\"\n"
		   "    colour: blue\n",
		   "config t.yaml:4:5: unknown key 'sources[0].colour' (a udp "
		   "source takes listen, encap, threads and buffer)");
	/* A key of another kind. */
	load_fails("sources:\n  - kind: pcap\n    file: a.pcap\n"
		   "    threads: 4\n",
		   "config t.yaml:4:5: key 'sources[0].threads': a pcap source "
		   "takes file, speed and loop (threads is for udp and afpacket "
		   "sources)");
	load_fails("sources:\n  - kind: udp\n    listen: \":4789\"\n"
		   "    interface: eth1\n",
		   "config t.yaml:4:5: key 'sources[0].interface': a udp source "
		   "takes listen, encap, threads and buffer (interface is for "
		   "afpacket sources)");
	load_fails("sources:\n  - kind: pcap\n    file: a.pcap\n"
		   "    speed: fast\n",
		   "config t.yaml:4:12: key 'sources[0].speed': expected a speed "
		   "from 0 to 1000 (1 for the capture's own pace, 2 for twice as "
		   "fast, 0 for as fast as it can be read), got 'fast'");
	load_fails("sources:\n  - kind: pcap\n    file: a.pcap\n"
		   "    speed: 1001\n",
		   "config t.yaml:4:12: key 'sources[0].speed': expected a speed "
		   "from 0 to 1000 (1 for the capture's own pace, 2 for twice as "
		   "fast, 0 for as fast as it can be read), got '1001'");
	/* Below 0.001 it would round to 0, which means the opposite. */
	load_fails("sources:\n  - kind: pcap\n    file: a.pcap\n"
		   "    speed: 0.0001\n",
		   "config t.yaml:4:12: key 'sources[0].speed': expected a speed "
		   "from 0 to 1000 (1 for the capture's own pace, 2 for twice as "
		   "fast, 0 for as fast as it can be read), got '0.0001'");
	load_fails("sources:\n  - kind: pcap\n    file: a.pcap\n"
		   "    speed: -1\n",
		   "config t.yaml:4:12: key 'sources[0].speed': expected a speed "
		   "from 0 to 1000 (1 for the capture's own pace, 2 for twice as "
		   "fast, 0 for as fast as it can be read), got '-1'");
	load_fails("sources:\n  - kind: pcap\n    file: a.pcap\n"
		   "    loop: twice\n",
		   "config t.yaml:4:11: key 'sources[0].loop': expected true or "
		   "false, got 'twice'");
	load_fails("sources:\n  - kind: pcap\n    file: ''\n",
		   "config t.yaml:3:12: key 'sources[0].file': expected the path "
		   "of a capture file, got nothing");
	load_fails("sources:\n  - kind: afpacket\n"
		   "    interface: a-very-long-name0\n",
		   "config t.yaml:3:16: key 'sources[0].interface': expected an "
		   "interface name like eth1 (1 to 15 bytes, no '/', ':' or "
		   "spaces), got 'a-very-long-name0'");
	load_fails("sources:\n  - kind: udp\n    listen: \":4789\"\n"
		   "    threads: 65\n",
		   "config t.yaml:4:14: key 'sources[0].threads': expected a "
		   "whole number from 1 to 64, got '65'");
	load_fails("sources:\n  - kind: udp\n    listen: \":4789\"\n"
		   "    threads: many\n",
		   "config t.yaml:4:14: key 'sources[0].threads': expected a "
		   "whole number from 1 to 64, got 'many'");
	load_fails("sources:\n  - kind: udp\n    listen: \":4789\"\n"
		   "    buffer: 4G\n",
		   "config t.yaml:4:13: key 'sources[0].buffer': expected a size "
		   "from 64KiB to 2GiB, got '4G'");
	load_fails("sources:\n  - kind: afpacket\n    interface: eth1\n"
		   "    buffer: 64k\n",
		   "config t.yaml:4:13: key 'sources[0].buffer': expected a size "
		   "from 1MiB to 4GiB, got '64k'");
	load_fails("sources:\n  - kind: udp\n    listen: \":4789\"\n"
		   "    encap: gre\n",
		   "config t.yaml:4:12: key 'sources[0].encap': expected vxlan or "
		   "geneve, got 'gre'");
	load_fails("sources:\n  kind: udp\n",
		   "config t.yaml:2:3: key 'sources': expected a list of "
		   "sources, each with a kind, like '- {kind: udp, listen: "
		   "\":4789\"}', got a mapping");
	load_fails("sources:\n  - udp\n",
		   "config t.yaml:2:5: key 'sources[0]': expected a source like "
		   "'{kind: udp, listen: \":4789\"}', got a value");
	load_fails("sources:\n  - kind: [udp]\n",
		   "config t.yaml:2:12: key 'sources[0].kind': expected udp, "
		   "afpacket or pcap, got a list");
	/* The error is reported in the second record, not the first. */
	load_fails("sources:\n  - {kind: udp, listen: \":4789\"}\n"
		   "  - {kind: udp, listen: \":x\"}\n",
		   "config t.yaml:3:26: key 'sources[1].listen': expected an "
		   "address and port like :4789, 10.0.0.5:4789 or "
		   "[2001:db8::5]:4789, got ':x'");
}

static void test_source_limits(void **state)
{
	size_t cap = 4096, o = 0;
	char *yaml = malloc(cap);

	(void)state;
	assert_non_null(yaml);
	o += (size_t)snprintf(yaml + o, cap - o, "sources:\n");
	for (int i = 0; i <= TP_MAX_SOURCES; i++)
		o += (size_t)snprintf(yaml + o, cap - o,
				      "  - {kind: udp, listen: %d}\n",
				      5000 + i);
	load_fails(yaml, "config t.yaml:18:6: key 'sources[16]': at most 16 "
		   "sources; one source takes several receive threads with "
		   "threads:");
	free(yaml);
}

static void test_source_validate(void **state)
{
	struct tp_config *c = new_default();

	(void)state;
	/* The same address and port twice, in two spellings; refused where
	 * the second one is written. */
	load_fails("sources:\n"
		   "  - {kind: udp, listen: \"[::]:4789\"}\n"
		   "  - {kind: udp, listen: \"10.0.0.5:4789\"}\n"
		   "  - {kind: udp, listen: \":4789\", encap: geneve}\n",
		   "config t.yaml:4:6: key 'sources[2]': sources[0] and "
		   "sources[2] both listen on UDP [::]:4789; remove one "
		   "(threads: gives one source more sockets)");
	/* [::] is dual-stack: it takes 0.0.0.0 too. */
	load_fails("sources:\n"
		   "  - kind: udp\n"
		   "    listen: \"0.0.0.0:4789\"\n"
		   "  - kind: udp\n"
		   "    listen: \"[::]:4789\"\n",
		   "config t.yaml:4:5: key 'sources[1]': sources[0] listens on "
		   "UDP 0.0.0.0:4789 and sources[1] on [::]:4789, but [::] "
		   "takes IPv4 too; remove one");
	load_fails("sources:\n"
		   "  - {kind: afpacket, interface: eth1}\n"
		   "  - {kind: afpacket, interface: eth1, threads: 2}\n",
		   "config t.yaml:3:6: key 'sources[1]': sources[0] and "
		   "sources[1] both read interface eth1, so each packet would "
		   "be seen twice; remove one (threads: gives one source more "
		   "readers)");

	/* tp_config_validate finds the same in a struct filled by hand. */
	c->sources[1] = c->sources[0];
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: sources[0] and sources[1] both "
			    "listen on UDP [::]:4789; remove one (threads: "
			    "gives one source more sockets)");
	snprintf(c->sources[1].addr, sizeof(c->sources[1].addr), "0.0.0.0");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: sources[0] listens on UDP [::]:4789 "
			    "and sources[1] on 0.0.0.0:4789, but [::] takes IPv4 "
			    "too; remove one");
	snprintf(c->sources[1].addr, sizeof(c->sources[1].addr), "0::0");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: sources[0] and sources[1] both "
			    "listen on UDP [::]:4789; remove one (threads: "
			    "gives one source more sockets)");
	snprintf(c->sources[1].addr, sizeof(c->sources[1].addr), "::1");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);

	/* Different addresses, ports or kinds are fine, and a udp port may
	 * also be a TCP health port. */
	assert_int_equal(load(c, "sources:\n"
			      "  - {kind: udp, listen: \"[::]:4789\"}\n"
			      "  - {kind: udp, listen: \"[::]:4790\"}\n"
			      "  - {kind: udp, listen: \"10.0.0.5:4790\"}\n"
			      "  - {kind: udp, listen: \"0.0.0.0:6081\"}\n"
			      "  - {kind: udp, listen: \"[::1]:6081\"}\n"
			      "  - {kind: afpacket, interface: eth1}\n"
			      "  - {kind: afpacket, interface: eth2}\n"
			      "  - {kind: pcap, file: a.pcap}\n"
			      "  - {kind: pcap, file: a.pcap}\n"
			      "health.tcp_ports: [4789]\n"), 0);
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);

	/* What only a program can set. */
	tp_config_default(c);
	c->sources[1].threads = 0;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'sources[1].threads': expected "
			    "a whole number from 1 to 64, got '0'");
	tp_config_default(c);
	c->sources[0].buffer = 1024;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'sources[0].buffer': expected a "
			    "size from 64KiB to 2GiB, got '1KiB'");
	tp_config_default(c);
	c->sources[0].kind = TP_SRC_PCAP;
	snprintf(c->sources[0].file, sizeof(c->sources[0].file), "a.pcap");
	c->sources[0].threads = 2;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'sources[0].threads': a pcap "
			    "source is replayed by one thread, got 2");
	tp_config_default(c);
	c->sources[0].kind = 7;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'sources[0].kind': expected udp, "
			    "afpacket or pcap, got kind 7");
	free(c);
}

/* ---- tapir run's other keys -------------------------------------------- */

static void test_run_keys(void **state)
{
	struct tp_config *c = new_default();
	const char *yaml =
		"run:\n"
		"  queue_size: 1024\n"
		"  user: tapir\n"
		"log:\n"
		"  rotate: 15m\n"
		"stats:\n"
		"  interval: 10s\n"
		"health:\n"
		"  tcp_ports: [4789, 8080]\n"
		"http:\n"
		"  listen: \"10.0.0.5:8080\"\n";

	(void)state;
	assert_int_equal(load(c, yaml), 0);
	assert_int_equal(c->queue_size, 1024);
	assert_string_equal(c->run_user, "tapir");
	assert_int_equal(c->rotate_interval_ns, 900 * NS_S);
	assert_int_equal(c->stats_interval_ns, 10 * NS_S);
	assert_int_equal(c->n_health_tcp_ports, 2);
	assert_int_equal(c->health_tcp_ports[0], 4789);
	assert_int_equal(c->health_tcp_ports[1], 8080);
	assert_string_equal(c->http_listen, "10.0.0.5:8080");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);

	/* 0 never rotates. */
	assert_int_equal(load(c, "log.rotate: 0\n"), 0);
	assert_int_equal(c->rotate_interval_ns, 0);
	assert_int_equal(set(c, "log.rotate=7d"), 0);
	assert_int_equal(c->rotate_interval_ns, 7 * 86400 * NS_S);
	assert_int_equal(set(c, "log.rotate=0s"), 0);
	assert_int_equal(c->rotate_interval_ns, 0);
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);

	/* An empty list turns the health ports off, in every spelling. */
	assert_int_equal(load(c, "health:\n  tcp_ports: []\n"), 0);
	assert_int_equal(c->n_health_tcp_ports, 0);
	assert_int_equal(set(c, "health.tcp_ports=4789"), 0);
	assert_int_equal(c->n_health_tcp_ports, 1);
	assert_int_equal(load(c, "health.tcp_ports: \"\"\n"), 0);
	assert_int_equal(c->n_health_tcp_ports, 0);
	assert_int_equal(set(c, "health.tcp_ports=4789"), 0);
	assert_int_equal(set(c, "health.tcp_ports="), 0);
	assert_int_equal(c->n_health_tcp_ports, 0);
	assert_int_equal(set(c, "health.tcp_ports=[]"), 0);
	assert_int_equal(c->n_health_tcp_ports, 0);
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);

	/* http.listen is kept in one form, whichever was written. */
	assert_int_equal(set(c, "http.listen=:8080"), 0);
	assert_string_equal(c->http_listen, "[::]:8080");
	assert_int_equal(set(c, "http.listen=8081"), 0);
	assert_string_equal(c->http_listen, "[::]:8081");
	assert_int_equal(set(c, "http.listen=[2001:DB8::1]:80"), 0);
	assert_string_equal(c->http_listen, "[2001:db8::1]:80");
	assert_int_equal(set(c, "http.listen=127.0.0.1:9000"), 0);
	assert_string_equal(c->http_listen, "127.0.0.1:9000");
	assert_int_equal(set(c, "http.listen=localhost:9001"), 0);
	assert_string_equal(c->http_listen, "127.0.0.1:9001");
	assert_int_equal(set(c, "http.listen=*:9002"), 0);
	assert_string_equal(c->http_listen, "[::]:9002");
	/* "" turns the server off; so does an empty --set. */
	assert_int_equal(load(c, "http:\n  listen: \"\"\n"), 0);
	assert_string_equal(c->http_listen, "");
	assert_int_equal(set(c, "http.listen=:80"), 0);
	assert_int_equal(set(c, "http.listen=\"\""), 0);
	assert_string_equal(c->http_listen, "");
	assert_int_equal(set(c, "http.listen=:80"), 0);
	assert_int_equal(set(c, "http.listen="), 0);
	assert_string_equal(c->http_listen, "");
	assert_int_equal(set(c, "run.user="), 0);
	assert_string_equal(c->run_user, "");
	assert_int_equal(load(c, "run.user: ''\n"), 0);
	assert_string_equal(c->run_user, "");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);
	free(c);
}

static void test_run_key_errors(void **state)
{
	(void)state;
	load_fails("log:\n  rotate: 30s\n",
		   "config t.yaml:2:11: key 'log.rotate': expected 0 or a "
		   "duration from 1m to 7d, got '30s'");
	load_fails("log:\n  rotate: 8d\n",
		   "config t.yaml:2:11: key 'log.rotate': expected 0 or a "
		   "duration from 1m to 7d, got '8d'");
	load_fails("stats:\n  interval: 0\n",
		   "config t.yaml:2:13: key 'stats.interval': expected a "
		   "duration from 1s to 1d, got '0'");
	load_fails("run:\n  queue_size: 1000\n",
		   "config t.yaml:2:15: key 'run.queue_size': expected a power "
		   "of two from 1024 to 4194304, got '1000'");
	load_fails("run:\n  queue_size: 100000\n",
		   "config t.yaml:2:15: key 'run.queue_size': expected a power "
		   "of two like 65536 or 131072, got '100000'");
	load_fails("http:\n  listen: tapir.example:80\n",
		   "config t.yaml:2:11: key 'http.listen': expected an address "
		   "and port like [::]:80, 0.0.0.0:80 or :80, or \"\" for none, "
		   "got 'tapir.example:80'");
	load_fails("http:\n  listen: \"[::]\"\n",
		   "config t.yaml:2:12: key 'http.listen': expected an address "
		   "and port like [::]:80, 0.0.0.0:80 or :80, or \"\" for none, "
		   "got '[::]'");
	load_fails("http:\n  listen: \"0.0.0.0:70000\"\n",
		   "config t.yaml:2:12: key 'http.listen': expected a port from "
		   "1 to 65535 after the address, got '0.0.0.0:70000'");
	/* Nothing at all is more likely a value forgotten than "off". */
	load_fails("http:\n  listen:\n",
		   "config t.yaml:2:3: key 'http.listen': expected an address "
		   "and port like [::]:80, 0.0.0.0:80 or :80, or \"\" for none, "
		   "got nothing");
	load_fails("http.listen: [::]:80\n",
		   "config t.yaml:1:18: invalid YAML: invalid value after "
		   "mapping (an address in brackets must be quoted: "
		   "\"[::]:4789\")");
	load_fails("run:\n  user: \"tapir user\"\n",
		   "config t.yaml:2:10: key 'run.user': expected a user name (no "
		   "spaces, ':' or '/'), or \"\" to stay the user tapir was "
		   "started as, got 'tapir user'");
	load_fails("health:\n  tcp_ports: [4789, 0]\n",
		   "config t.yaml:2:21: key 'health.tcp_ports': expected a port "
		   "from 1 to 65535, got '0'");
	set_fails("http.listen=host:80",
		  "key 'http.listen': expected an address and port like "
		  "[::]:80, 0.0.0.0:80 or :80, or \"\" for none, got "
		  "'host:80'");
	set_fails("log.rotate=59s",
		  "key 'log.rotate': expected 0 or a duration from 1m to 7d, "
		  "got '59s'");
}

static void test_run_key_validate(void **state)
{
	struct tp_config *c = new_default();

	(void)state;
	c->rotate_interval_ns = 30 * NS_S;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'log.rotate': expected 0 or a "
			    "duration from 1m to 7d, got '30s'");
	tp_config_default(c);
	c->queue_size = 3000;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'run.queue_size': expected a "
			    "power of two like 2048 or 4096, got '3000'");
	tp_config_default(c);
	snprintf(c->http_listen, sizeof(c->http_listen), "example.com:80");
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'http.listen': expected an "
			    "address and port like [::]:80, 0.0.0.0:80 or :80, "
			    "or \"\" for none, got 'example.com:80'");
	tp_config_default(c);
	c->http_listen[0] = '\0';
	c->run_user[0] = '\0';
	c->rotate_interval_ns = 0;
	c->n_health_tcp_ports = 0;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), 0);
	free(c);
}

static void test_parse_listen(void **state)
{
	char addr[64];
	uint16_t port = 0;

	(void)state;
	assert_int_equal(tp_config_parse_listen("[::]:80", addr, sizeof(addr),
						&port, err, sizeof(err)), 0);
	assert_string_equal(addr, "::");
	assert_int_equal(port, 80);
	assert_int_equal(tp_config_parse_listen(":8080", addr, sizeof(addr),
						&port, err, sizeof(err)), 0);
	assert_string_equal(addr, "::");
	assert_int_equal(port, 8080);
	assert_int_equal(tp_config_parse_listen("192.0.2.1:443", addr,
						sizeof(addr), &port, err,
						sizeof(err)), 0);
	assert_string_equal(addr, "192.0.2.1");
	assert_int_equal(port, 443);
	assert_int_equal(tp_config_parse_listen("[fe80::1]:1", addr,
						sizeof(addr), &port, err,
						sizeof(err)), 0);
	assert_string_equal(addr, "fe80::1");
	assert_int_equal(port, 1);
	assert_int_equal(tp_config_parse_listen("[::]:", addr, sizeof(addr),
						&port, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "expected an address and port like [::]:80, "
			    "0.0.0.0:80 or :80, got '[::]:'");
	assert_int_equal(tp_config_parse_listen("", addr, sizeof(addr), &port,
						err, sizeof(err)), -EINVAL);
	assert_int_equal(tp_config_parse_listen("1.2.3.4:5:6", addr,
						sizeof(addr), &port, err,
						sizeof(err)), -EINVAL);
	assert_int_equal(tp_config_parse_listen("1.2.3:80", addr, sizeof(addr),
						&port, err, sizeof(err)),
			 -EINVAL);
}

/* ---- --check-config ---------------------------------------------------- */

static void test_load_all(void **state)
{
	struct tp_config *c = malloc(sizeof(*c));
	char path[] = "/tmp/tapir-test-config-XXXXXX";
	const char *yaml = "sources:\n  - {kind: udp, listen: \":4789\"}\n"
			   "  - {kind: udp, listen: \":4790\"}\n";
	const char *ok[] = {"workers=4", "http.listen="};
	const char *bad[] = {"workers=4", "sources=udp:4789"};
	const char *clash[] = {"decode.geneve_ports=4789"};
	char want[512];
	int fd;

	(void)state;
	assert_non_null(c);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);

	assert_int_equal(tp_config_load_all(c, path, ok, 2, err, sizeof(err)),
			 0);
	assert_int_equal(c->nsources, 2);
	assert_int_equal(c->sources[1].port, 4790);
	assert_int_equal(c->workers, 4);
	assert_string_equal(c->http_listen, "");

	assert_int_equal(tp_config_load_all(c, NULL, NULL, 0, err, sizeof(err)),
			 0);
	assert_int_equal(c->nsources, 2);
	assert_int_equal(c->sources[1].port, 6081);

	assert_int_equal(tp_config_load_all(c, path, bad, 2, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "--set key 'sources': sources can only be set "
			    "in the configuration file (a list of records does "
			    "not fit in --set); put them under 'sources:' in "
			    "the YAML file given with -c");

	assert_int_equal(tp_config_load_all(c, path, clash, 1, err,
					    sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: port 4789 is in both "
			    "decode.vxlan_ports and decode.geneve_ports; a port "
			    "carries one encapsulation, remove it from one "
			    "list");

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	yaml = "sources:\n  - kind: udp\n    listen: \":4789\"\n"
	       "    bufer: 1G\n";
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	assert_int_equal(tp_config_load_all(c, path, NULL, 0, err,
					    sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "config %s:4:5: unknown key "
		 "'sources[0].bufer' (did you mean 'buffer'?)", path);
	assert_string_equal(err, want);
	unlink(path);
	free(c);
}

/* ---- validation -------------------------------------------------------- */

static void test_validate(void **state)
{
	struct tp_config *c = new_default();

	(void)state;
	assert_int_equal(set(c, "decode.geneve_ports=6081,4789"), 0);
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: port 4789 is in both "
			    "decode.vxlan_ports and decode.geneve_ports; a port "
			    "carries one encapsulation, remove it from one "
			    "list");

	tp_config_default(c);
	c->workers = 0;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'workers': expected a whole "
			    "number from 1 to 64, got '0'");

	tp_config_default(c);
	c->dedup_window_ns = 2 * NS_S;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'dedup.window': expected a "
			    "duration from 1us to 1s, got '2s'");

	tp_config_default(c);
	c->dedup_table_size = 3000;
	assert_int_equal(tp_config_validate(c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "config: key 'dedup.table_size': expected a "
			    "power of two like 2048 or 4096, got '3000'");
	free(c);
}

/* ---- documentation ----------------------------------------------------- */

/* The documentation as tp_config_write_doc writes it; NUL-terminated. */
static char *doc_text(size_t *len)
{
	FILE *f = tmpfile();
	char *buf;
	long n;

	assert_non_null(f);
	tp_config_write_doc(f);
	assert_int_equal(fflush(f), 0);
	n = ftell(f);
	assert_true(n > 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	rewind(f);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The YAML block under "Every key with its default" must load to exactly
 * the defaults, so that the block users copy is right. */
static void test_doc_example_is_defaults(void **state)
{
	size_t len;
	char *doc = doc_text(&len);
	const char *h = strstr(doc, "## Every key with its default");
	struct tp_config *c = new_default(), *d = new_default();

	(void)state;
	assert_non_null(h);
	const char *start = strstr(h, "```yaml\n");
	assert_non_null(start);
	start += strlen("```yaml\n");
	const char *end = strstr(start, "```");
	assert_non_null(end);
	/* Every key in the example is set to something else first. */
	assert_int_equal(load(c, "decode: {vxlan_ports: [1], geneve_ports: [2], "
			      "vxlan_strict: on, verify_checksums: on, "
			      "max_tunnel_depth: 2, defrag_memory: 1G, "
			      "defrag_timeout: 1m}\ndedup: {enabled: off, "
			      "window: 1ms, table_size: 1024}\nflow: "
			      "{tcp_timeout: 1s, udp_timeout: 1s, icmp_timeout: "
			      "1s, other_timeout: 1s, max_flows: 5}\n"
			      "workers: 3\nlog: {format: zeek, dir: x, rotate: 0}\n"
			      "zones: [{name: z, match: [vni: 1]}]\n"
			      "sources: [{kind: pcap, file: x}]\n"
			      "run: {queue_size: 1024, user: x}\n"
			      "stats: {interval: 1s}\n"
			      "health: {tcp_ports: []}\n"
			      "http: {listen: ''}\n"), 0);
	assert_int_equal(tp_config_load_string(c, "doc", start,
					       (size_t)(end - start), err,
					       sizeof(err)), 0);
	assert_memory_equal(c, d, sizeof(*c));
	free(doc);
	free(c);
	free(d);
}

static void test_doc_up_to_date(void **state)
{
	const char *root = getenv("TP_SOURCE_ROOT");
	char path[4096];
	size_t len;
	char *doc = doc_text(&len);
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/configuration.md",
		 root ? root : ".");
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set TP_SOURCE_ROOT to the source "
			 "tree): %s", path, strerror(errno));
	char *file = malloc(len + 2);
	assert_non_null(file);
	size_t n = fread(file, 1, len + 1, f);
	fclose(f);
	if (n != len || memcmp(file, doc, len) != 0)
		fail_msg("%s is out of date with the key table in "
			 "src/util/config.c; regenerate it with "
			 "`build/tests/unit/test-config --write-doc "
			 "docs/configuration.md`", path);
	free(file);
	free(doc);
}

static void test_doc_names_every_key(void **state)
{
	static const char *const names[] = {
		"decode.vxlan_ports", "decode.geneve_ports",
		"decode.vxlan_strict", "decode.verify_checksums",
		"decode.max_tunnel_depth", "decode.defrag_memory",
		"decode.defrag_timeout", "dedup.enabled", "dedup.window",
		"dedup.table_size", "mirror.max_sessions", "flow.tcp_timeout",
		"flow.udp_timeout",
		"flow.tcp_attempt_timeout", "flow.tcp_close_delay",
		"flow.icmp_timeout", "flow.other_timeout", "flow.max_flows",
		"workers", "log.format", "log.dir", "zones",
		"log.rotate", "stats.interval", "sources", "run.queue_size",
		"run.user", "health.tcp_ports", "http.listen",
	};
	size_t len;
	char *doc = doc_text(&len);
	char h[128];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(h, sizeof(h), "\n### `%s`\n", names[i]);
		if (!strstr(doc, h))
			fail_msg("no section for %s", names[i]);
	}
	assert_non_null(strstr(doc, "| [`dedup.window`](#dedupwindow) | "
			       "duration | `5ms` |\n"));
	assert_non_null(strstr(doc, "- values: 1us to 1s\n"));
	assert_non_null(strstr(doc, "200 ms minimum retransmission timeout"));
	assert_non_null(strstr(doc, "\n## Packet sources\n"));
	assert_non_null(strstr(doc, "- values: see [Packet sources]"
			       "(#packet-sources)\n"));
	assert_non_null(strstr(doc, "- values: 0, or 1m to 7d\n"));
	assert_non_null(strstr(doc, "  listen: \"[::]:80\"\n"));
	free(doc);
}

static int write_doc(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "test-config: %s: %s\n", path, strerror(errno));
		return 1;
	}
	tp_config_write_doc(f);
	if (fclose(f) != 0) {
		fprintf(stderr, "test-config: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_bools_and_enum),
		cmocka_unit_test(test_port_lists),
		cmocka_unit_test(test_load_every_key),
		cmocka_unit_test(test_empty_files),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_file_hashes),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_local_nets),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_yaml_syntax),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_set_after_file),
		cmocka_unit_test(test_set_errors),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_zone_errors),
		cmocka_unit_test(test_zone_limits),
		cmocka_unit_test(test_default_sources),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_source_errors),
		cmocka_unit_test(test_source_limits),
		cmocka_unit_test(test_source_validate),
		cmocka_unit_test(test_run_keys),
		cmocka_unit_test(test_run_key_errors),
		cmocka_unit_test(test_run_key_validate),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_load_all),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_doc_example_is_defaults),
		cmocka_unit_test(test_doc_up_to_date),
		cmocka_unit_test(test_doc_names_every_key),
	};

	if (argc == 3 && strcmp(argv[1], "--write-doc") == 0)
		return write_doc(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
