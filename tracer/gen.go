package tracer

// The BPF programs in ../bpf are compiled into the committed *_x86_bpfel.go and
// *_x86_bpfel.o files by bpf2go, one object per probe family. Regenerate after changing
// any file in bpf/ with `make generate`. The compiler is pinned: Debian 12's clang-14
// (14.0.6) and llvm-strip-14, which .ci/deps installs and the Makefile checks before it
// generates; CI regenerates with them and fails on any difference.
//
// Go reads the wire structs through the -type declarations bpf2go writes from the
// objects' BTF, never through hand-written copies.

//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -mcpu=v3" -target amd64 -type cuda_launch_rec -type cuda_rec -type cuda_name_rec -type rec_tag -type drop_reason -type cookie_flags -type cuda_call -type cuda_limits cuda ../bpf/cuda.bpf.c
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -mcpu=v3" -target amd64 -type sock_rec -type sock_op -type sock_sys -type sock_limits sock ../bpf/sock.bpf.c
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang-14 -strip llvm-strip-14 -cflags "-O2 -g -Wall -Werror -mcpu=v3" -target amd64 -type proc_rec -type proc_op -type track_flags proc ../bpf/proc.bpf.c
