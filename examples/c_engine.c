/*
 * A protected-restore engine in standard C (C99, no library beyond libc), speaking the prestore
 * stdio protocol (docs/protocol.md) in its binary framing: sector data as raw bytes, device I/O
 * requests as fixed fields, writes and flushes pipelined (sent without waiting for their answers,
 * which are read where the engine needs to know: before a change is adopted in memory, and before
 * it answers a call). The harness serves every device I/O, so this process keeps nothing
 * between engine instances: after a crash it knows only what it reads back from the metadata
 * device. It declares "stateless", so one process serves instance after instance.
 *
 *     cc -std=c99 -O2 -o c_engine c_engine.c
 *     npx prestore exhaust scenarios/ --engine-cmd ./c_engine
 *
 * `--bug NAME` switches on one realistic ordering bug, for seeing the harness catch it:
 *     no-flush-before-clear   the copier clears a D bit before the copied data is durable
 *
 * Metadata: superblock slots in sectors 0 and 1, then the D map, then the P map, one bit per
 * extent (the layout of python_engine.py, with its own magic).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Frame types and the I/O fields (docs/protocol.md, "Binary framing"). */
enum { F_CALL = 1, F_RESULT = 2, F_ERROR = 3, F_IO = 4, F_IO_RESULT = 5, F_IO_ERROR = 6, F_POWER_LOSS = 7, F_IO_SKIPPED = 8 };
enum { SOURCE = 0, CLONE = 1, META = 2 };
enum { OP_READ = 0, OP_WRITE = 1, OP_FLUSH = 2 };
/* What an engine operation ends with: done, or the error kind it answers the call with. */
enum { OK = 0, E_IO, E_POWER_LOSS, E_CLONE_BUSY, E_STATE, E_METADATA };
static const char *const KINDS[] = {"", "io", "power-loss", "clone-busy", "state", "metadata"};

#define TRY(x) do { int rc_ = (x); if (rc_ != OK) return rc_; } while (0)

static int bug_no_flush_before_clear;
static char message[512];

static int fail(int kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return kind;
}

static void die(const char *why) {
    fprintf(stderr, "c_engine: %s\n", why);
    exit(2);
}

static void *grow(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die("out of memory");
    return q;
}

/* ---- standard input and output ------------------------------------------------------------ */

static unsigned char in_buf[1 << 16];
static size_t in_at, in_len;
static void flush_out(void);

/* Exactly n bytes of standard input; its end is the harness going away, so the engine ends too. */
static void read_exact(void *out, size_t n) {
    unsigned char *o = out;
    while (n > 0) {
        if (in_at == in_len) {
            /* Whatever was sent goes out before waiting: pipelined requests in one write. */
            flush_out();
            ssize_t got = read(0, in_buf, sizeof in_buf);
            if (got <= 0) exit(0);
            in_at = 0;
            in_len = (size_t)got;
        }
        size_t take = in_len - in_at < n ? in_len - in_at : n;
        memcpy(o, in_buf + in_at, take);
        in_at += take;
        o += take;
        n -= take;
    }
}

static void write_all(const void *p, size_t n) {
    const unsigned char *b = p;
    while (n > 0) {
        ssize_t put = write(1, b, n);
        if (put <= 0) exit(0);
        b += put;
        n -= (size_t)put;
    }
}

static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t get32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static unsigned char *out_buf;
static size_t out_cap, out_len;

/* One frame: header, `fields` (fixed, or a JSON length and text), then `data`; sent by flush_out. */
static void send_frame(int type, uint32_t id, const void *fields, size_t nfields, const void *data, size_t ndata) {
    size_t total = 9 + nfields + ndata;
    if (out_len + total > out_cap) out_buf = grow(out_buf, out_cap = out_len + total);
    unsigned char *f = out_buf + out_len;
    put32(f, (uint32_t)(total - 4));
    f[4] = (unsigned char)type;
    put32(f + 5, id);
    if (nfields) memcpy(f + 9, fields, nfields);
    if (ndata) memcpy(f + 9 + nfields, data, ndata);
    out_len += total;
}

