/* slot — Redis Cluster key hash slots: CRC16/XMODEM of the key, or of the first
 * non-empty {hash tag} in it, modulo 16384 (Redis Cluster specification). */
#ifndef SLOTD_SLOT_H
#define SLOTD_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384   /* Redis Cluster spec: CLUSTER_SLOTS */

/* Build the CRC tables and pick the fastest code this CPU runs; call once
 * from main before any thread starts. */
void slot_init(void);
/* Tests: on = 1 forces the portable table code where the CPU has a faster
 * path, 0 restores the choice of slot_init. Before threads start only. */
void slot_force_portable(int on);

/* CRC16/XMODEM (poly 0x1021, init 0, no reflection); check value of
 * "123456789" is 0x31C3. */
uint16_t slot_crc16(const void *buf, size_t len);

/* Hash slot of a key, honouring {tag}: the bytes between the first '{' and the
 * first '}' after it, when that span is non-empty. */
unsigned slot_of(const void *key, size_t len);

#endif
