# normlab_printers.py — gdb pretty-printers and commands for normlab tensors and the tape.
#
# What it is: a gdb pretty-printer for nl::Tensor and nl::TensorImpl, and four commands.
# Load in gdb:   source scripts/gdb/normlab_printers.py   (scripts/gdb/session.gdb does)
# Then `print x` on an nl::Tensor (or nl::TensorImpl) shows
#     Tensor[2,5,8] requires_grad=1 grad=yes op=layernorm {0.149, 0.881, ...}
# and `print/r x` (raw) still shows the struct itself.
#   nlgrad EXPR          the first values of a tensor's gradient buffer
#   nlprint EXPR [N]     shape, the first N values (N = 0: all; default 8), min/max/mean, and
#                        the gradient's norm and values when there is one; on a raw float*
#                        (in a kernel) N is required: `nlprint mean D`
#   nlnext-op [OP]       continue to the next op whose backward closure the tape walk runs
#                        (or the next one named OP), print its number in the backward order,
#                        op and output shape, and stop on the closure's first line
#   nl-step-into-closure what `step` does after it stops in nl::run_closure or on the one
#                        line of nl::OpNode<...>::backward (the two frames between the walk
#                        and an op's lambda): step on, into the lambda. The hook-stop defined
#                        here runs it after every stop, so `step` from the walk lands in the
#                        lambda.
# `bt` hides libstdc++ frames (`bt -no-filters` shows them). The frame must have debug info
# for nl::Tensor (debug preset, or any file built with -g).
# What it is not: a tensor viewer with plots; values print as text.
# Works with libstdc++ (g++), the compiler the presets use; tested by tests/unit/cli/test_gdb.cpp.
import math
import struct

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


def _node_op(node):
    """The op name of an nl::Node* (non-null), read through a plain char** at the field's
    offset: dereferencing the Node itself makes gdb look for the RTTI of its dynamic type,
    an OpNode<lambda> it cannot name, and warn."""
    node_type = gdb.lookup_type("nl::Node")
    offset = next(f.bitpos for f in node_type.fields() if f.name == "op") // 8
    char_pp = gdb.lookup_type("char").const().pointer().pointer()
    return gdb.Value(int(node) + offset).cast(char_pp).dereference().string()


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
    op = _node_op(node) if int(node) != 0 else "leaf"
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


def _floats(ptr_value, count):
    """`count` floats from the address in `ptr_value` (a float* gdb.Value), read at once."""
    if count <= 0:
        return []
    mem = gdb.selected_inferior().read_memory(int(ptr_value), 4 * count)
    return list(struct.unpack("%df" % count, bytes(mem)))


def _summary(vals, n_show):
    """'{v0, v1, ...}' (n_show values; 0: all) and 'min .. max .. mean ..' for a list of floats."""
    shown = vals if n_show == 0 else vals[:n_show]
    text = "{" + ", ".join("%.4g" % v for v in shown) + (", ...}" if len(shown) < len(vals) else "}")
    finite = [v for v in vals if math.isfinite(v)]
    stats = ""
    if finite:
        stats = "min %.4g  max %.4g  mean %.4g" % (min(finite), max(finite), math.fsum(finite) / len(finite))
    if len(finite) < len(vals):
        stats += "  (%d NaN/Inf)" % (len(vals) - len(finite))
    return text, stats


def _split_count(arg, command):
    """'EXPR [N]' -> (EXPR, N or None)."""
    parts = arg.strip().rsplit(None, 1)
    if not parts:
        raise gdb.GdbError("usage: %s EXPR [N]" % command)
    if len(parts) == 2:
        try:
            return parts[0], int(parts[1], 0)
        except ValueError:
            pass
    return arg.strip(), None


