/* digest — Redis 7.0's DEBUG DIGEST fingerprints (src/debug.c), rebuilt from
 * the algorithm's definition:
 *   xor(d, bytes):  d ^= SHA1(bytes)          order-free accumulation
 *   mix(d, bytes):  d = SHA1(d ^ SHA1(bytes)) order-keeping accumulation
 * A string value's digest starts at zero, mixes the object type as a 4-byte
 * big-endian word (OBJ_STRING = 0), mixes the value's bytes (the decoded
 * string, so int and embstr encodings digest like raw), and xors the literal
 * "!!expire!!" when the key has a TTL. The dataset digest mixes each
 * non-empty db's index (4 bytes, big endian) into the result, then xors in,
 * for every key, zero mixed with the key's bytes and then its value digest.
 *
 * Runs on the barrier holder (the view reaches every shard); it reads tables
 * without lookups so nothing expires, moves or rehashes under the walk. */
#include "digest.h"

#include <string.h>

#include "keyspace.h"
#include "sha1.h"

#define OBJ_STRING_TYPE 0          /* Redis server.h OBJ_STRING */
#define EXPIRE_MARK "!!expire!!"   /* Redis debug.c xorObjectDigest */

static void xor_digest(uint8_t d[SHA1_DIGEST_LEN], const void *p, size_t n)
{
    uint8_t h[SHA1_DIGEST_LEN];

    sha1(p, n, h);
    for (int i = 0; i < SHA1_DIGEST_LEN; i++)
        d[i] ^= h[i];
}

static void mix_digest(uint8_t d[SHA1_DIGEST_LEN], const void *p, size_t n)
{
    xor_digest(d, p, n);
    sha1(d, SHA1_DIGEST_LEN, d);
}

static void be32(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

/* Mix one entry's value (type, bytes, TTL mark) into d. */
static void value_digest(uint8_t d[SHA1_DIGEST_LEN], struct kv_entry *e)
{
    uint8_t type[4];

    be32(type, OBJ_STRING_TYPE);
    mix_digest(d, type, sizeof(type));
    mix_digest(d, kv_val(e), kv_vlen(e));
    if (kv_expire(e) != KV_NO_EXPIRE)
        xor_digest(d, EXPIRE_MARK, sizeof(EXPIRE_MARK) - 1);
}

static void add_hex_status(struct resp_out *o, const uint8_t d[SHA1_DIGEST_LEN])
{
    static const char hex[] = "0123456789abcdef";
    char s[2 * SHA1_DIGEST_LEN + 1];

    for (int i = 0; i < SHA1_DIGEST_LEN; i++) {
        s[2 * i] = hex[d[i] >> 4];
        s[2 * i + 1] = hex[d[i] & 15];
    }
    s[2 * SHA1_DIGEST_LEN] = '\0';
    resp_add_simple(o, s);
}

void digest_reply_values(struct cmd_ctx *c, int first_key)
{
    resp_add_array(c->out, c->argc - first_key);
    for (int j = first_key; j < c->argc; j++) {
        const struct slice *key = &c->argv[j];
        struct kv_entry *e = kvt_find(ks_table(c, key), key->p, key->len);
        uint8_t d[SHA1_DIGEST_LEN] = { 0 };

        if (e)
            value_digest(d, e);
        add_hex_status(c->out, d);
    }
}

static void key_visit(struct kv_entry *e, void *arg)
{
    uint8_t *final = arg, d[SHA1_DIGEST_LEN] = { 0 };

    mix_digest(d, kv_key(e), kv_klen(e));
    value_digest(d, e);
    xor_digest(final, d, SHA1_DIGEST_LEN);
}

void digest_reply_dataset(struct cmd_ctx *c)
{
    uint8_t final[SHA1_DIGEST_LEN] = { 0 };
    const struct ks_view *v = &c->view;
    unsigned lo = v->all ? 0 : v->self, hi = v->all ? v->nshards : v->self + 1;
    unsigned ndbs = v->shards[lo]->ndbs;

    for (unsigned db = 0; db < ndbs; db++) {
        size_t keys = 0;
        uint8_t id[4];

        for (unsigned s = lo; s < hi; s++)
            keys += kvt_count(v->shards[s]->db[db]);
        if (keys == 0)
            continue;
        be32(id, db);
        mix_digest(final, id, sizeof(id));
        /* Each key is visited exactly once: the tables do not change between
         * the scan calls (nothing else runs under the barrier), and xor makes
         * the visiting order irrelevant. */
        for (unsigned s = lo; s < hi; s++) {
            struct kvt *t = v->shards[s]->db[db];
            uint64_t cur = 0;
            do
                cur = kvt_scan(t, cur, key_visit, final);
            while (cur != 0);
        }
    }
    add_hex_status(c->out, final);
}
