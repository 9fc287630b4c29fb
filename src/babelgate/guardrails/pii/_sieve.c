/* Whether a text may hold a candidate of the built-in PII detectors: a pass over its bytes, sixteen at a time, that
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
 * sieve; "no" is exact. The text is read in blocks of 64 bytes; a mark (15 bytes at most) lies whole in a block or
 * in the 16 bytes before one and its first 48. */

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

/* A block's classes, bit i for byte i; and what the text holds anywhere, for the marks found by a byte's presence
 * first (`@`, a byte that is not ASCII) or by a scalar look where their byte is (dashes, colons, backslashes). */
typedef struct {
    uint64_t digit;  /* [0-9] */
    uint64_t upper;  /* [A-Z] */
    uint64_t run;    /* [0-9 ()+.-]: a run of digits and separators */
    uint64_t start;  /* [0-9+(]: such a run's first byte */
    uint64_t token;  /* [A-Za-z0-9_.-] */
} Classes;

enum { HAS_HIGH = 1, HAS_AT = 2, HAS_DASH = 4, HAS_COLON = 8, HAS_SLASH = 16 };

#if defined(__SSE2__)

static inline uint64_t bits(__m128i set) { return (uint64_t)(uint16_t)_mm_movemask_epi8(set); }

/* Bytes within [low, high], by one signed comparison of the byte less `low` (a byte that is not ASCII, negative,
 * is within no ASCII range). */
static inline __m128i within(__m128i v, char low, char high) {
    __m128i moved = _mm_sub_epi8(v, _mm_set1_epi8((char)(low + 128)));
    return _mm_cmplt_epi8(moved, _mm_set1_epi8((char)(high - low - 128 + 1)));
}

static inline __m128i is(__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); }

static inline __attribute__((always_inline)) int classify_sse2(const unsigned char *block, Classes *out) {
    uint64_t digit = 0, upper = 0, run = 0, start = 0, token = 0;
    __m128i high = _mm_setzero_si128(), at = high, dash_any = high, colon = high, slash = high;
    for (int part = 0; part < BLOCK / 16; part++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(block + 16 * part));
        int shift = 16 * part;
        __m128i d = within(v, '0', '9');
        __m128i u = within(v, 'A', 'Z');
        __m128i letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
        __m128i dot = is(v, '.'), dash = is(v, '-');
        __m128i s = _mm_or_si128(d, _mm_or_si128(is(v, '+'), is(v, '(')));
        __m128i r = _mm_or_si128(_mm_or_si128(s, _mm_or_si128(dot, dash)), _mm_or_si128(is(v, ' '), is(v, ')')));
        __m128i t = _mm_or_si128(_mm_or_si128(d, letter), _mm_or_si128(_mm_or_si128(dot, dash), is(v, '_')));
        digit |= bits(d) << shift;
        upper |= bits(u) << shift;
        run |= bits(r) << shift;
        start |= bits(s) << shift;
        token |= bits(t) << shift;
        high = _mm_or_si128(high, v);
        at = _mm_or_si128(at, is(v, '@'));
        dash_any = _mm_or_si128(dash_any, dash);
        colon = _mm_or_si128(colon, is(v, ':'));
        slash = _mm_or_si128(slash, is(v, '\\'));
    }
    out->digit = digit;
    out->upper = upper;
    out->run = run;
    out->start = start;
    out->token = token;
    return (_mm_movemask_epi8(high) ? HAS_HIGH : 0) | (_mm_movemask_epi8(at) ? HAS_AT : 0) |
           (_mm_movemask_epi8(dash_any) ? HAS_DASH : 0) | (_mm_movemask_epi8(colon) ? HAS_COLON : 0) |
           (_mm_movemask_epi8(slash) ? HAS_SLASH : 0);
}

#endif

/* The same classes a byte at a time from a table: for a processor without SSE2. */
enum { C_DIGIT = 1, C_UPPER = 2, C_RUN = 4, C_START = 8, C_TOKEN = 16 };

static uint8_t CLASS[256]; /* filled once, at import */

