# cases.sh -- the fixed set of commands whose outputs are recorded in
# tests/regress/expected/ (sourced by tests/regress/run.sh, which defines c()).
#
#   c NAME CMD...   run CMD in the work folder: stdout -> NAME.out,
#                   stderr -> NAME.err, exit status -> NAME.rc
#
# Files the commands write (traces, packed traces, sweep folders) stay in the
# work folder and are compared too, byte for byte.  $M is the marconi binary,
# $IN this folder's inputs/.  Order matters: later cases read earlier outputs.

# ---- gen: every kind, every output format ----------------------------------------------
c gen_lmsys      $M gen lmsys --sessions 6 --seed 3 --sps 0.5 -o lmsys.jsonl
c gen_sharegpt   $M gen sharegpt --sessions 6 --seed 4 -o sharegpt.jsonl
c gen_swebench   $M gen swebench --sessions 4 --seed 5 --max-tokens 6000 --max-turns 12 -o swe.jsonl
c gen_shared     $M gen shared-prefix --sessions 40 --groups 4 --seed 6 -o shared.jsonl
c gen_gz         $M gen lmsys --sessions 3 --seed 9 -o small.jsonl.gz
c gen_mtrace     $M gen swebench --sessions 3 --seed 9 -o small.mtrace
c gen_show       $M gen swebench --show
c gen_tiny       $M gen lmsys --sessions 4 --seed 11 --vocab 9 -o vocab9.jsonl
c gen_tune       $M gen lmsys --sessions 20 --seed 12 --sps 2 --max-tokens 3000 -o tune.jsonl

# ---- sim: each system x each timing mode, text and JSON --------------------------------
for sys in vllm+ sglang+ marconi marconi-static; do
  for t in des logical; do
    c "sim_${sys}_${t}"       $M sim swe.jsonl --system "$sys" --capacity 1.5GB --timing "$t" --alpha 0.5 --threads 2
    c "sim_${sys}_${t}_json"  $M sim lmsys.jsonl --system "$sys" --capacity 1GB --timing "$t" --alpha 0.5 --json --threads 2
  done
  c "sim_${sys}_ref"          $M sim shared.jsonl --system "$sys" --capacity 800MB --compat reference --json
  c "sim_${sys}_ref_text"     $M sim sharegpt.jsonl --system "$sys" --capacity 1GB --compat reference
done
c sim_retune       $M sim tune.jsonl --capacity 300MB --retune --bootstrap 2 --score-last 30 --json --threads 3
c sim_tune_des     $M sim tune.jsonl --capacity 300MB --bootstrap 1 --json --threads 2
c sim_tune_logical $M sim tune.jsonl --capacity 300MB --bootstrap 1 --timing logical
c sim_tune_once   $M sim tune.jsonl --capacity 300MB --bootstrap 1 --timing logical --tuner once
c sim_tune_bandit $M sim tune.jsonl --capacity 300MB --timing logical --tuner bandit --epoch 10 --json --threads 2
c sim_tune_ref     $M sim tune.jsonl --capacity 300MB --compat reference --json --threads 1
c sim_chunk        $M sim swe.jsonl --system sglang+ --capacity 1GB --chunk 256 --composition --json
c sim_a100         $M sim lmsys.jsonl --system vllm+ --capacity 2GB --ttft-model a100 --gpus 2 --mfu 0.4 --tpot 30
c sim_jamba        $M sim lmsys.jsonl --capacity 2GB --ttft-model jamba-a100 --no-vanilla --json
c sim_tiny         $M sim vocab9.jsonl --model tiny --capacity 4MB --check --block-size 8 --system vllm+
c sim_modelfile    $M sim swe.jsonl --model-file "$IN/model.json" --capacity 30MB --buckets 0,500,5000,inf
c sim_quirks       $M sim shared.jsonl --capacity 600MB --quirks leaf-bytes,heapq-ties --timing logical --json
c sim_admission    $M sim swe.jsonl --admission leaf --eviction lru --capacity 1GB
c sim_gz           $M sim small.jsonl.gz --capacity 1GB --json
c sim_mtrace       $M sim small.mtrace --capacity 1GB --json
c sim_bytes_real   $M sim swe.jsonl --capacity 1.5GB --bytes real --json
c sim_bytes_table  $M sim swe.jsonl --capacity 1.5GB --bytes real --system sglang+
c sim_per_request  $M sim lmsys.jsonl --capacity 1GB --timing logical --per-request per_request_logical.csv
c sim_per_req_des  $M sim lmsys.jsonl --capacity 1GB --system vllm+ --per-request per_request_des.csv

