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
#include "util/netlist.h"

enum key_type {
	KT_BOOL,
	KT_COUNT,     /* whole number */
	KT_SIZE,      /* bytes, with binary multiples */
	KT_DURATION,  /* nanoseconds inside, text with a unit */
	KT_PORTS,     /* uint16_t array + uint8_t count */
	KT_ENUM,      /* index into names[] */
	KT_STRING,    /* char array, NUL-terminated */
	KT_LIST,      /* a list of records: zones, sources (YAML only) */
};

struct ld;
/* Loader of a structured key (a list of records, such as zones) that no
 * scalar syntax expresses. */
typedef int key_load_fn(struct ld *ld, struct fy_node *key,
			struct fy_node *val);
static key_load_fn load_zones, load_sources;

/* Checker of a string key's text: writes its canonical form (at most n
 * bytes with the NUL) to out, or returns -1 with "expected ..." in why. */
typedef int key_text_fn(const char *text, char *out, size_t n, char *why,
			size_t whylen);
static key_text_fn text_listen, text_user, text_floor, text_nets, text_hashes;

#define K_POW2 0x1u   /* count must be a power of two */
#define K_ZERO 0x2u   /* 0 is allowed besides min..max, and means off */
#define K_EMPTY 0x4u  /* a string may be "", which means off */
#define K_UNSET 0x8u  /* not set by default: giving the default text is
		       * not the same (store.dir) */

