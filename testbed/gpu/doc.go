// Package gpu is inferprobe's real-GPU validation kit (the procedure and the table of
// results are docs/gpu-validation.md). Nothing here runs in the product.
//
//   - server.py (its API in api.py): a streaming OpenAI-style completions server on
//     aiohttp over a small random-weight transformer (model.py: Llama-shaped, plain
//     PyTorch) with continuous batching in an engine thread (engine.py), every step ending in a blocking
//     device-to-host copy of the sampled tokens; it writes testbed/truth's ground-truth
//     lines (request and step) in CLOCK_MONOTONIC. --count-kernels (profile_steps.py)
//     prints what one prefill and one decode step run, as torch.profiler sees it.
//   - load.py: an asyncio load generator (rate or closed loop, length ranges, stream share).
//   - check.sh: the one script that runs it all on a GPU machine, as root.
//   - gpucheck/: the Go tool check.sh calls to turn what the run left into figures
//     (accuracy against the truth via testbed/accuracy, CUDA call counts, the libcuda
//     symbol census through tracefs, NVML against nvidia-smi, the throughput cost).
//
// The tests in this package run the server and the load generator on the CPU with Debian's
// python3-torch and python3-aiohttp, and skip, saying so, where those are missing (CI
// does not install torch). As root they also record the CPU server with inferprobe, and
// run check.sh end to end on the CPU.
package gpu
