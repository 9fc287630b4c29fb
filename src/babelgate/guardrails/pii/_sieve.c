/* Whether a text may hold a candidate of the built-in PII detectors: a pass over its bytes, 16 or 32 at a time, that
 * answers "no" for most texts a person writes, so that RE2's pass (candidates.py), which reads one byte at a time,
 * runs only where there may be something to find.
 *
 * Each family's candidate (candidates.py's FAMILIES) has a mark no text without one can have, found from a few
 * classes of bytes, one bit a byte:
 *   token   a run of 15 bytes of [A-Za-z0-9_.-] (every token shape is at least that long, of that alphabet)
 *   pem     five dashes (`-----BEGIN `)
 *   email   an `@`
 *   iban    two capitals, then two digits
 *   v6      two colons at most five bytes apart (`(?:[0-9A-Fa-f]{0,4}:){2,}`)
 *   digits  one of [0-9+(] and five more of [0-9 ()+.-], and somewhere seven of them ending in a digit
 *           (`[0-9+(][0-9 ()+.\-]{5,}[0-9]`)
 * and, for a JSON document's bytes, a byte that is not ASCII or a `\u` escape, which send the document to be
 * parsed. A mark is a necessary condition, not a finding: "yes" means RE2 reads the text, as it would without the
 * sieve; "no" is exact. The text is read in blocks of 64 bytes; a mark (15 bytes at most) begins in a block and ends
 * in it or in the next, so each block's marks are read once the next one's classes are at hand. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SIEVE_AVX2 1 /* a second classifier, 32 bytes at a time, chosen at import where the processor has AVX2 */
#endif

enum {
    TOKEN = 1,
    PEM = 2,
    EMAIL = 4,
    IBAN = 8,
    V6 = 16,
    DIGITS = 32,
    JSON = 64,
};

#define BLOCK 64

/* A block's classes that most texts have many of, bit i for byte i; and whether it holds a byte of the marks most
 * texts have few of (a dash, a colon, an `@`, a backslash, a byte that is not ASCII), whose classes (`Rare`) are
 * read only then. */
typedef struct {
    uint64_t digit; /* [0-9] */
    uint64_t upper; /* [A-Z] */
    uint64_t run;   /* [0-9 ()+.-]: a run of digits and separators */
    uint64_t start; /* [0-9+(]: such a run's first byte */
    uint64_t token; /* [A-Za-z0-9_.-] */
    int rare;
} Classes;

typedef struct {
    uint64_t dash, colon, at, slash, u, high; /* - : @ \ u, and a byte that is not ASCII */
} Rare;

/* Both classifiers for vectors of `width` bytes, by the instruction set's names for their operations: the same code
 * at 16 bytes (SSE2) and at 32 (AVX2). A byte in [low, high] is found by one signed comparison of the byte less
 * `low` + 128 (a byte that is not ASCII then lies below every ASCII range). The constants are made once for a text
 * (`name##_constants`) and kept opaque to the compiler, which would otherwise remake each from an immediate in
 * every block, three instructions where a register or a memory operand costs none. */