static void flush_out(void) {
    write_all(out_buf, out_len);
    out_len = 0;
}

/* A `result` or `error` frame with a JSON part (a length, then the text). */
static void send_json(int type, uint32_t id, const char *json) {
    size_t n = strlen(json);
    unsigned char *body = grow(NULL, 4 + n);
    put32(body, (uint32_t)n);
    memcpy(body + 4, json, n);
    send_frame(type, id, body, 4 + n, NULL, 0);
    free(body);
}

/* ---- device I/O, served by the harness --------------------------------------------------------
 * With "pipeline" accepted, a write or flush is sent and not waited for; its answer is read, in
 * order, at the next settle() or read. The harness skips (does not perform) any request sent
 * before this engine read an earlier one's io-error (each request says how many it has read in
 * this call), so the I/O is the same as waiting for every answer and stopping at the first error. */

static int pipelined;
static uint32_t io_id;
static unsigned outstanding, errors_seen;
/* The first error among the answers read since the last settle. */
static int pending = OK;
static unsigned char *reply;
static size_t reply_cap, reply_len;

/* The answer to request `id`, the oldest in flight; a read's is `length` bytes, left in `reply`. */
static void take_answer(uint32_t id, int op, uint32_t length) {
    unsigned char head[9];
    read_exact(head, sizeof head);
    uint32_t size = get32(head);
    if (size < 5 || get32(head + 5) != id) die("the harness answered another I/O request than the oldest in flight");
    reply_len = size - 5;
    if (reply_len > reply_cap) reply = grow(reply, reply_cap = reply_len);
    read_exact(reply, reply_len);
    switch (head[4]) {
    case F_IO_RESULT:
        if (op == OP_READ && reply_len != length) die("a read answered with the wrong number of bytes");
        return;
    case F_IO_ERROR:
        errors_seen++;
        if (pending == OK) pending = fail(E_IO, "%.*s", (int)(reply_len < 400 ? reply_len : 400), (const char *)reply);
        return;
    case F_IO_SKIPPED:
        if (pending == OK) die("the harness skipped an I/O request though none before it failed");
        return;
    case F_POWER_LOSS:
        if (pending != E_POWER_LOSS) pending = fail(E_POWER_LOSS, "power lost");
        return;
    default:
        die("the harness answered an I/O request with a frame of an unexpected type");
    }
}

/* Reads the answers to every request in flight (the last one a read of `length` bytes if `op` is
   OP_READ); the first error among them, or OK. */
static int settle_as(int op, uint32_t length) {
    for (; outstanding > 0; outstanding--) take_answer(io_id - outstanding + 1, outstanding == 1 ? op : OP_WRITE, outstanding == 1 ? length : 0);
    int rc = pending;
    pending = OK;
    return rc;
}

static int settle(void) { return settle_as(OP_WRITE, 0); }

static int io(int device, int op, uint64_t offset, uint32_t length, const void *data, int fua) {
    unsigned char fields[16] = {(unsigned char)device, (unsigned char)op, (unsigned char)(fua ? 1 : 0), (unsigned char)errors_seen};
    put64(fields + 4, offset);
    put32(fields + 12, length);
    send_frame(F_IO, ++io_id, fields, sizeof fields, data, op == OP_WRITE ? length : 0);
    outstanding++;
    if (pipelined && op != OP_READ) return OK;
    return settle_as(op, length);
}

static int io_read(int device, uint64_t offset, uint32_t length, unsigned char *out) {
    TRY(io(device, OP_READ, offset, length, NULL, 0));
    memcpy(out, reply, length);
    return OK;
}

static int io_write(int device, uint64_t offset, uint32_t length, const unsigned char *data, int fua) { return io(device, OP_WRITE, offset, length, data, fua); }
static int io_flush(int device) { return io(device, OP_FLUSH, 0, 0, NULL, 0); }

/* ---- the engine ----------------------------------------------------------------------------- */

typedef struct {
    uint32_t sector, extent_sectors;
    uint64_t volume, extent_bytes, extents, map_sectors, delta_at, protected_at, total;
} Layout;

