package correlate

import (
	"testing"

	"github.com/inferprobe/inferprobe/tracer/event"
)

func found(pid, ppid uint32, comm string, listen ...string) *event.Proc {
	return &event.Proc{Header: event.Header{PID: pid, TID: pid}, Op: event.ProcFound, PPID: ppid, Comm: comm, Listen: listen}
}

func TestUnitsProcessTree(t *testing.T) {
	u := NewUnits()
	// The shell (100) is not tracked: only the server's processes and the job are.
	u.Proc(found(200, 100, "vllm", "tcp:8000")) // API server
	u.Proc(found(300, 200, "EngineCore"))
	u.Proc(found(400, 300, "Worker_TP0"))
	u.Proc(found(500, 100, "train")) // a sibling job under the same shell
	for _, pid := range []uint32{200, 300, 400} {
		if got := u.Unit(pid); got != "vllm:8000" {
			t.Errorf("unit of %d = %q, want vllm:8000", pid, got)
		}
	}
	if got := u.Unit(500); got != "train/500" {
		t.Errorf("unit of the unrelated job = %q, want train/500", got)
	}
	// A worker forked later inherits its parent's unit.
	u.Proc(&event.Proc{Header: event.Header{TS: 9, PID: 401}, Op: event.ProcFork, PPID: 300})
	if got := u.Unit(401); got != "vllm:8000" {
		t.Errorf("forked worker unit = %q", got)
	}
	u.Proc(&event.Proc{Header: event.Header{PID: 401}, Op: event.ProcExit})
	if _, ok := u.procs[401]; ok {
		t.Error("exited process still tracked")
	}
}

func TestUnitsContainerAndServing(t *testing.T) {
	u := NewUnits()
	u.Proc(&event.Proc{Header: event.Header{PID: 10}, Op: event.ProcFound, PPID: 1, Comm: "router", Container: "0123456789abcdef0123"})
	u.Proc(&event.Proc{Header: event.Header{PID: 11}, Op: event.ProcFound, PPID: 1, Comm: "shard", Container: "0123456789abcdef0123"})
	if a, b := u.Unit(10), u.Unit(11); a != b || a != "container:0123456789ab" {
		t.Fatalf("container units %q %q", a, b)
	}
	u.Proc(&event.Proc{Header: event.Header{PID: 12}, Op: event.ProcFound, PPID: 1, Comm: "x", Container: "fedcba9876543210", Cgroup: "/kubepods/pod1/fedcba9876543210"})
	if cg := u.ContainerCgroups(); len(cg) != 1 || cg["container:fedcba987654"] != "/kubepods/pod1/fedcba9876543210" {
		t.Fatalf("container cgroups %v", cg)
	}
	// Outside containers a process seen serving becomes its subtree's front end.
	u.Proc(found(20, 1, "server"))
	u.Proc(found(21, 20, "core"))
	u.Serving(20)
	if got := u.Unit(21); got != "server/20" {
		t.Fatalf("unit of core = %q, want server/20", got)
	}
}