#define CLASSIFIERS(name, width, vec, load, set1, sub, gt, eq, or, movemask, attributes)                          \
    typedef struct {                                                                                             \
        vec digit_low, upper_low, lower_low, digits, letters, lower, dot, dash, plus, open, space, close,        \
            underscore, colon, at, slash, u;                                                                     \
    } name##_k;                                                                                                  \
    attributes static inline __attribute__((always_inline)) name##_k name##_constants(void) {                   \
        name##_k k = {set1((char)('0' + 128)), set1((char)('A' + 128)), set1((char)('a' + 128)),                \
                      set1((char)(10 - 128)), set1((char)(26 - 128)), set1(0x20), set1('.'), set1('-'),          \
                      set1('+'), set1('('), set1(' '), set1(')'), set1('_'), set1(':'), set1('@'), set1('\\'),   \
                      set1('u')};                                                                                \
        vec *each = (vec *)&k;                                                                                   \
        for (size_t i = 0; i < sizeof(k) / sizeof(vec); i++) __asm__("" : "+x"(each[i]));                       \
        return k;                                                                                                \
    }                                                                                                            \
    attributes static inline __attribute__((always_inline)) void name(const unsigned char *block, const name##_k *k, \
                                                                      Classes *out) {                            \
        uint64_t digit = 0, upper = 0, run = 0, start = 0, token = 0, rare = 0;                                  \
        for (int part = 0; part < BLOCK / width; part++) {                                                       \
            vec v = load((const vec *)(block + width * part));                                                   \
            int shift = width * part;                                                                            \
            vec d = gt(k->digits, sub(v, k->digit_low));                                                         \
            vec up = gt(k->letters, sub(v, k->upper_low));                                                       \
            vec letter = gt(k->letters, sub(or(v, k->lower), k->lower_low));                                     \
            vec dot = eq(v, k->dot), dash = eq(v, k->dash);                                                      \
            vec s = or(d, or(eq(v, k->plus), eq(v, k->open)));                                                   \
            vec r = or(or(s, or(dot, dash)), or(eq(v, k->space), eq(v, k->close)));                             \
            vec t = or(or(d, letter), or(or(dot, dash), eq(v, k->underscore)));                                  \
            vec odd = or(or(v, dash), or(eq(v, k->colon), or(eq(v, k->at), eq(v, k->slash))));                  \
            digit |= movemask(d) << shift;                                                                       \
            upper |= movemask(up) << shift;                                                                      \
            run |= movemask(r) << shift;                                                                         \
            start |= movemask(s) << shift;                                                                       \
            token |= movemask(t) << shift;                                                                       \
            rare |= movemask(odd);                                                                               \
        }                                                                                                        \
        *out = (Classes){digit, upper, run, start, token, rare != 0};                                            \
    }                                                                                                            \
    attributes static inline __attribute__((always_inline)) void name##_rare(const unsigned char *block,          \
                                                                             const name##_k *k, Rare *out) {     \
        uint64_t dash = 0, colon = 0, at = 0, slash = 0, u = 0, high = 0;                                        \
        for (int part = 0; part < BLOCK / width; part++) {                                                       \
            vec v = load((const vec *)(block + width * part));                                                   \
            int shift = width * part;                                                                            \
            dash |= movemask(eq(v, k->dash)) << shift;                                                           \
            colon |= movemask(eq(v, k->colon)) << shift;                                                         \
            at |= movemask(eq(v, k->at)) << shift;                                                               \
            slash |= movemask(eq(v, k->slash)) << shift;                                                         \
            u |= movemask(eq(v, k->u)) << shift;                                                                 \
            high |= movemask(v) << shift;                                                                        \
        }                                                                                                        \
        *out = (Rare){dash, colon, at, slash, u, high};                                                          \
    }

#if defined(__SSE2__)
#define MOVEMASK16(set) ((uint64_t)(uint16_t)_mm_movemask_epi8(set))
CLASSIFIERS(classify_sse2, 16, __m128i, _mm_loadu_si128, _mm_set1_epi8, _mm_sub_epi8, _mm_cmpgt_epi8,
            _mm_cmpeq_epi8, _mm_or_si128, MOVEMASK16, )
#endif

#if defined(SIEVE_AVX2)
#define AVX2 __attribute__((target("avx2")))
#define MOVEMASK32(set) ((uint64_t)(uint32_t)_mm256_movemask_epi8(set))
CLASSIFIERS(classify_avx2, 32, __m256i, _mm256_loadu_si256, _mm256_set1_epi8, _mm256_sub_epi8, _mm256_cmpgt_epi8,
            _mm256_cmpeq_epi8, _mm256_or_si256, MOVEMASK32, AVX2)
#endif

/* The same classes a byte at a time from a table: for a processor without SSE2. */
enum {
    C_DIGIT = 1 << 0,
    C_UPPER = 1 << 1,
    C_RUN = 1 << 2,
    C_START = 1 << 3,
    C_TOKEN = 1 << 4,
    C_DASH = 1 << 5,
    C_COLON = 1 << 6,
    C_AT = 1 << 7,
    C_SLASH = 1 << 8,
    C_U = 1 << 9,
    C_HIGH = 1 << 10,
    C_RARE = C_DASH | C_COLON | C_AT | C_SLASH | C_HIGH,
};

static uint16_t CLASS[256]; /* filled once, at import */

static void fill_classes(void) {
    for (int c = '0'; c <= '9'; c++) CLASS[c] |= C_DIGIT | C_RUN | C_START | C_TOKEN;
    for (int c = 'A'; c <= 'Z'; c++) CLASS[c] |= C_UPPER | C_TOKEN;
    for (int c = 'a'; c <= 'z'; c++) CLASS[c] |= C_TOKEN;
    for (int c = 0x80; c <= 0xff; c++) CLASS[c] |= C_HIGH;
    CLASS['+'] |= C_RUN | C_START;
    CLASS['('] |= C_RUN | C_START;
    CLASS[' '] |= C_RUN;
    CLASS[')'] |= C_RUN;
    CLASS['.'] |= C_RUN | C_TOKEN;
    CLASS['-'] |= C_RUN | C_TOKEN | C_DASH;
    CLASS['_'] |= C_TOKEN;
    CLASS[':'] |= C_COLON;
    CLASS['@'] |= C_AT;
    CLASS['\\'] |= C_SLASH;
    CLASS['u'] |= C_U;
}

