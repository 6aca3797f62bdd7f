/* The fan-out hot path of tickgate's outboxes, compiled (tickgate.streaming._fanout).
 *
 * `OutboxCore` holds an outbox's per-connection hot state as C members (readable and writable
 * from Python as attributes, so `streaming.outbox` keeps every slow path in Python) and
 * implements the three calls made per frame or per write:
 *   - `push_market_item(item)`: append one shared market item to the turn;
 *   - `flush()`: the end-of-turn write when nothing is held (join the turn's frames, one
 *     transport.write, counters, the write sample);
 *   - `publish(outboxes, item)`: a channel's loop over its subscribers.
 * Each does exactly what the pure-Python twin in `_fanout_py.py` does, in the same order
 * (the tests run both and compare them); every case off the fast path (conflating, over the
 * limit, held frames, unusual item or transport types) calls the Python method that handles
 * it. Exceptions from transport or callback calls propagate unchanged.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

/* One write in this many (a power of two) is reported to `_on_write_sample`: WRITE_SAMPLE_EVERY
 * in outbox.py, which checks at import that the two agree. */
#define SAMPLE_MASK 15

typedef struct {
    PyObject_HEAD
    PyObject *turn;            /* list of market items (reliable frames in the same shape) */
    PyObject *held;            /* dict: frames held while conflating */
    PyObject *schedule;        /* schedule(flush) */
    PyObject *transport;
    PyObject *on_write_sample; /* None or callable(int) */
    Py_ssize_t pending_bytes;
    Py_ssize_t reliable_bytes;
    Py_ssize_t limit_bytes;
    Py_ssize_t high_water;
    Py_ssize_t frames_written;
    Py_ssize_t writes;
    Py_ssize_t bytes_written;
    char scheduled;
    char awaiting_drain;
    char conflating;
    char closed;
} Core;

static PyTypeObject CoreType;

/* Interned names, set once at import. */
static PyObject *s_flush, *s_hold_market, *s_hold_turn, *s_congest, *s_close, *s_write_held,
    *s_is_closing, *s_get_write_buffer_size, *s_write, *s_push_market_item;

static int
missing(PyObject *value, const char *name)
{
    if (value == NULL) {
        PyErr_Format(PyExc_AttributeError, "'OutboxCore' object has no attribute '%s'", name);
        return 1;
    }
    return 0;
}

/* self.<name>() for a slow path; returns 0 or -1 with an exception set. */
static int
call_own(Core *self, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs((PyObject *)self, name);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* len(item[1]): the frame's size. */
static Py_ssize_t
frame_size(PyObject *item)
{
    if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) >= 2) {
        PyObject *frame = PyTuple_GET_ITEM(item, 1);
        if (PyBytes_CheckExact(frame))
            return PyBytes_GET_SIZE(frame);
        return PyObject_Size(frame);
    }
    PyObject *frame = PySequence_GetItem(item, 1);
    if (frame == NULL)
        return -1;
    Py_ssize_t n = PyObject_Size(frame);
    Py_DECREF(frame);
    return n;
}

