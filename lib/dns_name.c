// SPDX-License-Identifier: GPL-2.0-only
/* DNS names as text (dns_name.h): normal form and the below-a-domain test. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/dns_name.h"

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int zt_dns_name_normalize(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t len = strlen(in), i, label = 0;

	if (len && in[len - 1] == '.')
		len--;
	if (len == 0 || len > 253) {
		snprintf(err, errlen, "invalid name '%s': must be 1-253 characters", in);
		return -EINVAL;
	}
	if (len >= outlen) {
		snprintf(err, errlen, "invalid name '%s': too long", in);
		return -EINVAL;
	}
	for (i = 0; i <= len; i++) {
		char c = i < len ? in[i] : '.';

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0) {
				snprintf(err, errlen, "invalid name '%s': empty label", in);
				return -EINVAL;
			}
			if (label > 63) {
				snprintf(err, errlen, "invalid name '%s': label longer than 63", in);
				return -EINVAL;
			}
			label = 0;
		} else if (c == '*') {
			/* Only "*" alone as the first label of a wildcard ("*.home.int"). */
			if (i != 0 || len < 3 || in[1] != '.') {
				snprintf(err, errlen, "invalid name '%s': '*' only as the whole first label", in);
				return -EINVAL;
			}
			label++;
		} else if (host_char(c)) {
			label++;
		} else {
			snprintf(err, errlen, "invalid name '%s': character '%c' not allowed", in, c);
			return -EINVAL;
		}
		if (i < len)
			out[i] = c;
	}
	out[len] = '\0';
	return 0;
}

bool zt_dns_name_is_below(const char *name, const char *domain)
{
	size_t nlen = strlen(name), dlen = strlen(domain), slashes = 0, i;

	if (dlen == 0)
		return nlen > 0;	/* every name is below the root */
	if (nlen <= dlen + 1 || strcmp(name + nlen - dlen, domain))
		return false;
	if (name[nlen - dlen - 1] != '.')
		return false;
	/* The dot must separate labels, not be an escaped "\." */
	for (i = nlen - dlen - 1; i > 0 && name[i - 1] == '\\'; i--)
		slashes++;
	return slashes % 2 == 0;
}
