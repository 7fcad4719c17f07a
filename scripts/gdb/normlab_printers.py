# normlab_printers.py — gdb pretty-printers for normlab tensors.
#
# What it is: a gdb pretty-printer for nl::Tensor and nl::TensorImpl, and one command.
# Load in gdb:   source scripts/gdb/normlab_printers.py   (scripts/gdb/session.gdb does)
# Then `print x` on an nl::Tensor (or nl::TensorImpl) shows
#     Tensor[2,5,8] requires_grad=1 grad=yes op=layernorm {0.149, 0.881, ...}
# `nlgrad x` shows the first values of x's gradient buffer, and `print/r x` (raw) still
# shows the struct itself. `bt` hides libstdc++ frames (`bt -no-filters` shows them). The frame must have debug info for nl::Tensor (debug preset,
# or any file built with -g).
# What it is not: a viewer for whole tensors; in the kernels, where tensors are raw
# float*, use gdb's own `print *mean@N`.
# Works with libstdc++ (g++), the compiler the presets use; tested by tests/unit/test_gdb.cpp.
import gdb

MAX_VALUES = 8


def _shared_ptr_get(sp):
    return sp["_M_ptr"]


def _vector_items(v):
    start = v["_M_impl"]["_M_start"]
    finish = v["_M_impl"]["_M_finish"]
    n = int(finish - start)
    return [start[i] for i in range(n)]


def _first_values(buf, offset, numel):
    if int(buf) == 0:
        return ""
    ptr = buf.dereference()["ptr"] + offset
    k = min(numel, MAX_VALUES)
    vals = ["%.4g" % float(ptr[i]) for i in range(k)]
    return "{" + ", ".join(vals) + (", ..." if numel > k else "") + "}"


def _numel(impl):
    n = 1
    for d in _vector_items(impl["shape"]):
        n *= int(d)
    return n


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
    values = _first_values(_shared_ptr_get(impl["data"]), int(impl["offset"]), numel)
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


def _impl_of(val):
    """An nl::TensorImpl value from an nl::Tensor, a reference to one, or a TensorImpl."""
    t = val.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_REF:
        val = val.referenced_value()
        t = val.type.strip_typedefs()
    if t.code == gdb.TYPE_CODE_PTR:
        val = val.dereference()
        t = val.type.strip_typedefs()
    name = t.unqualified().tag or ""
    if name == "nl::Tensor":
        impl = _shared_ptr_get(val["p_"])
        if int(impl) == 0:
            raise gdb.GdbError("undefined tensor")
        return impl.dereference()
    if name == "nl::TensorImpl":
        return val
    raise gdb.GdbError("nlgrad: %s is not an nl::Tensor" % t)


class GradCommand(gdb.Command):
    """nlgrad EXPR: the shape and first values of the gradient of tensor EXPR."""

    def __init__(self):
        super().__init__("nlgrad", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        impl = _impl_of(gdb.parse_and_eval(arg))
        shape = ",".join(str(int(d)) for d in _vector_items(impl["shape"]))
        grad = _shared_ptr_get(impl["grad"])
        if int(grad) == 0:
            print("d(%s) [%s]: no gradient buffer yet" % (arg, shape))
            return
        print("d(%s) [%s] %s" % (arg, shape, _first_values(grad, 0, _numel(impl))))


class HideStdFrames:
    """A frame filter: `bt` leaves out libstdc++'s frames (std::function's _M_invoke and
    the like between the backward walk and an op's closure), so it reads
    training loop -> Tensor::backward -> closure -> kernel. `bt -no-filters` shows all."""

    def __init__(self):
        self.name = "normlab-hide-std"
        self.priority = 100
        self.enabled = True
        gdb.frame_filters[self.name] = self

    @staticmethod
    def _is_std(frame_decorator):
        name = frame_decorator.function()
        if not isinstance(name, str):
            return False
        return name.startswith("std::") or name.startswith("__gnu_cxx::")

    def filter(self, frame_iter):
        return (f for f in frame_iter if not self._is_std(f))


GradCommand()
HideStdFrames()
gdb.pretty_printers.append(_lookup)
print("normlab pretty-printers loaded: print an nl::Tensor to see its shape and first values")