/* Bits of a class: bit i for the bytes `block` has of it, when they are byte i of the block. */
static inline uint64_t table_bits(const unsigned char *block, unsigned class) {
    uint64_t out = 0;
    for (int i = 0; i < BLOCK; i++)
        if (CLASS[block[i]] & class) out |= (uint64_t)1 << i;
    return out;
}

typedef char classify_table_k; /* the table needs no constants */

static inline classify_table_k classify_table_constants(void) { return 0; }

static inline void classify_table(const unsigned char *block, const classify_table_k *k, Classes *out) {
    (void)k;
    unsigned any = 0;
    for (int i = 0; i < BLOCK; i++) any |= CLASS[block[i]];
    *out = (Classes){table_bits(block, C_DIGIT), table_bits(block, C_UPPER), table_bits(block, C_RUN),
                     table_bits(block, C_START), table_bits(block, C_TOKEN), (any & C_RARE) != 0};
}

static inline void classify_table_rare(const unsigned char *block, const classify_table_k *k, Rare *out) {
    (void)k;
    *out = (Rare){table_bits(block, C_DASH),  table_bits(block, C_COLON), table_bits(block, C_AT),
                  table_bits(block, C_SLASH), table_bits(block, C_U),     table_bits(block, C_HIGH)};
}

/* A class's bits from `k` bytes on: bit i is byte i + k's of the block, read on into the next one. On x86-64 one
 * `shrd`, written out: GCC makes the same shift of a 128-bit pair through the stack. */
static inline __attribute__((always_inline)) uint64_t ahead(uint64_t block, uint64_t next, int k) {
#if defined(__x86_64__) && defined(__GNUC__)
    __asm__("shrdq %2, %1, %0" : "+r"(block) : "r"(next), "Jc"((unsigned char)k) : "cc");
    return block;
#else
    return (block >> k) | (next << (64 - k));
#endif
}

/* Runs of `2k` bytes of a class (bit i: bytes i to i + 2k - 1) from runs of `k`, the block's and the next's; the
 * next's are read from that block alone, which is right for its first bytes, all a mark of this block reads. */
#define DOUBLED(block, next, k)         \
    do {                                \
        block &= ahead(block, next, k); \
        next &= next >> (k);            \
    } while (0)

/* What a text's blocks hold of the common classes' marks: bits where one begins. */
typedef struct {
    uint64_t mark; /* an IBAN's or a token's mark */
    uint64_t head; /* a run of digits' first six: a start and five more of the run */
    uint64_t tail; /* seven of such a run whose last is a digit */
} Marks;

/* Which bits of `marked`'s answer each family reads, from `kinds` (all or none of them). */
typedef struct {
    uint64_t iban, token, digits;
} Wanted;

static inline Wanted wanted(int kinds) {
    return (Wanted){(kinds & IBAN) ? ~(uint64_t)0 : 0, (kinds & TOKEN) ? ~(uint64_t)0 : 0,
                    (kinds & DIGITS) ? ~(uint64_t)0 : 0};
}

/* Adds to `m` the marks among the common classes that begin in block `b` (each reads at most 15 bytes: on into
 * `n`, the next block), computed for every family and kept for those `w` wants (no branch in the loop). A run of
 * digits is a mark where the text holds both its ends, which may lie in blocks apart. */
static inline void marked(const Classes *b, const Classes *n, Wanted w, Marks *m) {
    uint64_t iban = b->upper & ahead(b->upper, n->upper, 1) & ahead(b->digit, n->digit, 2) &
                    ahead(b->digit, n->digit, 3);
    uint64_t t = b->token, next = n->token;
    DOUBLED(t, next, 1);  /* 2 from here */
    DOUBLED(t, next, 2);  /* 4 */
    DOUBLED(t, next, 4);  /* 8 */
    t &= ahead(t, next, 7); /* 8 from here and 8 from 7 on: 15 */
    uint64_t r = b->run, rn = n->run;
    uint64_t six = r & ahead(r, rn, 1) & ahead(r, rn, 2) & ahead(r, rn, 3) & ahead(r, rn, 4) & ahead(r, rn, 5);
    m->mark |= (iban & w.iban) | (t & w.token);
    m->head |= b->start & six & w.digits;
    m->tail |= six & ahead(b->digit, n->digit, 6) & w.digits;
}

/* Whether a mark of `kinds` among the rare classes begins in block `b`. */
static inline int rare_marked(const Rare *b, const Rare *n, int kinds) {
    if ((kinds & EMAIL) && b->at) return 1;
    if ((kinds & JSON) && (b->high | (b->slash & ahead(b->u, n->u, 1)))) return 1;
    if (kinds & PEM) {
        uint64_t d = b->dash, next = n->dash;
        if (d & ahead(d, next, 1) & ahead(d, next, 2) & ahead(d, next, 3) & ahead(d, next, 4)) return 1;
    }
    if (kinds & V6) {
        uint64_t c = b->colon, next = n->colon;
        if (c & (ahead(c, next, 1) | ahead(c, next, 2) | ahead(c, next, 3) | ahead(c, next, 4) | ahead(c, next, 5)))
            return 1;
    }
    return 0;
}