static void fill_classes(void) {
    for (int c = '0'; c <= '9'; c++) CLASS[c] |= C_DIGIT | C_RUN | C_START | C_TOKEN;
    for (int c = 'A'; c <= 'Z'; c++) CLASS[c] |= C_UPPER | C_TOKEN;
    for (int c = 'a'; c <= 'z'; c++) CLASS[c] |= C_TOKEN;
    CLASS['+'] |= C_RUN | C_START;
    CLASS['('] |= C_RUN | C_START;
    CLASS[' '] |= C_RUN;
    CLASS[')'] |= C_RUN;
    CLASS['.'] |= C_RUN | C_TOKEN;
    CLASS['-'] |= C_RUN | C_TOKEN;
    CLASS['_'] |= C_TOKEN;
}

static inline int classify_table(const unsigned char *block, Classes *out) {
    int has = 0;
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < BLOCK; i++) {
        unsigned char b = block[i];
        unsigned c = CLASS[b];
        uint64_t bit = (uint64_t)1 << i;
        if (c & C_DIGIT) out->digit |= bit;
        if (c & C_UPPER) out->upper |= bit;
        if (c & C_RUN) out->run |= bit;
        if (c & C_START) out->start |= bit;
        if (c & C_TOKEN) out->token |= bit;
        has |= b >= 0x80 ? HAS_HIGH : b == '@' ? HAS_AT : b == '-' ? HAS_DASH : b == ':' ? HAS_COLON
                                                 : b == '\\' ? HAS_SLASH : 0;
    }
    return has;
}

#if defined(SIEVE_AVX2)

#define AVX2 __attribute__((target("avx2")))

AVX2 static inline uint64_t bits32(__m256i set) { return (uint64_t)(uint32_t)_mm256_movemask_epi8(set); }

AVX2 static inline __m256i within32(__m256i v, char low, char high) {
    __m256i moved = _mm256_sub_epi8(v, _mm256_set1_epi8((char)(low + 128)));
    return _mm256_cmpgt_epi8(_mm256_set1_epi8((char)(high - low - 128 + 1)), moved);
}

AVX2 static inline __m256i is32(__m256i v, char c) { return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c)); }

/* classify_sse2's work, 32 bytes at a time. */
AVX2 static inline __attribute__((always_inline)) int classify_avx2(const unsigned char *block, Classes *out) {
    uint64_t digit = 0, upper = 0, run = 0, start = 0, token = 0;
    __m256i high = _mm256_setzero_si256(), at = high, dash_any = high, colon = high, slash = high;
    for (int part = 0; part < BLOCK / 32; part++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(block + 32 * part));
        int shift = 32 * part;
        __m256i d = within32(v, '0', '9');
        __m256i u = within32(v, 'A', 'Z');
        __m256i letter = within32(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), 'a', 'z');
        __m256i dot = is32(v, '.'), dash = is32(v, '-');
        __m256i s = _mm256_or_si256(d, _mm256_or_si256(is32(v, '+'), is32(v, '(')));
        __m256i r = _mm256_or_si256(_mm256_or_si256(s, _mm256_or_si256(dot, dash)),
                                    _mm256_or_si256(is32(v, ' '), is32(v, ')')));
        __m256i t = _mm256_or_si256(_mm256_or_si256(d, letter), _mm256_or_si256(_mm256_or_si256(dot, dash), is32(v, '_')));
        digit |= bits32(d) << shift;
        upper |= bits32(u) << shift;
        run |= bits32(r) << shift;
        start |= bits32(s) << shift;
        token |= bits32(t) << shift;
        high = _mm256_or_si256(high, v);
        at = _mm256_or_si256(at, is32(v, '@'));
        dash_any = _mm256_or_si256(dash_any, dash);
        colon = _mm256_or_si256(colon, is32(v, ':'));
        slash = _mm256_or_si256(slash, is32(v, '\\'));
    }
    out->digit = digit;
    out->upper = upper;
    out->run = run;
    out->start = start;
    out->token = token;
    return (_mm256_movemask_epi8(high) ? HAS_HIGH : 0) | (_mm256_movemask_epi8(at) ? HAS_AT : 0) |
           (_mm256_movemask_epi8(dash_any) ? HAS_DASH : 0) | (_mm256_movemask_epi8(colon) ? HAS_COLON : 0) |
           (_mm256_movemask_epi8(slash) ? HAS_SLASH : 0);
}

#endif

enum { MARK = 1, HEAD = 2, TAIL = 4 };

/* Whether the classes hold a mark of the runs' families among `kinds` (bit i of `m >> k` is byte i + k's): MARK;
 * and the two ends of a run of digits, which may lie in blocks apart: HEAD, a start and five more of the run; TAIL,
 * seven of the run whose last is a digit. A run of digits is a mark where the text holds both. */
