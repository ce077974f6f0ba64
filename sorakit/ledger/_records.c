/* The record decoder of sorakit.ledger._pages, in C: a million ledger rows in well under a second.

   SQLite's file format (https://www.sqlite.org/fileformat2.html), table b-tree leaf cells:
   payload size (varint), rowid (varint), record. A record is a header (its size as a varint,
   then one serial type per column, varints) followed by the values: big-endian integers of
   1, 2, 3, 4, 6 or 8 bytes, big-endian IEEE doubles, the constants 0 and 1, and text.

   Python (``_pages``) walks the b-tree and hands over the offsets of the leaf cells, a chunk of
   leaf pages at a time; ``scan`` decodes a chunk's records into preallocated arrays (numbers and
   validity at the chunk's rows of the whole table, text lengths for the chunk) and ``gather``
   copies the chunk's text into per-column buffers at offsets Python computed from those lengths.
   Both check every read against its page and record and report anything unexpected (a BLOB,
   text in a number column, a malformed record...) as ValueError, which Python turns into "read
   this table with SQL instead". Neither holds the GIL while it works, so threads decode chunks
   side by side. Nothing here allocates: every output comes from Python. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { K_SKIP = 0, K_INT = 1, K_REAL = 2, K_TEXT = 3 };

typedef struct {
    const uint8_t *img;
    int64_t len, page_size, max_local, ncols;
    int64_t m;    /* cells in this chunk */
    int64_t base; /* the table row of the chunk's first cell */
    int64_t n;    /* rows in the whole table: the row stride of the number outputs */
    const uint8_t *kinds; /* per table column (prefix of ncols): K_* */
    const int32_t *slots; /* per table column: its row in the output matrix of its kind */
    const int64_t *cells;
} Table;

/* A varint at p that must end before `end`: its length (1-9), or 0 when it runs past `end`. */
static int varint(const uint8_t *p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        if (p + i >= end) return 0;
        v = (v << 7) | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) { *out = v; return i + 1; }
    }
    if (p + 8 >= end) return 0;
    *out = (v << 8) | p[8];
    return 9;
}

static int64_t value_size(uint64_t st) {
    static const int64_t fixed[12] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1};
    return st < 12 ? fixed[st] : (int64_t)((st - 12) >> 1);
}

static int64_t big_endian_int(const uint8_t *p, int64_t size) {
    uint64_t v = (p[0] & 0x80) ? ~(uint64_t)0 : 0; /* sign-extend */
    for (int64_t i = 0; i < size; i++) v = (v << 8) | p[i];
    return (int64_t)v;
}

typedef struct {
    const uint8_t *rec_end, *hp, *hend, *vp;
    int spilled;
    int64_t rowid;
} Record;

/* Locate the record of the chunk's cell `i`. Returns NULL, or a static error message. */
static const char *open_record(const Table *t, int64_t i, Record *r) {
    int64_t cell = t->cells[i];
    if (cell < 0 || cell >= t->len) return "cell offset outside the file";
    int64_t page_end = (cell / t->page_size + 1) * t->page_size;
    if (page_end > t->len) return "page outside the file";
    const uint8_t *p = t->img + cell, *end = t->img + page_end;
    uint64_t payload, rowid, hsize;
    int n1 = varint(p, end, &payload);
    if (!n1) return "cell runs past its page";
    int n2 = varint(p + n1, end, &rowid);
    if (!n2) return "cell runs past its page";
    r->rowid = (int64_t)rowid;
    r->spilled = payload > (uint64_t)t->max_local;
    if (r->spilled) return NULL;
    const uint8_t *start = p + n1 + n2;
    if (payload > (uint64_t)(end - start)) return "a record runs past its page";
    r->rec_end = start + payload;
    int n3 = varint(start, r->rec_end, &hsize);
    if (!n3 || hsize < (uint64_t)n3 || hsize > payload) return "malformed record header";
    r->hp = start + n3;
    r->hend = start + hsize;
    r->vp = r->hend;
    return NULL;
}

/* The next column's serial type (0 = NULL once the header is exhausted: a row written before
   the column was added) and where its value starts. */
static const char *next_value(Record *r, uint64_t *st, const uint8_t **value, int64_t *size) {
    *st = 0;
    if (r->hp < r->hend) {
        int n = varint(r->hp, r->hend, st);
        if (!n) return "record header ends inside a varint";
        r->hp += n;
    }
    *size = value_size(*st);
    if (*size < 0) return "reserved serial type";
    if (*size > r->rec_end - r->vp) return "record values run past the payload";
    *value = r->vp;
    r->vp += *size;
    return NULL;
}

typedef struct {
    Py_buffer image, cells, kinds, slots;
} Inputs;

static void release_inputs(Inputs *in) {
    PyBuffer_Release(&in->image);
    PyBuffer_Release(&in->cells);
    PyBuffer_Release(&in->kinds);
    PyBuffer_Release(&in->slots);
}