# ---- stats, pack, model ------------------------------------------------------------------
c stats_text       $M stats lmsys.jsonl swe.jsonl shared.jsonl
c stats_json       $M stats sharegpt.jsonl small.mtrace --json
c pack             $M pack swe.jsonl -o swe.mtrace --verify
c pack_opts        $M pack lmsys.jsonl -o lmsys.mtrace --level 1 --block-tokens 4096 --keep-bases
c stats_packed     $M stats swe.mtrace --json
c model_default    $M model
c model_csv        $M model --model tiny --model-file "$IN/model.json" --lengths 1,64,4096 --csv

# ---- convert: each format --------------------------------------------------------------
c conv_sharegpt    $M convert sharegpt "$IN/sharegpt.json" -o conv_sg.jsonl --sps 2
c conv_lmsys       $M convert lmsys "$IN/lmsys.jsonl" -o conv_lm.jsonl --min-turns 5
c conv_agent       $M convert agent "$IN/agent0.traj.json" "$IN/agent1.traj.json" "$IN/agent2.traj.json" -o conv_ag.mtrace --seed 2
c conv_fields      $M convert agent "$IN/agent0.traj.json" -o conv_f.jsonl --fields role,content --no-bos
c conv_folder      $M convert agent "$IN" -o conv_dir.mtrace --seed 2
c conv_mooncake    $M convert mooncake "$IN/mooncake.jsonl" -o conv_mc.jsonl --block 8
c sim_conv         $M sim conv_sg.jsonl --capacity 500MB --json

# ---- sweep: CSV / JSONL / buckets / composition, files and generator specs -------------
c sweep_dry        $M sweep --trace lmsys.jsonl --trace swebench:sessions=3,sps=1,2 --capacity 1GB,2GB --dry-run
c sweep_files      $M sweep --trace lmsys.jsonl,swe.jsonl --systems vllm+,sglang+,marconi,marconi-static --alpha 0,1 --capacity 1GB,2GB -j 1 -o sw1
c sweep_tune       $M sweep --trace tune.jsonl --systems marconi,marconi-static --alpha 0,0.5 --capacity 300MB --bootstrap 1 -j 2 -o sw4
c sweep_gen        $M sweep --trace swebench:sessions=3,sps=1,2,seed=4 --capacity 1GB --model hybrid-7b,"$IN/model.json" --composition --timing logical -j 1 -o sw2
c sweep_shard0     $M sweep --trace lmsys.jsonl --capacity 1GB,2GB --systems vllm+,marconi --shard 0/2 -j 1 -o sw3
c sweep_shard1     $M sweep --trace lmsys.jsonl --capacity 1GB,2GB --systems vllm+,marconi --shard 1/2 -j 1 -o sw3
c sweep_merge      $M sweep --merge sw3

# ---- help and errors: the words and the exit codes ---------------------------------------
c help             $M --help
c nocmd            $M
c badcmd           $M frobnicate
for cmd in sim replay gen stats pack convert sweep model; do c "help_$cmd" $M "$cmd" --help; done
c err_nocap        $M sim lmsys.jsonl
c err_cap          $M sim lmsys.jsonl --capacity 12XB
c err_tiny_cap     $M sim lmsys.jsonl --capacity 10
c err_system       $M sim lmsys.jsonl --capacity 1GB --system lfu
c err_missing      $M sim nothere.jsonl --capacity 1GB
c err_alpha        $M sim lmsys.jsonl --capacity 1GB --alpha x
c err_gen_kind     $M gen lmsyss -o x.jsonl
c err_gen_out      $M gen lmsys --sessions 2
c err_pack_gz      $M pack lmsys.jsonl -o x.gz
c err_sweep_cap    $M sweep --trace lmsys.jsonl --capacity 1GB,zz -o sw9
c err_conv_fmt     $M convert docx "$IN/lmsys.jsonl" -o y.jsonl
c err_model        $M model --model nonesuch
printf '{"session_id": 0, "turn_id": 0, "ts": 0.0, "num_input_tokens": 2, "num_output_tokens": 1, "input_tokens": [1, 2], "output_tokens": [3]}\n{"session_id": 0, "turn_id": 1\n' > broken.jsonl
c err_broken       $M sim broken.jsonl --capacity 1GB
# requests with no output (make SAN=1 test runs these under the sanitizers)
printf '%s\n' '{"session_id": 0, "turn_id": 0, "ts": 0.0, "num_input_tokens": 3, "num_output_tokens": 0, "input_tokens": [1, 2, 3], "output_tokens": []}' \
  '{"session_id": 1, "turn_id": 0, "ts": 1.0, "num_input_tokens": 2, "num_output_tokens": 0, "input_tokens": [1, 2], "output_tokens": []}' \
  '{"session_id": 0, "turn_id": 1, "ts": 2.0, "num_input_tokens": 5, "num_output_tokens": 1, "input_tokens": [1, 2, 3, 4, 5], "output_tokens": [6]}' > zero_out.jsonl
