// Package gpu samples GPU health from NVML (the NVIDIA Management Library) through
// github.com/NVIDIA/go-nvml, behind a narrow interface so tests run against go-nvml's
// mock (see gpu/gputest for an 8-GPU H100 server).
//
// It owns, per GPU: identity (index, UUID, name), utilisation, memory, temperature,
// power, clocks, active clock throttle reasons, ECC error counts, XID critical errors
// (counted per XID as NVML reports them through an event set) and device memory per
// process (pid), which callers map to serving units.
//
// Values are converted to base units here (ratio 0..1, bytes, degrees Celsius, watts,
// hertz). A value NVML does not support on a device (ERROR_NOT_SUPPORTED) is "no value":
// a nil pointer, never an error, never logged. Every NVML return code is interpreted in
// one place (check in nvml.go).
//
// A host without NVML (no NVIDIA driver) makes New return ErrNoNVML, so the agent runs
// everything else and says once that GPU health is off.
//
// The data types (types.go, throttle.go) and the Poller (poll.go) do not use go-nvml;
// sampler.go, xid.go and nvml.go do. It never touches eBPF.
package gpu