struct key {
	const char *name;
	enum key_type type;
	size_t off;                /* the field in struct tp_config */
	size_t width;              /* its size in bytes */
	size_t aux;                /* KT_PORTS: offset of the uint8_t count */
	uint64_t min, max;         /* bounds of numbers, sizes and durations */
	unsigned flags;
	const char *const *names;  /* KT_ENUM, NULL-terminated */
	key_load_fn *load;         /* KT_LIST: reads the YAML value */
	key_text_fn *text;         /* KT_STRING: checks the value, if set */
	const char *form;          /* KT_STRING, KT_LIST: what a value looks
				    * like, if not "a path" */
	const char *items;         /* KT_LIST: what the list holds */
	const char *section;       /* KT_LIST: heading of its doc section */
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

static const char *const store_compress_names[] = {
	[TP_STORE_COMPRESS_NONE] = "none",
	[TP_STORE_COMPRESS_ZSTD] = "zstd",
	NULL,
};

static const char *const file_mime_names[] = {
	[TP_FILE_MIME_SIGNATURES] = "signatures",
	[TP_FILE_MIME_LIBMAGIC] = "libmagic",
	[TP_FILE_MIME_OFF] = "off",
	NULL,
};

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
		.name = "app.enabled", .type = KT_BOOL,
		FIELD(app_enabled),
		.def = "true",
		.doc = "Application inspection: TCP reassembly, the protocol "
		       "parsers (http.log, dns.log, ...), nDPI classification "
		       "and `service` in conn.log. Off, each packet's bytes are "
		       "no longer copied to the workers.",
	},
	{
		.name = "app.reassembly_depth", .type = KT_SIZE,
		FIELD(app_reassembly_depth),
		.min = 1 * KIB, .max = 4 * GIB, .flags = K_ZERO,
		.def = "1MiB",
		.doc = "Bytes of each direction of a TCP connection handed to "
		       "its parser. Past it the parser is told of gaps of the "
		       "same length (so that it can skip a body it knows the "
		       "length of) and nothing more is held out of order; "
		       "each direction that reaches it is counted "
		       "(`reassembly_depth_hits` in stats.log). 0: no limit.",
	},
	{
		.name = "app.reassembly_memory", .type = KT_SIZE,
		FIELD(app_reassembly_memory),
		.min = 64 * KIB, .max = 64 * GIB,
		.def = "64MiB",
		.doc = "Bytes of out-of-order TCP segments held for "
		       "reassembly, over all workers (each has an equal "
		       "share). A segment that does not fit is not held and "
		       "counted (`reassembly_memcap_hits`); its bytes become a "
		       "gap once the peer acknowledges them.",
	},
	{
		.name = "app.inspect_bytes", .type = KT_SIZE,
		FIELD(app_inspect_bytes),
		.min = 16, .max = 1 * MIB,
		.def = "4KiB",
		.doc = "Bytes of each direction that the parsers' probes look "
		       "at before a flow that none of them wants is given up "
		       "(then only nDPI sees it).",
	},
	{
		.name = "app.ndpi", .type = KT_BOOL,
		FIELD(app_ndpi),
		.def = "true",
		.doc = "Classify the flows that no parser takes with nDPI, "
		       "which fills `service` in conn.log and its flow risks "
		       "(`ndpi_risks`). Without nDPI in the build this key is "
		       "accepted and does nothing.",
	},
	{
		.name = "app.ndpi_packets", .type = KT_COUNT,
		FIELD(app_ndpi_packets),
		.min = 1, .max = 1000,
		.def = "24",
		.doc = "Packets of a flow that nDPI sees at most; then its "
		       "result so far is kept (never a guess from the port "
		       "alone) and its state freed.",
	},
	{
		.name = "app.file_hashes", .type = KT_STRING,
		FIELD(app_file_hashes),
		.flags = K_EMPTY, .text = text_hashes,
		.form = "a comma-separated list of md5, sha1 and sha256, or "
			"\"\" for none",
		.def = "md5,sha1,sha256",
		.doc = "The hashes of every file (HTTP body) in files.log "
		       "(`md5`, `sha1`, `sha256`, as Zeek's "
		       "hash-all-files.zeek) and its `analyzers`. A file with "
		       "a gap, or whose decoding stopped, has none.",
	},
	{
		.name = "app.file_decompress_max", .type = KT_SIZE,
		FIELD(app_file_decompress_max),
		.min = 1 * KIB, .max = 4 * GIB, .flags = K_ZERO,
		.def = "16MiB",
		.doc = "Decoded bytes of a file sent with a Content-Encoding "
		       "(gzip, deflate) that are hashed and sniffed; past it "
		       "decoding stops (weird `file_decompress_limit`, "
		       "`files.decode_capped` in stats.log). 0: bodies are "
		       "taken as sent, not decoded.",
	},
	{
		.name = "app.file_mime", .type = KT_ENUM,
		FIELD(app_file_mime),
		.names = file_mime_names,
		.def = "signatures",
		.doc = "How files.log's `mime_type` is found from a file's "
		       "first 4 KiB. `signatures`: tapir's table of common "
		       "types with Zeek's names (a few hundred nanoseconds a "
		       "file). `libmagic`: Debian's libmagic and its whole "
		       "database (many more types, libmagic's names, but about "
		       "0.6 ms a file: too slow for a busy link). `off`: none.",
	},
	{
		.name = "site.local_nets", .type = KT_STRING,
		FIELD(site_local_nets),
		.flags = K_EMPTY, .text = text_nets,
		.form = "networks like \"10.0.0.0/8, fc00::/7\", or \"\" "
			"for none",
		.def = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 "
		       "127.0.0.0/8 fc00::/7 fe80::/10 ::1/128",
		.doc = "The site's own networks (Zeek's `Site::local_nets`): "
		       "the passive inventory (known_hosts.log, "
		       "known_services.log, known_certs.log, software.log) "
		       "tracks the hosts in them only. The default is the "
		       "private address space, as Zeek's "
		       "`Site::private_address_space_is_local` makes it. "
		       "Networks are separated by commas or spaces, at most "
		       "64 of them in 255 characters.",
	},
	{
		.name = "inventory.expiry", .type = KT_DURATION,
		FIELD(inventory_expiry_ns),
		.min = NS_M, .max = 365 * NS_D,
		.def = "1d",
		.doc = "How long a known host, service, certificate or a "
		       "host's software stays known: each is logged again "
		       "once this long after it was logged (Zeek's "
		       "`&create_expire=1day`).",
	},
	{
		.name = "inventory.memory", .type = KT_SIZE,
		FIELD(inventory_memory),
		.min = 1 * MIB, .max = 64 * GIB,
		.def = "64MiB",
		.doc = "Memory of the inventory's shared table of what is "
		       "known and of the sightings not yet logged. What does "
		       "not fit is not tracked and counted "
		       "(`inventory_memcap_hits` in stats.log).",
	},
	{
		.name = "inventory.known_hosts", .type = KT_BOOL,
		FIELD(inventory_known_hosts),
		.def = "true",
		.doc = "Write known_hosts.log: each local host that completed "
		       "a TCP handshake, once per `inventory.expiry`.",
	},
	{
		.name = "inventory.known_services", .type = KT_BOOL,
		FIELD(inventory_known_services),
		.def = "true",
		.doc = "Write known_services.log: the services (address, port, "
		       "conn.log's `service`) of local responders, once per "
		       "`inventory.expiry`.",
	},
	{
		.name = "inventory.known_certs", .type = KT_BOOL,
		FIELD(inventory_known_certs),
		.def = "true",
		.doc = "Write known_certs.log: the TLS server certificates of "
		       "local hosts, once per `inventory.expiry`.",
	},
	{
		.name = "inventory.software", .type = KT_BOOL,
		FIELD(inventory_software),
		.def = "true",
		.doc = "Write software.log: browsers (User-Agent), web and "
		       "application servers (Server, X-Powered-By) and SSH "
		       "clients and servers (banners) of local hosts, again "
		       "when a version changes.",
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
		.name = "log.rotate", .type = KT_DURATION,
		FIELD(rotate_interval_ns),
		.min = NS_M, .max = 7 * NS_D, .flags = K_ZERO,
		.def = "1h",
		.doc = "How often `tapir run` closes its logs and begins new "
		       "ones; a closed file is renamed with the time range it "
		       "holds, so that a shipper can take it whole. Hourly, as "
		       "ZeekControl rotates Zeek's logs by default. `0` never "
		       "rotates.",
	},
	{
		.name = "stats.interval", .type = KT_DURATION,
		FIELD(stats_interval_ns),
		.min = NS_S, .max = NS_D,
		.def = "60s",
		.doc = "How often `tapir run` writes its counters (packets, "
		       "drops, flows) to stats.log. A minute is fine enough to "
		       "place a burst of drops and coarse enough that a day is "
		       "1440 lines.",
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
		.name = "zones", .type = KT_LIST,
		.load = load_zones,
		.form = "a list of zones, each with a name and match entries",
		.items = "rules",
		.section = "Zones and match rules",
		.def = "",
		.doc = "Rules that put mirror sessions into zones; see [Zones "
		       "and match rules](#zones-and-match-rules). Only in the "
		       "file: `--set` cannot express a list of rules.",
	},
	{
		.name = "sources", .type = KT_LIST,
		.load = load_sources,
		.form = "a list of sources, each with a kind",
		.items = "records",
		.section = "Packet sources",
		/* tp_config_default sets these without the loader; the doc
		 * test checks that this text loads to the same. */
		.def = "[{kind: udp, listen: \"[::]:4789\"}, "
		       "{kind: udp, listen: \"[::]:6081\"}]",
		.doc = "Where `tapir run` takes packets from: UDP sockets that "
		       "receive VXLAN or Geneve, interfaces read with "
		       "AF_PACKET, or capture files replayed; see [Packet "
		       "sources](#packet-sources). The default listens on "
		       "every address for VXLAN on 4789, where AWS VPC Traffic "
		       "Mirroring and Azure vTAP send, and for Geneve on 6081, "
		       "where a Gateway Load Balancer sends. Only in the file: "
		       "`--set` cannot express a list of records. `tapir read` "
		       "ignores it.",
	},
	{
		.name = "run.queue_size", .type = KT_COUNT,
		FIELD(queue_size),
		.min = 1024, .max = 4194304, .flags = K_POW2,
		.def = "65536",
		.doc = "Packets in each queue between one receive thread and "
		       "one worker of `tapir run`; there is a queue for every "
		       "such pair. When a queue is full, the packet is dropped "
		       "there and counted (`queue_drops`): a receive thread "
		       "never waits, since one that waited for a slow worker "
		       "would stall every other worker it feeds too. 65536 "
		       "packets cover a worker that stalls for 65 ms at a "
		       "million packets/s.",
	},
	{
		.name = "run.user", .type = KT_STRING,
		FIELD(run_user),
		.flags = K_EMPTY, .text = text_user,
		.form = "a user name, or \"\" to stay the user tapir was "
			"started as",
		.def = "nobody",
		.doc = "After it has opened its sockets, packet rings and "
		       "listening ports, `tapir run` started as root switches "
		       "to this user, so that the code that parses untrusted "
		       "packets does not run as root. `nobody` exists on every "
		       "Linux system; the user must be able to write into "
		       "`log.dir`. `\"\"` keeps the user tapir was started as.",
	},
	{
		.name = "health.stuck_after", .type = KT_DURATION,
		FIELD(health_stuck_ns),
		.min = NS_S, .max = 10 * NS_M,
		.def = "5s",
		.doc = "`tapir run` is unhealthy when a receive thread or a "
		       "worker has not moved for this long: every thread passes "
		       "its loop at least every 100 ms even when idle, so 5s "
		       "means it is stuck, not busy.",
	},
	{
		.name = "health.loss_window", .type = KT_DURATION,
		FIELD(health_loss_window_ns),
		.min = NS_S, .max = NS_H,
		.def = "10s",
		.doc = "The window over which loss is judged for health: at the "
		       "end of each window, more than `health.max_loss_percent` "
		       "of the packets that arrived in it lost (socket, ring or "
		       "queue drops) makes `tapir run` unhealthy until the end "
		       "of the next window. A load balancer's checks come every "
		       "5 to 30 s, so 10s is seen by at least one of them.",
	},
	{
		.name = "health.max_loss_percent", .type = KT_COUNT,
		FIELD(health_max_loss_percent),
		.min = 0, .max = 100,
		.def = "1",
		.doc = "The share of packets, in percent, that may be lost in one "
		       "`health.loss_window` while `tapir run` still reports "
		       "healthy. 0: any loss is unhealthy; 100: loss never is.",
	},
	{
		.name = "health.tcp_ports", .type = KT_PORTS,
		FIELD(health_tcp_ports),
		.aux = offsetof(struct tp_config, n_health_tcp_ports),
		.def = "4789",
		.doc = "TCP ports on which `tapir run` accepts connections and "
		       "closes them at once, so that a load balancer's TCP "
		       "health check finds the target up while tapir runs. A "
		       "Network Load Balancer's target group for UDP 4789 "
		       "checks by default with a TCP connection to the same "
		       "port, 4789. `[]` turns them off. At most 8 ports.",
	},
	{
		.name = "http.listen", .type = KT_STRING,
		FIELD(http_listen),
		.flags = K_EMPTY, .text = text_listen,
		.form = "an address and port like [::]:80, 0.0.0.0:80 or :80, "
			"or \"\" for none",
		.def = "[::]:80",
		.doc = "Address and port of the HTTP server of `tapir run` that "
		       "answers `/healthz` and serves the API. A Gateway Load "
		       "Balancer's target group checks TCP port 80 by default. "
		       "An IPv6 address goes in brackets, and `[::]` (also "
		       "written `:80`) takes IPv4 too. `\"\"` turns the server "
		       "off. A port below 1024 needs root or "
		       "`CAP_NET_BIND_SERVICE`; tapir opens it before it "
		       "switches to `run.user`.",
	},
	{
		.name = "store.dir", .type = KT_STRING,
		FIELD(store_dir),
		.flags = K_EMPTY | K_UNSET,
		.form = "a directory, or \"\" for no packet store",
		.def = "",
		.doc = "Directory of the packet store: every frame received, "
		       "outer headers kept, is written into nanosecond pcap "
		       "segment files with an index each, which `tapir query` "
		       "searches. `\"\"` turns the store off. `tapir read "
		       "--store DIR` sets it. Format: "
		       "docs/internals/store.md. When the key is not given, "
		       "`tapir run` keeps a store in `store` under `log.dir` "
		       "(where `run.user` may write), and `tapir query` and "
		       "`GET /api/pcap` search that one; `tapir read` keeps "
		       "none.",
	},
	{
		.name = "store.max_size", .type = KT_SIZE,
		FIELD(store_max_size),
		.min = 256 * KIB, .max = 1024 * 1024 * GIB, .flags = K_ZERO,
		.def = "0",
		.doc = "Retention: the store's size budget, every file in "
		       "`store.dir` counted. When it is passed, the oldest "
		       "segments are removed with their index until the store "
		       "fits again. The newest closed segment is never "
		       "removed, and the open ones (one per receive thread, up "
		       "to `store.segment_size` each) count but are not "
		       "removable: keep the budget several segments large. "
		       "`0`: no budget.",
	},
	{
		.name = "store.min_free", .type = KT_STRING,
		FIELD(store_min_free),
		.text = text_floor,
		.form = "a size like 20GiB, a share of the file system like "
			"10%, or 0 for none",
		.def = "10%",
		.doc = "Retention: the free space the store leaves on its file "
		       "system (what an unprivileged user may still write, "
		       "`df`'s Avail). When the file system has less, the "
		       "oldest segments are removed until it has this much "
		       "again or only the newest segment is left; other "
		       "programs filling the disk thus shrink the store "
		       "rather than fill it up. `0`: no floor.",
	},
	{
		.name = "store.max_age", .type = KT_DURATION,
		FIELD(store_max_age_ns),
		.min = NS_M, .max = 3650 * NS_D, .flags = K_ZERO,
		.def = "0",
		.doc = "Retention: a segment whose file was last written longer "
		       "ago than this (wall clock) is removed with its index. "
		       "`0`: kept whatever their age.",
	},
	{
		.name = "store.segment_size", .type = KT_SIZE,
		FIELD(store_segment_size),
		.min = 64 * KIB, .max = 64 * GIB,
		.def = "256MiB",
		.doc = "A segment file is closed (renamed into view and "
		       "indexed) when it reaches this size.",
	},
	{
		.name = "store.segment_age", .type = KT_DURATION,
		FIELD(store_segment_age_ns),
		.min = NS_S, .max = 24 * 60 * NS_M,
		.def = "60s",
		.doc = "A segment file is closed when its first packet is this "
		       "old, in packet time (or the wall clock when a live "
		       "source is idle): packets are searchable no later than "
		       "this after they arrive.",
	},
	{
		.name = "store.publish_interval", .type = KT_DURATION,
		FIELD(store_publish_ns),
		.min = NS_S, .max = 60 * NS_M,
		.def = "5s",
		.doc = "A segment file open this long by the wall clock is "
		       "closed (renamed into view, indexed, entered in the "
		       "manifest), so that a live store's packets are "
		       "searchable within this time of their arrival.",
	},
	{
		.name = "store.compress", .type = KT_ENUM,
		FIELD(store_compress),
		.names = store_compress_names,
		.def = "none",
		.doc = "`none`: segments are pcap files. `zstd`: segments are "
		       "`seg-….pcap.zst`, zstd frames of about 64 KiB of "
		       "whole records each, which together decompress to the "
		       "pcap (`zstdcat`); `tapir query` reads either.",
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
		return k->form ? k->form : "a path";
	case KT_LIST:
		return k->form;
	}
	return "a value";
}