c zero_sim         $M sim zero_out.jsonl --model tiny --capacity 100KB --system sglang+ --json
c zero_sweep       $M sweep --trace zero_out.jsonl --model tiny --capacity 100KB,1MB -j 2 -o sw5
c err_replay_vocab $M replay lmsys.jsonl --model tiny --capacity 1MB
c err_replay_des   $M replay lmsys.jsonl --model tiny --capacity 1MB --timing des
c err_replay_pools $M replay lmsys.jsonl --model-file "$IN/model.json" --capacity 1MB --kv-slots 5

# ---- explain: the miss classes (docs/explain.md) ---------------------------------------
c explain_sglang   $M explain swe.jsonl --system sglang+ --capacity 1GB --top 3 --csv explain.csv
c explain_vllm     $M explain lmsys.jsonl --system vllm+ --capacity 1GB --timing logical --top 3
c explain_marconi  $M explain swe.jsonl --capacity 1GB --alpha 0.5 --threads 2 --top 0
c help_explain     $M explain --help
c explain_nocap    $M explain swe.jsonl
# ---- engines (docs/engine-*.md): the users' zero-hit reports, --explain-system -----
cp "$here/../engines/repeat.jsonl" "$here/../engines/short.jsonl" "$here/../engines/tail.jsonl" .
for sys in sglang:no_buffer sglang:extra_buffer vllm:align vllm:all; do
  n=${sys/:/_}
  c "eng_${n}_repeat"  $M sim repeat.jsonl --system "$sys" --capacity 40e9 --timing logical
  c "eng_${n}_tail"    $M sim tail.jsonl --system "$sys" --capacity 40e9 --timing des --json
  c "eng_${n}_explain" $M sim --system "$sys" --explain-system --capacity 40e9
done
c eng_short_align  $M sim short.jsonl --system vllm:align --capacity 40e9 --timing logical
c eng_marconi_adm  $M sim tail.jsonl --system vllm:align --marconi-admission --capacity 40e9 --timing logical
c eng_sweep        $M sweep --trace tail.jsonl --capacity 2e9,40e9 --systems sglang:no_buffer,sglang:extra_buffer,vllm:align,vllm:all --timing logical -j 2 -o eng_sweep
c eng_bad_refresh  $M sim tail.jsonl --system sglang:no_buffer --capacity 40e9 --refresh sometimes
c eng_no_replay    $M replay tail.jsonl --system vllm:align --capacity 40e9
# the zero-hit reports explained (docs/explain.md, "Engines"), and SGLang's pool causes
c eng_explain_repeat $M explain repeat.jsonl --system sglang:no_buffer --capacity 40e9 --timing logical --top 3
c eng_explain_short  $M explain short.jsonl --system vllm:align --capacity 40e9 --timing logical --top 3
c eng_explain_tail   $M explain tail.jsonl --system vllm:align --capacity 40e9 --timing logical --top 3
c eng_stats_oracle   $M stats tail.jsonl repeat.jsonl --system vllm:all
c eng_stats_json     $M stats tail.jsonl --system sglang:extra_buffer --json
c eng_stats_bad      $M stats tail.jsonl --max-total-tokens 10
c eng_explain_pools  $M explain swe.jsonl --system sglang:extra_buffer --capacity 40e9 --max-mamba-cache-size 4 --top 3 --explain-system
