/* Capture sources: where frames come from.  Each kind is a
 * `struct tp_source_ops` in the table in capture/source.c. */
#ifndef TP_CAPTURE_SOURCE_H
#define TP_CAPTURE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"

struct tp_source;

struct tp_source_ops {
	const char *name;
	/* Open spec; 0 or -errno with a message in err. */
	int (*open)(struct tp_source *s, const char *spec, char *err,
		    size_t errlen);
	/* Next frame into p's input fields (valid until the next call):
	 * 1 a frame, 0 end of input, <0 error with a message in err. */
	int (*next)(struct tp_source *s, struct tp_pkt *p, char *err,
		    size_t errlen);
	void (*close)(struct tp_source *s);
};

struct tp_source {
	const struct tp_source_ops *ops;
	void *priv;
	const char *spec;
	uint64_t bytes_total;    /* size of the input when known, else 0 */
	uint64_t bytes_read;     /* input consumed so far (compressed bytes) */
	uint64_t frames;
};

extern const struct tp_source_ops tp_source_pcap_file;

#endif