static int table_from(Inputs *in, Table *t) {
    t->img = in->image.buf;
    t->len = in->image.len;
    t->cells = in->cells.buf;
    t->m = in->cells.len / (Py_ssize_t)sizeof(int64_t);
    t->kinds = in->kinds.buf;
    t->slots = in->slots.buf;
    t->ncols = in->kinds.len;
    if (in->slots.len != t->ncols * (Py_ssize_t)sizeof(int32_t) || t->page_size < 512 ||
        t->base < 0 || t->n < 0 || t->m > t->n - t->base) {
        PyErr_SetString(PyExc_ValueError, "inconsistent arguments");
        return -1;
    }
    for (int64_t c = 0; c < t->ncols; c++) {
        if (t->kinds[c] > K_TEXT || (t->kinds[c] != K_SKIP && t->slots[c] < 0)) {
            PyErr_SetString(PyExc_ValueError, "inconsistent arguments");
            return -1;
        }
    }
    return 0;
}

static int check_out(Py_buffer *b, Py_ssize_t need, const char *what) {
    if (b->len < need) {
        PyErr_Format(PyExc_ValueError, "%s is too small", what);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(scan_doc,
"scan(image, cells, base, n, page_size, max_local, kinds, slots, rowid, spill, ints, int_valid,\n"
"     reals, real_valid, text_len, text_valid)\n\n"
"Decode the records of the chunk's cells (int64 offsets into image), cell i being table row\n"
"base + i of n. Numbers go to ints/reals (int64/float64, shape (k, n)), validity to the uint8\n"
"*_valid arrays (shape (k, n)), text lengths to text_len[j, i + 1] (int64, shape (k, len(cells)\n"
"+ 1)); spill[row] = 1 for a record that continues on overflow pages (not decoded). ValueError\n"
"on anything unexpected.");

static PyObject *scan(PyObject *self, PyObject *args) {
    Inputs in;
    Py_buffer rowid_b, spill_b, ints_b, iv_b, reals_b, rv_b, tl_b, tv_b;
    Table t;
    if (!PyArg_ParseTuple(args, "y*y*LLLLy*y*w*w*w*w*w*w*w*w*", &in.image, &in.cells, &t.base, &t.n,
                          &t.page_size, &t.max_local, &in.kinds, &in.slots, &rowid_b, &spill_b,
                          &ints_b, &iv_b, &reals_b, &rv_b, &tl_b, &tv_b))
        return NULL;
    PyObject *result = NULL;
    const char *err = NULL;
    int64_t nint = 0, nreal = 0, ntext = 0;
    if (table_from(&in, &t) < 0) goto done;
    for (int64_t c = 0; c < t.ncols; c++) {
        int64_t *count = t.kinds[c] == K_INT ? &nint : t.kinds[c] == K_REAL ? &nreal : t.kinds[c] == K_TEXT ? &ntext : NULL;
        if (count && t.slots[c] + 1 > *count) *count = t.slots[c] + 1;
    }
    if (check_out(&rowid_b, t.n * 8, "rowid") || check_out(&spill_b, t.n, "spill") ||
        check_out(&ints_b, nint * t.n * 8, "ints") || check_out(&iv_b, nint * t.n, "int_valid") ||
        check_out(&reals_b, nreal * t.n * 8, "reals") || check_out(&rv_b, nreal * t.n, "real_valid") ||
        check_out(&tl_b, ntext * (t.m + 1) * 8, "text_len") || check_out(&tv_b, ntext * t.n, "text_valid"))
        goto done;
    int64_t *rowids = rowid_b.buf, *ints = ints_b.buf, *text_len = tl_b.buf;
    double *reals = reals_b.buf;
    uint8_t *spill = spill_b.buf, *int_valid = iv_b.buf, *real_valid = rv_b.buf, *text_valid = tv_b.buf;
    const int64_t n = t.n, m = t.m;

    Py_BEGIN_ALLOW_THREADS
    for (int64_t i = 0; i < m && !err; i++) {
        const int64_t row = t.base + i;
        Record r;
        if ((err = open_record(&t, i, &r))) break;
        rowids[row] = r.rowid;
        spill[row] = (uint8_t)r.spilled;
        if (r.spilled) continue;
        for (int64_t c = 0; c < t.ncols; c++) {
            uint64_t st;
            const uint8_t *v;
            int64_t size;
            if ((err = next_value(&r, &st, &v, &size))) break;
            int64_t at = (int64_t)t.slots[c] * n + row;
            switch (t.kinds[c]) {
            case K_INT:
                if (st == 7) { err = "a REAL value in an integer column"; break; }
                if (st >= 10) { err = "text or a BLOB in a number column"; break; }
                ints[at] = st == 0 ? 0 : st == 8 ? 0 : st == 9 ? 1 : big_endian_int(v, size);
                int_valid[at] = st != 0;
                break;
            case K_REAL:
                if (st >= 10) { err = "text or a BLOB in a number column"; break; }
                if (st == 7) {
                    uint64_t bits = (uint64_t)big_endian_int(v, 8);
                    memcpy(&reals[at], &bits, 8);
                } else {
                    reals[at] = st == 0 ? Py_NAN : st == 8 ? 0.0 : st == 9 ? 1.0 : (double)big_endian_int(v, size);
                }
                real_valid[at] = st != 0;
                break;
            case K_TEXT:
                if (st != 0 && (st < 13 || !(st & 1))) { err = "a value in a text column is not text"; break; }
                text_len[(int64_t)t.slots[c] * (m + 1) + i + 1] = size;
                text_valid[at] = st != 0;
                break;
            default:
                break;
            }
            if (err) break;
        }
    }
    Py_END_ALLOW_THREADS

    if (err) PyErr_SetString(PyExc_ValueError, err);
    else result = Py_NewRef(Py_None);
done:
    release_inputs(&in);
    PyBuffer_Release(&rowid_b); PyBuffer_Release(&spill_b);
    PyBuffer_Release(&ints_b); PyBuffer_Release(&iv_b);
    PyBuffer_Release(&reals_b); PyBuffer_Release(&rv_b);
    PyBuffer_Release(&tl_b); PyBuffer_Release(&tv_b);
    return result;
}

PyDoc_STRVAR(gather_doc,
"gather(image, cells, base, n, page_size, max_local, kinds, slots, spill, text_offsets, data)\n\n"
"Copy the text of the chunk's records (scanned before) into data[j] (one writable buffer per\n"
"text column) at text_offsets[j, i] (int64, shape (k, len(cells) + 1): the running sums of the\n"
"lengths scan found).");

static PyObject *gather(PyObject *self, PyObject *args) {
    Inputs in;
    Py_buffer spill_b, off_b;
    PyObject *data_list;
    Table t;
    if (!PyArg_ParseTuple(args, "y*y*LLLLy*y*y*y*O!", &in.image, &in.cells, &t.base, &t.n, &t.page_size,
                          &t.max_local, &in.kinds, &in.slots, &spill_b, &off_b, &PyTuple_Type, &data_list))
        return NULL;
    PyObject *result = NULL;
    const char *err = NULL;
    Py_ssize_t ntext = PyTuple_GET_SIZE(data_list), got = 0;
    Py_buffer *data = PyMem_Calloc(ntext ? ntext : 1, sizeof(Py_buffer));
    uint8_t **dst = PyMem_Calloc(ntext ? ntext : 1, sizeof(uint8_t *));
    int64_t *cap = PyMem_Calloc(ntext ? ntext : 1, sizeof(int64_t));
    if (!data || !dst || !cap) { PyErr_NoMemory(); goto done; }
    for (; got < ntext; got++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(data_list, got), &data[got], PyBUF_WRITABLE) < 0) goto done;
        dst[got] = data[got].buf;
        cap[got] = data[got].len;
    }
    if (table_from(&in, &t) < 0) goto done;
    for (int64_t c = 0; c < t.ncols; c++) {
        if (t.kinds[c] == K_TEXT && (t.slots[c] < 0 || t.slots[c] >= ntext)) {
            PyErr_SetString(PyExc_ValueError, "a text column without a buffer");
            goto done;
        }
    }
    if (check_out(&spill_b, t.n, "spill") || check_out(&off_b, ntext * (t.m + 1) * 8, "text_offsets")) goto done;
    const uint8_t *spill = spill_b.buf;
    const int64_t *offsets = off_b.buf;
    const int64_t m = t.m;

    Py_BEGIN_ALLOW_THREADS
    for (int64_t i = 0; i < m && !err; i++) {
        if (spill[t.base + i]) continue;
        Record r;
        if ((err = open_record(&t, i, &r))) break;
        if (r.spilled) { err = "the file changed between scan and gather"; break; }
        for (int64_t c = 0; c < t.ncols; c++) {
            uint64_t st;
            const uint8_t *v;
            int64_t size;
            if ((err = next_value(&r, &st, &v, &size))) break;
            if (t.kinds[c] != K_TEXT || size == 0) continue;
            int32_t j = t.slots[c];
            int64_t at = offsets[(int64_t)j * (m + 1) + i];
            if (at < 0 || size > cap[j] - at || offsets[(int64_t)j * (m + 1) + i + 1] - at != size) {
                err = "text does not fit the offsets it was scanned with";
                break;
            }
            memcpy(dst[j] + at, v, (size_t)size);
        }
    }
    Py_END_ALLOW_THREADS

    if (err) PyErr_SetString(PyExc_ValueError, err);
    else result = Py_NewRef(Py_None);
done:
    for (Py_ssize_t i = 0; i < got; i++) PyBuffer_Release(&data[i]);
    PyMem_Free(data);
    PyMem_Free(dst);
    PyMem_Free(cap);
    release_inputs(&in);
    PyBuffer_Release(&spill_b);
    PyBuffer_Release(&off_b);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"gather", gather, METH_VARARGS, gather_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sorakit.ledger._records",
    "SQLite record decoding for sorakit.ledger._pages (see _records.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__records(void) { return PyModule_Create(&module); }
