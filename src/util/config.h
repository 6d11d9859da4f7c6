/* tapir's configuration: one struct, filled from embedded defaults, then a
 * YAML file, then `--set key=value` overrides.  Every key is one row of the
 * key table in config.c (name, type, default, documentation), from which
 * docs/configuration.md is written.  See docs/configuration.md. */
#ifndef TP_UTIL_CONFIG_H
#define TP_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "decode/decode.h"

#define TP_MAX_ZONES 64
#define TP_MAX_ZONE_RULES 256
#define TP_MAX_SOURCES 16

enum tp_store_compress {
	TP_STORE_COMPRESS_NONE = 0,
	TP_STORE_COMPRESS_ZSTD,
};

enum tp_log_format {
	TP_FMT_JSON = 0,
	TP_FMT_ZEEK,
};

/* A rule that puts mirror sessions into a zone: every given criterion
 * must match; an absent criterion matches anything. */
struct tp_zone_rule {
	uint16_t zone;           /* index into tp_config.zones */
	bool has_vni;
	uint32_t vni;            /* VNI / GRE key / ERSPAN session id */
	bool has_src;
	struct tp_addr src;      /* outer source prefix (v4-mapped for IPv4) */
	uint8_t src_plen;        /* prefix length over the 128-bit form */
	bool has_gwlb_endpoint;
	uint64_t gwlb_endpoint;
};

/* A live source of `tapir run` (one entry of `sources:`). */
enum tp_source_kind {
	TP_SRC_UDP = 0,      /* a tunnel listener: VXLAN or Geneve over UDP */
	TP_SRC_AFPACKET,     /* an interface, AF_PACKET TPACKET_V3 + fanout */
	TP_SRC_PCAP,         /* a capture file replayed */
};

struct tp_source_cfg {
	uint8_t kind;            /* enum tp_source_kind */
	uint8_t encap;           /* udp: TP_ENCAP_VXLAN or TP_ENCAP_GENEVE */
	uint16_t port;           /* udp: listening port */
	char addr[64];           /* udp: listening address, "::" = all */
	char interface[32];      /* afpacket: interface name */
	char file[1024];         /* pcap: capture file */
	uint32_t threads;        /* receive threads (sockets or fanout members) */
	uint64_t buffer;         /* udp: SO_RCVBUF; afpacket: ring bytes */
	uint32_t speed_permille; /* pcap: 1000 = its own pace, 0 = flat out */
	bool loop;               /* pcap: start again at the end */
};

/* How files.log's mime_type is found (app.file_mime). */
enum tp_file_mime {
	TP_FILE_MIME_SIGNATURES = 0,     /* app/file-magic.c */
	TP_FILE_MIME_LIBMAGIC,
	TP_FILE_MIME_OFF,
};

struct tp_config {
	struct tp_decode_cfg decode;

	bool dedup_enabled;
	uint64_t dedup_window_ns;
	uint32_t dedup_table_size;   /* slots per worker, power of two */

	uint64_t tcp_timeout_ns;
	uint64_t udp_timeout_ns;
	uint64_t icmp_timeout_ns;
	uint64_t other_timeout_ns;
	uint64_t tcp_attempt_timeout_ns; /* unanswered SYN */
	uint64_t tcp_close_delay_ns;     /* after close or reset */
	uint64_t max_flows;          /* over all workers */

	uint32_t workers;
	uint32_t max_sessions;       /* mirror sessions tracked */

	/* application parsers */
	bool app_enabled;
	uint64_t app_reassembly_depth;   /* bytes per direction, 0 = no limit */
	uint64_t app_reassembly_memory;  /* held out of order, all workers */
	uint64_t app_inspect_bytes;      /* per direction without a parser */
	bool app_ndpi;
	uint32_t app_ndpi_packets;       /* packets nDPI sees of a flow */
	char app_file_hashes[32];        /* "md5,sha1,sha256"; "" = none */
	uint64_t app_file_decompress_max; /* decoded bytes a file, 0 = off */
	uint32_t app_file_mime;          /* enum tp_file_mime */

	/* passive inventory (app/known.c) */
	char site_local_nets[256];       /* util/netlist.h text */
	uint64_t inventory_expiry_ns;
	uint64_t inventory_memory;
	bool inventory_known_hosts;
	bool inventory_known_services;
	bool inventory_known_certs;
	bool inventory_software;

	enum tp_log_format log_format;
	char log_dir[4096];