/* Bounds of a number; "got" is the user's text for the message. */
static int check_number(const struct key *k, uint64_t v, const char *got,
			char *why, size_t n)
{
	char a[32], b[32], f[96];

	if (v == 0 && (k->flags & K_ZERO))
		return 0;
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
			put(why, n, "expected %sa %s from %s to %s, got '%s'",
			    (k->flags & K_ZERO) ? "0 or " : "",
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

#define UDP_LISTEN_FORM \
	"an address and port like :4789, 10.0.0.5:4789 or [2001:db8::5]:4789"
#define HTTP_LISTEN_FORM \
	"an address and port like [::]:80, 0.0.0.0:80 or :80"

/* A listening address: "[2001:db8::5]:4789", "10.0.0.5:4789", or ":4789",
 * "*:4789" and "4789" for every address ("::", which takes IPv4 too).  The
 * address goes to addr (addrlen >= INET6_ADDRSTRLEN) as inet_ntop writes
 * it, so that one address has one text.  Names are refused but localhost
 * (127.0.0.1): what a name resolves to can change under a running
 * listener.  0, or -1 with why ("expected <form>, ..."). */
static int split_listen(const char *text, const char *form, char *addr,
			size_t addrlen, uint16_t *port, char *why, size_t n)
{
	char a[64], q[QUOTE_MAX];
	const char *ps, *colon = strrchr(text, ':');
	struct in6_addr a6;
	struct in_addr a4;
	uint64_t v;

	quote(text, strlen(text), q, sizeof(q));
	if (text[0] == '[') {
		const char *rb = strchr(text, ']');
		size_t alen = rb ? (size_t)(rb - text - 1) : 0;
		if (!rb || rb[1] != ':' || alen >= sizeof(a))
			goto bad;
		memcpy(a, text + 1, alen);
		a[alen] = '\0';
		if (inet_pton(AF_INET6, a, &a6) != 1)
			goto bad;
		inet_ntop(AF_INET6, &a6, addr, (socklen_t)addrlen);
		ps = rb + 2;
	} else if (colon && colon != strchr(text, ':')) {
		put(why, n, "expected an IPv6 address in brackets, then the "
		    "port: [ADDR]:PORT, got '%s'", q);
		return -1;
	} else if (colon) {
		size_t alen = (size_t)(colon - text);
		if (alen >= sizeof(a))
			goto bad;
		memcpy(a, text, alen);
		a[alen] = '\0';
		/* The two names that service/sock.c takes too. */
		if (alen == 0 || strcmp(a, "*") == 0)
			snprintf(addr, addrlen, "::");
		else if (strcmp(a, "localhost") == 0)
			snprintf(addr, addrlen, "127.0.0.1");
		else if (inet_pton(AF_INET, a, &a4) == 1)
			inet_ntop(AF_INET, &a4, addr, (socklen_t)addrlen);
		else
			goto bad;
		ps = colon + 1;
	} else {
		snprintf(addr, addrlen, "::");
		ps = text;
	}
	if (parse_uint(ps, false, &v) < 0)
		goto bad;
	if (v < 1 || v > 65535) {
		put(why, n, "expected a port from 1 to 65535 after the "
		    "address, got '%s'", q);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
bad:
	put(why, n, "expected %s, got '%s'", form, q);
	return -1;
}

/* "ADDR:PORT" with the address in brackets if it is IPv6. */
static const char *fmt_listen(const char *addr, uint16_t port, char *buf,
			      size_t n)
{
	if (strchr(addr, ':'))
		put(buf, n, "[%s]:%u", addr, (unsigned)port);
	else
		put(buf, n, "%s:%u", addr, (unsigned)port);
	return buf;
}

/* http.listen: kept in the form fmt_listen writes (":80" becomes
 * "[::]:80"), so that the server need not know the short forms. */
static int text_listen(const char *text, char *out, size_t n, char *why,
		       size_t whylen)
{
	char addr[INET6_ADDRSTRLEN], canon[80];
	uint16_t port;

	if (split_listen(text, HTTP_LISTEN_FORM ", or \"\" for none", addr,
			 sizeof(addr), &port, why, whylen) < 0)
		return -1;
	fmt_listen(addr, port, canon, sizeof(canon));
	TP_BUG_ON(strlen(canon) >= n);
	memcpy(out, canon, strlen(canon) + 1);
	return 0;
}

/* run.user: any name that /etc/passwd can hold; whether it exists is for
 * `tapir run` to find out on the host it runs on. */
static int text_user(const char *text, char *out, size_t n, char *why,
		     size_t whylen)
{
	char q[QUOTE_MAX];

	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c == 0x7f || c == ':' || c == '/') {
			put(why, whylen, "expected a user name (no spaces, ':' "
			    "or '/'), or \"\" to stay the user tapir was "
			    "started as, got '%s'",
			    quote(text, strlen(text), q, sizeof(q)));
			return -1;
		}
	}
	TP_BUG_ON(strlen(text) >= n);
	memcpy(out, text, strlen(text) + 1);
	return 0;
}

/* app.file_hashes: names of hashes, comma-separated, each once; the
 * canonical form lists them in the order md5, sha1, sha256. */
static int text_hashes(const char *text, char *out, size_t n, char *why,
		       size_t whylen)
{
	static const char *const names[] = {"md5", "sha1", "sha256"};
	char q[QUOTE_MAX];
	bool on[3] = {false, false, false};
	const char *p = text;

	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		size_t i = 0;
		for (; i < 3; i++)
			if (strlen(names[i]) == len &&
			    strncmp(p, names[i], len) == 0)
				break;
		if (i == 3 || on[i]) {
			put(why, whylen, "expected md5, sha1 and sha256 "
			    "separated by commas, each once (or \"\" for no "
			    "hashes), got '%s'",
			    quote(text, strlen(text), q, sizeof(q)));
			return -1;
		}
		on[i] = true;
		p += len;
		if (*p == ',' && !*++p) {
			put(why, whylen, "expected a hash name after the last "
			    "comma in '%s'", quote(text, strlen(text), q,
						   sizeof(q)));
			return -1;
		}
	}
	out[0] = 0;
	for (size_t i = 0; i < 3; i++)
		if (on[i])
			snprintf(out + strlen(out), n - strlen(out), "%s%s",
				 out[0] ? "," : "", names[i]);
	return 0;
}