/* if not scheduled and not awaiting a drain: scheduled = True; self._schedule(self.flush) */
static int
schedule_flush(Core *self)
{
    if (self->scheduled || self->awaiting_drain)
        return 0;
    self->scheduled = 1;
    PyObject *schedule = self->schedule;
    if (missing(schedule, "_schedule"))
        return -1;
    Py_INCREF(schedule);
    PyObject *flush = PyObject_GetAttr((PyObject *)self, s_flush);
    if (flush == NULL) {
        Py_DECREF(schedule);
        return -1;
    }
    PyObject *r = PyObject_CallOneArg(schedule, flush);
    Py_DECREF(flush);
    Py_DECREF(schedule);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
push_item(Core *self, PyObject *item)
{
    if (self->closed)
        return 0;
    if (self->conflating) {
        PyObject *args = PySequence_Tuple(item);
        if (args == NULL)
            return -1;
        PyObject *method = PyObject_GetAttr((PyObject *)self, s_hold_market);
        if (method == NULL) {
            Py_DECREF(args);
            return -1;
        }
        PyObject *r = PyObject_Call(method, args, NULL);
        Py_DECREF(method);
        Py_DECREF(args);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    else {
        PyObject *turn = self->turn;
        if (missing(turn, "_turn"))
            return -1;
        if (PyList_Check(turn)) {
            if (PyList_Append(turn, item) < 0)
                return -1;
        }
        else {
            PyObject *r = PyObject_CallMethod(turn, "append", "O", item);
            if (r == NULL)
                return -1;
            Py_DECREF(r);
        }
        Py_ssize_t size = frame_size(item);
        if (size < 0)
            return -1;
        self->pending_bytes += size;
        /* A single turn may not hold more than the limit either: conflate the rest of it. */
        if (self->pending_bytes > self->limit_bytes && call_own(self, s_hold_turn) < 0)
            return -1;
    }
    return schedule_flush(self);
}

static PyObject *
Core_push_market_item(Core *self, PyObject *item)
{
    if (push_item(self, item) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The turn's frames as one bytes object, or NULL without an exception when an item is not
 * the usual (tuple, bytes frame) shape (the caller then takes the Python path). */
static PyObject *
join_turn(PyObject *turn, Py_ssize_t count)
{
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(turn, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) < 2)
            return NULL;
        PyObject *frame = PyTuple_GET_ITEM(item, 1);
        if (!PyBytes_CheckExact(frame))
            return NULL;
        total += PyBytes_GET_SIZE(frame);
    }
    if (count == 1) {
        /* b"".join of one bytes object is that object. */
        PyObject *frame = PyTuple_GET_ITEM(PyList_GET_ITEM(turn, 0), 1);
        Py_INCREF(frame);
        return frame;
    }
    PyObject *data = PyBytes_FromStringAndSize(NULL, total);
    if (data == NULL)
        return NULL;
    char *out = PyBytes_AS_STRING(data);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *frame = PyTuple_GET_ITEM(PyList_GET_ITEM(turn, i), 1);
        Py_ssize_t n = PyBytes_GET_SIZE(frame);
        memcpy(out, PyBytes_AS_STRING(frame), (size_t)n);
        out += n;
    }
    return data;
}

/* The outbox's `_discard_pending`: nothing is pending after a write. */
static int
discard_pending(Core *self)
{
    if (self->turn != NULL) {
        if (PyList_Check(self->turn)) {
            if (PyList_SetSlice(self->turn, 0, PY_SSIZE_T_MAX, NULL) < 0)
                return -1;
        }
        else {
            PyObject *r = PyObject_CallMethod(self->turn, "clear", NULL);
            if (r == NULL)
                return -1;
            Py_DECREF(r);
        }
    }
    if (self->held != NULL) {
        if (PyDict_Check(self->held))
            PyDict_Clear(self->held);
        else {
            PyObject *r = PyObject_CallMethod(self->held, "clear", NULL);
            if (r == NULL)
                return -1;
            Py_DECREF(r);
        }
    }
    self->conflating = 0;
    self->reliable_bytes = 0;
    self->pending_bytes = 0;
    return 0;
}

/* Write the turn (nothing is held): one transport.write, then the counters and the sample. */
static int
write_turn(Core *self, PyObject *turn)
{
    Py_ssize_t count = PyList_GET_SIZE(turn);
    PyObject *data = join_turn(turn, count);
    if (data == NULL)
        return PyErr_Occurred() ? -1 : call_own(self, s_write_held);
    /* Emptied before the write, as `Outbox._write` does: a frame pushed from inside the
     * write is kept for the next flush. */
    if (discard_pending(self) < 0) {
        Py_DECREF(data);
        return -1;
    }
    PyObject *transport = self->transport;
    if (missing(transport, "transport")) {
        Py_DECREF(data);
        return -1;
    }
    Py_INCREF(transport);
    PyObject *r = PyObject_CallMethodOneArg(transport, s_write, data);
    Py_DECREF(transport);
    if (r == NULL) {
        Py_DECREF(data);
        return -1;
    }
    Py_DECREF(r);
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    Py_DECREF(data);
    self->frames_written += count;
    self->writes += 1;
    self->bytes_written += size;
    PyObject *sample = self->on_write_sample;
    if (sample != NULL && sample != Py_None && (self->writes & SAMPLE_MASK) == 1) {
        PyObject *n = PyLong_FromSsize_t(size);
        if (n == NULL)
            return -1;
        Py_INCREF(sample);
        r = PyObject_CallOneArg(sample, n);
        Py_DECREF(sample);
        Py_DECREF(n);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

/* transport.<name>() */
static PyObject *
ask_transport(Core *self, PyObject *name)
{
    PyObject *transport = self->transport;
    if (missing(transport, "transport"))
        return NULL;
    Py_INCREF(transport);
    PyObject *r = PyObject_CallMethodNoArgs(transport, name);
    Py_DECREF(transport);
    return r;
}

static PyObject *
Core_flush(Core *self, PyObject *Py_UNUSED(ignored))
{
    self->scheduled = 0;
    self->awaiting_drain = 0;
    if (self->closed)
        Py_RETURN_NONE;
    PyObject *r = ask_transport(self, s_is_closing);
    if (r == NULL)
        return NULL;
    int closing = PyObject_IsTrue(r);
    Py_DECREF(r);
    if (closing < 0)
        return NULL;
    if (closing) {
        if (call_own(self, s_close) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    r = ask_transport(self, s_get_write_buffer_size);
    if (r == NULL)
        return NULL;
    int over;
    if (PyLong_CheckExact(r)) {
        int overflow;
        long long size = PyLong_AsLongLongAndOverflow(r, &overflow);
        if (size == -1 && PyErr_Occurred()) {
            Py_DECREF(r);
            return NULL;
        }
        over = overflow > 0 || (overflow == 0 && size > (long long)self->high_water);
    }
    else {
        PyObject *high_water = PyLong_FromSsize_t(self->high_water);
        if (high_water == NULL) {
            Py_DECREF(r);
            return NULL;
        }
        over = PyObject_RichCompareBool(r, high_water, Py_GT);
        Py_DECREF(high_water);
    }
    Py_DECREF(r);
    if (over < 0)
        return NULL;
    if (over) {
        if (call_own(self, s_congest) < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *held = self->held;
    if (held != NULL) {
        int any = PyDict_CheckExact(held) ? PyDict_GET_SIZE(held) > 0 : PyObject_IsTrue(held);
        if (any < 0)
            return NULL;
        if (any) {
            if (call_own(self, s_write_held) < 0)
                return NULL;
            Py_RETURN_NONE;
        }
    }
    PyObject *turn = self->turn;
    if (missing(turn, "_turn"))
        return NULL;
    if (!PyList_CheckExact(turn)) {
        int any = PyObject_IsTrue(turn);
        if (any < 0 || (any && call_own(self, s_write_held) < 0))
            return NULL;
        Py_RETURN_NONE;
    }
    if (PyList_GET_SIZE(turn) > 0) {
        Py_INCREF(turn);
        int failed = write_turn(self, turn) < 0;
        Py_DECREF(turn);
        if (failed)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
fanout_publish(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "publish() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *outboxes = PySequence_Fast(args[0], "publish() needs a sequence of outboxes");
    if (outboxes == NULL)
        return NULL;
    PyObject *item = args[1];
    Py_INCREF(item);
    Py_ssize_t count = PySequence_Fast_GET_SIZE(outboxes);
    PyObject **each = PySequence_Fast_ITEMS(outboxes);
    int failed = 0;
    for (Py_ssize_t i = 0; i < count && !failed; i++) {
        PyObject *outbox = each[i];
        if (PyObject_TypeCheck(outbox, &CoreType)) {
            /* A push may run arbitrary code (schedule, _hold_turn): keep the outbox alive. */
            Py_INCREF(outbox);
            failed = push_item((Core *)outbox, item) < 0;
            Py_DECREF(outbox);
        }
        else {
            PyObject *r = PyObject_CallMethodOneArg(outbox, s_push_market_item, item);
            failed = r == NULL;
            Py_XDECREF(r);
        }
    }
    Py_DECREF(item);
    Py_DECREF(outboxes);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

static int
Core_traverse(Core *self, visitproc visit, void *arg)
{
    Py_VISIT(self->turn);
    Py_VISIT(self->held);
    Py_VISIT(self->schedule);
    Py_VISIT(self->transport);
    Py_VISIT(self->on_write_sample);
    return 0;
}

static int
Core_clear(Core *self)
{
    Py_CLEAR(self->turn);
    Py_CLEAR(self->held);
    Py_CLEAR(self->schedule);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->on_write_sample);
    return 0;
}

static void
Core_dealloc(Core *self)
{
    PyObject_GC_UnTrack(self);
    Core_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Core_methods[] = {
    {"push_market_item", (PyCFunction)Core_push_market_item, METH_O,
     "Queue one shared market item (key, frame, values, reencode) for this turn."},
    {"flush", (PyCFunction)Core_flush, METH_NOARGS,
     "Write everything pending as one transport write, unless congested or closing."},
    {NULL, NULL, 0, NULL},
};

#define MEMBER(name, type, field) {name, type, offsetof(Core, field), 0, NULL}
static PyMemberDef Core_members[] = {
    MEMBER("_turn", T_OBJECT_EX, turn),
    MEMBER("_held", T_OBJECT_EX, held),
    MEMBER("_schedule", T_OBJECT_EX, schedule),
    MEMBER("transport", T_OBJECT_EX, transport),
    MEMBER("_on_write_sample", T_OBJECT_EX, on_write_sample),
    MEMBER("_pending_bytes", T_PYSSIZET, pending_bytes),
    MEMBER("_reliable_bytes", T_PYSSIZET, reliable_bytes),
    MEMBER("limit_bytes", T_PYSSIZET, limit_bytes),
    MEMBER("high_water", T_PYSSIZET, high_water),
    MEMBER("_frames_written", T_PYSSIZET, frames_written),
    MEMBER("_writes", T_PYSSIZET, writes),
    MEMBER("_bytes_written", T_PYSSIZET, bytes_written),
    MEMBER("_scheduled", T_BOOL, scheduled),
    MEMBER("_awaiting_drain", T_BOOL, awaiting_drain),
    MEMBER("_conflating", T_BOOL, conflating),
    MEMBER("_closed", T_BOOL, closed),
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tickgate.streaming._fanout.OutboxCore",
    .tp_doc = PyDoc_STR("An outbox's hot state and fast paths; see tickgate.streaming.outbox."),
    .tp_basicsize = sizeof(Core),
    .tp_itemsize = 0,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_traverse = (traverseproc)Core_traverse,
    .tp_clear = (inquiry)Core_clear,
    .tp_methods = Core_methods,
    .tp_members = Core_members,
};

static PyMethodDef module_methods[] = {
    {"publish", (PyCFunction)(void (*)(void))fanout_publish, METH_FASTCALL,
     "publish(outboxes, item): outbox.push_market_item(item) for each, in order."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fanout_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tickgate.streaming._fanout",
    .m_doc = PyDoc_STR("The compiled fan-out hot path of tickgate's outboxes."),
    .m_size = -1,
    .m_methods = module_methods,
};

static int
intern(PyObject **slot, const char *name)
{
    *slot = PyUnicode_InternFromString(name);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__fanout(void)
{
    if (intern(&s_flush, "flush") < 0 || intern(&s_hold_market, "_hold_market") < 0 ||
        intern(&s_hold_turn, "_hold_turn") < 0 || intern(&s_congest, "_congest") < 0 ||
        intern(&s_close, "_close") < 0 || intern(&s_write_held, "_write") < 0 ||
        intern(&s_is_closing, "is_closing") < 0 ||
        intern(&s_get_write_buffer_size, "get_write_buffer_size") < 0 ||
        intern(&s_write, "write") < 0 || intern(&s_push_market_item, "push_market_item") < 0)
        return NULL;
    if (PyType_Ready(&CoreType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&fanout_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(module, "OutboxCore", (PyObject *)&CoreType) < 0 ||
        PyModule_AddIntConstant(module, "WRITE_SAMPLE_EVERY", SAMPLE_MASK + 1) < 0) {
        Py_DECREF(&CoreType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
