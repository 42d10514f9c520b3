/* SPDX-License-Identifier: GPL-2.0-only */
/* The roles `ztgated ROLE` runs (main.c's table); each in roles/ROLE.c. */
#ifndef ZT_ROLES_H
#define ZT_ROLES_H

#include "core/role.h"

extern const struct zt_role_ops zt_role_enforce;
extern const struct zt_role_ops zt_role_client;
extern const struct zt_role_ops zt_role_connector;
extern const struct zt_role_ops zt_role_relay;
extern const struct zt_role_ops zt_role_controller;

#endif