/* store.min_free: a percentage of the file system ("10%", whole
 * percents) or a size; canonical form "N%" or the bytes in decimal. */
static int text_floor(const char *text, char *out, size_t n, char *why,
		      size_t whylen)
{
	char q[QUOTE_MAX];
	uint64_t v;
	size_t len = strlen(text);

	if (len > 1 && text[len - 1] == '%') {
		char num[8];
		if (len - 1 < sizeof(num)) {
			memcpy(num, text, len - 1);
			num[len - 1] = 0;
			if (parse_uint(num, false, &v) == 0 && v <= 100) {
				snprintf(out, n, "%u%%", (unsigned)v);
				return 0;
			}
		}
	} else if (parse_scaled(text, size_units, 1, &v) == 0) {
		snprintf(out, n, "%llu", (unsigned long long)v);
		return 0;
	}
	put(why, whylen, "expected a size like 20GiB, a share of the file "
	    "system from 0%% to 100%%, or 0 for none, got '%s'",
	    quote(text, len, q, sizeof(q)));
	return -1;
}

static int text_nets(const char *text, char *out, size_t n, char *why,
		     size_t whylen)
{
	struct tp_netlist l;
	if (tp_netlist_parse(text, &l, why, whylen) < 0)
		return -1;
	if (strlen(text) >= n) {
		put(why, whylen, "expected at most %zu characters", n - 1);
		return -1;
	}
	snprintf(out, n, "%s", text);
	return 0;
}

