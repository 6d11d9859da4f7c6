/* libFuzzer target for the capture-file reader: the input is a whole
 * capture file (pcap, pcapng or gzip), read through the source ops and the
 * pipeline, from a memory file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/source.h"
#include "dispatch/pipeline.h"
#include "fuzz-common.h"
#include "util/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tp_config cfg;
	char err[512], path[64];
	struct tp_pkt p;
	int fd = memfd_create("capture", 0);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct tp_pipeline *pl = fuzz_pipeline_new(&cfg);
	struct tp_source src = {.ops = &tp_source_pcap_file};
	if (src.ops->open(&src, path, err, sizeof(err)) == 0)
		while (src.ops->next(&src, &p, err, sizeof(err)) == 1)
			tp_pipeline_packet(pl, &p);
	src.ops->close(&src);
	tp_pipeline_finish(pl);
	tp_pipeline_free(pl);
	close(fd);
	return 0;
}
