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

	enum tp_log_format log_format;
	char log_dir[4096];

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

/* Write every key with its type, default and description as Markdown. */
void tp_config_write_doc(FILE *out);

#endif