class PrintCommand(gdb.Command):
    """nlprint EXPR [N]: a tensor's shape, its first N values (N = 0: all; default 8),
    min / max / mean, and, when it has a gradient buffer, the gradient's L2 norm, values
    and statistics. On a raw float* (inside a kernel) give N: `nlprint mean D`."""

    def __init__(self):
        super().__init__("nlprint", gdb.COMMAND_DATA, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        expr, n = _split_count(arg, "nlprint")
        if n is not None and n < 0:
            raise gdb.GdbError("nlprint: N must be >= 0 (0: all values)")
        val = gdb.parse_and_eval(expr)
        t = val.type.strip_typedefs()
        if t.code in (gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_ARRAY) and \
                t.target().strip_typedefs().unqualified().name == "float":
            if not n:
                raise gdb.GdbError("nlprint: %s is a float pointer; say how many values: nlprint %s COUNT" % (expr, expr))
            ptr = val if t.code == gdb.TYPE_CODE_PTR else val[0].address
            text, stats = _summary(_floats(ptr, n), 0)
            print("%s: %d floats %s\n  %s" % (expr, n, text, stats))
            return
        impl = _impl_of(val)
        shape = [int(d) for d in _vector_items(impl["shape"])]
        numel = _numel(impl)
        show = MAX_VALUES if n is None else n
        data = _shared_ptr_get(impl["data"]).dereference()["ptr"] + int(impl["offset"])
        text, stats = _summary(_floats(data, numel), show)
        node = _shared_ptr_get(impl["node"])
        op = _node_op(node) if int(node) != 0 else "leaf"
        print("%s: Tensor[%s] op=%s, %d values\n  %s\n  %s" % (expr, ",".join(map(str, shape)), op, numel, text, stats))
        grad = _shared_ptr_get(impl["grad"])
        if int(grad) == 0:
            print("  grad: none yet")
            return
        gvals = _floats(grad.dereference()["ptr"], numel)
        gtext, gstats = _summary(gvals, show)
        norm = math.sqrt(math.fsum(v * v for v in gvals))
        print("  grad: norm %.4g\n  %s\n  %s" % (norm, gtext, gstats))


def _step_into_closure():
    """When stopped in one of the two one-line frames between the walk and an op's closure,
    step on into the closure (one `step N`, so that only its stop is shown)."""
    try:
        frame = gdb.selected_frame()
    except gdb.error:
        return  # no process
    name = frame.name() or ""
    function = frame.function()
    if function is None:
        return
    entry = int(function.value().address)
    prologue = gdb.find_pc_line(entry)  # the first row of the line table: the prologue
    after_prologue = prologue.last + 1 if prologue.last is not None else entry
    if frame.pc() not in (entry, after_prologue):
        return  # past its start: back from the closure (`finish`), not on the way in
    if name.startswith("nl::run_closure"):
        gdb.execute("step 2", to_string=True)
    elif name.startswith("nl::OpNode<") and "::backward(" in name:
        gdb.execute("step", to_string=True)


class StepIntoClosureCommand(gdb.Command):
    """nl-step-into-closure: when stopped in nl::run_closure or on the one line of
    nl::OpNode<...>::backward, step on into the op's lambda (run by the hook-stop this file
    defines, so that `step` from the tape walk lands on the lambda's first line)."""

    def __init__(self):
        super().__init__("nl-step-into-closure", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        _step_into_closure()


class _NextOpBreakpoint(gdb.Breakpoint):
    """On nl::run_closure(order, out), which the walk calls once per op: stops only for the
    op wanted (any, or the one named), and says which op it is before the stop is shown."""

    def __init__(self, want):
        super().__init__("nl::run_closure", internal=True)
        self.silent = True
        self.want = want
        self.found = False

    def stop(self):
        frame = gdb.newest_frame()
        out = frame.read_var("out").referenced_value()
        op = _node_op(_shared_ptr_get(out["node"]))
        if self.want and op != self.want:
            return False
        shape = ",".join(str(int(d)) for d in _vector_items(out["shape"]))
        try:
            number = "#%d" % int(frame.read_var("order"))
        except gdb.error:
            number = "#?"  # not kept by an optimised build
        print("nlnext-op: %s %s -> [%s]" % (number, op, shape))
        self.found = True
        return True


class NextOpCommand(gdb.Command):
    """nlnext-op [OP]: continue to the next op whose backward closure the tape walk runs (the
    next one named OP, if given), print its number in the backward order (as `normlab graph`
    numbers it), the op and its output's shape, and stop on the closure's first line."""

    def __init__(self):
        super().__init__("nlnext-op", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        bp = _NextOpBreakpoint(arg.strip())
        try:
            gdb.execute("continue")  # the hook-stop then steps on into the closure
        finally:
            bp.delete()


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
PrintCommand()
StepIntoClosureCommand()
NextOpCommand()
HideStdFrames()
# After every stop (before it is shown): a `step` that ended on OpNode's one line goes on
# into the op's lambda.
gdb.execute("define hook-stop\nnl-step-into-closure\nend")
gdb.pretty_printers.append(_lookup)
print("normlab pretty-printers loaded: print an nl::Tensor to see its shape and first values")