static const unsigned char NOTHING[BLOCK]; /* past the text: zero bytes, of no class */

/* Whether `data` may hold a candidate of `kinds`, its blocks sorted by `classify`: one function for each classifier,
 * so that the classifier and the marks' checks are compiled into its loop for the instructions it is built for.
 * Before the text and past it, blocks of zero bytes, which are of no class. */
#define HOLDS(name, classify, attributes)                                                                         \
    attributes static int name(const unsigned char *data, Py_ssize_t size, int kinds) {                           \
        const classify##_k k = classify##_constants();                                                            \
        const Wanted w = wanted(kinds);                                                                           \
        unsigned char tail[BLOCK];                                                                                \
        const unsigned char *before_bytes = NOTHING, *now_bytes;                                                  \
        Classes before = {0, 0, 0, 0, 0, 0}, now;                                                                 \
        Marks marks = {0, 0, 0};                                                                                  \
        for (Py_ssize_t at = 0; at < size + BLOCK; at += BLOCK) {                                                 \
            if (size - at >= BLOCK) {                                                                             \
                now_bytes = data + at;                                                                            \
            } else if (at < size) {                                                                               \
                memset(tail, 0, BLOCK);                                                                           \
                memcpy(tail, data + at, (size_t)(size - at));                                                     \
                now_bytes = tail;                                                                                 \
            } else {                                                                                              \
                now_bytes = NOTHING;                                                                              \
            }                                                                                                     \
            classify(now_bytes, &k, &now);                                                                        \
            marked(&before, &now, w, &marks);                                                                     \
            if (marks.mark) return 1;                                                                             \
            if (before.rare) {                                                                                    \
                Rare rare_before, rare_now;                                                                       \
                classify##_rare(before_bytes, &k, &rare_before);                                                  \
                classify##_rare(now_bytes, &k, &rare_now);                                                        \
                if (rare_marked(&rare_before, &rare_now, kinds)) return 1;                                        \
            }                                                                                                     \
            before = now;                                                                                         \
            before_bytes = now_bytes;                                                                             \
        }                                                                                                         \
        return marks.head && marks.tail;                                                                          \
    }

HOLDS(holds_table, classify_table, )
#if defined(__SSE2__)
HOLDS(holds_sse2, classify_sse2, )
#endif
#if defined(SIEVE_AVX2)
HOLDS(holds_avx2, classify_avx2, AVX2)
#endif

/* The classifier this processor runs best, chosen at import (the same classes whichever it is). */
static int (*holds)(const unsigned char *, Py_ssize_t, int) =
#if defined(__SSE2__)
    holds_sse2;
#else
    holds_table;
#endif

static PyObject *may_hold(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "may_hold(data: bytes, kinds: int)");
        return NULL;
    }
    long kinds = PyLong_AsLong(args[1]);
    if (kinds == -1 && PyErr_Occurred()) return NULL;
    if (holds((const unsigned char *)PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), (int)kinds))
        Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

static PyMethodDef methods[] = {
    {"may_hold", (PyCFunction)(void (*)(void))may_hold, METH_FASTCALL,
     "may_hold(data, kinds): whether `data` may hold a candidate of the families `kinds` names (bits: token 1, "
     "pem 2, email 4, iban 8, v6 16, digits 32; and 64: a byte that is not ASCII or a `\\u` escape). False is "
     "exact: no candidate is there."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sieve", NULL, 0, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sieve(void) {
    fill_classes();
#if defined(__SSE2__)
    const char *name = "sse2";
#else
    const char *name = "table";
#endif
#if defined(SIEVE_AVX2)
    if (__builtin_cpu_supports("avx2")) {
        holds = holds_avx2;
        name = "avx2";
    }
#endif
    /* BABELGATE_SIEVE_CLASSIFIER=sse2|table takes a simpler classifier: for the tests that hold each against the
     * others on the same texts. */
    const char *asked = getenv("BABELGATE_SIEVE_CLASSIFIER");
    if (asked != NULL && strcmp(asked, "table") == 0) {
        holds = holds_table;
        name = "table";
    }
#if defined(__SSE2__)
    if (asked != NULL && strcmp(asked, "sse2") == 0) {
        holds = holds_sse2;
        name = "sse2";
    }
#endif
    PyObject *sieve = PyModule_Create(&module);
    if (sieve != NULL && PyModule_AddStringConstant(sieve, "classifier", name) < 0) {
        Py_DECREF(sieve);
        return NULL;
    }
    return sieve;
}
