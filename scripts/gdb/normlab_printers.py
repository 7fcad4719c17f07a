# normlab_printers.py — gdb pretty-printers for normlab tensors.
#
# Load in gdb:   source scripts/gdb/normlab_printers.py
# Then `print x` on an nl::Tensor (or nl::TensorImpl) shows
#     Tensor[2,5,8] requires_grad=1 grad=yes op=layernorm {0.149, 0.881, ...}
# and `print *x.p_._M_ptr` still shows the raw struct if you want it.
# Works with libstdc++ (g++), the compiler the debug preset uses.
import gdb

MAX_VALUES = 8


def _shared_ptr_get(sp):
    return sp["_M_ptr"]


def _vector_items(v):
    start = v["_M_impl"]["_M_start"]
    finish = v["_M_impl"]["_M_finish"]
    n = int(finish - start)
    return [start[i] for i in range(n)]


def _describe_impl(impl):
    shape = [int(d) for d in _vector_items(impl["shape"])]
    numel = 1
    for d in shape:
        numel *= d
    requires_grad = int(impl["requires_grad"])
    grad = "yes" if int(_shared_ptr_get(impl["grad"])) != 0 else "no"
    node = _shared_ptr_get(impl["node"])
    op = node.dereference()["op"].string() if int(node) != 0 else "leaf"
    name = ""
    try:
        name = impl["name"]["_M_dataplus"]["_M_p"].string()
    except gdb.error:
        pass
    buf = _shared_ptr_get(impl["data"])
    values = ""
    if int(buf) != 0:
        ptr = buf.dereference()["ptr"] + int(impl["offset"])
        k = min(numel, MAX_VALUES)
        vals = ["%.4g" % float(ptr[i]) for i in range(k)]
        values = "{" + ", ".join(vals) + (", ..." if numel > k else "") + "}"
    label = "Tensor[%s]" % ",".join(str(d) for d in shape)
    if name:
        label += " '%s'" % name
    return "%s requires_grad=%d grad=%s op=%s %s" % (label, requires_grad, grad, op, values)


class TensorImplPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return _describe_impl(self.val)


class TensorPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        impl = _shared_ptr_get(self.val["p_"])
        if int(impl) == 0:
            return "Tensor(undefined)"
        return _describe_impl(impl.dereference())


def _lookup(val):
    t = val.type.strip_typedefs().unqualified()
    if t.code == gdb.TYPE_CODE_REF:
        t = t.target().strip_typedefs().unqualified()
    name = t.tag or t.name or ""
    if name == "nl::Tensor":
        return TensorPrinter(val)
    if name == "nl::TensorImpl":
        return TensorImplPrinter(val)
    return None


gdb.pretty_printers.append(_lookup)
print("normlab pretty-printers loaded: print an nl::Tensor to see its shape and first values")
