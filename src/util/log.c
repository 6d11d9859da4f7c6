#include "util/log.h"

#include <stdarg.h>

int tp_log_level = 1;

static void vlog(const char *tag, const char *fmt, va_list ap)
{
	fprintf(stderr, "tapir: %s", tag);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void tp_log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("error: ", fmt, ap);
	va_end(ap);
}

void tp_log_warn(const char *fmt, ...)
{
	va_list ap;
	if (tp_log_level < 1)
		return;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void tp_log_info(const char *fmt, ...)
{
	va_list ap;
	if (tp_log_level < 2)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}