static Layout layout_of(uint64_t volume, uint32_t sector, uint32_t extent_sectors) {
    Layout l = {sector, extent_sectors, volume, 0, 0, 0, 0, 0, 0};
    l.extent_bytes = (uint64_t)extent_sectors * sector;
    l.extents = (volume + l.extent_bytes - 1) / l.extent_bytes;
    l.map_sectors = (l.extents + 8ull * sector - 1) / (8ull * sector);
    if (l.map_sectors == 0) l.map_sectors = 1;
    l.delta_at = 2;
    l.protected_at = 2 + l.map_sectors;
    l.total = (2 + 2 * l.map_sectors) * sector;
    return l;
}

typedef struct {
    Layout l;
    unsigned char *map[2]; /* D, P: one bit per extent, map_sectors sectors each */
    int restoring, protect, commit_in_doubt, clone_dirty;
    uint64_t generation;
} Engine;
enum { D = 0, P = 1 };

static int bit(const unsigned char *m, uint64_t e) { return m[e >> 3] >> (e & 7) & 1; }
static void set_bit(unsigned char *m, uint64_t e, int v) {
    if (v) m[e >> 3] |= (unsigned char)(1u << (e & 7));
    else m[e >> 3] &= (unsigned char)~(1u << (e & 7));
}
static int needs_copy(const Engine *g, uint64_t e) { return bit(g->map[D], e) && !bit(g->map[P], e); }
static size_t map_bytes(const Layout *l) { return (size_t)(l->map_sectors * l->sector); }

/* A set of extents, as a bit map of its own. */
static unsigned char *extent_set(const Engine *g) { return calloc(map_bytes(&g->l), 1); }

static uint32_t crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = c >> 1 ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* magic "CRESTORE", version, sector, volume, extent sectors, state, protect, generation, CRC-32. */
enum { SB_BODY = 40 };
static void encode_superblock(const Layout *l, int restoring, int protect, uint64_t generation, unsigned char *out) {
    memset(out, 0, l->sector);
    memcpy(out, "CRESTORE", 8);
    put32(out + 8, 1);
    put32(out + 12, l->sector);
    put64(out + 16, l->volume);
    put32(out + 24, l->extent_sectors);
    out[28] = (unsigned char)restoring;
    out[29] = (unsigned char)protect;
    put64(out + 32, generation);
    put32(out + SB_BODY, crc32(out, SB_BODY));
}

/* 1 with the fields filled in, 0 for a slot holding no valid superblock, or E_METADATA. */
static int decode_superblock(const Layout *l, const unsigned char *raw, int *restoring, int *protect, uint64_t *generation) {
    if (memcmp(raw, "CRESTORE", 8) != 0 || get32(raw + 8) != 1 || get32(raw + SB_BODY) != crc32(raw, SB_BODY)) return 0;
    if (get32(raw + 12) != l->sector || get64(raw + 16) != l->volume || get32(raw + 24) != l->extent_sectors) {
        fail(E_METADATA, "metadata was written for geometry %u/%llu/%u, the devices have %u/%llu/%u", get32(raw + 12), (unsigned long long)get64(raw + 16), get32(raw + 24), l->sector, (unsigned long long)l->volume, l->extent_sectors);
        return -1;
    }
    *restoring = raw[28];
    *protect = raw[29];
    *generation = get64(raw + 32);
    return 1;
}

typedef struct {
    int map;
    const unsigned char *extents;
    int value;
} Change;

