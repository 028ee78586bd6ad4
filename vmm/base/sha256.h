/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): the keyed hash that derives a VM's
 * identity from a host secret without revealing it (see vmm/launch/identity.h). */
#ifndef VMM_SHA256_H
#define VMM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_SIZE 32

/* The SHA-256 digest of n bytes at data. */
void sha256(const void *data, size_t n, uint8_t out[SHA256_SIZE]);

/* The SHA-256 digest of what fd reads until its end; -1 with errno on a read error. */
int sha256_fd(int fd, uint8_t out[SHA256_SIZE]);

/* HMAC-SHA256 of the message msg under key. */
void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[SHA256_SIZE]);

#endif
