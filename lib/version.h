/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The build's version ("0.1.0-g1fea42f", from the Makefile's VERSION and git
 * describe): `--version`, the ready line, `ztgate status`, and every control
 * reply, so a CLI talking to a daemon of another build can say so.
 */
#ifndef ZT_LIB_VERSION_H
#define ZT_LIB_VERSION_H

const char *zt_version(void);

#endif