/* Changed map sectors written, one flush, and only then the change adopted in memory. */
static int persist(Engine *g, const Change *changes, int n) {
    size_t bytes = map_bytes(&g->l);
    unsigned char *image[2] = {NULL, NULL};
    int staged[2] = {0, 0}, rc = OK, any = 0;
    for (int i = 0; i < n && rc == OK; i++) {
        const Change *c = &changes[i];
        image[i] = grow(NULL, bytes);
        memcpy(image[i], g->map[c->map], bytes);
        for (uint64_t s = 0; s < g->l.map_sectors && rc == OK; s++) {
            int touched = 0;
            for (uint64_t e = s * 8 * g->l.sector; e < g->l.extents && e < (s + 1) * 8 * g->l.sector; e++) {
                if (bit(c->extents, e) && bit(image[i], e) != c->value) {
                    set_bit(image[i], e, c->value);
                    touched = 1;
                }
            }
            uint64_t base = c->map == D ? g->l.delta_at : g->l.protected_at;
            if (touched) rc = io_write(META, (base + s) * g->l.sector, g->l.sector, image[i] + s * g->l.sector, 0);
            staged[i] |= touched;
        }
        any |= staged[i];
    }
    if (rc == OK && any) rc = io_flush(META);
    /* Adopted only once the writes and the flush are known to have worked. */
    if (rc == OK) rc = settle();
    for (int i = 0; i < n; i++) {
        if (rc == OK && staged[i]) memcpy(g->map[changes[i].map], image[i], bytes);
        free(image[i]);
    }
    return rc;
}

static int persist1(Engine *g, int map, const unsigned char *extents, int value) {
    Change c = {map, extents, value};
    return persist(g, &c, 1);
}

/* Generation g+1 to the slot not holding g, FUA: durable on return, the old slot intact. */
static int commit(Engine *g, int restoring, int protect) {
    uint64_t generation = g->generation + 1;
    unsigned char *sb = grow(NULL, g->l.sector);
    encode_superblock(&g->l, restoring, protect, generation, sb);
    g->commit_in_doubt = 1;
    int rc = io_write(META, (generation % 2) * g->l.sector, g->l.sector, sb, 1);
    free(sb);
    TRY(rc);
    TRY(settle());
    g->commit_in_doubt = 0;
    g->restoring = restoring;
    g->protect = protect;
    g->generation = generation;
    return OK;
}

static Engine *engine_new(Layout l) {
    Engine *g = calloc(1, sizeof *g);
    if (!g) die("out of memory");
    g->l = l;
    g->map[D] = extent_set(g);
    g->map[P] = extent_set(g);
    g->protect = 1;
    return g;
}

static void engine_free(Engine *g) {
    if (!g) return;
    free(g->map[D]);
    free(g->map[P]);
    free(g);
}

/* delta: every extent whose bit is set in `delta` (one bit per extent). */
static int engine_format(Engine *g, const unsigned char *delta) {
    const Layout *l = &g->l;
    unsigned char *image = calloc(l->total, 1);
    memcpy(image + l->delta_at * l->sector, delta, map_bytes(l));
    encode_superblock(l, 0, 1, 1, image + l->sector);
    int rc = io_write(META, 0, (uint32_t)l->total, image, 0);
    free(image);
    TRY(rc);
    return io_flush(META);
}

static int engine_open(Engine *g) {
    const Layout *l = &g->l;
    unsigned char *slots = grow(NULL, 2 * l->sector);
    int rc = io_read(META, 0, 2 * l->sector, slots);
    int found = 0;
    for (int i = 0; i < 2 && rc == OK; i++) {
        int restoring, protect;
        uint64_t generation;
        int ok = decode_superblock(l, slots + i * l->sector, &restoring, &protect, &generation);
        if (ok < 0) rc = E_METADATA;
        else if (ok && (!found || generation > g->generation)) {
            found = 1;
            g->restoring = restoring;
            g->protect = protect;
            g->generation = generation;
        }
    }
    free(slots);
    TRY(rc);
    if (!found) return fail(E_METADATA, "no valid superblock in either slot");
    TRY(io_read(META, l->delta_at * l->sector, (uint32_t)map_bytes(l), g->map[D]));
    TRY(io_read(META, l->protected_at * l->sector, (uint32_t)map_bytes(l), g->map[P]));
    if (g->restoring) {
        unsigned char *p_bits = extent_set(g);
        memcpy(p_bits, g->map[P], map_bytes(l));
        /* A crash between the D and P sector writes can leave P without D: repair P within D. */
        rc = persist1(g, D, p_bits, 1);
        /* Mirrored writes may have reached one device only: re-copy those extents. */
        if (rc == OK && !g->protect) rc = persist1(g, P, p_bits, 0);
        free(p_bits);
    }
    return rc;
}

