// SPDX-License-Identifier: GPL-2.0-only
/* The build's version (version.h); ZT_VERSION comes from the Makefile. */
#include "lib/version.h"

#ifndef ZT_VERSION
#define ZT_VERSION "unknown"
#endif

const char *zt_version(void)
{
	return ZT_VERSION;
}
