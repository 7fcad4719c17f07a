# session.gdb — walk a training step backward in gdb, from loss.backward() into the ops'
# backward closures and the norm kernels (README: "Step through a training step", which has
# the full command). Run from the repository root, on the debug build, with
# `--set train.pack=false` so the layers run on the padded [B,T,D] grid:
#   gdb -x scripts/gdb/session.gdb --args build/debug/normlab --threads 1 train \
#       configs/tiny.json --set model.norm.type=batchnorm --set train.pack=false ...
# What it is: the pretty-printers and commands (nlprint, nlgrad, nlnext-op), a breakpoint in
# the LayerNorm backward kernel and one in the BatchNorm backward kernel (only one of them is
# hit, by the norm the config chooses), each printing the statistics the forward saved; a
# first, temporary stop in Tensor::backward() (the loss's backward: `up` shows the line of
# train_step that calls it); then `run`. From there `nlnext-op` goes op by op through the backward walk
# (`nlnext-op batchnorm`: to the next batchnorm), and `step` on the walk's line lands in the
# op's closure. The full signatures keep gdb from also stopping in the loop bodies OpenMP
# outlines (`..._omp_fn.0`), where the arguments are not yet readable. To stop inside the
# row loop, `list`, then `tbreak <line of its body>` and `continue` (`next` over the
# `#pragma omp` line runs the whole loop).
# What it is not: useful with `--kernels reference` for the norm kernels: there the norms run
# as their composition of ops (mean, sub, sqrt, div, ...) and never call these kernels.
set pagination off
set confirm off
set print pretty on
set debuginfod enabled off
source scripts/gdb/normlab_printers.py
# `step` goes past libstdc++ (shared_ptr, vector, ...) into normlab's own code; the printers
# file also hides those frames from `bt` (`bt -no-filters` shows them), and its hook-stop
# takes `step` through nl::OpNode<...>::backward, the one line between the walk and an op's
# closure, so that `step` on the walk's line lands in the closure.
skip -rfu ^std::
skip -rfu ^__gnu_cxx::

# LayerNorm: one mean and rstd per token row (N = B*T rows of D features).
break nl::kernels::layernorm_backward(float*, float*, float*, float const*, float const*, float const*, float const*, float const*, int, int, bool)
commands
  printf "\nlayernorm_backward: N = %d token rows, D = %d features, through_stats = %d\n", N, D, through_stats
  printf "first row: mean = %g, rstd = %g\n", mean[0], rstd[0]
  print *dout@D
  printf "(above: dy of the first row; try `print *mean@N`, `print *x@D`, then `up` and `list`)\n"
end

# BatchNorm: one mean and rstd per feature column, over the real tokens (keep != 0) of the
# N = B*T rows; its backward is two kernels (the column sums, then dx), so that SyncBatchNorm
# can add every rank's sums in between. The stop is in the second, where the formula is.
break nl::kernels::batchnorm_backward_dx(float*, float const*, float const*, float const*, float const*, float const*, float const*, double const*, double const*, long, int, int, bool)
commands
  printf "\nbatchnorm_backward_dx: N = %d token rows, D = %d features, count = %ld real tokens, through_stats = %d\n", N, D, count, through_stats
  printf "feature 0: mean = %g, rstd = %g\n", mean[0], rstd[0]
  print *keep@N
  printf "(above: keep, 1 for a real token, 0 for a pad; try `print *mean@D`, `print *dout@D`, then `up` and `list`)\n"
end

# The loss's backward: nothing else calls the no-argument Tensor::backward().
tbreak nl::Tensor::backward()

run