static void extents_of(const Engine *g, uint64_t offset, uint64_t length, unsigned char *set) {
    if (length == 0) return;
    for (uint64_t e = offset / g->l.extent_bytes; e <= (offset + length - 1) / g->l.extent_bytes; e++) set_bit(set, e, 1);
}

static int copy_extent(Engine *g, uint64_t e) {
    uint64_t offset = e * g->l.extent_bytes;
    uint32_t length = (uint32_t)(g->l.volume - offset < g->l.extent_bytes ? g->l.volume - offset : g->l.extent_bytes);
    unsigned char *data = grow(NULL, length);
    int rc = io_read(CLONE, offset, length, data);
    if (rc == OK) rc = io_write(SOURCE, offset, length, data, 0);
    free(data);
    return rc;
}

static int flush_clone_mirror(Engine *g) {
    TRY(io_flush(CLONE));
    TRY(settle());
    g->clone_dirty = 0;
    return OK;
}

static int make_copies_durable(Engine *g) {
    if (bug_no_flush_before_clear) return OK;
    if (g->clone_dirty) TRY(flush_clone_mirror(g));
    return io_flush(SOURCE);
}

/* Each run of extents read from the same device is one request: a round trip per run, not per extent. */
static int read_source(Engine *g, uint64_t offset, uint32_t length, unsigned char *out) {
    if (!g->restoring) return io_read(SOURCE, offset, length, out);
    for (uint64_t at = offset, end = offset + length; at < end;) {
        int device = needs_copy(g, at / g->l.extent_bytes) ? CLONE : SOURCE;
        uint64_t upto = (at / g->l.extent_bytes + 1) * g->l.extent_bytes;
        while (upto < end && (needs_copy(g, upto / g->l.extent_bytes) ? CLONE : SOURCE) == device) upto += g->l.extent_bytes;
        if (upto > end) upto = end;
        TRY(io_read(device, at, (uint32_t)(upto - at), out + (at - offset)));
        at = upto;
    }
    return OK;
}

static int write_source_restoring(Engine *g, uint64_t offset, uint32_t length, const unsigned char *data, unsigned char *touched) {
    unsigned char *unprotected = extent_set(g);
    int any = 0;
    for (uint64_t e = 0; e < g->l.extents; e++) {
        if (bit(touched, e) && !bit(g->map[P], e)) {
            set_bit(unprotected, e, 1);
            any = 1;
        }
    }
    int rc = OK;
    if (any) {
        int copied = 0;
        for (uint64_t e = 0; e < g->l.extents && rc == OK; e++) {
            if (bit(unprotected, e) && needs_copy(g, e)) {
                /* Copy-before-write, durable before P: else the uncovered part stays stale for good. */
                rc = copy_extent(g, e);
                copied = 1;
            }
        }
        if (rc == OK && copied) rc = make_copies_durable(g);
        /* P (with D) durable before the data: else a flushed host write is overwritten by the copier. */
        Change both[2] = {{D, unprotected, 1}, {P, unprotected, 1}};
        if (rc == OK) rc = persist(g, both, 2);
    }
    free(unprotected);
    TRY(rc);
    if (g->protect) return io_write(SOURCE, offset, length, data, 0);
    g->clone_dirty = 1;
    rc = io_write(CLONE, offset, length, data, 0);
    if (rc == OK) rc = io_write(SOURCE, offset, length, data, 0);
    if (rc == OK) rc = settle();
    if (rc == E_IO) {
        /* The two may differ now: send them back to the copier. */
        for (uint64_t e = 0; e < g->l.extents; e++)
            if (bit(touched, e)) set_bit(g->map[P], e, 0);
    }
    return rc;
}

