/* MIME types from a file's first bytes by a table of signatures (Zeek's
 * names), the fast alternative to libmagic (app/file-magic.c). */
#ifndef TP_APP_FILE_MAGIC_H
#define TP_APP_FILE_MAGIC_H

#include <stddef.h>
#include <stdint.h>

/* The MIME type of a file whose first bytes are b[0..n), or NULL when no
 * signature matches.  The string is static. */
const char *tp_file_magic(const uint8_t *b, size_t n);

#endif
