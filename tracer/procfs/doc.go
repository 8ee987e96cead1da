// Package procfs finds the processes inferprobe traces and what the tracer needs to know
// about them, by reading a procfs tree: their parentage and start time (stat), the
// libraries they map and a host path that opens each one (maps, root, map_files), their
// cgroup and the container and Kubernetes pod it names, the sockets they listen on
// (fd, net/tcp, net/tcp6, net/unix), and which CUDA driver entry points a library exports
// (ELFSymbols, Variants).
//
// Every read goes through an FS whose Root is configurable (the agent's --path.procfs),
// so tests run against fixture trees under testdata/. The package is pure Go: no eBPF,
// no cgo. It never opens a path as a traced process sees it: a process in a container
// has another root, so files are opened through /proc/PID/root or /proc/PID/map_files.
//
// A process can exit between being listed and being read. Every such error satisfies
// errors.Is(err, ErrGone), so a caller walking all processes skips it quietly; any other
// error (permission, a malformed file) is wrapped with the path it came from.
package procfs