static inline int marked(const Classes *c, int kinds) {
    if ((kinds & IBAN) && (c->upper & (c->upper >> 1) & (c->digit >> 2) & (c->digit >> 3))) return MARK;
    if (kinds & TOKEN) {
        uint64_t t2 = c->token & (c->token >> 1); /* runs of 2 from here */
        uint64_t t4 = t2 & (t2 >> 2);
        uint64_t t8 = t4 & (t4 >> 4);
        if (t8 & (t8 >> 7)) return MARK; /* 8 from here and 8 from 7 on: 15 */
    }
    if (kinds & DIGITS) {
        uint64_t r = c->run;
        uint64_t six = r & (r >> 1) & (r >> 2) & (r >> 3) & (r >> 4) & (r >> 5);
        return ((c->start & six) ? HEAD : 0) | ((six & (c->digit >> 6)) ? TAIL : 0);
    }
    return 0;
}

/* The classes of the 16 bytes before a block and its first 48, for the marks that cross into it. */
static inline void straddling(const Classes *before, const Classes *now, Classes *out) {
    out->digit = (before->digit >> 48) | (now->digit << 16);
    out->upper = (before->upper >> 48) | (now->upper << 16);
    out->run = (before->run >> 48) | (now->run << 16);
    out->start = (before->start >> 48) | (now->start << 16);
    out->token = (before->token >> 48) | (now->token << 16);
}

/* Whether `byte` occurs where `then` follows within `reach` bytes (`then` of the same byte: two of them). */
static int near(const unsigned char *data, Py_ssize_t size, unsigned char byte, int (*then)(const unsigned char *,
                Py_ssize_t)) {
    const unsigned char *at = data, *end = data + size;
    while ((at = memchr(at, byte, (size_t)(end - at))) != NULL) {
        if (then(at, end - at)) return 1;
        at++;
    }
    return 0;
}

static int pem_at(const unsigned char *at, Py_ssize_t left) { return left >= 5 && memcmp(at, "-----", 5) == 0; }

static int escape_at(const unsigned char *at, Py_ssize_t left) { return left >= 2 && at[1] == 'u'; }

static int colons_at(const unsigned char *at, Py_ssize_t left) {
    for (Py_ssize_t k = 1; k <= 5 && k < left; k++)
        if (at[k] == ':') return 1;
    return 0;
}

/* Whether `data` may hold a candidate of `kinds`, its blocks sorted by `classify`: one function for each classifier,
 * so that the classifier and the marks' checks are compiled into its loop for the instructions it is built for. */
#define HOLDS(name, classify, attributes)                                                                         \
    attributes static int name(const unsigned char *data, Py_ssize_t size, int kinds) {                           \
        Classes before = {0, 0, 0, 0, 0}, now, across;                                                            \
        int has = 0, ends = 0;                                                                                    \
        for (Py_ssize_t at = 0; at < size; at += BLOCK) {                                                         \
            if (size - at >= BLOCK) {                                                                             \
                has |= classify(data + at, &now);                                                                 \
            } else {                                                                                              \
                unsigned char tail[BLOCK] = {0}; /* a zero byte is of no class */                                 \
                memcpy(tail, data + at, (size_t)(size - at));                                                     \
                has |= classify(tail, &now);                                                                      \
            }                                                                                                     \
            straddling(&before, &now, &across);                                                                   \
            ends |= marked(&now, kinds) | marked(&across, kinds);                                                 \
            if (ends & MARK) return 1;                                                                            \
            before = now;                                                                                         \
        }                                                                                                         \
        return (ends & (HEAD | TAIL)) == (HEAD | TAIL) || found(data, size, kinds, has);                          \
    }

/* The marks found by a byte's presence, and then, where it is, by a look at its neighbours. */
static int found(const unsigned char *data, Py_ssize_t size, int kinds, int has) {
    if ((kinds & JSON) && (has & HAS_HIGH)) return 1;
    if ((kinds & EMAIL) && (has & HAS_AT)) return 1;
    if ((kinds & JSON) && (has & HAS_SLASH) && near(data, size, '\\', escape_at)) return 1;
    if ((kinds & PEM) && (has & HAS_DASH) && near(data, size, '-', pem_at)) return 1;
    if ((kinds & V6) && (has & HAS_COLON) && near(data, size, ':', colons_at)) return 1;
    return 0;
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