	/* packet store */
	char store_dir[4096];        /* "" = off */
	uint64_t store_segment_size;
	uint64_t store_segment_age_ns;
	uint64_t store_publish_ns;   /* wall clock */
	uint32_t store_compress;     /* enum tp_store_compress */
	bool store_dir_set;          /* store.dir given (file or --set) */
	uint64_t store_max_size;     /* retention: bytes, 0 = no budget */
	char store_min_free[32];     /* "N%" or bytes; "0" = no floor */
	uint64_t store_max_age_ns;   /* 0 = kept whatever their age */

	/* tapir run */
	uint32_t nsources;
	struct tp_source_cfg sources[TP_MAX_SOURCES];
	uint32_t queue_size;         /* items per receive thread and worker */
	uint64_t rotate_interval_ns; /* 0 = never */
	uint64_t stats_interval_ns;
	uint64_t health_stuck_ns;        /* a thread still this long is stuck */
	uint64_t health_loss_window_ns;  /* loss is judged over this window */
	uint32_t health_max_loss_percent;
	uint16_t health_tcp_ports[8];  /* TCP listeners for NLB checks */
	uint8_t n_health_tcp_ports;
	char http_listen[64];        /* "addr:port" of /healthz and the API, "" = off */
	char run_user[64];           /* drop to this user after opening sockets */

	uint32_t nzones;             /* zone 0 is always "default" */
	char zones[TP_MAX_ZONES][64];
	uint32_t nrules;
	struct tp_zone_rule rules[TP_MAX_ZONE_RULES];
};

/* Embedded defaults. */
void tp_config_default(struct tp_config *cfg);

/* Merge a YAML file into cfg.  0, or -EINVAL / -errno with a message that
 * names the file, the key path and the expected form written to err. */
int tp_config_load_file(struct tp_config *cfg, const char *path, char *err,
			size_t errlen);

/* Merge YAML text of len bytes (need not be NUL-terminated) into cfg;
 * name stands for the file in messages.  Same results as
 * tp_config_load_file; on error cfg is unchanged.  buf stays the
 * caller's. */
int tp_config_load_string(struct tp_config *cfg, const char *name,
			  const char *buf, size_t len, char *err,
			  size_t errlen);

/* Apply one "key=value" (dotted key path), parsed as in a file.  0, or
 * -EINVAL with err naming the key and the expected form; the message has
 * no prefix, so that the caller can say where the assignment came from
 * ("--set", "-j").  On error cfg is unchanged. */
int tp_config_set(struct tp_config *cfg, const char *assignment, char *err,
		  size_t errlen);

/* Check cross-key constraints (after all sources are merged). */
int tp_config_validate(const struct tp_config *cfg, char *err, size_t errlen);

/* What `tapir run --check-config` checks: the defaults, then the YAML file
 * at path (none if NULL), then the nsets "key=value" assignments of --set
 * in order, then tp_config_validate.  0, or -EINVAL / -errno with one
 * message in err that says where the mistake is: "config FILE:LINE:COL:
 * ...", "--set key '...': ..." or "config: ...".  On error cfg holds
 * what was merged before the mistake. */
int tp_config_load_all(struct tp_config *cfg, const char *path,
		       const char *const *sets, size_t nsets, char *err,
		       size_t errlen);

/* Split a listening address as http.listen and a udp source's listen take
 * it ("[2001:db8::5]:80", "10.0.0.5:80", ":80" or "80", the last two for
 * every address) into the numeric address ("::" for every address, which
 * takes IPv4 too) and the port.  addrlen should be INET6_ADDRSTRLEN.  0,
 * -EINVAL with "expected ..., got '...'" in err, or -ENAMETOOLONG if the
 * address does not fit in addrlen. */
int tp_config_parse_listen(const char *text, char *addr, size_t addrlen,
			   uint16_t *port, char *err, size_t errlen);

/* A source as a message names it: "udp [::]:4789 vxlan", "afpacket eth1",
 * "pcap FILE".  Returns buf. */
const char *tp_config_source_text(const struct tp_source_cfg *s, char *buf,
				  size_t n);

/* A size as the configuration takes it ("64MiB", "512k", "1.5G", "300":
 * bytes; units are binary).  0 or -1. */
int tp_config_parse_size(const char *text, uint64_t *bytes);

/* Write every key with its type, default and description as Markdown. */
void tp_config_write_doc(FILE *out);

#endif
