/* SSH (ssh.c) → ssh.log. */
#ifndef TP_APP_SSH_H
#define TP_APP_SSH_H

#include "app/app.h"
#include "output/writer.h"

extern const struct tp_app_ops tp_app_ssh;
extern const struct tp_log_schema tp_ssh_schema;

#endif
