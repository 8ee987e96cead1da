// Package engine is the testbed's engine core, modelled on vLLM V1's EngineCore: a
// continuous-batching scheduler (Scheduler) and a step loop that drives the GPU through
// the CUDA driver API (testbed/cuda, over the simulated libcuda of testbed/fakecuda in
// tests) the way a real engine does, where inferprobe looks:
//
//   - every step runs on one OS thread (the loop locks it);
//   - a step with prefill tokens launches per-layer kernels eagerly, their grids growing
//     with the step's tokens; a pure decode step is one cuGraphLaunch of a graph captured
//     at start-up for its padded batch size;
//   - then the sampled ids are copied to the host and the thread waits (event sync by
//     default, stream sync or a blocking copy as options), and one proto.Step carries a
//     token to every request that got one;
//   - with Workers > 1 the core starts that many worker processes (`testbed worker`),
//     each driving its own GPU, and joins them every step.
//
// The front end talks to a Core through Send and Out (in-process, --procs 1), or runs
// one in another process through ServeConn / Main (--procs 2: JSON lines on a unix
// socket). With a truth file the core appends one JSON line per step.
package engine