static int write_source(Engine *g, uint64_t offset, uint32_t length, const unsigned char *data) {
    unsigned char *touched = extent_set(g);
    extents_of(g, offset, length, touched);
    int rc;
    if (!g->restoring) {
        /* Write intent: D durable before the data, or a crash leaves a clear bit over a change. */
        rc = persist1(g, D, touched, 1);
        if (rc == OK) rc = io_write(SOURCE, offset, length, data, 0);
    } else {
        rc = write_source_restoring(g, offset, length, data, touched);
    }
    free(touched);
    return rc;
}

static int flush_source(Engine *g) {
    if (g->restoring && !g->protect) TRY(flush_clone_mirror(g));
    return io_flush(SOURCE);
}

static int clone_op(Engine *g, const char *name) {
    if (g->restoring) return fail(E_CLONE_BUSY, "clone busy: %s is not allowed while a restore is in progress", name);
    return OK;
}

static int write_clone(Engine *g, uint64_t offset, uint32_t length, const unsigned char *data) {
    TRY(clone_op(g, "writeClone"));
    unsigned char *touched = extent_set(g);
    extents_of(g, offset, length, touched);
    int rc = persist1(g, D, touched, 1);
    free(touched);
    TRY(rc);
    return io_write(CLONE, offset, length, data, 0);
}

static int start_restore(Engine *g, int protect) {
    if (g->restoring) return fail(E_STATE, "startRestore: a restore is already in progress");
    TRY(io_flush(CLONE)); /* the image being restored must not change under the restore */
    unsigned char *all = extent_set(g);
    for (uint64_t e = 0; e < g->l.extents; e++) set_bit(all, e, 1);
    int rc = persist1(g, P, all, 0); /* stale P would skip extents */
    free(all);
    TRY(rc);
    return commit(g, 1, protect);
}

static uint64_t remaining(const Engine *g) {
    uint64_t n = 0;
    for (uint64_t e = 0; e < g->l.extents; e++) n += (uint64_t)needs_copy(g, e);
    return n;
}

static int step(Engine *g, char *value, size_t cap) {
    if (!g->restoring) return snprintf(value, cap, "{\"remaining\":0,\"done\":true}"), OK;
    uint64_t todo = 0;
    while (todo < g->l.extents && !needs_copy(g, todo)) todo++;
    if (todo < g->l.extents) {
        TRY(copy_extent(g, todo));
        TRY(make_copies_durable(g)); /* data durable before the D bit clears */
        unsigned char *one = extent_set(g);
        set_bit(one, todo, 1);
        int rc = persist1(g, D, one, 0);
        free(one);
        TRY(rc);
    }
    uint64_t left = remaining(g);
    if (left > 0) return snprintf(value, cap, "{\"remaining\":%llu,\"done\":false}", (unsigned long long)left), OK;
    if (!g->protect) {
        TRY(flush_clone_mirror(g));
        TRY(io_flush(SOURCE));
        unsigned char *all = extent_set(g);
        for (uint64_t e = 0; e < g->l.extents; e++) set_bit(all, e, 1);
        int rc = persist1(g, D, all, 0);
        free(all);
        TRY(rc);
    }
    TRY(commit(g, 0, g->protect));
    return snprintf(value, cap, "{\"remaining\":0,\"done\":true}"), OK;
}

/* ---- calls: JSON {"method", "args"} as JSON.stringify writes it; only the keys this engine needs */

/* The value of "key" in `json` (a string with no key inside another's string value), or NULL. */
static const char *json_value(const char *json, const char *key) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *at = strstr(json, quoted);
    if (!at) return NULL;
    at += strlen(quoted);
    while (*at == ' ' || *at == ':' || *at == '\n' || *at == '\t' || *at == '\r') at++;
    return at;
}

