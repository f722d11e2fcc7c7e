#ifndef CSHA2_H
#define CSHA2_H

#include <stddef.h>
#include <stdint.h>

/// SHA-224 (FIPS 180-4) of `length` bytes at `bytes`, written to the 28 bytes at `digest`.
/// In C so that hashing an item of megabytes is fast in debug builds too (the tests' and the
/// chaos suite's), where Swift's checked arithmetic makes it hundreds of times slower.
void csha2_sha224(const uint8_t *bytes, size_t length, uint8_t digest[28]);

/// SHA-1 of `length` bytes at `bytes`, written to the 20 bytes at `digest` (the scripts' names
/// for EVALSHA, and the `purge-dead` script's check with `redis.sha1hex`).
void csha2_sha1(const uint8_t *bytes, size_t length, uint8_t digest[20]);

#endif
