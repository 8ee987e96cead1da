// Package cuda is a thin cgo binding to the CUDA driver API (libcuda.so.1) for the
// testbed engine. Like PyTorch, it dlopen()s the driver at run time, so a binary built
// with it starts on a machine without libcuda and Open says what is missing. Every
// function is resolved with dlsym and called through the resolved pointer with its real
// cuda.h signature, so a uprobe on the exported symbol sees exactly what it would see
// under a real engine. Errors carry the CUresult as a typed Error.
//
// All calls on one Lib must come from one OS thread at a time (the engine locks its
// step loop to a thread); the package adds no locking of its own.
package cuda