static uint64_t json_u64(const char *json, const char *key) {
    const char *v = json_value(json, key);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* `delta`: "none", "all" or an array of booleans, as a bit map. */
static void json_delta(const char *json, const Engine *g, unsigned char *set) {
    const char *v = json_value(json, "delta");
    if (!v) return;
    if (strncmp(v, "\"all\"", 5) == 0) {
        for (uint64_t e = 0; e < g->l.extents; e++) set_bit(set, e, 1);
        return;
    }
    if (*v != '[') return;
    uint64_t e = 0;
    for (v++; *v && *v != ']' && e < g->l.extents; v++) {
        if (*v == 't') set_bit(set, e++, 1), v += 3;
        else if (*v == 'f') e++, v += 4;
    }
}

static Layout layout_from(const char *json) {
    return layout_of(json_u64(json, "volumeSize"), (uint32_t)json_u64(json, "sectorSize"), (uint32_t)json_u64(json, "extentSectors"));
}

static Engine *engine;

/* One call, answered with one result or error frame. */
static void handle(uint32_t id, const char *json, const unsigned char *data, size_t ndata) {
    char method[32] = "";
    const char *m = json_value(json, "method");
    if (m && *m == '"') sscanf(m + 1, "%31[^\"]", method);
    char value[256] = "null";
    unsigned char *bytes = NULL;
    uint32_t nbytes = 0;
    int rc = OK;
    message[0] = '\0';
    errors_seen = 0;
    if (strcmp(method, "format") == 0 || strcmp(method, "open") == 0) {
        engine_free(engine);
        engine = engine_new(layout_from(json));
    }
    if (strcmp(method, "metadataSize") == 0) {
        snprintf(value, sizeof value, "%llu", (unsigned long long)layout_from(json).total);
    } else if (!engine) {
        rc = fail(E_STATE, "%s before open or format", method);
    } else if (engine->commit_in_doubt && strcmp(method, "format") != 0 && strcmp(method, "open") != 0 && (rc = commit(engine, engine->restoring, engine->protect)) != OK) {
        /* A commit an I/O error interrupted is redone before the call, so the disk agrees with
           memory again; failing that, the call fails with it. */
    } else if (strcmp(method, "format") == 0) {
        unsigned char *delta = extent_set(engine);
        json_delta(json, engine, delta);
        rc = engine_format(engine, delta);
        free(delta);
    } else if (strcmp(method, "open") == 0) {
        rc = engine_open(engine);
    } else if (strcmp(method, "readSource") == 0 || strcmp(method, "readClone") == 0) {
        uint64_t offset = json_u64(json, "offset");
        nbytes = (uint32_t)json_u64(json, "length");
        bytes = grow(NULL, nbytes);
        if (method[4] == 'S') rc = read_source(engine, offset, nbytes, bytes);
        else if ((rc = clone_op(engine, "readClone")) == OK) rc = io_read(CLONE, offset, nbytes, bytes);
    } else if (strcmp(method, "writeSource") == 0) {
        rc = write_source(engine, json_u64(json, "offset"), (uint32_t)ndata, data);
    } else if (strcmp(method, "writeClone") == 0) {
        rc = write_clone(engine, json_u64(json, "offset"), (uint32_t)ndata, data);
    } else if (strcmp(method, "flushSource") == 0) {
        rc = flush_source(engine);
    } else if (strcmp(method, "flushClone") == 0) {
        if ((rc = clone_op(engine, "flushClone")) == OK) rc = io_flush(CLONE);
    } else if (strcmp(method, "startRestore") == 0) {
        const char *p = json_value(json, "protect");
        rc = start_restore(engine, p != NULL && *p == 't');
    } else if (strcmp(method, "step") == 0) {
        rc = step(engine, value, sizeof value);
    } else if (strcmp(method, "status") == 0) {
        if (!engine->restoring) snprintf(value, sizeof value, "{\"state\":\"fractured\"}");
        else snprintf(value, sizeof value, "{\"state\":\"restoring\",\"protect\":%s,\"extentsRemaining\":%llu}", engine->protect ? "true" : "false", (unsigned long long)remaining(engine));
    } else if (strcmp(method, "inspect") == 0) {
        size_t cap = 64 + 14 * engine->l.extents, at = 0;
        char *maps = grow(NULL, cap);
        at += (size_t)sprintf(maps, "{\"delta\":[");
        for (uint64_t e = 0; e < engine->l.extents; e++) at += (size_t)sprintf(maps + at, "%s%s", e ? "," : "", bit(engine->map[D], e) ? "true" : "false");
        at += (size_t)sprintf(maps + at, "],\"protected\":[");
        for (uint64_t e = 0; e < engine->l.extents; e++) at += (size_t)sprintf(maps + at, "%s%s", e ? "," : "", engine->restoring && bit(engine->map[P], e) ? "true" : "false");
        sprintf(maps + at, "]}");
        send_json(F_RESULT, id, maps);
        free(maps);
        return;
    } else {
        rc = fail(E_STATE, "unknown method %s", method);
    }
    /* Every answer read before the call's: the call fails with the first error among them. */
    int last = settle();
    if (rc == OK) rc = last;
    if (rc == E_POWER_LOSS || last == E_POWER_LOSS) {
        /* Everything of the instance is in `engine`: drop it, keep the process ("stateless"). */
        engine_free(engine);
        engine = NULL;
    }
    if (rc != OK) {
        char error[700];
        snprintf(error, sizeof error, "{\"kind\":\"%s\",\"message\":\"", KINDS[rc]);
        size_t at = strlen(error);
        for (const char *c = message; *c && at < sizeof error - 8; c++) {
            if (*c == '"' || *c == '\\') error[at++] = '\\';
            error[at++] = (*c >= 0 && *c < ' ') ? ' ' : *c;
        }
        snprintf(error + at, sizeof error - at, "\"}");
        send_json(F_ERROR, id, error);
    } else if (bytes) {
        unsigned char none[4] = {0, 0, 0, 0};
        send_frame(F_RESULT, id, none, 4, bytes, nbytes);
    } else {
        send_json(F_RESULT, id, value);
    }
    free(bytes);
}

/* A line of standard input (the harness's first message is one), without its newline. */
static char *read_line(void) {
    size_t cap = 256, n = 0;
    char *line = grow(NULL, cap);
    for (;;) {
        char c;
        read_exact(&c, 1);
        if (c == '\n') break;
        if (n + 2 > cap) line = grow(line, cap *= 2);
        line[n++] = c;
    }
    line[n] = '\0';
    return line;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bug") == 0 && i + 1 < argc && strcmp(argv[i + 1], "no-flush-before-clear") == 0) bug_no_flush_before_clear = 1, i++;
        else {
            fprintf(stderr, "usage: c_engine [--bug no-flush-before-clear]; unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    const char *hello = "{\"type\":\"hello\",\"protocol\":\"prestore-engine\",\"version\":1,\"name\":\"c-example\",\"capabilities\":[\"inspect\",\"stateless\",\"binary\",\"pipeline\"]}\n";
    write_all(hello, strlen(hello));
    char *first = read_line();
    if (strstr(first, "\"framing\"") == NULL) {
        /* A JSON call: the harness asks metadataSize of a process of its own, before any framing. */
        if (strstr(first, "\"metadataSize\"") == NULL) die("this example speaks the binary framing only, and the harness did not accept it");
        char answer[128];
        snprintf(answer, sizeof answer, "{\"type\":\"result\",\"id\":%llu,\"value\":%llu}\n", (unsigned long long)json_u64(first, "id"), (unsigned long long)layout_from(first).total);
        write_all(answer, strlen(answer));
        return 0;
    }
    pipelined = strstr(first, "\"pipeline\":true") != NULL;
    free(first);
    unsigned char *body = NULL;
    size_t cap = 0;
    for (;;) {
        unsigned char head[9];
        read_exact(head, sizeof head);
        uint32_t size = get32(head);
        if (head[4] != F_CALL || size < 9) die("the harness sent something other than a call between calls");
        size_t n = size - 5;
        if (n + 1 > cap) body = grow(body, cap = n + 1);
        read_exact(body, n);
        uint32_t json_len = get32(body);
        if (json_len > n - 4) die("a call whose JSON runs past its frame");
        /* The JSON as a C string of its own; the data follows it in the frame. */
        unsigned char *data = body + 4 + json_len;
        size_t ndata = n - 4 - json_len;
        char *json = grow(NULL, json_len + 1);
        memcpy(json, body + 4, json_len);
        json[json_len] = '\0';
        handle(get32(head + 5), json, data, ndata);
        free(json);
    }
}
