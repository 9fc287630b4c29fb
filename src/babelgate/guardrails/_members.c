/* Where an object's members are in a JSON document's bytes, without parsing it: for the guardrails' reading of an
 * answer's texts (paths.py, `Where.raw_texts`), which takes the values at a few keys whole and skips the rest (ids,
 * timestamps, usage). One pass over the object: a string is skipped by `memchr` to its closing quote, a list or an
 * object by counting brackets outside strings, anything else to the next delimiter.
 *
 * It answers for well-formed JSON exactly as a parser reads it (of a key given twice, the last), and gives up
 * (None) where it would have to do more: a key written with an escape, which only a parser compares rightly, and
 * anything it does not understand. Bytes that are not JSON may get an answer: a caller that finds nothing in them
 * hands the document on as it is, as it would a document no parser reads. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static Py_ssize_t blank(const char *d, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && (d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t')) i++;
    return i;
}

/* The bytes a scan of a list or an object stops at: a string's start, a bracket. */
static unsigned char OUTSIDE[256];

/* One past the closing quote of the string that opens at `i`, or -1; `escaped` is set where it holds a backslash. */
static Py_ssize_t string_end(const char *d, Py_ssize_t i, Py_ssize_t n, int *escaped) {
    Py_ssize_t from = i + 1;
    for (;;) {
        const char *quote = memchr(d + from, '"', (size_t)(n - from));
        if (quote == NULL) return -1;
        Py_ssize_t at = quote - d, before = at;
        while (before > i + 1 && d[before - 1] == '\\') before--;
        if (((at - before) & 1) == 0) { /* an even run of backslashes escapes each other, not the quote */
            if (escaped != NULL) *escaped = memchr(d + i + 1, '\\', (size_t)(at - i - 1)) != NULL;
            return at + 1;
        }
        from = at + 1;
    }
}

/* One past the end of the value that begins at `i` (its first byte, not a blank), or -1. */
static Py_ssize_t value_end(const char *d, Py_ssize_t i, Py_ssize_t n) {
    if (i >= n) return -1;
    if (d[i] == '"') return string_end(d, i, n, NULL);
    if (d[i] == '{' || d[i] == '[') {
        Py_ssize_t depth = 0;
        for (Py_ssize_t at = i; at < n; at++) {
            char c = d[at];
            if (!OUTSIDE[(unsigned char)c]) continue;
            if (c == '"') {
                at = string_end(d, at, n, NULL);
                if (at < 0) return -1;
                at--; /* the loop steps past the closing quote */
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (--depth == 0) {
                return at + 1;
            }
        }
        return -1;
    }
    Py_ssize_t at = i; /* a number, true, false or null */
    while (at < n && d[at] != ',' && d[at] != '}' && d[at] != ']' && d[at] != ' ' && d[at] != '\n' && d[at] != '\r' &&
           d[at] != '\t')
        at++;
    return at > i ? at : -1;
}

/* members(data, start, keys): for the object that begins at `start` in `data` (after blanks), the span of each
 * key's value, [start0, end0, start1, end1, ...] in the order of `keys` (a tuple of bytes), -1 and -1 for a key it
 * lacks; None where it gives up. */
static PyObject *members(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyLong_Check(args[1]) || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "members(data: bytes, start: int, keys: tuple[bytes, ...])");
        return NULL;
    }
    const char *d = PyBytes_AS_STRING(args[0]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if (i == -1 && PyErr_Occurred()) return NULL;
    PyObject *keys = args[2];
    Py_ssize_t count = PyTuple_GET_SIZE(keys);
    for (Py_ssize_t k = 0; k < count; k++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(keys, k))) {
            PyErr_SetString(PyExc_TypeError, "members: each key is bytes");
            return NULL;
        }
    }
    Py_ssize_t spans[2 * 16];
    if (count > 16 || i < 0) Py_RETURN_NONE;
    i = blank(d, i, n);
    if (i >= n || d[i] != '{') Py_RETURN_NONE;
    for (Py_ssize_t k = 0; k < 2 * count; k++) spans[k] = -1;
    i = blank(d, i + 1, n);
    if (i < n && d[i] == '}') goto done;
    for (;;) {
        if (i >= n || d[i] != '"') Py_RETURN_NONE;
        int escaped = 0;
        Py_ssize_t key_end = string_end(d, i, n, &escaped);
        if (key_end < 0 || escaped) Py_RETURN_NONE;
        const char *key = d + i + 1;
        Py_ssize_t size = key_end - i - 2;
        i = blank(d, key_end, n);
        if (i >= n || d[i] != ':') Py_RETURN_NONE;
        i = blank(d, i + 1, n);
        Py_ssize_t end = value_end(d, i, n);
        if (end < 0) Py_RETURN_NONE;
        for (Py_ssize_t k = 0; k < count; k++) {
            PyObject *wanted = PyTuple_GET_ITEM(keys, k);
            if (PyBytes_GET_SIZE(wanted) == size && memcmp(PyBytes_AS_STRING(wanted), key, (size_t)size) == 0) {
                spans[2 * k] = i;
                spans[2 * k + 1] = end;
            }
        }
        i = blank(d, end, n);
        if (i < n && d[i] == ',') {
            i = blank(d, i + 1, n);
            continue;
        }
        if (i < n && d[i] == '}') break;
        Py_RETURN_NONE;
    }
done:;
    PyObject *out = PyList_New(2 * count);
    if (out == NULL) return NULL;
    for (Py_ssize_t k = 0; k < 2 * count; k++) {
        PyObject *at = PyLong_FromSsize_t(spans[k]);
        if (at == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k, at);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"members", (PyCFunction)(void (*)(void))members, METH_FASTCALL,
     "members(data, start, keys): for the JSON object whose `{` is at `start` in `data`, the span of each key's "
     "value ([start, end, ...] in the order of `keys`; -1, -1 for a key it lacks), or None where it gives up (a "
     "key written with an escape, bytes it does not understand)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_members", NULL, 0, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__members(void) {
    OUTSIDE['"'] = OUTSIDE['{'] = OUTSIDE['['] = OUTSIDE['}'] = OUTSIDE[']'] = 1;
    return PyModule_Create(&module);
}
