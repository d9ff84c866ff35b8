# normalize.sed -- mask the fields that measure wall time (they vary run to
# run); everything else must match byte for byte.
s/"(seconds|tune_seconds)": [-0-9.e+]+/"\1": T/g
s/^time               [0-9.]+ s replay \([0-9.]+ s tuning\)$/time               T s replay (T s tuning)/
s/^time               [0-9.]+ s$/time               T s/
s/ tokenizer\); [0-9.]+ s$/ tokenizer); T s/
s/; read [0-9.]+ s, packed [0-9.]+ s/; read T s, packed T s/
s/ runs in [0-9.]+ s on / runs in T s on /
s/ in [0-9.]+ s \(([0-9]+) at once\)/ in T s (\1 at once)/
s/ output tokens; [0-9.]+ s$/ output tokens; T s/