int tp_config_parse_size(const char *text, uint64_t *bytes)
{
	return parse_scaled(text, size_units, 1, bytes);
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
		/* `--set http.listen=""` as the doc writes it. */
		if ((k->flags & K_EMPTY) && (strcmp(text, "\"\"") == 0 ||
					     strcmp(text, "''") == 0)) {
			text = "";
			len = 0;
		}
		if (len == 0 && !(k->flags & K_EMPTY)) {
			put(why, n, "expected %s, got nothing",
			    form(k, f, sizeof(f)));
			return -1;
		}
		if (len >= k->width) {
			put(why, n, "expected %s shorter than %zu bytes, got "
			    "'%s'", form(k, f, sizeof(f)), k->width, q);
			return -1;
		}
		/* tapir run keeps a store unless store.dir was given, even
		 * as "". */
		if (k->off == offsetof(struct tp_config, store_dir))
			cfg->store_dir_set = true;
		if (len && k->text) {
			char canon[256];
			TP_BUG_ON(k->width > sizeof(canon));
			if (k->text(text, canon, k->width, why, n) < 0)
				return -1;
			memcpy(field(k, cfg), canon, strlen(canon) + 1);
			return 0;
		}
		memcpy(field(k, cfg), text, len + 1);
		return 0;
	case KT_LIST:
		put(why, n, "%s can only be set in the configuration file "
		    "(a list of %s does not fit in --set); put them under "
		    "'%s:' in the YAML file given with -c", k->name, k->items,
		    k->name);
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

/* ---- sources ----------------------------------------------------------- */

static const char *const udp_keys[] = {
	"kind", "listen", "encap", "threads", "buffer",
};
static const char *const afpacket_keys[] = {
	"kind", "interface", "threads", "buffer",
};
static const char *const pcap_keys[] = {"kind", "file", "speed", "loop"};

/* What each kind of source takes. */
static const struct source_kind {
	const char *name;
	const char *a;            /* "a udp source", for messages */
	const char *const *keys;
	size_t nkeys;
	const char *takes;        /* its keys besides kind, for messages */
	const char *needs;        /* the key it cannot do without */
	const char *needs_eg;     /* an example of that key */
	uint64_t buf_min, buf_max;
} source_kinds[] = {
	[TP_SRC_UDP] = {
		"udp", "a udp source", udp_keys, TP_ARRAY_SIZE(udp_keys),
		"listen, encap, threads and buffer", "listen", "':4789'",
		64 * KIB, 2 * GIB,
	},
	[TP_SRC_AFPACKET] = {
		"afpacket", "an afpacket source", afpacket_keys,
		TP_ARRAY_SIZE(afpacket_keys),
		"interface, threads and buffer", "interface", "'eth1'",
		MIB, 4 * GIB,
	},
	[TP_SRC_PCAP] = {
		"pcap", "a pcap source", pcap_keys, TP_ARRAY_SIZE(pcap_keys),
		"file, speed and loop", "file", "'/var/tmp/mirror.pcap'",
		0, 0,
	},
};

#define SRC_THREADS_MAX 64
#define SRC_BUFFER_DEFAULT (64 * MIB)
#define SRC_SPEED_MAX 1000000u   /* permille: 1000 times the pace */
#define SRC_SPEED_FORM \
	"a speed from 0 to 1000 (1 for the capture's own pace, 2 for " \
	"twice as fast, 0 for as fast as it can be read)"

static void source_default(struct tp_source_cfg *s, enum tp_source_kind kind)
{
	memset(s, 0, sizeof(*s));
	s->kind = (uint8_t)kind;
	s->threads = 1;
	if (kind != TP_SRC_PCAP)
		s->buffer = SRC_BUFFER_DEFAULT;
	s->speed_permille = 1000;
}

/* A udp source's encapsulation when none is given: 6081 is Geneve's
 * IANA port, and anything else is taken for VXLAN, which has more. */
static uint8_t default_encap(uint16_t port)
{
	return port == 6081 ? TP_ENCAP_GENEVE : TP_ENCAP_VXLAN;
}

static int check_threads(uint64_t v, const char *got, char *why, size_t n)
{
	if (v < 1 || v > SRC_THREADS_MAX) {
		put(why, n, "expected a whole number from 1 to %d, got '%s'",
		    SRC_THREADS_MAX, got);
		return -1;
	}
	return 0;
}

static int check_buffer(const struct source_kind *sk, uint64_t v,
			const char *got, char *why, size_t n)
{
	char a[32], b[32];

	if (v < sk->buf_min || v > sk->buf_max) {
		put(why, n, "expected a size from %s to %s, got '%s'",
		    fmt_size(sk->buf_min, a, sizeof(a)),
		    fmt_size(sk->buf_max, b, sizeof(b)), got);
		return -1;
	}
	return 0;
}

/* Linux's rule for a device name (dev_valid_name): 1 to 15 bytes, not "."
 * or "..", no '/', ':' or white space. */
static int check_ifname(const char *s, char *why, size_t n)
{
	char q[QUOTE_MAX];
	size_t len = strnlen(s, 32);
	bool ok = len >= 1 && len < 16 && strcmp(s, ".") != 0 &&
		  strcmp(s, "..") != 0;

	for (const char *p = s; ok && *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '/' || *p == ':' ||
		    *p == 0x7f)
			ok = false;
	if (!ok) {
		put(why, n, "expected an interface name like eth1 (1 to 15 "
		    "bytes, no '/', ':' or spaces), got '%s'",
		    quote(s, len, q, sizeof(q)));
		return -1;
	}
	return 0;
}

static int check_file(const char *s, size_t width, char *why, size_t n)
{
	char q[QUOTE_MAX];
	size_t len = strnlen(s, width);

	if (len == 0) {
		put(why, n, "expected the path of a capture file, got nothing");
		return -1;
	}
	if (len >= width) {
		put(why, n, "expected a path shorter than %zu bytes, got '%s'",
		    width, quote(s, len, q, sizeof(q)));
		return -1;
	}
	return 0;
}

/* "1", "2", "0.5", "0"; "2x" too.  Permille, exact to 0.001; a speed
 * that rounds to 0 but is not 0 would mean the opposite, so it is
 * refused. */
static int parse_speed(const char *text, uint32_t *out, char *why, size_t n)
{
	static const struct unit times[] = {{"x", 1000}, {NULL, 0}};
	char q[QUOTE_MAX];
	uint64_t v;

	quote(text, strlen(text), q, sizeof(q));
	if (parse_scaled(text, times, 1000, &v) < 0 || v > SRC_SPEED_MAX ||
	    (v == 0 && strpbrk(text, "123456789"))) {
		put(why, n, "expected %s, got '%s'", SRC_SPEED_FORM, q);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* What the value of a source record's key looks like. */
static const char *source_key_form(const char *kname)
{
	static const struct {
		const char *key, *form;
	} forms[] = {
		{"listen", UDP_LISTEN_FORM},
		{"encap", "vxlan or geneve"},
		{"threads", "a whole number from 1 to 64"},
		{"buffer", "a size like 64MiB, 512k or 1G"},
		{"interface", "an interface name like eth1"},
		{"file", "the path of a capture file"},
		{"speed", SRC_SPEED_FORM},
		{"loop", "true or false"},
	};

	for (size_t i = 0; i < TP_ARRAY_SIZE(forms); i++)
		if (strcmp(kname, forms[i].key) == 0)
			return forms[i].form;
	return "a value";
}

/* The value of one key of a source record into s.  kn is the key's node,
 * vn its value, path its path ("sources[1].listen"). */
static int load_source_key(struct ld *ld, const struct source_kind *sk,
			   struct tp_source_cfg *s, const char *kname,
			   const char *path, struct fy_node *kn,
			   struct fy_node *vn)
{
	char text[TEXT_MAX], why[512], q[QUOTE_MAX];
	uint64_t v;
	int rc;

	rc = need_scalar(ld, path, source_key_form(kname), kn, vn, text,
			 sizeof(text));
	if (rc)
		return rc;
	if (!text[0])
		return ld_fail(ld, vn, kn, "key '%s': expected %s, got nothing",
			       path, source_key_form(kname));
	quote(text, strlen(text), q, sizeof(q));
	if (strcmp(kname, "listen") == 0) {
		char addr[INET6_ADDRSTRLEN];
		if (split_listen(text, UDP_LISTEN_FORM, addr, sizeof(addr),
				 &s->port, why, sizeof(why)) < 0)
			return ld_fail(ld, vn, kn, "key '%s': %s", path, why);
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
	} else if (strcmp(kname, "encap") == 0) {
		if (strcmp(text, "vxlan") == 0)
			s->encap = TP_ENCAP_VXLAN;
		else if (strcmp(text, "geneve") == 0)
			s->encap = TP_ENCAP_GENEVE;
		else
			return ld_fail(ld, vn, kn, "key '%s': expected vxlan "
				       "or geneve, got '%s'", path, q);
	} else if (strcmp(kname, "threads") == 0) {
		if (parse_uint(text, false, &v) < 0)
			v = 0;
		if (check_threads(v, q, why, sizeof(why)) < 0)
			return ld_fail(ld, vn, kn, "key '%s': %s", path, why);
		s->threads = (uint32_t)v;
	} else if (strcmp(kname, "buffer") == 0) {
		if (parse_scaled(text, size_units, 1, &v) < 0)
			return ld_fail(ld, vn, kn, "key '%s': expected a size "
				       "like 64MiB, 512k or 1G, got '%s'",
				       path, q);
		if (check_buffer(sk, v, q, why, sizeof(why)) < 0)
			return ld_fail(ld, vn, kn, "key '%s': %s", path, why);
		s->buffer = v;
	} else if (strcmp(kname, "interface") == 0) {
		if (check_ifname(text, why, sizeof(why)) < 0)
			return ld_fail(ld, vn, kn, "key '%s': %s", path, why);
		memcpy(s->interface, text, strlen(text) + 1);
	} else if (strcmp(kname, "file") == 0) {
		if (check_file(text, sizeof(s->file), why, sizeof(why)) < 0)
			return ld_fail(ld, vn, kn, "key '%s': %s", path, why);
		memcpy(s->file, text, strlen(text) + 1);
	} else if (strcmp(kname, "speed") == 0) {
		if (parse_speed(text, &s->speed_permille, why,
				sizeof(why)) < 0)
			return ld_fail(ld, vn, kn, "key '%s': %s", path, why);
	} else if (strcmp(kname, "loop") == 0) {
		if (parse_bool(text, &s->loop) < 0)
			return ld_fail(ld, vn, kn, "key '%s': expected true or "
				       "false, got '%s'", path, q);
	} else {
		TP_BUG_ON(1);
	}
	return 0;
}

/* The kind of source record item into *kind.  0, or an error naming the
 * record (skn, the sources key, places a record without a position). */
static int source_kind_of(struct ld *ld, struct fy_node *item,
			  struct fy_node *skn, const char *path,
			  enum tp_source_kind *kind)
{
	struct fy_node_pair *np;
	void *it = NULL;
	char text[TEXT_MAX], sub[128], q[QUOTE_MAX];
	int rc;

	while ((np = fy_node_mapping_iterate(item, &it))) {
		struct fy_node *kn = fy_node_pair_key(np);
		struct fy_node *vn = fy_node_pair_value(np);
		char kname[80];

		rc = need_scalar(ld, path, "a key such as kind", kn, kn,
				 kname, sizeof(kname));
		if (rc)
			return rc;
		if (strcmp(kname, "kind") != 0)
			continue;
		snprintf(sub, sizeof(sub), "%s.kind", path);
		rc = need_scalar(ld, sub, "udp, afpacket or pcap", kn, vn,
				 text, sizeof(text));
		if (rc)
			return rc;
		for (size_t i = 0; i < TP_ARRAY_SIZE(source_kinds); i++) {
			if (strcmp(text, source_kinds[i].name) == 0) {
				*kind = (enum tp_source_kind)i;
				return 0;
			}
		}
		if (!text[0])
			return ld_fail(ld, vn, kn, "key '%s': expected udp, "
				       "afpacket or pcap, got nothing", sub);
		quote(text, strlen(text), q, sizeof(q));
		return ld_fail(ld, vn, kn, "key '%s': expected udp, afpacket "
			       "or pcap, got '%s'", sub, q);
	}
	return ld_fail(ld, item, skn, "key '%s': a source needs a kind: udp, "
		       "afpacket or pcap", path);
}

/* One record of sources: into s. */
static int load_source(struct ld *ld, struct fy_node *item,
		       struct fy_node *skn, const char *path,
		       struct tp_source_cfg *s)
{
	const struct source_kind *sk;
	enum tp_source_kind kind = TP_SRC_UDP;
	struct fy_node_pair *np;
	void *it = NULL;
	bool has_needed = false;
	int rc;

	rc = source_kind_of(ld, item, skn, path, &kind);
	if (rc)
		return rc;
	sk = &source_kinds[kind];
	source_default(s, kind);

	while ((np = fy_node_mapping_iterate(item, &it))) {
		struct fy_node *kn = fy_node_pair_key(np);
		struct fy_node *vn = fy_node_pair_value(np);
		char kname[80], sub[256], q[QUOTE_MAX];
		bool known = false;

		/* Cannot fail: source_kind_of has read every key. */
		rc = need_scalar(ld, path, "a key", kn, kn, kname,
				 sizeof(kname));
		if (rc)
			return rc;
		if (strcmp(kname, "kind") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s.%s", path, kname);
		for (size_t i = 0; i < sk->nkeys; i++)
			known |= strcmp(kname, sk->keys[i]) == 0;
		if (known) {
			rc = load_source_key(ld, sk, s, kname, sub, kn, vn);
			if (rc)
				return rc;
			has_needed |= strcmp(kname, sk->needs) == 0;
			continue;
		}

		quote(sub, strlen(sub), q, sizeof(q));
		const char *sug = suggest(kname, sk->keys, sk->nkeys);
		if (sug)
			return ld_fail(ld, kn, NULL, "unknown key '%s' (did you "
				       "mean '%s'?)", q, sug);
		/* A key of another kind: say which. */
		char others[64] = "";
		for (size_t j = 0; j < TP_ARRAY_SIZE(source_kinds); j++) {
			for (size_t i = 0; i < source_kinds[j].nkeys; i++) {
				if (strcmp(kname, source_kinds[j].keys[i]))
					continue;
				size_t o = strlen(others);
				put(others + o, sizeof(others) - o, "%s%s",
				    o ? " and " : "", source_kinds[j].name);
			}
		}
		if (others[0])
			return ld_fail(ld, kn, NULL, "key '%s': %s takes %s "
				       "(%s is for %s sources)", q, sk->a,
				       sk->takes, kname, others);
		return ld_fail(ld, kn, NULL, "unknown key '%s' (%s takes %s)",
			       q, sk->a, sk->takes);
	}
	if (!has_needed)
		return ld_fail(ld, item, skn, "key '%s': %s needs %s, like "
			       "%s: %s", path, sk->a, sk->needs, sk->needs,
			       sk->needs_eg);
	if (kind == TP_SRC_UDP && !s->encap)
		s->encap = default_encap(s->port);
	return 0;
}

/* A udp source's address in the 128-bit form (IPv4 v4-mapped). */
static int source_addr(const struct tp_source_cfg *s, struct tp_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (!memchr(s->addr, '\0', sizeof(s->addr)))
		return -1;
	if (inet_pton(AF_INET, s->addr, a->b + 12) == 1) {
		a->b[10] = a->b[11] = 0xff;
		return 0;
	}
	return inet_pton(AF_INET6, s->addr, a->b) == 1 ? 0 : -1;
}

/* Whether source j clashes with one before it: two sockets bound to the
 * same UDP address and port would split its packets between two sources,
 * and two readers of one interface would see every packet twice.  0, or
 * -1 with why. */
static int source_clash(const struct tp_config *cfg, uint32_t j, char *why,
			size_t n)
{
	const struct tp_source_cfg *b = &cfg->sources[j];
	struct tp_addr aa, ba, any4 = {{0}}, any6 = {{0}};
	char l1[80], l2[80];

	any4.b[10] = any4.b[11] = 0xff;
	for (uint32_t i = 0; i < j; i++) {
		const struct tp_source_cfg *a = &cfg->sources[i];
		if (a->kind != b->kind)
			continue;
		if (a->kind == TP_SRC_AFPACKET &&
		    strcmp(a->interface, b->interface) == 0) {
			put(why, n, "sources[%u] and sources[%u] both read "
			    "interface %s, so each packet would be seen twice; "
			    "remove one (threads: gives one source more "
			    "readers)", i, j, a->interface);
			return -1;
		}
		if (a->kind != TP_SRC_UDP || a->port != b->port ||
		    source_addr(a, &aa) < 0 || source_addr(b, &ba) < 0)
			continue;
		fmt_listen(a->addr, a->port, l1, sizeof(l1));
		fmt_listen(b->addr, b->port, l2, sizeof(l2));
		if (memcmp(&aa, &ba, sizeof(aa)) == 0) {
			put(why, n, "sources[%u] and sources[%u] both listen on "
			    "UDP %s; remove one (threads: gives one source "
			    "more sockets)", i, j, l1);
			return -1;
		}
		bool a_any6 = memcmp(&aa, &any6, sizeof(aa)) == 0;
		bool b_any6 = memcmp(&ba, &any6, sizeof(ba)) == 0;
		bool a_any4 = memcmp(&aa, &any4, sizeof(aa)) == 0;
		bool b_any4 = memcmp(&ba, &any4, sizeof(ba)) == 0;
		if ((a_any6 && b_any4) || (a_any4 && b_any6)) {
			put(why, n, "sources[%u] listens on UDP %s and "
			    "sources[%u] on %s, but [::] takes IPv4 too; "
			    "remove one", i, l1, j, l2);
			return -1;
		}
	}
	return 0;
}

/* sources: replaces any sources set before. */
static int load_sources(struct ld *ld, struct fy_node *skn,
			struct fy_node *svn)
{
	struct tp_config *cfg = ld->cfg;
	struct fy_node *item;
	void *it = NULL;
	char path[32], why[256];
	int rc, si = 0;

	cfg->nsources = 0;
	memset(cfg->sources, 0, sizeof(cfg->sources));
	if (is_nothing(svn))
		return 0;
	if (!fy_node_is_sequence(svn))
		return ld_fail(ld, svn, skn, "key 'sources': expected a list of "
			       "sources, each with a kind, like '- {kind: udp, "
			       "listen: \":4789\"}', got %s", shape(svn));

	while ((item = fy_node_sequence_iterate(svn, &it))) {
		snprintf(path, sizeof(path), "sources[%d]", si++);
		if (!fy_node_is_mapping(item))
			return ld_fail(ld, item, skn, "key '%s': expected a "
				       "source like '{kind: udp, listen: "
				       "\":4789\"}', got %s", path, shape(item));
		if (cfg->nsources >= TP_MAX_SOURCES)
			return ld_fail(ld, item, skn, "key '%s': at most %d "
				       "sources; one source takes several "
				       "receive threads with threads:", path,
				       TP_MAX_SOURCES);
		rc = load_source(ld, item, skn, path,
				 &cfg->sources[cfg->nsources]);
		if (rc)
			return rc;
		/* Here rather than only in tp_config_validate, so that the
		 * message has the line. */
		if (source_clash(cfg, cfg->nsources, why, sizeof(why)) < 0)
			return ld_fail(ld, item, skn, "key '%s': %s", path, why);
		cfg->nsources++;
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

	/* "key:" with nothing after it is more likely a value forgotten
	 * than a server turned off; off is written "". */
	if (k->type == KT_STRING && (k->flags & K_EMPTY) && is_nothing(vn))
		return ld_fail(ld, vn, kn, "key '%s': expected %s, got nothing",
			       k->name, form(k, f, sizeof(f)));
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

/* True if line (1-based) of text holds an unquoted "[ADDR]:PORT", which
 * YAML reads as a list followed by junk: the likely cause of its error. */
static bool bracket_addr_on_line(const char *text, int line)
{
	const char *p = text;

	for (int l = 1; l < line && p; l++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return false;
	for (; *p && *p != '\n'; p++) {
		if (*p != '[' || (p > text && p[-1] != ' ' && p[-1] != '\t'))
			continue;
		size_t n = strspn(p + 1, "0123456789abcdefABCDEF:.");
		if (p[1 + n] == ']' && p[2 + n] == ':' && p[3 + n] >= '0' &&
		    p[3 + n] <= '9')
			return true;
	}
	return false;
}

static int syntax_error(struct ld *ld, const char *text,
			struct fy_diag *diag, const struct diag_capture *dc)
{
	struct fy_diag_error *e;
	void *it = NULL;
	char q[256];

	e = fy_diag_errors_iterate(diag, &it);
	if (e && e->msg) {
		quote(e->msg, strlen(e->msg), q, sizeof(q));
		if (e->line > 0 && bracket_addr_on_line(text, e->line))
			put(ld->err, ld->errlen, "config %s:%d:%d: invalid YAML: "
			    "%s (an address in brackets must be quoted: "
			    "\"[::]:4789\")", ld->name, e->line, e->column, q);
		else if (e->line > 0)
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
		rc = syntax_error(ld, text, diag, &dc);
		goto out;
	}
	if (!doc) {
		rc = 0;   /* an empty stream: nothing to change */
		goto out;
	}
	doc2 = fy_parse_load_document(fyp);
	if (fy_diag_got_error(diag)) {
		rc = syntax_error(ld, text, diag, &dc);
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
		if (keys[i].type == KT_LIST)
			continue;
		int rc = apply_text(&keys[i], keys[i].def, cfg, why,
				    sizeof(why));
		TP_BUG_ON(rc != 0);
	}
	cfg->store_dir_set = false;
	cfg->nzones = 1;
	snprintf(cfg->zones[0], sizeof(cfg->zones[0]), "default");
	cfg->nrules = 0;

	/* The text of the sources row, [::]:4789 and [::]:6081. */
	static const uint16_t ports[] = {4789, 6081};
	for (size_t i = 0; i < TP_ARRAY_SIZE(ports); i++) {
		struct tp_source_cfg *s = &cfg->sources[cfg->nsources++];
		source_default(s, TP_SRC_UDP);
		snprintf(s->addr, sizeof(s->addr), "::");
		s->port = ports[i];
		s->encap = default_encap(ports[i]);
	}
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
	/* "sources[0].listen=..." or "zones.name=...": a part of a list
	 * gets the list's message. */
	for (size_t i = 0; !k && i < NKEYS; i++) {
		size_t kl = strlen(keys[i].name);
		if (keys[i].type == KT_LIST &&
		    strncmp(name, keys[i].name, kl) == 0 &&
		    (name[kl] == '.' || name[kl] == '['))
			k = &keys[i];
	}
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

/* One source on its own; on error, the key at fault in *key. */
static int check_source(const struct tp_source_cfg *s, const char **key,
			char *why, size_t n)
{
	const struct source_kind *sk = &source_kinds[s->kind];
	char got[32];
	struct tp_addr a;

	switch (s->kind) {
	case TP_SRC_UDP:
		*key = "listen";
		if (source_addr(s, &a) < 0) {
			put(why, n, "expected %s, got an address that is "
			    "neither IPv4 nor IPv6", UDP_LISTEN_FORM);
			return -1;
		}
		if (s->port == 0) {
			put(why, n, "expected a port from 1 to 65535 after the "
			    "address, got '0'");
			return -1;
		}
		*key = "encap";
		if (s->encap != TP_ENCAP_VXLAN && s->encap != TP_ENCAP_GENEVE) {
			put(why, n, "expected vxlan or geneve");
			return -1;
		}
		break;
	case TP_SRC_AFPACKET:
		*key = "interface";
		if (check_ifname(s->interface, why, n) < 0)
			return -1;
		break;
	case TP_SRC_PCAP:
		*key = "file";
		if (check_file(s->file, sizeof(s->file), why, n) < 0)
			return -1;
		*key = "threads";
		if (s->threads != 1) {
			put(why, n, "a pcap source is replayed by one thread, "
			    "got %u", s->threads);
			return -1;
		}
		*key = "speed";
		if (s->speed_permille > SRC_SPEED_MAX) {
			put(why, n, "expected %s, got %u.%03u", SRC_SPEED_FORM,
			    s->speed_permille / 1000, s->speed_permille % 1000);
			return -1;
		}
		return 0;
	}
	*key = "threads";
	snprintf(got, sizeof(got), "%u", s->threads);
	if (check_threads(s->threads, got, why, n) < 0)
		return -1;
	*key = "buffer";
	if (check_buffer(sk, s->buffer, fmt_size(s->buffer, got, sizeof(got)),
			 why, n) < 0)
		return -1;
	return 0;
}

/* Each source, then pairs of them (see source_clash). */
static int validate_sources(const struct tp_config *cfg, char *err,
			    size_t errlen)
{
	char why[512];
	const char *key;

	if (cfg->nsources > TP_MAX_SOURCES) {
		put(err, errlen, "config: at most %d sources", TP_MAX_SOURCES);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->nsources; i++) {
		if (cfg->sources[i].kind >= TP_ARRAY_SIZE(source_kinds)) {
			put(err, errlen, "config: key 'sources[%u].kind': "
			    "expected udp, afpacket or pcap, got kind %u", i,
			    (unsigned)cfg->sources[i].kind);
			return -EINVAL;
		}
		if (check_source(&cfg->sources[i], &key, why, sizeof(why)) < 0) {
			put(err, errlen, "config: key 'sources[%u].%s': %s", i,
			    key, why);
			return -EINVAL;
		}
	}

	for (uint32_t j = 1; j < cfg->nsources; j++) {
		if (source_clash(cfg, j, why, sizeof(why)) < 0) {
			put(err, errlen, "config: %s", why);
			return -EINVAL;
		}
	}
	return 0;
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
		case KT_STRING: {
			const char *str = p;
			char f[96], canon[256];
			if (!memchr(p, '\0', k->width)) {
				put(why, sizeof(why), "expected %s shorter than "
				    "%zu bytes", form(k, f, sizeof(f)),
				    k->width);
				goto bad;
			}
			if (!*str && !(k->flags & K_EMPTY)) {
				put(why, sizeof(why), "expected %s, got nothing",
				    form(k, f, sizeof(f)));
				goto bad;
			}
			TP_BUG_ON(k->text && k->width > sizeof(canon));
			if (*str && k->text &&
			    k->text(str, canon, k->width, why, sizeof(why)) < 0)
				goto bad;
			break;
		}
		case KT_BOOL:
		case KT_LIST:
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
	return validate_sources(cfg, err, errlen);
}

int tp_config_load_all(struct tp_config *cfg, const char *path,
		       const char *const *sets, size_t nsets, char *err,
		       size_t errlen)
{
	char why[1024];
	int rc;

	tp_config_default(cfg);
	if (path) {
		rc = tp_config_load_file(cfg, path, err, errlen);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < nsets; i++) {
		rc = tp_config_set(cfg, sets[i], why, sizeof(why));
		if (rc < 0) {
			put(err, errlen, "--set %s", why);
			return rc;
		}
	}
	return tp_config_validate(cfg, err, errlen);
}

int tp_config_parse_listen(const char *text, char *addr, size_t addrlen,
			   uint16_t *port, char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN];
	uint16_t p;

	if (split_listen(text, HTTP_LISTEN_FORM, a, sizeof(a), &p, err,
			 errlen) < 0)
		return -EINVAL;
	if (strlen(a) >= addrlen) {
		put(err, errlen, "address '%s' is longer than %zu bytes", a,
		    addrlen - 1);
		return -ENAMETOOLONG;
	}
	memcpy(addr, a, strlen(a) + 1);
	*port = p;
	return 0;
}

const char *tp_config_source_text(const struct tp_source_cfg *s, char *buf,
				  size_t n)
{
	char l[80];

	switch (s->kind) {
	case TP_SRC_UDP:
		put(buf, n, "udp %s %s", fmt_listen(s->addr, s->port, l,
						     sizeof(l)),
		    s->encap == TP_ENCAP_GENEVE ? "geneve" : "vxlan");
		break;
	case TP_SRC_AFPACKET:
		put(buf, n, "afpacket %s", s->interface);
		break;
	case TP_SRC_PCAP:
		put(buf, n, "pcap %s", s->file);
		break;
	default:
		put(buf, n, "source of kind %u", (unsigned)s->kind);
		break;
	}
	return buf;
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
	case KT_LIST: return k->name;
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
	if (k->type == KT_LIST)
		return k->def[0] ? k->def : "[]";
	/* Plain YAML would read "[::]:80" as a list, and "" as nothing. */
	if (k->type == KT_STRING &&
	    (!k->def[0] || strspn(k->def, "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./_-") !=
	     strlen(k->def))) {
		put(buf, n, "\"%s\"", k->def);
		return buf;
	}
	return k->def;
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

static const char *range_text(const struct key *k, char *buf, size_t n)
{
	char a[32], b[32], f[96], h[64];

	switch (k->type) {
	case KT_COUNT:
	case KT_SIZE:
	case KT_DURATION:
		if (k->flags & K_POW2)
			return form(k, buf, n);
		put(buf, n, "%s%s to %s", (k->flags & K_ZERO) ? "0, or " : "",
		    fmt_number(k, k->min, a, sizeof(a)),
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
		return k->form ? k->form : "any non-empty path";
	case KT_LIST:
		put(buf, n, "see [%s](#%s)", k->section,
		    anchor(k->section, h, sizeof(h)));
		return buf;
	}
	return "";
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
	      "a YAML indicator such as `[`, `*`, `&` or `!`; `\"\"` is "
	      "empty |\n"
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

	fputs("\n## Packet sources\n"
	      "\n"
	      "`tapir run` reads packets from the sources listed under "
	      "`sources:`, all at once;\n"
	      "`tapir read` reads the files it is given and ignores this "
	      "list.\n"
	      "\n"
	      "```yaml\n"
	      "sources:\n"
	      "  - kind: udp                # VXLAN from VPC Traffic "
	      "Mirroring\n"
	      "    listen: \":4789\"          # every address, IPv4 and IPv6\n"
	      "    threads: 4               # four sockets, four receive "
	      "threads\n"
	      "    buffer: 256MiB\n"
	      "  - kind: udp                # Geneve from a Gateway Load "
	      "Balancer\n"
	      "    listen: \"10.0.0.5:6081\"\n"
	      "  - kind: afpacket           # a SPAN port or a network TAP\n"
	      "    interface: eth1\n"
	      "    threads: 2\n"
	      "  - kind: pcap               # known traffic, to try a "
	      "deployment\n"
	      "    file: /var/tmp/mirror.pcap\n"
	      "    speed: 2                 # twice as fast as it was "
	      "captured\n"
	      "    loop: true\n"
	      "```\n"
	      "\n"
	      "Every source has a `kind`, and the keys of its kind:\n"
	      "\n"
	      "- `udp`: a UDP socket that receives tunnel packets; each "
	      "datagram's payload is\n"
	      "  decoded as the `encap` of the source, whatever its port.\n"
	      "  - `listen`: the address and port, required: "
	      "`10.0.0.5:4789`,\n"
	      "    `[2001:db8::5]:4789`, or `:4789` (also `4789`) for every "
	      "address, which is\n"
	      "    `[::]:4789` and takes IPv4 too. Quote it: in YAML a plain "
	      "`[` starts a list.\n"
	      "    Addresses are numbers; of names, only `localhost` "
	      "(127.0.0.1) is taken.\n"
	      "  - `encap`: `vxlan` or `geneve`; by default `geneve` for "
	      "port 6081, the port\n"
	      "    IANA assigned to Geneve, and `vxlan` for any other.\n"
	      "  - `threads`: 1 to 64, default 1: sockets bound to the same "
	      "address with\n"
	      "    `SO_REUSEPORT`, each read by its own thread; the kernel "
	      "spreads datagrams\n"
	      "    over them by a hash of their addresses and ports.\n"
	      "  - `buffer`: 64KiB to 2GiB, default 64MiB: each socket's "
	      "receive buffer\n"
	      "    (`SO_RCVBUF`), which takes up a burst while the thread is "
	      "busy; 64MiB is\n"
	      "    tens of milliseconds at 10 Gbit/s. Linux caps it at the "
	      "sysctl\n"
	      "    `net.core.rmem_max`; raise that to at least this.\n"
	      "- `afpacket`: a network interface, read through a "
	      "`TPACKET_V3` ring. Frames\n"
	      "  are decoded from Ethernet up, so a tunnel on the interface "
	      "is recognized by\n"
	      "  `decode.vxlan_ports` and `decode.geneve_ports`, as in a "
	      "capture file.\n"
	      "  - `interface`: its name, required (1 to 15 bytes, as Linux "
	      "allows).\n"
	      "  - `threads`: 1 to 64, default 1: members of one "
	      "`PACKET_FANOUT` group, each\n"
	      "    with its own ring and thread.\n"
	      "  - `buffer`: 1MiB to 4GiB, default 64MiB: the size of each "
	      "ring.\n"
	      "- `pcap`: a capture file (pcap or pcapng) replayed by one "
	      "thread, to try a\n"
	      "  deployment with known traffic.\n"
	      "  - `file`: its path, required.\n"
	      "  - `speed`: 1, the default, replays at the pace it was "
	      "captured at; 2 twice as\n"
	      "    fast, 0.5 half as fast; 0 as fast as it can be read. At "
	      "most 1000.\n"
	      "  - `loop`: `true` starts again at the end of the file, for a "
	      "steady load;\n"
	      "    `false`, the default, reads it once.\n"
	      "- A source without a `kind`, or with a key of another kind, "
	      "is refused. So are\n"
	      "  two udp sources on one address and port (`[::]` counts as "
	      "`0.0.0.0` too) and\n"
	      "  two afpacket sources on one interface: give the source more "
	      "`threads` instead.\n"
	      "  At most 16 sources.\n"
	      "- `sources` in a file replaces the sources of any earlier "
	      "one, and `sources: []`\n"
	      "  leaves none; `--set` cannot set them.\n",
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
		/* A key that is not set by default stays out of the file, as
		 * a comment. */
		const char *c = (k->flags & K_UNSET) ? "# " : "";
		const char *why = (k->flags & K_UNSET) ? "  (not set: see "
						       "the key)" : "";
		if (sec[0])
			fprintf(out, "  %s%s: %s%s\n", c,
				k->name + strlen(sec) + 1,
				yaml_default(k, buf, sizeof(buf)), why);
		else
			fprintf(out, "%s%s: %s%s\n", c, k->name,
				yaml_default(k, buf, sizeof(buf)), why);
	}
	fputs("```\n", out);
}
